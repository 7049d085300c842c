"""Crash safety, proven by killing the real process: at every durable-state moment of a
demo run (each file-system change and each ledger COMMIT), a forked `arlink run` is
SIGKILLed; the job is then run again, and the end state (books host and ledger) must
equal that of a run that never crashed: same applications and exceptions, nothing
posted twice, no payment lost. The product has no fault-injection switch: the moments
are observed from outside, with a Python audit hook and a SQLAlchemy event listener
installed only in the forked child.
"""

from __future__ import annotations

import csv
import os
import signal
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.wiring import ledger_url

_FS_EVENTS = {"os.rename", "os.remove", "os.mkdir", "shutil.copyfile"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT


def run_in_fork(workspace: Path, kill_at: int) -> tuple[int, int]:
    """Run the job in a forked child killed at its `kill_at`-th moment (0: never).
    Return (the child's wait status, the number of moments it saw)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count moments, die at the chosen one
        os.close(read_end)
        seen = 0

        def moment() -> None:
            nonlocal seen
            seen += 1
            os.write(write_end, b".")
            if seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event in _FS_EVENTS:
                moment()
            elif event == "open":
                mode, flags = args[1], args[2]
                writes = any(c in mode for c in "wax+") if isinstance(mode, str) else False
                if writes or (isinstance(flags, int) and flags & _WRITE_FLAGS):
                    moment()

        sys.addaudithook(audit)
        sa.event.listen(sa.engine.Engine, "commit", lambda conn: moment())
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            app(["--config", str(workspace / "config.toml"), "run", "daily"], standalone_mode=False)
        finally:
            os._exit(0)
    os.close(write_end)
    moments = 0
    while chunk := os.read(read_end, 4096):
        moments += len(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return status, moments


def end_state(workspace: Path) -> dict[str, Any]:
    def rows(name: str, *columns: str) -> list[tuple[str, ...]]:
        path = workspace / "books" / name
        if not path.exists():
            return []
        with path.open(newline="") as handle:
            return sorted(tuple(row[c] for c in columns) for row in csv.DictReader(handle))

    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:

            def query(sql: str) -> list[tuple[Any, ...]]:
                return sorted(tuple(row) for row in conn.execute(sa.text(sql)))

            state = {
                "applications.csv": rows(
                    "applications.csv",
                    "payment_id",
                    "invoice_id",
                    "amount_applied",
                    "idempotency_key",
                ),
                "exceptions.csv": rows("exceptions.csv", "payment_id", "reason", "amount"),
                "bank_files": query("SELECT name, status FROM bank_files"),
                "payments": query("SELECT payment_id, amount_minor FROM payments"),
                "decisions": query("SELECT payment_id, outcome FROM decisions"),
                "applications": query(
                    "SELECT payment_id, invoice_id, amount_minor, writeback_status, external_id "
                    "FROM applications"
                ),
                "exception_items": query(
                    "SELECT payment_id, reason, amount_minor, writeback_status, external_id "
                    "FROM exception_items"
                ),
                "waiting_in_bank_folder": sorted(
                    p.name for p in (workspace / "bank").glob("*.bai2")
                ),
                "chain_ok": verify_chain(conn).ok,
            }
    finally:
        engine.dispose()
    return state


def test_killed_at_any_moment_then_rerun_ends_as_a_clean_run(tmp_path: Path) -> None:
    clean = make_workspace(tmp_path / "clean", DEMO_CONFIG)
    status, moments = run_in_fork(clean, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = end_state(clean)
    assert expected["applications"]
    assert expected["exception_items"]
    assert moments > 20
    differences = {}
    for kill_at in range(1, moments + 1):
        workspace = make_workspace(tmp_path / f"killed-at-{kill_at}", DEMO_CONFIG)
        status, _ = run_in_fork(workspace, kill_at)
        assert os.WIFSIGNALED(status), f"moment {kill_at}: the child was not killed"
        assert os.WTERMSIG(status) == signal.SIGKILL
        rerun = CliRunner().invoke(
            app, ["--config", str(workspace / "config.toml"), "run", "daily"]
        )
        assert rerun.exit_code == 0, f"moment {kill_at}: rerun failed: {rerun.stderr}"
        found = end_state(workspace)
        if found != expected:
            differences[kill_at] = {k: found[k] for k in found if found[k] != expected[k]}
    assert differences == {}
