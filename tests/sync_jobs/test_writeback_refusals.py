"""Write-back when the books host refuses one record: the demo on the files host, whose
export loses an invoice between match and write-back (as when a user cancels it in the
ERP). The refused application becomes a `host_refused` exception for the clerk, the rest
of the run goes on, and no rerun retries the refused record or posts anything twice, even
after a kill at any moment of the write-back."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import Result as CliResult
from test_crash_safety import differences_after_kills, end_state, run_in_fork
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from mappings.money import Money
from sync_jobs import store
from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.wiring import ledger_url

# `decide` reads the books and bank files and matches; `daily` (the name the crash-safety
# harness runs) only writes back, so the books can change in between.
CONFIG = DEMO_CONFIG.replace(
    '[jobs.daily]\nbooks = "main"\nsources = ["operating"]\n',
    '[jobs.decide]\nbooks = "main"\nsources = ["operating"]\n'
    'steps = ["pull", "fetch", "parse", "match"]\n'
    '[jobs.daily]\nbooks = "main"\nsources = ["operating"]\nsteps = ["write-back"]\n',
)
# In the demo, Vandelay's payment pays INV-10062 (id 5062) and INV-10063 (id 5063).
REFUSED_NUMBER, REFUSED_ID, ACCEPTED_ID = "INV-10063", "5063", "5062"
REFUSED_AMOUNT = Money.parse("2849.95", "USD")
MESSAGE = "invoice 5063 is not in open_invoices.csv"


def arlink(workspace: Path, *args: str) -> CliResult:
    return CliRunner().invoke(app, ["--config", str(workspace / "config.toml"), *args])


def decided_then_refusing(folder: Path) -> Path:
    """A workspace whose payments are decided, then whose export drops INV-10063."""
    workspace = make_workspace(folder, CONFIG)
    decided = arlink(workspace, "run", "decide")
    assert decided.exit_code == 0, decided.stderr
    books = workspace / "books" / "open_invoices.csv"
    with books.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames or [], list(reader)
    with books.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(row for row in rows if row["invoice_number"] != REFUSED_NUMBER)
    return workspace


def journal(workspace: Path, name: str) -> list[dict[str, str]]:
    path = workspace / "books" / name
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def ledger(workspace: Path, sql: str, **params: str) -> list[tuple[Any, ...]]:
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def test_a_refused_application_goes_to_the_clerk_and_the_rest_is_written(tmp_path: Path) -> None:
    workspace = decided_then_refusing(tmp_path)
    run = arlink(workspace, "run", "daily", "--json")
    assert run.exit_code == 0, run.stderr
    ((payment_id,),) = ledger(
        workspace, "SELECT payment_id FROM applications WHERE invoice_id = :id", id=REFUSED_ID
    )
    assert (
        f"refused by the books host: application of payment {payment_id}, invoice "
        f"{REFUSED_NUMBER}: {MESSAGE}"
    ) in run.stderr

    # The payment's other application is in the host; the refused one is not.
    applied = {
        (row["payment_id"], row["invoice_id"]) for row in journal(workspace, "applications.csv")
    }
    assert (payment_id, ACCEPTED_ID) in applied
    assert (payment_id, REFUSED_ID) not in applied
    assert ledger(
        workspace,
        "SELECT invoice_id, writeback_status, writeback_error FROM applications "
        "WHERE payment_id = :id ORDER BY invoice_id",
        id=payment_id,
    ) == [(ACCEPTED_ID, "confirmed", None), (REFUSED_ID, "refused", MESSAGE)]

    # Its money is an exception where the clerk looks, for the refused amount only.
    (held,) = [
        row for row in journal(workspace, "exceptions.csv") if row["reason"] == "host_refused"
    ]
    assert (held["payment_id"], held["amount"], held["suggestions"]) == (
        payment_id,
        str(REFUSED_AMOUNT),
        REFUSED_ID,
    )
    ((reason, amount, status, suggestions, reasons),) = ledger(
        workspace,
        "SELECT reason, amount_minor, writeback_status, suggestions, reasons FROM exception_items "
        "WHERE payment_id = :id",
        id=payment_id,
    )
    assert (reason, amount, status) == ("host_refused", REFUSED_AMOUNT.minor, "confirmed")
    assert json.loads(suggestions)[0]["invoice_id"] == REFUSED_ID
    expected = f"main refused applying 2849.95 to invoice {REFUSED_NUMBER}: {MESSAGE}"
    assert json.loads(reasons) == [{"code": "host_refused", "text": expected}]
    queue = arlink(workspace, "exceptions", "--json")
    assert queue.exit_code == 0, queue.stderr
    assert any(
        item["payment_id"] == payment_id and item["reason"] == "host_refused"
        for item in json.loads(queue.stdout)
    ), queue.stdout

    # The audit trail holds the host's message; the run's counts say what was refused.
    ((payload,),) = ledger(
        workspace, "SELECT payload FROM audit_log WHERE event = 'application_refused'"
    )
    assert json.loads(payload) | {"run_id": None} == {
        "host": "main",
        "message": MESSAGE,
        "payment_id": payment_id,
        "invoice_id": REFUSED_ID,
        "invoice_number": REFUSED_NUMBER,
        "run_id": None,
    }
    ((run_id,),) = ledger(workspace, "SELECT run_id FROM job_runs WHERE job = 'daily'")
    shown = arlink(workspace, "runs", "show", run_id, "--json")
    (step,) = json.loads(shown.stdout)["steps"]
    assert (step["detail"]["applications_refused"], step["detail"]["exceptions_refused"]) == (1, 0)

    # An auditor's trace of the payment shows the refusal with the host's words.
    traced = arlink(workspace, "trace", payment_id)
    assert traced.exit_code == 0, traced.stderr
    assert f"write-back refused ({MESSAGE})" in " ".join(traced.stdout.split())

    # A rerun posts nothing more and does not try the refused application again.
    before = journal(workspace, "applications.csv"), journal(workspace, "exceptions.csv")
    again = arlink(workspace, "run", "daily")
    assert again.exit_code == 0, again.stderr
    assert "refused" not in again.stderr
    assert (journal(workspace, "applications.csv"), journal(workspace, "exceptions.csv")) == before
    assert (
        len(ledger(workspace, "SELECT 1 FROM audit_log WHERE event = 'application_refused'")) == 1
    )


def test_a_refused_application_leaves_the_invoice_open_in_the_ledger(tmp_path: Path) -> None:
    workspace = decided_then_refusing(tmp_path)
    assert arlink(workspace, "run", "daily").exit_code == 0
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:
            still = store.open_invoices(conn, "main", [REFUSED_ID, ACCEPTED_ID])
    finally:
        engine.dispose()
    # Until the next pull says otherwise, matching may still use what the host never took.
    assert {key: invoice.open_amount for key, invoice in still.items()} == {
        REFUSED_ID: REFUSED_AMOUNT
    }


def test_killed_at_any_moment_of_a_refusing_write_back_then_rerun(tmp_path: Path) -> None:
    clean = decided_then_refusing(tmp_path / "clean")
    status, moments = run_in_fork(clean, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    expected = end_state(clean)
    assert ("16e87ea14286cf35850c", "host_refused", REFUSED_AMOUNT.minor, "confirmed") in expected[
        "exception_items"
    ]
    assert any("application_refused" in label for label in moments), moments
    assert (
        differences_after_kills(
            moments,
            expected,
            lambda kill_at: decided_then_refusing(tmp_path / f"killed-at-{kill_at}"),
        )
        == {}
    )
