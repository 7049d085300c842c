"""Amount reconciliation: each reading, and every tolerance at its limit and one cent past."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cash_application.amounts import (
    Open,
    chance_sets,
    deduction_code,
    discount_terms,
    fit_listed,
    subset_sum,
)
from cash_application.policy import MatchPolicy
from mappings.money import Money
from mappings.records import Invoice

ISSUED = date(2024, 6, 1)
POLICY = MatchPolicy()


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def item(minor: int, iid: str = "I1", terms: str | None = None, currency: str = "USD") -> Open:
    money = Money(minor, currency)
    invoice = Invoice(iid, f"INV-{iid}", "C1", money, money, ISSUED, None, None, terms)
    return Open(invoice, minor)


def fit(
    items: list[Open], paid: int, *, on: date = ISSUED, code: str | None = None, **kw: object
) -> Any:
    """The reading of `paid` (None for review); Any so tests read its fields directly."""
    policy = MatchPolicy(**kw)  # type: ignore[arg-type]
    return fit_listed(items, usd(paid), on, policy, code, {"EUR": Decimal("1")})


def test_exact_and_several() -> None:
    assert fit([item(1000)], 1000).kind == "exact"
    found = fit([item(1000), item(250, "I2")], 1250)
    assert found.kind == "exact"
    assert [a.amount.minor for a in found.applications] == [1000, 250]


def test_overpayment_leaves_the_remainder() -> None:
    found = fit([item(1000)], 1200)
    assert (found.kind, found.remainder) == ("overpayment", 200)
    assert found.applications[0].amount == usd(1000)


def test_several_listed_and_paid_less_goes_to_review() -> None:
    assert fit([item(1000), item(250, "I2")], 1100) is None


def test_discount_terms_and_deduction_codes() -> None:
    assert discount_terms("2/10 NET 30") == (Decimal(2), 10)
    assert discount_terms("1.5/15 N45") == (Decimal("1.5"), 15)
    assert discount_terms("NET 30") is None
    assert deduction_code("RMR*IV*INV-1*900.00*DED\\") == "DED"
    assert deduction_code("INV-1 DAMAGED GOODS") == "DAMAGED"
    assert deduction_code("INV-1") is None


def test_discount_on_the_last_day_of_the_window_and_one_day_late() -> None:
    invoice = item(1_000_000, terms="2/10 NET 30")  # 10,000.00; discount 200.00
    on_time = fit([invoice], 980_000, on=date(2024, 6, 11))
    assert on_time.kind == "discount"
    assert on_time.applications[0].discount == usd(20_000)
    assert on_time.applications[0].amount == usd(980_000)
    late = fit([invoice], 980_000, on=date(2024, 6, 12))
    assert late.kind == "partial"  # applied as paid; the 200.00 stays open
    assert fit([invoice], 980_000, on=date(2024, 6, 12), discount_grace_days=1).kind == "discount"
    assert fit([invoice], 980_000, on=date(2024, 6, 11), take_discount=False).kind == "partial"


def test_discount_rounding_one_minor_unit_either_way() -> None:
    invoice = item(1_000_050, terms="2/10 NET 30")  # 2 % = 20,001 minor units
    assert fit([invoice], 1_000_050 - 20_000).kind == "discount"
    assert fit([invoice], 1_000_050 - 20_002).kind == "discount"
    assert fit([invoice], 1_000_050 - 20_003).kind == "partial"


def test_write_off_at_the_limit_and_one_cent_past() -> None:
    at_limit = fit([item(100_000)], 100_000 - 5_000)
    assert at_limit.kind == "write_off"
    assert at_limit.applications[0].write_off == usd(5_000)
    assert at_limit.applications[0].reason_code == "BANK_FEE"
    assert fit([item(100_000)], 100_000 - 5_001).kind == "partial"
    assert fit([item(100_000)], 99_000, write_off_limit=Decimal("0")).kind == "partial"


def test_short_pay_keeps_the_deduction_code_even_within_the_write_off_limit() -> None:
    found = fit([item(100_000)], 99_000, code="DED")
    assert found.kind == "short_pay"
    assert found.applications[0].reason_code == "DED"
    assert found.applications[0].amount == usd(99_000)


def test_short_pay_goes_to_review_when_the_policy_says_so() -> None:
    assert fit([item(100_000)], 60_000, apply_short_pay=False) is None


def test_fx_at_the_tolerance_and_one_cent_past() -> None:
    invoice = item(10_000, currency="EUR")  # EUR 100.00 at rate 1: expected USD 100.00
    assert fit([invoice], 10_100).kind == "fx"  # exactly 1 %
    assert fit([invoice], 9_900).kind == "fx"
    assert fit([invoice], 10_101) is None
    found = fit([invoice], 10_050)
    assert found.applications[0].amount == usd(10_050)
    assert found.applications[0].reason_code == "FX"


def test_fx_without_a_rate_is_no_reading() -> None:
    invoice = item(10_000, currency="GBP")
    assert fit([invoice], 10_000) is None


def test_subset_sum_unique_several_and_bounded() -> None:
    items = [item(100, "A"), item(250, "B"), item(400, "C"), item(990, "D")]
    found, exhaustive = subset_sum(items, 650, 5, 30)
    assert exhaustive
    assert [{i.invoice.invoice_id for i in s} for s in found] == [{"B", "C"}]
    found, _ = subset_sum([*items, item(550, "E")], 650, 5, 30)
    assert len(found) == 2  # B+C and A+E: not unique
    assert subset_sum(items, 100, 5, 30)[0] == []  # a single invoice is not a subset-sum
    assert subset_sum(items, 1740, 2, 30)[0] == []  # would need more than 2 invoices


def test_subset_sum_over_the_candidate_bound_tries_due_date_runs_only() -> None:
    items = [item(1000 + n, f"I{n:02d}") for n in range(40)]
    found, exhaustive = subset_sum(items, 1003 + 1004, 5, 30)
    assert not exhaustive
    assert [[i.invoice.invoice_id for i in s] for s in found] == [["I03", "I04"]]


@pytest.mark.parametrize("paid", [0, 1])
def test_nothing_open_is_never_a_subset(paid: int) -> None:
    assert subset_sum([item(0)], paid, 5, 30)[0] == []


@settings(max_examples=150, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 60), min_size=0, max_size=9),
    target=st.integers(1, 200),
    sizes=st.tuples(st.integers(1, 3), st.integers(1, 5)),
)
def test_subset_sum_agrees_with_trying_every_set(
    amounts: list[int], target: int, sizes: tuple[int, int]
) -> None:
    """Meeting in the middle finds what enumerating every set finds: none, exactly the one,
    or at least two (it stops there)."""
    low, high = min(sizes), max(sizes)
    items = [item(minor, f"I{n}") for n, minor in enumerate(amounts)]
    every = [
        {i.invoice.invoice_id for i in chosen}
        for size in range(max(low, 1), high + 1)
        for chosen in combinations(items, size)
        if sum(i.open_minor for i in chosen) == target
    ]
    found, exhaustive = subset_sum(items, target, high, 30, min_invoices=low)
    assert exhaustive
    assert len(found) == min(len(every), 2)
    for chosen in found:
        assert {i.invoice.invoice_id for i in chosen} in every
        assert low <= len(chosen) <= high


def test_chance_sets_grow_with_the_candidates_and_bound_the_exhaustive_search() -> None:
    few = [101_00, 250_00, 399_00, 990_00]
    many = [1_000_00 + 37 * n for n in range(60)]
    assert chance_sets(few, 650_00, 2, 5) < 0.001
    assert chance_sets(many, many[29] + many[30], 2, 5) > 0.1
    assert chance_sets([500], 500, 2, 5) == 0.0  # fewer than two amounts: no set at all
    items = [item(minor, f"I{n:02d}") for n, minor in enumerate(many)]
    target = many[29] + many[30]
    # Unique among so many proves nothing: only adjacent runs are tried, not exhaustive.
    _, exhaustive = subset_sum(items, target, 5, 80, max_chance=0.02)
    assert not exhaustive
    assert subset_sum(items, target, 5, 80)[1]  # no chance bound: every set is tried
