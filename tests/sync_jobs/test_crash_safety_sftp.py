"""Crash safety with the bank files on SFTP (the sshd fixture): a forked `arlink run` is
SIGKILLed half-way through downloading a bank file, and between parse and match; the
rerun must end as a run that never crashed, at the bank's server and in the ledger.

The bank file is a generated day of 250 payments (bench/workers.py), 54 KB: paramiko
reads a file in pieces of at most 32 KiB, so it arrives in two, and the moment the first
piece is in is a download half done (`run_in_fork(downloads=True)`).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from servers.sshd import SshdServer
from test_crash_safety import journals, ledger_state, rerun, run_in_fork
from workspace import SFTP_CONFIG, make_workspace

from bench.workers import generate_day
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.wiring import ledger_url

PIECE = "sftp piece received"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("day")
    generate_day(folder, payments=250, files=1)
    return folder


def sftp_workspace(server: SshdServer, folder: Path, day: Path) -> tuple[Path, Path]:
    """The day's books in `folder`, its bank files in a fresh SFTP inbox; returns the
    workspace and the inbox as it is on this machine's disk."""
    inbox, local = server.new_inbox()
    for bank_file in sorted((day / "bank").glob("*.bai2")):
        shutil.copy(bank_file, local / bank_file.name)
    config = SFTP_CONFIG.format(
        port=server.port, user=server.user, key=server.client_key, inbox=inbox
    )
    make_workspace(folder, config, source=day, folders=["books"])
    server.known_hosts(folder / "known_hosts")
    return folder, local


def end_state(workspace: Path, inbox: Path) -> dict[str, Any]:
    """The files host's journals, the bank's inbox and processed folder, and the ledger."""
    processed = inbox / "processed"
    return {
        **journals(workspace),
        "waiting_at_the_bank": sorted(p.name for p in inbox.glob("*.bai2")),
        "processed_at_the_bank": sorted(p.name for p in processed.iterdir())
        if processed.exists()
        else [],
        **ledger_state(workspace),
    }


def counts(workspace: Path) -> tuple[int, int]:
    """(payments, decisions) the ledger holds."""
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:
            return (
                conn.execute(sa.text("SELECT count(*) FROM payments")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM decisions")).scalar_one(),
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def clean_run(
    sshd_server: SshdServer, day: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[str], dict[str, Any]]:
    """The moments of a run that never crashed, and its end state."""
    workspace, inbox = sftp_workspace(sshd_server, tmp_path_factory.mktemp("clean"), day)
    status, moments = run_in_fork(workspace, downloads=True)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = end_state(workspace, inbox)
    assert expected["applications.csv"]
    assert expected["processed_at_the_bank"] == ["2026-11-02-000.bai2"]
    return moments, expected


def killed_then_rerun(
    sshd_server: SshdServer, day: Path, folder: Path, kill_at: int
) -> tuple[Path, Path]:
    """A fresh workspace whose run is killed at moment `kill_at`."""
    workspace, inbox = sftp_workspace(sshd_server, folder, day)
    status, _ = run_in_fork(workspace, kill_at, downloads=True)
    assert os.WIFSIGNALED(status), f"moment {kill_at}: the child was not killed"
    assert os.WTERMSIG(status) == signal.SIGKILL
    return workspace, inbox


def test_killed_mid_download_then_rerun_ends_as_a_clean_run(
    sshd_server: SshdServer,
    day: Path,
    tmp_path: Path,
    clean_run: tuple[list[str], dict[str, Any]],
) -> None:
    moments, expected = clean_run
    pieces = [index for index, label in enumerate(moments, start=1) if label == PIECE]
    assert len(pieces) == 2  # 54 KB in pieces of 32 KiB
    workspace, inbox = killed_then_rerun(sshd_server, day, tmp_path, pieces[0])
    # Half a file was in memory: none of it reached the ledger or the local inbox, and
    # the file still waits at the bank.
    assert not (workspace / "var" / "inbox").exists()
    assert counts(workspace) == (0, 0)
    assert [p.name for p in inbox.glob("*.bai2")] == ["2026-11-02-000.bai2"]
    rerun(workspace)
    assert end_state(workspace, inbox) == expected


def test_killed_between_parse_and_match_then_rerun_ends_as_a_clean_run(
    sshd_server: SshdServer,
    day: Path,
    tmp_path: Path,
    clean_run: tuple[list[str], dict[str, Any]],
) -> None:
    moments, expected = clean_run
    # Payments recorded, no decision yet: parse's `done` being committed, match's
    # `running` being committed, and match's decisions being committed.
    between = [
        index
        for index, label in enumerate(moments, start=1)
        if "checkpoint[parse:done]" in label
        or "checkpoint[match:running]" in label
        or "audit[decision_recorded]" in label
    ]
    assert len(between) == 3
    differences = {}
    for kill_at in between:
        workspace, inbox = killed_then_rerun(sshd_server, day, tmp_path / str(kill_at), kill_at)
        payments, decisions = counts(workspace)
        assert payments == 250, moments[kill_at - 1]
        assert decisions == 0, moments[kill_at - 1]
        rerun(workspace)
        found = end_state(workspace, inbox)
        if found != expected:
            differences[moments[kill_at - 1]] = {
                k: found[k] for k in found if found[k] != expected[k]
            }
    assert differences == {}
