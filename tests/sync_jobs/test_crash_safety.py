"""Crash safety, proven by killing the real process: at every durable-state moment of a
demo run (each file-system change and each ledger COMMIT), a forked `arlink run` is
SIGKILLed; the job is then run again, and the end state (books host and ledger) must
equal that of a run that never crashed: same applications and exceptions, nothing
posted twice, no payment lost. The product has no fault-injection switch: the moments
are observed from outside, with a Python audit hook and SQLAlchemy event listeners
installed only in the forked child; each is labelled with what it changes, so a sweep
can be sampled by kind (`sample_moments`). test_crash_safety_odoo.py and
test_crash_safety_sftp.py use this harness over the Odoo test host and an SFTP source.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
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
_WRITE_SQL = re.compile(r'^\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.IGNORECASE)


def _commit_tags(statement: str, context: Any) -> set[str]:
    """What one statement wrote, as words naming the moment of its commit: the table, the
    step and status of a checkpoint, the events of audit rows."""
    found = _WRITE_SQL.match(statement)
    if found is None:
        return set()
    table = found.group(1)
    params = getattr(context, "compiled_parameters", None) or [{}]
    if table == "step_checkpoints":
        return {f"checkpoint[{p.get('step')}:{p.get('status')}]" for p in params}
    if table == "audit_log":
        return {f"audit[{p.get('event')}]" for p in params}
    return {table}


def _fs_label(event: str, args: tuple[Any, ...]) -> str:
    """`event folder/`: the folder made, or the folder of the file written (by a name that
    is the same in every workspace)."""
    path = args[1] if event in {"os.rename", "shutil.copyfile"} else args[0]
    if not isinstance(path, str | bytes):
        return f"{event} (file descriptor)"
    target = Path(os.fsdecode(path))
    return f"{event} {(target if event == 'os.mkdir' else target.parent).name}/"


def _observe_downloads(moment: Callable[[str], None]) -> None:
    """A moment each time a piece of a remote file has arrived (paramiko's SFTPFile._read
    returning bytes), so a kill there leaves a download half done."""
    read_code = paramiko.SFTPFile._read.__code__

    def profile(frame: Any, event: str, value: Any) -> None:
        if event == "return" and frame.f_code is read_code and value:
            moment("sftp piece received")

    sys.setprofile(profile)


def run_in_fork(
    workspace: Path,
    kill_at: int = 0,
    *,
    downloads: bool = False,
    on_fork: Callable[[int], None] = lambda pid: None,
) -> tuple[int, list[str]]:
    """Run the job in a forked child killed at its `kill_at`-th moment (0: never).
    Return (the child's wait status, the labels of the moments it saw, in order).

    Moments are the child's durable-state changes: each file-system write and each
    ledger COMMIT (labelled with what the transaction wrote), and with `downloads` each
    piece of an SFTP download. `on_fork(pid)` runs in the parent as soon as it knows the
    child (e.g. so a test server there can kill it at a moment of its own)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report moments, die at the chosen one
        os.close(read_end)
        seen = 0
        pending: set[str] = set()

        def moment(label: str) -> None:
            nonlocal seen
            seen += 1
            os.write(write_end, label.encode() + b"\n")
            if seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event in _FS_EVENTS:
                moment(_fs_label(event, args))
            elif event == "open":
                mode, flags = args[1], args[2]
                writes = any(c in mode for c in "wax+") if isinstance(mode, str) else False
                if writes or (isinstance(flags, int) and flags & _WRITE_FLAGS):
                    moment(_fs_label(event, args))

        def written(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            pending.update(_commit_tags(statement, rest[1]))

        def commit(conn: Any) -> None:
            moment("commit " + " ".join(sorted(pending)))
            pending.clear()

        sys.addaudithook(audit)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", written)
        sa.event.listen(sa.engine.Engine, "commit", commit)
        if downloads:
            _observe_downloads(moment)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            app(["--config", str(workspace / "config.toml"), "run", "daily"], standalone_mode=False)
        finally:
            os._exit(0)
    os.close(write_end)
    on_fork(pid)
    received = bytearray()
    while chunk := os.read(read_end, 65536):
        received += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return status, received.decode().splitlines()


def sample_moments(labels: list[str]) -> list[int]:
    """The moments (1-based) a sampled sweep kills at: of each kind (label), the first and
    the last. Deterministic, and no kind of moment is left out."""
    chosen: dict[str, list[int]] = {}
    for index, label in enumerate(labels, start=1):
        chosen.setdefault(label, [index, index])[1] = index
    return sorted({index for first_last in chosen.values() for index in first_last})


def rerun(workspace: Path) -> None:
    """Run the job again, in this process, to the end."""
    result = CliRunner().invoke(app, ["--config", str(workspace / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, f"rerun in {workspace.name} failed: {result.stderr}"


def ledger_state(workspace: Path) -> dict[str, Any]:
    """What the ledger holds at the end of a job: files, payments, decisions, write-back."""
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:

            def query(sql: str) -> list[tuple[Any, ...]]:
                return sorted(tuple(row) for row in conn.execute(sa.text(sql)))

            return {
                "bank_files": query("SELECT name, status FROM bank_files"),
                "payments": query("SELECT payment_id, amount_minor FROM payments"),
                "decisions": query("SELECT payment_id, outcome FROM decisions"),
                "applications": query(
                    "SELECT payment_id, invoice_id, amount_minor, writeback_status "
                    "FROM applications"
                ),
                "exception_items": query(
                    "SELECT payment_id, reason, amount_minor, writeback_status FROM exception_items"
                ),
                "external_ids": query(
                    "SELECT idempotency_key, external_id FROM applications UNION ALL "
                    "SELECT idempotency_key, external_id FROM exception_items"
                ),
                "chain_ok": verify_chain(conn).ok,
            }
    finally:
        engine.dispose()


def journals(workspace: Path) -> dict[str, Any]:
    """What the files host was sent: its applications and exceptions journals."""

    def rows(name: str, *columns: str) -> list[tuple[str, ...]]:
        path = workspace / "books" / name
        if not path.exists():
            return []
        with path.open(newline="") as handle:
            return sorted(tuple(row[c] for c in columns) for row in csv.DictReader(handle))

    return {
        "applications.csv": rows(
            "applications.csv", "payment_id", "invoice_id", "amount_applied", "idempotency_key"
        ),
        "exceptions.csv": rows("exceptions.csv", "payment_id", "reason", "amount"),
    }


def end_state(workspace: Path) -> dict[str, Any]:
    """The files host's journals, the bank folder and the ledger at the end of a job."""
    return {
        **journals(workspace),
        "waiting_in_bank_folder": sorted(p.name for p in (workspace / "bank").glob("*.bai2")),
        **ledger_state(workspace),
    }


def differences_after_kills(
    moments: list[str], expected: dict[str, Any], prepare: Callable[[int], Path]
) -> dict[str, dict[str, Any]]:
    """Kill a fresh workspace (`prepare(kill_at)`) at each moment in turn, rerun it, and
    return, per moment, where its end state differs from `expected` (empty: none)."""
    differences = {}
    for kill_at in range(1, len(moments) + 1):
        workspace = prepare(kill_at)
        status, _ = run_in_fork(workspace, kill_at)
        assert os.WIFSIGNALED(status), f"moment {kill_at}: the child was not killed"
        assert os.WTERMSIG(status) == signal.SIGKILL
        rerun(workspace)
        found = end_state(workspace)
        if found != expected:
            differences[f"{kill_at} {moments[kill_at - 1]}"] = {
                k: found[k] for k in found if found[k] != expected[k]
            }
    return differences


def test_killed_at_any_moment_then_rerun_ends_as_a_clean_run(tmp_path: Path) -> None:
    clean = make_workspace(tmp_path / "clean", DEMO_CONFIG)
    status, moments = run_in_fork(clean, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = end_state(clean)
    assert expected["applications"]
    assert expected["exception_items"]
    assert len(moments) > 20
    assert (
        differences_after_kills(
            moments,
            expected,
            lambda kill_at: make_workspace(tmp_path / f"killed-at-{kill_at}", DEMO_CONFIG),
        )
        == {}
    )
