"""The CLI end to end on a copy of the demo: a bank folder in, applied cash and
exceptions in the files host, a ledger with an intact audit chain."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import audit_log
from sync_jobs.wiring import ledger_url

CONFIG = (
    DEMO_CONFIG
    + """
[jobs.writeback]
books = "main"
sources = ["operating"]
steps = ["write-back"]
"""
)


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A copy of the demo with a config; the ledger on SQLite (default) or PostgreSQL."""
    config = CONFIG
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").new_database()
        config = f'[ledger]\nurl = "{url}"\n' + CONFIG.replace('var_dir = "var"', "")
        config = 'var_dir = "var"\n' + config
    return make_workspace(tmp_path, config)


def arlink(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(workspace / "config.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_json(workspace: Path, *args: str) -> dict:
    code, stdout, stderr = arlink(workspace, "run", *args, "--json")
    assert code == 0, stderr
    return json.loads(stdout)


def rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def credits_in(paths: list[Path]) -> int:
    """Credit 16 records in the demo files (BAI2 type codes 100-399)."""
    count = 0
    for path in paths:
        for line in path.read_text().splitlines():
            if line.startswith("16,") and 100 <= int(line.split(",")[1]) <= 399:
                count += 1
    return count


def ledger(workspace: Path) -> sa.Engine:
    loaded = load_config(workspace / "config.toml")
    return open_ledger(ledger_url(loaded.config))


def test_demo_job_applies_cash_and_queues_exceptions(workspace: Path) -> None:
    bank_files = sorted((workspace / "bank").glob("*.bai2"))
    expected_payments = credits_in(bank_files)
    summary = run_json(workspace, "daily")
    assert summary["files_read"] == len(bank_files)
    assert summary["payments"] == expected_payments
    assert summary["applied"] >= 8
    assert summary["exceptions"] >= 3
    assert (
        summary["applied"] + summary["partially_applied"] + summary["exceptions"]
        >= (summary["payments"])
    )

    # The demo's mix (examples/): 9 exact, 1 overpayment, a short pay (applied as paid since
    # issue 3, the rest left open), an unknown payer naming a missing invoice, a lockbox
    # deposit naming nothing, the overpaid remainder.
    assert (summary["applied"], summary["partially_applied"], summary["exceptions"]) == (10, 1, 3)
    applied = rows(workspace / "books" / "applications.csv")
    excepted = rows(workspace / "books" / "exceptions.csv")
    # A payment applied in part is in both files: its applied part and its remainder.
    assert len({r["payment_id"] for r in applied} & {r["payment_id"] for r in excepted}) == 1
    # Nothing silently dropped: every payment is in at least one of the two files.
    assert len({r["payment_id"] for r in applied} | {r["payment_id"] for r in excepted}) == (
        expected_payments
    )
    assert all(r["reasons"] for r in applied)
    # Bank files were archived after they were recorded.
    assert list((workspace / "bank").glob("*.bai2")) == []
    assert len(list((workspace / "bank" / "processed").iterdir())) == len(bank_files)


def test_rerun_posts_nothing_twice_and_reads_no_file_twice(workspace: Path) -> None:
    run_json(workspace, "daily")
    applied = rows(workspace / "books" / "applications.csv")
    excepted = rows(workspace / "books" / "exceptions.csv")
    # The same bank file delivered again under another name is recognised by digest.
    first = sorted((workspace / "bank" / "processed").iterdir())[0]
    shutil.copy(first, workspace / "bank" / "redelivered.bai2")
    again = run_json(workspace, "daily")
    assert again["files_read"] == 0
    assert again["payments"] == 0
    assert rows(workspace / "books" / "applications.csv") == applied
    assert rows(workspace / "books" / "exceptions.csv") == excepted
    with ledger(workspace).connect() as conn:
        events = conn.execute(sa.text("SELECT event FROM audit_log")).scalars().all()
    assert "file_duplicate" in events


def test_crash_between_host_write_and_ledger_confirm_is_healed(workspace: Path) -> None:
    run_json(workspace, "daily")
    applied = rows(workspace / "books" / "applications.csv")
    # As if the process died after the host wrote but before the ledger confirmed.
    with ledger(workspace).begin() as conn:
        changed = conn.execute(
            sa.text("UPDATE applications SET writeback_status='written', external_id=NULL")
        ).rowcount
    assert changed == len(applied)
    summary = run_json(workspace, "writeback")
    assert summary["run_id"]
    assert rows(workspace / "books" / "applications.csv") == applied
    with ledger(workspace).connect() as conn:
        statuses = (
            conn.execute(sa.text("SELECT DISTINCT writeback_status FROM applications"))
            .scalars()
            .all()
        )
        found_again = conn.scalars(
            sa.select(audit_log.c.payload).where(audit_log.c.event == "application_confirmed")
        ).all()
    assert statuses == ["confirmed"]
    assert sum(payload["already_present"] for payload in found_again) == len(applied)


def test_bad_file_is_quarantined_and_the_rest_goes_on(workspace: Path) -> None:
    (workspace / "bank" / "garbage.bai2").write_bytes(b"01,SENDER,RECEIVER\nthis is not BAI2\n")
    summary = run_json(workspace, "daily")
    assert summary["files_quarantined"] == 1
    assert summary["payments"] > 0
    quarantined = list((workspace / "var" / "quarantine").iterdir())
    assert [p.name.endswith("garbage.bai2") for p in quarantined] == [True]
    code, stdout, _ = arlink(workspace, "trace", "garbage.bai2", "--json")
    assert code == 0
    found = json.loads(stdout)
    assert found["file"]["status"] == "quarantined"
    assert "garbage.bai2:" in found["file"]["quarantine_reason"]


def test_exceptions_trace_and_audit(workspace: Path) -> None:
    run_json(workspace, "daily")
    code, stdout, _ = arlink(workspace, "exceptions", "--json")
    assert code == 0
    queue = json.loads(stdout)
    assert len(queue) == len(rows(workspace / "books" / "exceptions.csv"))
    assert all(item["reason"] for item in queue)

    payment_id = rows(workspace / "books" / "applications.csv")[0]["payment_id"]
    code, stdout, _ = arlink(workspace, "trace", payment_id, "--json")
    assert code == 0
    found = json.loads(stdout)
    assert found["kind"] == "payment"
    assert found["lines"][0].startswith("16,")
    assert found["decision"]["outcome"] in {"applied", "partially_applied"}
    assert found["decision"]["reasons"]
    assert found["applications"][0]["writeback_status"] == "confirmed"
    assert found["applications"][0]["external_id"].startswith("applications.csv:")
    assert {e["event"] for e in found["audit_events"]} >= {
        "file_received",
        "decision_recorded",
        "application_confirmed",
    }
    assert found["audit_chain"]["ok"] is True
    code, stdout, _ = arlink(workspace, "trace", payment_id)
    assert code == 0
    assert "audit chain: verified" in stdout

    code, stdout, _ = arlink(workspace, "audit", "verify", "--json")
    assert code == 0
    assert json.loads(stdout)["ok"] is True
    with ledger(workspace).begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor='mallory' WHERE seq=3"))
    code, stdout, stderr = arlink(workspace, "audit", "verify", "--json")
    assert code == 1
    assert json.loads(stdout)["first_bad_seq"] == 3
    assert "audit chain broken at event 3" in stderr


def test_dry_run_writes_nothing(workspace: Path) -> None:
    before = sorted(p.name for p in (workspace / "bank").iterdir())
    code, stdout, stderr = arlink(workspace, "run", "daily", "--dry-run", "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["dry_run"] is True
    assert summary["payments"] > 0
    assert sorted(p.name for p in (workspace / "bank").iterdir()) == before
    assert not (workspace / "books" / "applications.csv").exists()
    with ledger(workspace).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM payments")).scalar() == 0


def test_failed_step_exits_non_zero_with_the_reason_and_is_recorded(workspace: Path) -> None:
    invoices = workspace / "books" / "open_invoices.csv"
    invoices.write_text(invoices.read_text() + "BAD,INV-X,C001,USD,12.345,1.00,,,,\n")
    code, _, stderr = arlink(workspace, "run", "daily")
    assert code == 1
    assert "open_invoices.csv:" in stderr
    assert "amount_total" in stderr
    with ledger(workspace).connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM job_runs")).scalars().all()
    assert status == ["failed"]


def test_check(workspace: Path) -> None:
    code, stdout, _ = arlink(workspace, "check")
    assert code == 0
    assert "open_invoices.csv" in stdout
    shutil.rmtree(workspace / "bank")
    code, stdout, _ = arlink(workspace, "check")
    assert code == 1
    assert "not found" in stdout


def test_config_error_exits_2_with_key_paths(workspace: Path) -> None:
    (workspace / "config.toml").write_text(CONFIG.replace('kind = "files"', 'kind = "filez"'))
    code, _, stderr = arlink(workspace, "check")
    assert code == 2
    assert "books.main.kind" in stderr


def test_unknown_job(workspace: Path) -> None:
    code, _, stderr = arlink(workspace, "run", "nightly")
    assert code == 2
    assert "no job `nightly`" in stderr


def test_parse_command(workspace: Path) -> None:
    demo = sorted((workspace / "bank").glob("*.bai2"))[0]
    code, stdout, _ = arlink(workspace, "parse", str(demo), "--json")
    assert code == 0
    parsed = json.loads(stdout)
    assert parsed["format"] == "bai2"
    transactions = [t for s in parsed["statements"] for t in s["transactions"]]
    assert transactions
    assert all(t["direction"] in {"credit", "debit"} for t in transactions)
    code, stdout, _ = arlink(workspace, "parse", str(demo))
    assert code == 0
    assert "bai2 account" in stdout
    bad = workspace / "bad.bai2"
    bad.write_bytes(b"hello\n")
    code, _, stderr = arlink(workspace, "parse", str(bad))
    assert code == 1
    assert "bad.bai2:1" in stderr


def test_match_files_contract(workspace: Path) -> None:
    books = workspace / "books"
    bank = sorted((workspace / "bank").glob("*.bai2"))
    bad = workspace / "bad.bai2"
    bad.write_bytes(b"not a bank file\n")
    out = workspace / "out"
    code, stdout, stderr = arlink(
        workspace,
        "match",
        "--customers", str(books / "customers.csv"),
        "--invoices", str(books / "open_invoices.csv"),
        "--out", str(out),
        "--json",
        *map(str, bank), str(bad),
    )  # fmt: skip
    assert code == 0, stderr
    assert "bad.bai2:1" in stderr
    summary = json.loads(stdout)
    assert summary["files_read"] == len(bank)
    applied, excepted = rows(out / "applications.csv"), rows(out / "exceptions.csv")
    assert list(applied[0]) == [
        "payment_id", "bank_reference", "invoice_id", "amount_applied", "discount_taken",
        "write_off", "confidence", "reasons",
    ]  # fmt: skip
    assert list(excepted[0]) == [
        "payment_id", "bank_reference", "amount", "currency", "payer_name", "reason",
        "suggestions", "remittance",
    ]  # fmt: skip
    ids = {r["payment_id"] for r in applied} | {r["payment_id"] for r in excepted}
    assert len(ids) == credits_in(bank)
    # Touches no host: the books folder is as it was.
    assert not (books / "applications.csv").exists()
    code, _, stderr = arlink(
        workspace, "match", "--customers", str(books / "customers.csv"),
        "--invoices", str(books / "open_invoices.csv"), "--out", str(out), str(bad),
    )  # fmt: skip
    assert code == 1
    assert "no bank file could be processed" in stderr


def test_an_unfinished_run_is_continued_not_restarted(workspace: Path) -> None:
    """A run whose process died after `pull` and `fetch` (checkpointed `done`) is picked
    up by the next `arlink run`: same run id, finished steps not repeated."""
    from datetime import UTC, datetime

    from sync_jobs.ledger import runs

    engine = ledger(workspace)
    at = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    with engine.begin() as conn:
        run_id = runs.start_run(conn, "daily", "0" * 64, at)
        runs.checkpoint(conn, run_id, "pull", "done", {}, at)
        runs.checkpoint(conn, run_id, "fetch", "done", {}, at)
    summary = run_json(workspace, "daily")
    assert summary["run_id"] == run_id
    # `fetch` was checkpointed done before any file was read, so nothing was fetched,
    # and `pull` did not run: the books snapshot in the ledger is still empty.
    assert summary["files_read"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM invoices")).scalar() == 0
        steps = dict(conn.execute(sa.text("SELECT step, status FROM step_checkpoints")).all())
        status = conn.execute(sa.text("SELECT status FROM job_runs")).scalar()
    assert steps == dict.fromkeys(["pull", "fetch", "parse", "match", "write-back"], "done")
    assert status == "succeeded"
    # The next run is a new one, and does the work.
    again = run_json(workspace, "daily")
    assert again["run_id"] != run_id
    assert again["files_read"] > 0


def test_a_test_only_file_is_quarantined_not_applied(workspace: Path) -> None:
    demo = sorted((workspace / "bank").glob("*.bai2"))[0]
    lines = demo.read_text().split("\n")
    group = lines[1].split(",")
    assert group[0] == "02"
    group[3] = "4"  # group status: test only
    lines[1] = ",".join(group)
    demo.write_text("\n".join(lines))
    summary = run_json(workspace, "daily")
    assert summary["files_quarantined"] == 1
    code, stdout, _ = arlink(workspace, "trace", demo.name, "--json")
    assert "group status 4" in json.loads(stdout)["file"]["quarantine_reason"]
    assert code == 0


def _hold_lock(workspace: Path, pid: int) -> None:
    from datetime import UTC, datetime

    from sync_jobs.ledger.schema import job_locks

    at = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    with ledger(workspace).begin() as conn:
        conn.execute(
            sa.insert(job_locks).values(
                job="daily", run_id="r" * 32, pid=pid, host=socket.gethostname(), acquired_at=at
            )
        )


def test_a_running_job_is_not_run_twice(workspace: Path) -> None:
    _hold_lock(workspace, os.getpid())  # a live process holds the job
    code, _, stderr = arlink(workspace, "run", "daily")
    assert code == 1
    assert "job `daily` is already running" in stderr
    with ledger(workspace).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM job_runs")).scalar() == 0
    assert list((workspace / "bank").glob("*.bai2"))  # nothing was fetched


def test_a_stale_lock_of_a_dead_process_is_taken_over(workspace: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    _hold_lock(workspace, dead.pid)
    summary = run_json(workspace, "daily")
    assert summary["payments"] > 0
    with ledger(workspace).connect() as conn:
        events = conn.execute(sa.text("SELECT event FROM audit_log")).scalars().all()
        locks = conn.execute(sa.text("SELECT count(*) FROM job_locks")).scalar()
    assert "job_lock_taken_over" in events
    assert locks == 0  # released at the end of the run


def test_run_history(workspace: Path) -> None:
    first = run_json(workspace, "daily")
    invoices = workspace / "books" / "open_invoices.csv"
    invoices.write_text(invoices.read_text() + "BAD,INV-X,C001,USD,1.001,1.00,,,,\n")
    assert arlink(workspace, "run", "daily")[0] == 1
    code, stdout, _ = arlink(workspace, "runs", "--json")
    assert code == 0
    history = json.loads(stdout)
    assert [r["status"] for r in history] == ["failed", "succeeded"]
    assert "amount_total" in history[0]["error"]
    assert history[1]["run_id"] == first["run_id"]
    assert history[1]["counts"]["summary"]["payments"] == first["payments"]
    code, stdout, _ = arlink(workspace, "runs", "show", first["run_id"], "--json")
    assert code == 0
    shown = json.loads(stdout)
    assert [s["step"] for s in shown["steps"]] == ["pull", "fetch", "parse", "match", "write-back"]
    assert {s["status"] for s in shown["steps"]} == {"done"}
    code, stdout, _ = arlink(workspace, "runs", "daily")
    assert code == 0
    assert "failed" in stdout
    assert arlink(workspace, "runs", "nightly", "--json")[1].strip() == "[]"
    assert arlink(workspace, "runs", "show", "nope")[0] == 1
