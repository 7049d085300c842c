from __future__ import annotations

from mappings.money import Money
from mappings.records import (
    Application,
    Decision,
    ExceptionItem,
    ExceptionReason,
    Outcome,
)
from sync_jobs.summary import RunSummary, format_amounts


def test_amounts_are_kept_per_currency_and_partial_applications_apart() -> None:
    usd, eur = Money.parse("100.00", "USD"), Money.parse("5.50", "EUR")
    decisions = [
        Decision("p1", Outcome.APPLIED, 1.0, "v", applications=(Application("i1", usd),)),
        Decision("p2", Outcome.APPLIED, 1.0, "v", applications=(Application("i2", eur),)),
        Decision(
            "p3",
            Outcome.PARTIALLY_APPLIED,
            0.9,
            "v",
            applications=(Application("i3", usd),),
            exception=ExceptionItem("p3", ExceptionReason.OVERPAYMENT, Money(1, "USD")),
        ),
        Decision(
            "p4",
            Outcome.EXCEPTION,
            0.0,
            "v",
            exception=ExceptionItem("p4", ExceptionReason.NO_CANDIDATE, usd),
        ),
    ]
    summary = RunSummary()
    summary.add_decisions(decisions)
    assert (summary.payments, summary.applied, summary.partially_applied) == (4, 2, 1)
    assert summary.exceptions == 2
    shown = dict(summary.rows())
    assert shown["applied"] == "2 (EUR 5.50; USD 100.00)"
    assert shown["partially applied"] == "1 (USD 100.00)"
    assert shown["exceptions"] == "2 (USD 100.01)"
    data = summary.to_json()
    assert data["applied_amount"] == {"EUR": "5.50", "USD": "100.00"}
    assert data["exception_amount"] == {"USD": "100.01"}


def test_nothing_is_zero() -> None:
    assert format_amounts({}) == "0"
    assert format_amounts({"JPY": Money(1234567, "JPY")}) == "JPY 1,234,567"
