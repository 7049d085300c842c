"""A bad bank file is quarantined at its source too: `arlink run` over a folder source
moves each file out of the inbox with its parse outcome (parsed: `processed`, quarantined:
`quarantine`), records where in the ledger, and keeps doing so across a crash at every
moment of the parse step (the harness of test_crash_safety.py), a redelivery under a new
name, and a copy delivered while its first copy waits to be parsed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_crash_safety import end_state, rerun, run_in_fork
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, EXAMPLES, make_workspace

from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import audit_log
from sync_jobs.wiring import ledger_url

BAD = b"01,SENDER,RECEIVER\nthis is not BAI2\n"
OUTCOMES = ("file_parsed", "file_quarantined")
DEMO_FILES = sorted(p.name for p in (EXAMPLES / "bank").glob("*.bai2"))


def workspace(folder: Path) -> Path:
    """The demo workspace with a bad file beside the demo's bank files."""
    make_workspace(folder, DEMO_CONFIG)
    (folder / "bank" / "garbage.bai2").write_bytes(BAD)
    return folder


def run(root: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), "runs", "--json"])
    return json.loads(result.stdout)[0]


def at_the_source(root: Path) -> dict[str, list[str]]:
    """The bank folder: what waits in the inbox, what is in processed and in quarantine."""
    bank = root / "bank"

    def names(folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    return {
        "inbox": sorted(p.name for p in bank.glob("*.bai2")),
        "processed": names(bank / "processed"),
        "quarantine": names(bank / "quarantine"),
    }


def audit(root: Path, *events: str) -> list[dict[str, Any]]:
    """The payloads of the ledger's audit events of these kinds, in order."""
    engine = open_ledger(ledger_url(load_config(root / "config.toml").config))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_log.c.event, audit_log.c.payload)
                .where(audit_log.c.event.in_(events))
                .order_by(audit_log.c.seq)
            ).all()
    finally:
        engine.dispose()
    return [{"event": event, **payload} for event, payload in rows]


EXPECTED_AT_SOURCE = {"inbox": [], "processed": DEMO_FILES, "quarantine": ["garbage.bai2"]}


def test_a_bad_file_goes_to_quarantine_at_the_source_and_the_rest_to_processed(
    tmp_path: Path,
) -> None:
    root = workspace(tmp_path)
    summary = run(root)
    assert summary["status"] == "succeeded"
    assert at_the_source(root) == EXPECTED_AT_SOURCE
    outcomes = {e["name"]: (e["event"], e["at_source"]) for e in audit(root, *OUTCOMES)}
    assert outcomes == {
        **dict.fromkeys(DEMO_FILES, ("file_parsed", "processed")),
        "garbage.bai2": ("file_quarantined", "quarantine"),
    }
    # The ledger keeps its own copy of the bad file, for the clerk.
    [kept] = (root / "var" / "quarantine").iterdir()
    assert kept.read_bytes() == BAD


def test_a_copy_follows_its_first_copy_and_waits_while_that_is_not_parsed(
    tmp_path: Path,
) -> None:
    root = workspace(tmp_path)
    # Delivered twice in one batch: the copy waits in the inbox for its first copy's parse.
    shutil.copy(root / "bank" / "garbage.bai2", root / "bank" / "resent-garbage.bai2")
    run(root)
    assert at_the_source(root) == {**EXPECTED_AT_SOURCE, "inbox": ["resent-garbage.bai2"]}
    # The next run moves it after its first copy, without parsing it.
    first_name = DEMO_FILES[0]
    shutil.copy(root / "bank" / "processed" / first_name, root / "bank" / "redelivered.bai2")
    # The same bytes again under the first copy's own name: moved beside it, not parsed.
    shutil.copy(root / "bank" / "processed" / first_name, root / "bank" / first_name)
    second = run(root)
    assert second["counts"]["fetch"] == {"files_received": 0, "files_duplicate": 3}
    assert second["counts"]["parse"]["files_parsed"] == 0
    assert at_the_source(root) == {
        "inbox": [],
        "processed": sorted([*DEMO_FILES, f"{first_name}.1", "redelivered.bai2"]),
        "quarantine": ["garbage.bai2", "resent-garbage.bai2"],
    }
    duplicates = {
        e["name"]: (e["first_name"], e["at_source"]) for e in audit(root, "file_duplicate")
    }
    assert duplicates == {
        "resent-garbage.bai2": ("garbage.bai2", "quarantine"),
        "redelivered.bai2": (first_name, "processed"),
        first_name: (first_name, "processed"),
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any]]:
    """The moments of a run that never crashed, and its end state with the source's."""
    root = workspace(tmp_path_factory.mktemp("clean"))
    status, moments = run_in_fork(root)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = {**end_state(root), **at_the_source(root)}
    assert expected["quarantine"] == ["garbage.bai2"]
    return moments, expected


def test_killed_at_any_moment_of_the_parse_then_rerun_ends_as_a_clean_run(
    tmp_path: Path, clean: tuple[list[str], dict[str, Any]]
) -> None:
    moments, expected = clean
    parse_started = next(i for i, m in enumerate(moments, 1) if "checkpoint[parse:running]" in m)
    parse_done = next(i for i, m in enumerate(moments, 1) if "checkpoint[parse:done]" in m)
    during = range(parse_started + 1, parse_done + 1)
    # Among them: the moves at the source, each before its outcome's commit (the other
    # rename into a `quarantine/` is the ledger's own copy of the bad file).
    labels = [moments[i - 1] for i in during]
    assert labels.count("os.rename quarantine/") == 2
    assert labels.count("os.rename processed/") == len(DEMO_FILES)
    differences = {}
    for kill_at in during:
        root = workspace(tmp_path / str(kill_at))
        status, _ = run_in_fork(root, kill_at)
        assert os.WIFSIGNALED(status), f"moment {kill_at}: the child was not killed"
        rerun(root)
        found = {**end_state(root), **at_the_source(root)}
        if found != expected:
            differences[f"{kill_at} {moments[kill_at - 1]}"] = {
                k: found[k] for k in found if found[k] != expected[k]
            }
    assert differences == {}
