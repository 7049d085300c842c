"""Bounded retries per step kind, proven against real transient failures: the Odoo test
server answering HTTP 503 with `Retry-After` (as a proxy in front of a restarting Odoo
does), and an SFTP bank server whose connections are dropped. The runner is given the
policies and a `sleep` that records the waits instead of taking them; assertions read
the waits back from the ledger (the step's checkpoint and the audit log), never the clock.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from servers.odoo import OdooServer, start_odoo
from servers.sshd import CuttingProxy, SshdServer
from workspace import (
    EXAMPLES,
    ODOO_DEMO_CONFIG,
    ODOO_PASSWORD_ENV,
    SFTP_CONFIG,
    make_workspace,
    seed_odoo_demo,
)

from connectors.errors import (
    AuthError,
    RetriesExhaustedError,
    RetryPolicy,
    retry_after_seconds,
)
from sync_jobs.config import ConfigError, load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.runner import (
    DEFAULT_STEP_RETRIES,
    JobFailedError,
    RunResult,
    StepRetries,
    run_job,
    step_retries,
)
from sync_jobs.wiring import ledger_url

PULL_RETRIED = StepRetries({"pull": RetryPolicy(attempts=3, initial_wait=1.0, max_wait=60.0)})


@pytest.fixture
def odoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[OdooServer]:
    """A fresh Odoo test server holding the demo's customers and open invoices."""
    monkeypatch.setenv(*ODOO_PASSWORD_ENV)
    for server in start_odoo(17):
        seed_odoo_demo(server.url)
        yield server


class Job:
    """The demo's daily job in a workspace, run in this process with recorded waits."""

    def __init__(self, root: Path) -> None:
        self.loaded = load_config(root / "config.toml")
        self.engine = open_ledger(ledger_url(self.loaded.config))
        self.waits: list[float] = []

    def run(self, retries: StepRetries) -> RunResult:
        return run_job(self.engine, self.loaded, "daily", retries=retries, sleep=self.waits.append)

    def steps(self) -> dict[str, tuple[str, Any]]:
        """Each step of the newest run: its status and detail as recorded."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT step, status, detail FROM step_checkpoints WHERE run_id = "
                    "(SELECT run_id FROM job_runs ORDER BY started_at DESC LIMIT 1)"
                )
            ).all()
        return {row.step: (row.status, _json(row.detail)) for row in rows}

    def retry_events(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            payloads = conn.execute(
                sa.text("SELECT payload FROM audit_log WHERE event = 'step.retry' ORDER BY seq")
            ).scalars()
            return [_json(payload) for payload in payloads]

    def runs(self) -> list[tuple[str, str | None]]:
        with self.engine.connect() as conn:
            return [
                tuple(row) for row in conn.execute(sa.text("SELECT status, error FROM job_runs"))
            ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def odoo_job(odoo: OdooServer, tmp_path: Path) -> Iterator[Job]:
    make_workspace(tmp_path, ODOO_DEMO_CONFIG.format(url=odoo.url), folders=["bank"])
    job = Job(tmp_path)
    yield job
    job.engine.dispose()


def test_a_503_with_retry_after_is_retried_after_the_hint_then_succeeds(
    odoo: OdooServer, odoo_job: Job
) -> None:
    odoo.unavailable = [7, 7]  # the next two requests: 503, "Retry-After: 7"
    result = odoo_job.run(PULL_RETRIED)
    assert odoo.answered_unavailable == 2
    summary = result.summary
    assert (summary.applied, summary.partially_applied, summary.exceptions) == (10, 1, 3)
    # The hint (7 s) outweighs the backoff (1 s, then 2 s).
    assert odoo_job.waits == [7.0, 7.0]
    status, detail = odoo_job.steps()["pull"]
    assert status == "done"
    assert [(r["attempt"], r["wait"], r["hint"]) for r in detail["retries"]] == [
        (1, 7.0, 7.0),
        (2, 7.0, 7.0),
    ]
    assert all("HTTP 503" in r["error"] for r in detail["retries"])
    assert [(e["step"], e["attempt"], e["wait"]) for e in odoo_job.retry_events()] == [
        ("pull", 1, 7.0),
        ("pull", 2, 7.0),
    ]
    assert odoo_job.runs() == [("succeeded", None)]


def test_without_a_hint_the_backoff_applies_and_a_long_hint_is_capped(
    odoo: OdooServer, odoo_job: Job
) -> None:
    odoo.unavailable = [None, 3600]  # no header; then "come back in an hour"
    odoo_job.run(StepRetries({"pull": RetryPolicy(attempts=3, initial_wait=1.0, max_wait=30.0)}))
    assert odoo_job.waits == [1.0, 30.0]
    _, detail = odoo_job.steps()["pull"]
    assert [(r["wait"], r["hint"]) for r in detail["retries"]] == [(1.0, None), (30.0, 3600.0)]


def test_the_cap_ends_in_a_failed_recorded_step_and_a_failed_run(
    odoo: OdooServer, odoo_job: Job
) -> None:
    odoo.unavailable = [5] * 10
    with pytest.raises(JobFailedError) as failed:
        odoo_job.run(PULL_RETRIED)
    assert odoo.answered_unavailable == 3  # the cap, not one request more
    assert failed.value.step == "pull"
    assert isinstance(failed.value.cause, RetriesExhaustedError)
    assert "gave up after 3 attempt(s)" in str(failed.value)
    assert odoo_job.waits == [5.0, 5.0]
    steps = odoo_job.steps()
    assert list(steps) == ["pull"]  # nothing ran past the failed step
    status, detail = steps["pull"]
    assert status == "failed"
    assert "gave up after 3 attempt(s)" in detail["error"]
    assert "HTTP 503" in detail["error"]
    assert [(a["attempt"], a["wait"]) for a in detail["attempts"]] == [
        (1, 5.0),
        (2, 5.0),
        (3, None),
    ]
    [(status, error)] = odoo_job.runs()
    assert status == "failed"
    assert error is not None
    assert error.startswith("pull: gave up after 3 attempt(s)")
    assert len(odoo_job.retry_events()) == 2
    # Nothing was done past the failed step; the next run starts over from pull.
    odoo.unavailable = []
    assert odoo_job.run(PULL_RETRIED).summary.applied == 10


def test_a_config_error_is_never_retried(
    odoo: OdooServer, odoo_job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ODOO_PASSWORD_ENV[0], "wrong")
    job = Job(odoo_job.loaded.file.parent)
    try:
        with pytest.raises(JobFailedError) as failed:
            job.run(PULL_RETRIED)
        assert isinstance(failed.value.cause, AuthError)
        assert job.waits == []
        assert job.retry_events() == []
        status, detail = job.steps()["pull"]
        assert status == "failed"
        assert [a["attempt"] for a in detail["attempts"]] == [1]
    finally:
        job.engine.dispose()


def test_a_bank_server_dropping_connections_is_retried_per_step_kind(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    inbox, local = sshd_server.new_inbox()
    for demo in sorted((EXAMPLES / "bank").glob("*.bai2")):
        shutil.copy(demo, local / demo.name)
    # The bank's server drops the first two connections at once, then serves again.
    proxy = CuttingProxy(sshd_server.port, [0, 0, None])
    try:
        sshd_server.known_hosts(tmp_path / "known_hosts", port=proxy.port)
        config = SFTP_CONFIG.format(
            port=proxy.port, user=sshd_server.user, key=sshd_server.client_key, inbox=inbox
        )
        job = Job(make_workspace(tmp_path, config, folders=["books"]))
        try:
            fetch_retried = StepRetries({"fetch": RetryPolicy(attempts=3, initial_wait=0.5)})
            result = job.run(fetch_retried)
            status, detail = job.steps()["fetch"]
        finally:
            job.engine.dispose()
    finally:
        proxy.close()
    assert result.summary.files_read == 2
    assert result.summary.applied > 0
    assert len(proxy.connections) == 3
    assert job.waits == [0.5, 1.0]
    assert status == "done"
    assert [(r["attempt"], r["wait"], r["hint"]) for r in detail["retries"]] == [
        (1, 0.5, None),
        (2, 1.0, None),
    ]
    assert not list(local.glob("*.bai2"))  # archived once recorded


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Sun, 29 Nov 2026 22:01:30 GMT", now) == 90.0
    assert retry_after_seconds("Sun, 29 Nov 2026 21:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_a_malformed_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="`attempts` must be at least 1, found 0"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="must be >= 0 seconds"):
        RetryPolicy(initial_wait=-1)


def test_config_retries_override_the_defaults_per_step_kind(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        "[retries.pull]\nattempts = 1\n[retries.write-back]\nattempts = 5\nmax_wait = 300\n"
    )
    retries = step_retries(load_config(tmp_path / "config.toml").config)
    assert retries.for_step("pull") == RetryPolicy(attempts=1, initial_wait=10.0, max_wait=120.0)
    assert retries.for_step("write-back") == RetryPolicy(5, 10.0, 300.0)
    assert retries.for_step("match") == DEFAULT_STEP_RETRIES.for_step("match")
    (tmp_path / "config.toml").write_text("[retries.pul]\nattempts = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml")
    # Both mistakes at once: the unknown step kind and the attempt count out of range.
    assert {problem.path for problem in caught.value.problems} == {
        "retries.pul.[key]",
        "retries.pul.attempts",
    }
