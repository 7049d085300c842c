"""The matcher with remittance advices: a linked advice's lines drive the application."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from cash_application.matching import match_payments
from cash_application.remittance_advices import parse_advice_file
from mappings.money import Money
from mappings.records import (
    Customer,
    ExceptionReason,
    Invoice,
    Outcome,
    Payment,
    RemittanceAdvice,
    SourceRef,
)

SAMPLES = Path(__file__).parent / "samples"
CUSTOMERS = [
    Customer("C1", "Acme Manufacturing Inc.", bank_accounts=("555-1",)),
    Customer("C2", "Globex Corp"),
]


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def invoice(iid: str, number: str, amount: str, customer: str = "C1") -> Invoice:
    return Invoice(iid, number, customer, usd(amount), usd(amount), date(2026, 10, 1))


INVOICES = [
    invoice("I1", "INV-1001", "1500.00"),
    invoice("I2", "INV-1002", "250.00"),
    invoice("I3", "INV-1003", "97.99", "C2"),
    invoice("I4", "INV-1004", "97.99", "C2"),
]


def pay(pid: str, amount: str, **kw: object) -> Payment:
    source = SourceRef("f" * 64, "bank.bai2", "bai2", 3, 3)
    return Payment(pid, "111", date(2026, 11, 2), usd(amount), source, **kw)  # type: ignore[arg-type]


def sample(name: str) -> list[RemittanceAdvice]:
    data = (SAMPLES / name).read_bytes()
    return parse_advice_file(data, name, file_digest=hashlib.sha256(data).hexdigest())


def test_an_820_linked_by_trace_applies_its_lines_with_the_line_reason_codes() -> None:
    # 1,700.00 for two invoices of 1,750.00: the advice says INV-1001 was paid 1,450.00
    # with a DED adjustment, and INV-1002 in full. The bank names no payer and no invoice.
    payment = pay("p1", "1700.00", bank_reference="091000019876543", remittance="ACH CTX")
    (decision,) = match_payments(
        [payment], INVOICES, CUSTOMERS, advices=sample("ach_ctx_short_pay.820")
    )
    assert decision.outcome is Outcome.APPLIED
    applied = {a.invoice_id: (str(a.amount), a.reason_code) for a in decision.applications}
    assert applied == {"I1": ("1450.00", "DED"), "I2": ("250.00", None)}
    first = decision.reasons[0]
    assert first.code == "advice_linked"
    assert first.text == (
        "remittance advice 820 TRN 091000019876543 linked by bank trace 091000019876543"
    )
    assert any("INV-1001" in r.text and "DED" in r.text for r in decision.reasons)


def test_a_short_paid_advice_line_leaves_the_rest_of_its_invoice_open() -> None:
    first = pay("p1", "1700.00", bank_reference="091000019876543")
    rest = Payment(
        "p2",
        "111",
        date(2026, 11, 3),
        usd("50.00"),
        first.source,
        remittance="INV-1001 balance",
    )
    _, second = match_payments(
        [first, rest], INVOICES, CUSTOMERS, advices=sample("ach_ctx_short_pay.820")
    )
    assert second.outcome is Outcome.APPLIED
    assert [(a.invoice_id, str(a.amount)) for a in second.applications] == [("I1", "50.00")]


def test_without_the_advice_the_same_payment_goes_to_review() -> None:
    payment = pay("p1", "1700.00", bank_reference="091000019876543", remittance="ACH CTX")
    (decision,) = match_payments([payment], INVOICES, CUSTOMERS)
    assert decision.outcome is Outcome.EXCEPTION
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.UNKNOWN_PAYER


def test_a_csv_advice_linked_by_amount_date_and_payer_names_one_of_equal_invoices() -> None:
    # Globex has two open invoices of 97.99: the amount alone is a tie; its advice
    # (no trace; payer by name; paid on the 1st, money on the 2nd) names INV-1003.
    payment = pay("p1", "97.99", payer_name="GLOBEX CORP")
    (decision,) = match_payments(
        [payment], INVOICES, CUSTOMERS, advices=sample("portal_upload.csv")
    )
    assert decision.outcome is Outcome.APPLIED
    assert [a.invoice_id for a in decision.applications] == ["I3"]
    assert decision.reasons[0].code == "advice_linked"
    assert "CSV advice R-1002" in decision.reasons[0].text
    assert "amount 97.99" in decision.reasons[0].text
    (alone,) = match_payments([payment], INVOICES, CUSTOMERS)
    assert alone.outcome is Outcome.EXCEPTION


def test_an_advice_naming_a_paid_invoice_is_a_duplicate_with_the_link_as_reason() -> None:
    paid = [*INVOICES[:2], Invoice("I3", "INV-1003", "C2", usd("97.99"), usd("0"), status="paid")]
    payment = pay("p1", "97.99", payer_name="GLOBEX CORP")
    (decision,) = match_payments([payment], paid, CUSTOMERS, advices=sample("portal_upload.csv"))
    assert decision.outcome is Outcome.EXCEPTION
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.DUPLICATE
    assert decision.exception.reasons[0].code == "advice_linked"


def test_an_unlinked_advice_changes_nothing() -> None:
    payment = pay("p1", "1500.00", remittance="INV-1001")
    with_advices = match_payments(
        [payment], INVOICES, CUSTOMERS, advices=sample("two_sets_pipes.820")
    )
    assert with_advices == match_payments([payment], INVOICES, CUSTOMERS)
