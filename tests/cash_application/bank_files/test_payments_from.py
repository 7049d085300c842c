"""From parsed bank files to payments: which transactions are cash to apply."""

from __future__ import annotations

from datetime import date

import pytest

from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.payments import payments_from
from cash_application.bank_files.records import Direction, ParsedFile, Statement, Transaction
from mappings.money import Money


def transaction(amount: str, direction: Direction, line: int, **kw: object) -> Transaction:
    return Transaction(Money.parse(amount, "EUR"), direction, line, line, **kw)  # type: ignore[arg-type]


def statement(*transactions: Transaction) -> Statement:
    return Statement("DE89370400440532013000", "EUR", date(2026, 11, 2), None, None, transactions)


def test_only_booked_credits_become_payments_with_stable_ids() -> None:
    parsed = ParsedFile(
        "camt.053",
        (
            statement(
                transaction("100.00", Direction.CREDIT, 10, invoice_refs=("INV-1",)),
                transaction("5.00", Direction.DEBIT, 20),
                transaction("70.00", Direction.CREDIT, 30, booked=False),
                transaction("9.00", Direction.CREDIT, 40, reversal=True),
            ),
        ),
    )
    payments = payments_from(parsed, file_digest="a" * 64, file_name="stmt.xml")
    assert [(p.amount, p.source.first_line) for p in payments] == [
        (Money.parse("100.00", "EUR"), 10),
        (Money.parse("9.00", "EUR"), 40),
    ]
    assert payments[0].remittance_lines[0].invoice_ref == "INV-1"
    again = payments_from(parsed, file_digest="a" * 64, file_name="renamed.xml")
    assert [p.payment_id for p in again] == [p.payment_id for p in payments]
    other = payments_from(parsed, file_digest="b" * 64, file_name="stmt.xml")
    assert other[0].payment_id != payments[0].payment_id


def test_a_test_only_file_gives_no_payments() -> None:
    parsed = ParsedFile("bai2", (statement(transaction("1.00", Direction.CREDIT, 3)),), True)
    with pytest.raises(BankFileError, match="group status 4"):
        payments_from(parsed, file_digest="c" * 64, file_name="test.bai2")
