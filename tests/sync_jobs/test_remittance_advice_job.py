"""A job whose bank folder holds a bank file and an X12 820 remittance advice: the advice is
recognised by content, kept in the ledger with its file, linked to its payment by the bank
trace, and its invoice lines drive the application written back to the books."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import audit_log, bank_files, remittance_advices
from sync_jobs.wiring import ledger_url

# Every file of the folder: the job tells bank files from advices by content, not by name.
CONFIG = DEMO_CONFIG.replace('pattern = "*.bai2"', 'pattern = "*"')
TRACE = "091000012345678"
# One ACH credit of 15,700.00 with no payer and no invoice: alone, it is an exception.
BANK_FILE = (
    "01,021000021,ARLINK,261104,0600,1,,,2/\n"
    "02,ARLINK,021000021,1,261104,,USD,2/\n"
    "03,4021558830,USD/\n"
    f"16,195,1570000,0,{TRACE},,ACH CREDIT/\n"
    "49,1570000,3/\n"
    "98,1570000,1,5/\n"
    "99,1570000,1,7/\n"
)
# Acme's advice for that money: INV-10041 (12,500.00) and INV-10043 (3,200.00).
ADVICE = (
    "ISA*00*          *00*          *ZZ*ACMEMFG        *ZZ*ARLINK         *261103*1700*U*"
    "00401*000000044*0*P*>~\n"
    "GS*RA*ACMEMFG*ARLINK*20261103*1700*44*X*004010~\n"
    "ST*820*0001~\n"
    "BPR*I*15700.00*C*ACH*CTX*01*021000021*DA*123456789*1234567890**01*021000021*DA*"
    "4021558830*20261104~\n"
    f"TRN*1*{TRACE}*1234567890~\n"
    "N1*PR*ACME MANUFACTURING INC*91*C001~\n"
    "ENT*1~\n"
    "RMR*IV*INV-10041**12500.00~\n"
    "RMR*IV*INV-10043**3200.00~\n"
    "SE*8*0001~\n"
    "GE*1*44~\n"
    "IEA*1*000000044~\n"
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = make_workspace(tmp_path, CONFIG, folders=("books",))
    (folder / "bank").mkdir()
    return folder


def run(workspace: Path) -> dict:
    result = CliRunner().invoke(
        app, ["--config", str(workspace / "config.toml"), "run", "daily", "--json"]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def applications(workspace: Path) -> list[dict[str, str]]:
    path = workspace / "books" / "applications.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def ledger(workspace: Path) -> sa.Engine:
    return open_ledger(ledger_url(load_config(workspace / "config.toml").config))


def test_the_payment_applies_by_its_advice_and_the_ledger_keeps_the_lineage(
    workspace: Path,
) -> None:
    (workspace / "bank" / "2026-11-04-operating.bai2").write_text(BANK_FILE)
    (workspace / "bank" / "acme-remittance.edi").write_text(ADVICE)
    summary = run(workspace)
    assert (summary["applied"], summary["exceptions"]) == (1, 0)
    applied = applications(workspace)
    assert sorted((row["invoice_id"], row["amount_applied"]) for row in applied) == [
        ("5041", "12500.00"),
        ("5043", "3200.00"),
    ]
    assert all("linked by bank trace" in row["reasons"] for row in applied)

    engine = ledger(workspace)
    try:
        with engine.connect() as conn:
            advice = conn.execute(
                sa.select(remittance_advices, bank_files.c.name, bank_files.c.format).join(
                    bank_files, bank_files.c.digest == remittance_advices.c.file_digest
                )
            ).one()
            linked = conn.scalars(
                sa.select(audit_log.c.payload).where(audit_log.c.event == "advice_linked")
            ).all()
        assert (advice.name, advice.format, advice.trace) == (
            "acme-remittance.edi",
            "x12.820",
            TRACE,
        )
        assert (advice.first_line, advice.last_line, advice.amount_minor) == (3, 10, 1570000)
        assert advice.payment_id is not None
        assert advice.linked_by == "trace"
        assert [p["advice_id"] for p in linked] == [advice.advice_id]
    finally:
        engine.dispose()


def test_an_advice_that_arrives_before_its_money_waits_for_it(workspace: Path) -> None:
    (workspace / "bank" / "acme-remittance.edi").write_text(ADVICE)
    first = run(workspace)
    assert first["payments"] == 0
    assert applications(workspace) == []

    (workspace / "bank" / "2026-11-04-operating.bai2").write_text(BANK_FILE)
    second = run(workspace)
    assert (second["applied"], second["exceptions"]) == (1, 0)
    assert {row["invoice_id"] for row in applications(workspace)} == {"5041", "5043"}


def test_without_its_advice_the_payment_goes_to_the_clerk(workspace: Path) -> None:
    (workspace / "bank" / "2026-11-04-operating.bai2").write_text(BANK_FILE)
    summary = run(workspace)
    assert (summary["applied"], summary["exceptions"]) == (0, 1)


def test_a_broken_advice_file_is_quarantined_and_the_bank_file_still_parses(
    workspace: Path,
) -> None:
    (workspace / "bank" / "2026-11-04-operating.bai2").write_text(BANK_FILE)
    (workspace / "bank" / "acme-remittance.edi").write_text(ADVICE.replace("SE*8*", "SE*9*"))
    summary = run(workspace)
    assert summary["payments"] == 1
    engine = ledger(workspace)
    try:
        with engine.connect() as conn:
            status, reason = conn.execute(
                sa.select(bank_files.c.status, bank_files.c.quarantine_reason).where(
                    bank_files.c.name == "acme-remittance.edi"
                )
            ).one()
        assert status == "quarantined"
        assert "acme-remittance.edi:10: field `SE01`: says 9, counted 8" in reason
    finally:
        engine.dispose()


def test_dry_run_and_arlink_match_read_advices_as_the_job_does(workspace: Path) -> None:
    (workspace / "bank" / "2026-11-04-operating.bai2").write_text(BANK_FILE)
    (workspace / "bank" / "acme-remittance.edi").write_text(ADVICE)
    config = ["--config", str(workspace / "config.toml")]
    preview = CliRunner().invoke(app, [*config, "run", "daily", "--dry-run", "--json"])
    assert preview.exit_code == 0, preview.stderr
    assert (json.loads(preview.stdout)["applied"], json.loads(preview.stdout)["exceptions"]) == (
        1,
        0,
    )
    books = workspace / "books"
    matched = CliRunner().invoke(
        app,
        [
            *config,
            "match",
            str(workspace / "bank" / "2026-11-04-operating.bai2"),
            str(workspace / "bank" / "acme-remittance.edi"),
            "--customers",
            str(books / "customers.csv"),
            "--invoices",
            str(books / "open_invoices.csv"),
            "--out",
            str(workspace / "out"),
            "--json",
        ],
    )
    assert matched.exit_code == 0, matched.stderr
    with (workspace / "out" / "applications.csv").open(newline="") as handle:
        assert {row["invoice_id"] for row in csv.DictReader(handle)} == {"5041", "5043"}
