"""The `files` books host: the CSV contract read and written, idempotent write-back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from connectors.files import BooksDataError, FilesBooks
from mappings.money import Money
from mappings.records import (
    Application,
    ApplicationWrite,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Payment,
    Reason,
    SourceRef,
    Suggestion,
    idempotency_key,
)

CUSTOMERS = """customer_id,name,parent_id,aliases,bank_accounts,extra
C1,Acme Manufacturing Inc.,,ACME MFG|Acme,021000021-1234,ignored
C2,Acme West LLC,C1,,,
"""
INVOICES = (
    "invoice_id,invoice_number,customer_id,currency,amount_total,amount_open,"
    "issue_date,due_date,po_number,discount_terms\n"
    """I1,INV-1001,C1,USD,1500.00,1500.00,2026-10-01,2026-10-31,PO-77,2/10 net 30
I2,INV-1002,C2,JPY,120000,100000,2026-10-02,,,
"""
)


def books(tmp_path: Path, invoices: str = INVOICES) -> FilesBooks:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "open_invoices.csv").write_text(invoices, encoding="utf-8")
    return FilesBooks("main", tmp_path)


def payment(pid: str = "p1") -> Payment:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 5, 6)
    return Payment(
        pid, "123", date(2026, 11, 2), Money.parse("1000.00", "USD"), source,
        payer_name="ACME MFG", bank_reference="REF1", remittance="INV-1001",
    )  # fmt: skip


def test_reads_the_contract(tmp_path: Path) -> None:
    host = books(tmp_path)
    customers = host.pull_customers(None)
    assert customers[0].aliases == ("ACME MFG", "Acme")
    assert customers[0].bank_accounts == ("021000021-1234",)
    assert customers[1].parent_id == "C1"
    invoices = host.pull_open_invoices(None)
    assert [i.open_amount for i in invoices] == [
        Money.parse("1500.00", "USD"),
        Money.parse("100000", "JPY"),
    ]
    assert invoices[0].due_date == date(2026, 10, 31)
    assert invoices[0].discount_terms == "2/10 net 30"
    assert invoices[1].due_date is None


def test_bad_rows_are_all_named_with_file_line_and_field(tmp_path: Path) -> None:
    bad = INVOICES + "I3,INV-1003,C1,USD,12.345,12.00,2026-13-01,,,\nI4,,C1,US,1,1,,,,\n"
    host = books(tmp_path, bad)
    with pytest.raises(BooksDataError) as caught:
        host.pull_open_invoices(None)
    shown = [str(problem) for problem in caught.value.problems]
    assert any(s.startswith("open_invoices.csv:4: field `amount_total`") for s in shown)
    assert any(s.startswith("open_invoices.csv:4: field `issue_date`") for s in shown)
    assert any(s.startswith("open_invoices.csv:5: field `currency`") for s in shown)


def test_missing_column_is_reported(tmp_path: Path) -> None:
    host = books(tmp_path, "invoice_id,invoice_number\nI1,INV-1\n")
    with pytest.raises(BooksDataError, match="field `customer_id`: column missing"):
        host.pull_open_invoices(None)


def test_application_round_trip_reduces_open_amount_and_is_idempotent(tmp_path: Path) -> None:
    host = books(tmp_path)
    p = payment()
    write = ApplicationWrite(
        idempotency_key(p.payment_id, "I1"),
        p,
        Application("I1", Money.parse("1000.00", "USD")),
        1.0,
        (Reason("invoice_ref_found", "invoice number INV-1001 found in remittance"),),
    )
    first = host.push_applications([write])
    assert [r.already_present for r in first] == [False]
    again = host.push_applications([write])
    assert [r.already_present for r in again] == [True]
    assert again[0].external_id == first[0].external_id
    rows = (tmp_path / "applications.csv").read_text().splitlines()
    assert len(rows) == 2
    assert rows[0].startswith(
        "payment_id,bank_reference,invoice_id,amount_applied,discount_taken,write_off,"
        "confidence,reasons"
    )
    assert "p1,REF1,I1,1000.00,0.00,0.00,1.000,invoice number INV-1001 found" in rows[1]
    open_now = {i.invoice_id: i.open_amount for i in host.pull_open_invoices(None)}
    assert open_now["I1"] == Money.parse("500.00", "USD")


def test_fully_applied_invoice_is_no_longer_open(tmp_path: Path) -> None:
    host = books(tmp_path)
    p = payment()
    write = ApplicationWrite("k1", p, Application("I1", Money.parse("1500.00", "USD")), 1.0)
    host.push_applications([write])
    assert [i.invoice_id for i in host.pull_open_invoices(None)] == ["I2"]


def test_exceptions_are_written_where_the_clerk_looks(tmp_path: Path) -> None:
    host = books(tmp_path)
    item = ExceptionItem(
        "p1",
        ExceptionReason.AMOUNT_MISMATCH,
        Money.parse("1000.00", "USD"),
        (Suggestion("I1", 0.9), Suggestion("I9", 0.3)),
    )
    host.push_exceptions([ExceptionWrite("k-exc", payment(), item)])
    host.push_exceptions([ExceptionWrite("k-exc", payment(), item)])
    lines = (tmp_path / "exceptions.csv").read_text().splitlines()
    assert lines[0].startswith(
        "payment_id,bank_reference,amount,currency,payer_name,reason,suggestions,remittance"
    )
    assert lines[1:] == ["p1,REF1,1000.00,USD,ACME MFG,amount_mismatch,I1|I9,INV-1001,k-exc"]


def test_resolutions_are_read_and_validated(tmp_path: Path) -> None:
    host = books(tmp_path)
    assert host.pull_resolutions(None) == []
    (tmp_path / "resolutions.csv").write_text(
        "payment_id,action,invoice_id,amount,currency,note\n"
        "p1,apply,I1,1000.00,USD,short pay accepted\n"
    )
    (resolution,) = host.pull_resolutions(None)
    assert resolution.action == "apply"
    assert resolution.amount == Money.parse("1000.00", "USD")
    (tmp_path / "resolutions.csv").write_text(
        "payment_id,action,invoice_id,amount,currency,note\np1,refund,,,,\n"
    )
    with pytest.raises(BooksDataError, match=r"resolutions\.csv:2: field `action`"):
        host.pull_resolutions(None)


def test_check_reports_missing_files(tmp_path: Path) -> None:
    results = FilesBooks("main", tmp_path).check()
    assert not all(result.ok for result in results)
    assert any("customers.csv not found" in result.detail for result in results)
    assert all(result.ok for result in books(tmp_path).check())
