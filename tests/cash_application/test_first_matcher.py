"""The foundation matcher: reference found + amount equal -> applied; else an exception."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from cash_application.matching import ENGINE_VERSION, match_payments
from cash_application.policy import MatchPolicy
from mappings.money import Money
from mappings.records import (
    Customer,
    ExceptionReason,
    Invoice,
    Outcome,
    Payment,
    RemittanceLine,
    SourceRef,
)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def invoice(iid: str, number: str, amount: str, customer: str = "C1", **kw: object) -> Invoice:
    money = Money.parse(amount, kw.pop("currency", "USD"))  # type: ignore[arg-type]
    return Invoice(iid, number, customer, money, money, **kw)  # type: ignore[arg-type]


def pay(pid: str, amount: str, remittance: str = "", **kw: object) -> Payment:
    source = SourceRef("f" * 64, "bank.bai2", "bai2", 3, 3)
    return Payment(pid, "111", date(2026, 11, 2), usd(amount), source, remittance=remittance, **kw)  # type: ignore[arg-type]


CUSTOMERS = [
    Customer("C1", "Acme Manufacturing Inc.", aliases=("ACME MFG",), bank_accounts=("555-1",)),
    Customer("C2", "Globex Corp"),
]
INVOICES = [
    invoice("I1", "INV-1001", "1500.00"),
    invoice("I2", "INV-1002", "250.00"),
    invoice("I3", "INV-1003", "99.99", "C2"),
    invoice("I4", "INV-1004", "250.00"),
]


def test_exact_reference_and_amount_applies_with_reasons() -> None:
    (decision,) = match_payments(
        [pay("p1", "1500.00", "RMR*IV*INV-1001*1500.00\\")], INVOICES, CUSTOMERS
    )
    assert decision.outcome is Outcome.APPLIED
    assert [(a.invoice_id, a.amount) for a in decision.applications] == [("I1", usd("1500.00"))]
    assert decision.exception is None
    assert decision.engine_version == ENGINE_VERSION
    codes = [reason.code for reason in decision.reasons]
    assert codes == ["invoice_ref_found", "amount_equals_open", "evidence_path"]
    assert "INV-1001 found in remittance" in decision.reasons[0].text


def test_reference_separators_and_case_do_not_matter() -> None:
    for text in ("inv-1001", "INV/1001", "Payment for INV1001, thanks"):
        (decision,) = match_payments([pay("p1", "1500.00", text)], INVOICES, CUSTOMERS)
        assert decision.outcome is Outcome.APPLIED, text


def test_structured_remittance_lines_count_as_references() -> None:
    payment = pay("p1", "1500.00", remittance_lines=(RemittanceLine("INV-1001"),))
    (decision,) = match_payments([payment], INVOICES, CUSTOMERS)
    assert decision.outcome is Outcome.APPLIED


def test_several_invoices_whose_sum_is_paid() -> None:
    (decision,) = match_payments([pay("p1", "1750.00", "INV-1001 INV-1002")], INVOICES, CUSTOMERS)
    assert decision.outcome is Outcome.APPLIED
    assert sorted(a.invoice_id for a in decision.applications) == ["I1", "I2"]


def test_short_pay_is_an_exception_suggesting_the_named_invoice() -> None:
    # Issue 3 applies short pays as paid by default; a policy that does not is this matcher.
    review = MatchPolicy(apply_short_pay=False)
    (decision,) = match_payments([pay("p1", "1400.00", "INV-1001")], INVOICES, CUSTOMERS, review)
    assert decision.outcome is Outcome.EXCEPTION
    assert decision.applications == ()
    item = decision.exception
    assert item is not None
    assert item.reason is ExceptionReason.AMOUNT_MISMATCH
    assert item.amount == usd("1400.00")
    assert item.suggestions[0].invoice_id == "I1"
    assert any(r.code == "amount_below_open" for r in item.reasons)


def test_overpayment_applies_and_leaves_the_remainder_as_an_exception() -> None:
    # Issue 3: an over-payment applies on its own only when the payer owns the invoice
    # (a mistyped number landing on a smaller real invoice looks the same).
    payment = pay("p1", "1600.00", "INV-1001", payer_account="555-1")
    (decision,) = match_payments([payment], INVOICES, CUSTOMERS)
    assert decision.outcome is Outcome.PARTIALLY_APPLIED
    assert [a.amount for a in decision.applications] == [usd("1500.00")]
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.OVERPAYMENT
    assert decision.exception.amount == usd("100.00")


def test_no_reference_known_payer_suggests_same_amount_invoices() -> None:
    payment = pay("p1", "250.00", "THANK YOU", payer_account="555-1")
    (decision,) = match_payments([payment], INVOICES, CUSTOMERS)
    item = decision.exception
    assert item is not None
    # Issue 3: two equal open amounts are reported as ambiguous (was: no candidate).
    assert item.reason is ExceptionReason.AMBIGUOUS
    assert [s.invoice_id for s in item.suggestions] == ["I2", "I4"]
    assert item.reasons[0].code == "payer_account_known"


def test_no_reference_unknown_payer() -> None:
    (decision,) = match_payments(
        [pay("p1", "12.34", "HELLO", payer_name="Nobody")], INVOICES, CUSTOMERS
    )
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.UNKNOWN_PAYER
    assert decision.exception.suggestions == ()


def test_payer_known_by_alias() -> None:
    (decision,) = match_payments(
        [pay("p1", "1.00", "x", payer_name="Acme Mfg")], INVOICES, CUSTOMERS
    )
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.NO_CANDIDATE


def test_second_payment_of_the_same_invoice_is_a_duplicate() -> None:
    first, second = match_payments(
        [pay("p1", "99.99", "INV-1003"), pay("p2", "99.99", "INV-1003")], INVOICES, CUSTOMERS
    )
    assert first.outcome is Outcome.APPLIED
    assert second.exception is not None
    assert second.exception.reason is ExceptionReason.DUPLICATE


def test_currency_mismatch() -> None:
    invoices = [invoice("E1", "INV-2001", "10.00", currency="EUR")]
    (decision,) = match_payments([pay("p1", "10.00", "INV-2001")], invoices, CUSTOMERS)
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.CURRENCY_MISMATCH


def test_same_number_on_two_invoices_is_ambiguous_not_first_wins() -> None:
    invoices = [invoice("A", "INV-7", "10.00", "C1"), invoice("B", "INV-7", "20.00", "C2")]
    (decision,) = match_payments([pay("p1", "10.00", "INV-7")], invoices, CUSTOMERS)
    assert decision.exception is not None
    assert decision.exception.reason is ExceptionReason.AMBIGUOUS
    assert {s.invoice_id for s in decision.exception.suggestions} == {"A", "B"}


amounts = st.integers(min_value=1, max_value=500_000)


@settings(max_examples=60, deadline=None)
@given(
    invoice_amounts=st.lists(amounts, min_size=1, max_size=8),
    payments_spec=st.lists(
        st.tuples(amounts, st.lists(st.integers(0, 7), max_size=3)), min_size=1, max_size=8
    ),
)
def test_never_applies_more_than_paid_or_open(
    invoice_amounts: list[int], payments_spec: list[tuple[int, list[int]]]
) -> None:
    invoices = [
        Invoice(f"I{i}", f"INV-{i}", "C1", Money(m, "USD"), Money(m, "USD"))
        for i, m in enumerate(invoice_amounts)
    ]
    payments = [
        pay(f"p{n}", str(Money(minor, "USD")), " ".join(f"INV-{r}" for r in refs))
        for n, (minor, refs) in enumerate(payments_spec)
    ]
    decisions = match_payments(payments, invoices, CUSTOMERS)
    assert [d.payment_id for d in decisions] == [p.payment_id for p in payments]
    applied_to: dict[str, int] = {}
    for payment, decision in zip(payments, decisions, strict=True):
        applied = sum(a.amount.minor for a in decision.applications)
        excepted = decision.exception.amount.minor if decision.exception else 0
        assert applied <= payment.amount.minor
        # Nothing is lost: the applied part plus the excepted part is the whole payment.
        assert applied + excepted == payment.amount.minor
        for a in decision.applications:
            applied_to[a.invoice_id] = applied_to.get(a.invoice_id, 0) + a.amount.minor
    opening = {i.invoice_id: i.open_amount.minor for i in invoices}
    assert all(applied_to[i] <= opening[i] for i in applied_to)
