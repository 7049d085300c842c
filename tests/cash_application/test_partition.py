"""Customer shards for matching: attribution to one customer group, stable shards, and
decisions that do not depend on how many shards the groups are spread over."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cash_application.book import build_book
from cash_application.matching import decide, decide_groups, decide_payments, plan_two_phases
from cash_application.partition import partition, reach, select, shard_of
from mappings.money import Money
from mappings.records import Customer, Decision, Invoice, Payment, SourceRef

SOURCE = SourceRef("f" * 64, "bank.bai2", "bai2", 3, 3)
CUSTOMERS = [
    Customer("C1", "Acme Manufacturing Inc", bank_accounts=("555-1",)),
    Customer("C2", "Acme Retail LLC", parent_id="C1"),
    Customer("C3", "Acme Outlet LLC", parent_id="C2"),
    Customer("C4", "Globex Corp", bank_accounts=("555-4",)),
    Customer("C5", "Initech Ltd", bank_accounts=("555-5",)),
    Customer("C6", "Umbrella Pharma SA", bank_accounts=("555-6",)),
]


def invoice(n: int, customer: str, minor: int) -> Invoice:
    money = Money(minor, "USD")
    due = date(2026, 11, 1) + timedelta(days=n % 5)
    return Invoice(f"I{n}", f"INV-{1000 + n}", customer, money, money, due_date=due)


def pay(pid: str, minor: int, remittance: str = "", account: str | None = None) -> Payment:
    return Payment(
        pid,
        "111",
        date(2026, 11, 2),
        Money(minor, "USD"),
        SOURCE,
        payer_account=account,
        remittance=remittance,
    )


INVOICES = [invoice(n, f"C{1 + n % 6}", 10_000 + 100 * n) for n in range(12)]


def test_a_payment_reaches_its_payers_and_the_owners_of_what_it_names() -> None:
    book = build_book(INVOICES, CUSTOMERS)
    # The payer C1 (with its subsidiary C2) names C2's invoice I1.
    assert reach(pay("p1", 10_100, "INV-1001", "555-1"), book) == {"C1", "C2"}
    # The payer C4 names C2's invoice: either may be applied to.
    assert reach(pay("p2", 10_100, "INV-1001", "555-4"), book) == {"C2", "C4"}
    # An unknown payer naming C5's invoice.
    assert reach(pay("p3", 10_400, "INV-1004"), book) == {"C5"}
    # An unknown payer naming nothing, or only a bare sequence number: a mistyped number
    # may be anyone's invoice.
    assert reach(pay("p4", 10_400, "THANK YOU"), book) == set()
    assert reach(pay("p5", 10_400, "1004"), book) == set()


def test_parent_links_and_payments_join_customers_into_groups() -> None:
    book = build_book(INVOICES, CUSTOMERS)
    payments = [
        pay("p1", 10_200, "INV-1002"),  # C3's: a subsidiary of C2, itself C1's
        pay("p2", 10_400, "INV-1004", "555-5"),  # C5's own
        pay("p3", 10_300, "INV-1003", "555-6"),  # C6 pays C4's invoice: one group now
        pay("p4", 10_400, "THANK YOU"),
    ]
    plan = partition(payments, book)
    assert {key: [p.payment_id for p in found] for key, found in plan.groups.items()} == {
        "C1": ["p1"],
        "C5": ["p2"],
        "C4": ["p3"],
    }
    assert plan.members == {
        "C1": {"C1", "C2", "C3"},
        "C5": {"C5"},
        "C4": {"C4", "C6"},
    }
    assert [p.payment_id for p in plan.unattributed] == ["p4"]


def test_shards_are_stable_and_in_range() -> None:
    # A fixed digest, not Python's per-process salted hash: every worker agrees.
    assert shard_of("C00042", 8) == 0
    assert shard_of("C00043", 8) == 5
    assert all(0 <= shard_of(f"C{n}", 3) < 3 for n in range(100))


def test_a_partition_that_lets_a_group_reach_another_is_refused() -> None:
    book = build_book(INVOICES, CUSTOMERS)
    # Deliberately wrong: a payment of C2's invoice claimed to be C4's group's.
    wrong = {"C4": [pay("p1", 10_100, "INV-1001")]}
    with pytest.raises(ValueError, match="payment p1 of customer group C4 applied to invoice I1"):
        decide_groups(wrong, {"C4": frozenset({"C4"})}, book)


def sharded(invoices: list[Invoice], payments: list[Payment], shards: int) -> dict[str, Decision]:
    """What the workers do: each shard on its own fresh book decides its groups, then the
    rest is decided on a fresh book that has every shard's open amounts."""
    found: dict[str, Decision] = {}
    left: dict[str, int] = {}
    for shard in range(shards):
        book = build_book(invoices, CUSTOMERS)
        plan = plan_two_phases(payments, book)
        first = decide_groups(select(plan, shard, shards), plan.members, book)
        found.update((d.payment_id, d) for d in first.decisions)
        left.update(first.after)
    book = build_book(invoices, CUSTOMERS)
    plan = plan_two_phases(payments, book)
    book.open_minor.update(left)
    found.update((p.payment_id, decide(p, book)) for p in plan.unattributed)
    return found


REMITTANCE = st.one_of(
    st.just(""),
    st.just("THANKS"),
    st.integers(0, 11).map(lambda n: f"INV-{1000 + n}"),
    st.integers(0, 11).map(lambda n: f"INV-{1000 + n} INV-{1001 + n}"),
    st.integers(0, 11).map(lambda n: f"INV-{1000 + n}"[:-1] + "9"),  # a typo
    st.integers(0, 11).map(lambda n: f"{1000 + n}"),
)


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(1, 40).map(lambda k: 500 * k), min_size=6, max_size=12),
    specs=st.lists(
        st.tuples(
            st.integers(0, 11),  # which invoice's amount (or a stranger's) is paid
            st.booleans(),  # paid in full or short
            REMITTANCE,
            st.sampled_from([None, "555-1", "555-4", "555-5", "555-6"]),
        ),
        min_size=1,
        max_size=16,
    ),
    shards=st.integers(1, 5),
)
def test_the_number_of_shards_does_not_change_any_decision(
    amounts: list[int],
    specs: list[tuple[int, bool, str, str | None]],
    shards: int,
) -> None:
    invoices = [invoice(n, f"C{1 + n % 6}", minor) for n, minor in enumerate(amounts)]
    payments = [
        pay(f"p{n:02d}", amounts[k % len(amounts)] - (0 if full else 100), text, account)
        for n, (k, full, text, account) in enumerate(specs)
    ]
    alone = decide_payments(payments, build_book(invoices, CUSTOMERS))
    assert sharded(invoices, payments, shards) == {d.payment_id: d for d in alone}
    # The partition covers every payment exactly once.
    plan = partition(payments, build_book(invoices, CUSTOMERS))
    attributed = [p for group in plan.groups.values() for p in group]
    assert sorted(p.payment_id for p in (*attributed, *plan.unattributed)) == sorted(
        p.payment_id for p in payments
    )
