"""Telling someone when a job could not do its work: a command and/or a webhook.

Configured in `[notify]`: `command` (an argv list, run with ARLINK_JOB, ARLINK_RUN_ID
and ARLINK_ERROR in its environment) and `webhook_url` (a secret, since such URLs
carry tokens; a JSON POST). A notification that fails is reported on stderr and never
changes the job's own outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from sync_jobs.config import NotifyConfig

TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong, in words fit for a pager (no secrets: errors are built redacted)."""

    job: str
    run_id: str | None
    error: str


def notify_failure(config: NotifyConfig, failure: Failure, warn: Callable[[str], None]) -> None:
    """Run the configured command and POST to the webhook; `warn` hears what failed."""
    if config.command:
        env = {
            **os.environ,
            "ARLINK_JOB": failure.job,
            "ARLINK_RUN_ID": failure.run_id or "",
            "ARLINK_ERROR": failure.error,
        }
        try:
            subprocess.run(
                config.command, env=env, timeout=TIMEOUT_SECONDS, check=True, capture_output=True
            )
        except (OSError, subprocess.SubprocessError) as exc:
            warn(f"notify command {config.command[0]!r} failed: {type(exc).__name__}")
    if config.webhook_url is not None:
        body = json.dumps(
            {"event": "job_failed", "job": failure.job, "run_id": failure.run_id,
             "error": failure.error}
        ).encode()  # fmt: skip
        request = urllib.request.Request(
            config.webhook_url.reveal(),
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
        except (OSError, ValueError) as exc:
            # The URL is a secret: name the failure, never the address.
            warn(f"notify webhook failed: {type(exc).__name__}")
