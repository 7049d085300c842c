"""Learning end to end: a payer a clerk identified is recognised by the next run.

The demo's TYRELL CORP pays with an unknown name and a reference to no invoice: run one
leaves it as an exception. A clerk applies it to Acme's invoice in the files host
(`resolutions.csv`); run two pulls that resolution, and a new payment from TYRELL CORP,
with no reference, is applied to Acme's open invoice of that amount without a clerk.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from sync_jobs import store
from sync_jobs.cli import app as cli
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import applications, decisions, exception_items, payments
from sync_jobs.wiring import ledger_url

NEW_INVOICE = "5099"  # Acme's (C001), added to the export before run two
NEW_AMOUNT_MINOR = 77_700


def tyrell_bai2(amount_minor: int) -> bytes:
    """A one-payment BAI2 day: TYRELL CORP pays `amount_minor` with no remittance."""
    account = [
        "03,4021558830,USD,010,100000,,,015,100000,,,040,100000,,,045,100000,,/",
        f"16,165,{amount_minor},0,ACH1110000901,,ORIG CO NAME:TYRELL CORP      "
        "ORIG ID:6630017782 DESC DATE:261110 CO ENTRY DESCR:PAYMENT    SEC:CCD/",
        "88,TRACE#:026009593559999 EED:261110 IND ID:TY-88001        IND NAME:ARLINK DEMO CO/",
    ]
    total = 400_000 + amount_minor
    lines = [
        "01,121000248,ARLINKDEMO,261111,0615,1,,,2/",
        "02,ARLINKDEMO,121000248,1,261110,2400,USD,2/",
        *account,
        f"49,{total},{len(account) + 1}/",
        f"98,{total},1,{len(account) + 3}/",
        f"99,{total},1,{len(account) + 5}/",
    ]
    return ("\n".join(lines) + "\n").encode()


def run(workspace: Path) -> dict[str, object]:
    result = CliRunner().invoke(
        cli, ["--config", str(workspace / "config.toml"), "run", "daily", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_payer_a_clerk_resolved_in_the_host_is_applied_next_run(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, DEMO_CONFIG)
    run(workspace)
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:
            tyrell = conn.execute(
                sa.select(exception_items.c.payment_id, exception_items.c.amount_minor)
                .join(payments, payments.c.payment_id == exception_items.c.payment_id)
                .where(payments.c.payer_name == "TYRELL CORP")
            ).one()
            assert store.learned_history(conn, "main").resolutions == ()

        # The clerk applies it to Acme's INV-10043 in the host, and Acme has a new invoice.
        books = workspace / "books"
        with (books / "resolutions.csv").open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["payment_id", "action", "invoice_id", "amount", "currency", "note"])
            writer.writerow([tyrell.payment_id, "apply", "5043", "1200.00", "USD", "Acme's AP"])
        with (books / "open_invoices.csv").open("a", newline="") as out:
            csv.writer(out).writerow(
                [NEW_INVOICE, "INV-10099", "C001", "USD", "777.00", "777.00", "2026-11-01",
                 "2026-12-01", "", "NET 30"]
            )  # fmt: skip
        (workspace / "bank" / "2026-11-10-operating.bai2").write_bytes(
            tyrell_bai2(NEW_AMOUNT_MINOR)
        )

        run(workspace)
        with engine.connect() as conn:
            resolved = conn.scalar(
                sa.select(exception_items.c.status).where(
                    exception_items.c.payment_id == tyrell.payment_id
                )
            )
            history = store.learned_history(conn, "main")
            new_payment = conn.scalar(
                sa.select(payments.c.payment_id).where(
                    payments.c.payer_name == "TYRELL CORP",
                    payments.c.payment_id != tyrell.payment_id,
                )
            )
            outcome = conn.scalar(
                sa.select(decisions.c.outcome).where(decisions.c.payment_id == new_payment)
            )
            applied = conn.execute(
                sa.select(applications.c.invoice_id, applications.c.amount_minor).where(
                    applications.c.payment_id == new_payment
                )
            ).all()
    finally:
        engine.dispose()
    assert resolved == "resolved"
    assert [customer for _, _, customer in history.resolutions] == ["C001"]
    assert outcome == "applied"
    assert [tuple(row) for row in applied] == [(NEW_INVOICE, NEW_AMOUNT_MINOR)]
