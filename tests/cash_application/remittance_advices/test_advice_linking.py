"""Linking advices to payments: bank trace first, else amount + date + payer, only when the
pair is mutually unique; never one advice to two payments or one payment to two advices."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cash_application.remittance_advices.linking import (
    BY_AMOUNT_DATE_PAYER,
    BY_TRACE,
    link_advices,
)
from mappings.money import Money
from mappings.records import Payment, RemittanceAdvice, RemittanceLine, SourceRef

DAY = date(2026, 11, 2)
BANK = SourceRef("b" * 64, "bank.bai2", "bai2", 1, 1)
ADVICES = SourceRef("a" * 64, "advices.820", "x12.820", 1, 1)


def pay(
    pid: str,
    amount: str,
    payer: str = "",
    *,
    reference: str | None = None,
    text: str = "",
    day: date = DAY,
) -> Payment:
    return Payment(
        pid,
        "111",
        day,
        Money.parse(amount, "USD"),
        BANK,
        payer_name=payer or None,
        bank_reference=reference,
        remittance=text,
    )


def advice(
    aid: str, amount: str, payer: str = "", *, trace: str | None = None, day: date = DAY
) -> RemittanceAdvice:
    return RemittanceAdvice(
        aid,
        Money.parse(amount, "USD"),
        ADVICES,
        f"820 {aid}",
        payment_date=day,
        trace=trace,
        payer_name=payer or None,
        lines=(RemittanceLine("INV-1"),),
    )


def by_name(record: RemittanceAdvice | Payment) -> frozenset[str]:
    """Payers as the test names them: the payer name is the customer id."""
    return frozenset({record.payer_name}) if record.payer_name else frozenset()


def links(payments: list[Payment], advices: list[RemittanceAdvice]) -> dict[str, tuple[str, str]]:
    found = link_advices(payments, advices, by_name).links
    return {pid: (link.advice.advice_id, link.by) for pid, link in found.items()}


def test_trace_links_through_the_bank_reference_with_leading_zeros_ignored() -> None:
    payments = [pay("p1", "10.00", reference="0091000019876543"), pay("p2", "10.00")]
    result = link_advices(payments, [advice("a1", "99.00", trace="91000019876543")], by_name)
    (link,) = result.links.values()
    assert (link.payment_id, link.by) == ("p1", BY_TRACE)
    assert link.reason.code == "advice_linked"
    assert "bank trace 91000019876543" in link.reason.text
    assert result.unlinked == ()


def test_trace_links_through_a_token_of_the_remittance_text() -> None:
    payments = [pay("p1", "10.00", text="ACH CTX TRN*1*091000019876543*1234567890\\")]
    assert links(payments, [advice("a1", "10.00", trace="091000019876543")]) == {
        "p1": ("a1", BY_TRACE)
    }


def test_a_trace_on_two_payments_links_neither_by_trace() -> None:
    payments = [pay("p1", "10.00", reference="T12345678"), pay("p2", "20.00", text="T12345678")]
    assert links(payments, [advice("a1", "10.00", trace="T12345678")]) == {}


def test_two_advices_with_one_trace_link_neither() -> None:
    payments = [pay("p1", "10.00", reference="T12345678")]
    advices = [advice("a1", "10.00", trace="T12345678"), advice("a2", "10.00", trace="T12345678")]
    result = link_advices(payments, advices, by_name)
    assert result.links == {}
    assert [a.advice_id for a in result.unlinked] == ["a1", "a2"]


def test_amount_date_and_payer_link_a_mutually_unique_pair() -> None:
    payments = [pay("p1", "10.00", "C1", day=DAY + timedelta(days=2)), pay("p2", "10.00", "C2")]
    result = link_advices(payments, [advice("a1", "10.00", "C1")], by_name)
    (link,) = result.links.values()
    assert (link.payment_id, link.by) == ("p1", BY_AMOUNT_DATE_PAYER)
    assert "the only such pair" in link.reason.text


def test_amount_link_needs_the_date_window_and_a_known_common_payer() -> None:
    late = [pay("p1", "10.00", "C1", day=DAY + timedelta(days=4))]
    assert links(late, [advice("a1", "10.00", "C1")]) == {}
    assert link_advices(late, [advice("a1", "10.00", "C1")], by_name, window_days=4).links
    assert links([pay("p1", "10.00", "C2")], [advice("a1", "10.00", "C1")]) == {}
    assert links([pay("p1", "10.00")], [advice("a1", "10.00")]) == {}  # no payer, no link


def test_equal_candidates_on_either_side_link_nothing() -> None:
    two_payments = [pay("p1", "10.00", "C1"), pay("p2", "10.00", "C1")]
    assert links(two_payments, [advice("a1", "10.00", "C1")]) == {}
    two_advices = [advice("a1", "10.00", "C1"), advice("a2", "10.00", "C1")]
    assert links([pay("p1", "10.00", "C1")], two_advices) == {}


def test_a_trace_link_takes_its_pair_out_of_the_amount_round() -> None:
    # p1 is a1's by trace; a2 then has p2 as its only candidate by amount and payer.
    payments = [pay("p1", "10.00", "C1", reference="T12345678"), pay("p2", "10.00", "C1")]
    advices = [advice("a1", "10.00", "C1", trace="T12345678"), advice("a2", "10.00", "C1")]
    assert links(payments, advices) == {"p1": ("a1", BY_TRACE), "p2": ("a2", BY_AMOUNT_DATE_PAYER)}


def test_a_payment_that_names_its_invoices_links_by_trace_only() -> None:
    payments = [pay("p1", "10.00", "C1", text="INV-7")]
    named = link_advices(
        payments, [advice("a1", "10.00", "C1")], by_name, names_invoices=lambda p: True
    )
    assert named.links == {}


_payments = st.lists(
    st.tuples(
        st.sampled_from(["10.00", "20.00", "30.00"]),
        st.sampled_from(["", "C1", "C2"]),
        st.sampled_from([None, "T10000001", "T10000002", "T10000003"]),
        st.integers(0, 6),
    ),
    max_size=8,
)
_advices = st.lists(
    st.tuples(
        st.sampled_from(["10.00", "20.00", "30.00"]),
        st.sampled_from(["", "C1", "C2"]),
        st.sampled_from([None, "T10000001", "T10000002", "T10000004"]),
        st.integers(0, 6),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(_payments, _advices, st.randoms(use_true_random=False))
def test_linking_is_one_to_one_and_independent_of_input_order(
    payment_rows: list[tuple[str, str, str | None, int]],
    advice_rows: list[tuple[str, str, str | None, int]],
    random: object,
) -> None:
    payments = [
        pay(f"p{n}", amount, payer, reference=trace, day=DAY + timedelta(days=days))
        for n, (amount, payer, trace, days) in enumerate(payment_rows)
    ]
    advices = [
        advice(f"a{n}", amount, payer, trace=trace, day=DAY + timedelta(days=days))
        for n, (amount, payer, trace, days) in enumerate(advice_rows)
    ]
    result = link_advices(payments, advices, by_name)
    linked_advices = [link.advice.advice_id for link in result.links.values()]
    assert len(linked_advices) == len(set(linked_advices))  # no advice on two payments
    assert all(pid == link.payment_id for pid, link in result.links.items())
    assert {a.advice_id for a in result.unlinked} | set(linked_advices) == {
        a.advice_id for a in advices
    }
    assert not {a.advice_id for a in result.unlinked} & set(linked_advices)
    for link in result.links.values():
        if link.by == BY_TRACE:  # mutually unique: one payment and one advice carry it
            trace = link.advice.trace
            assert sum(p.bank_reference == trace for p in payments) == 1
            assert sum(a.trace == trace for a in advices) == 1
        else:
            assert link.advice.payer_name is not None
    random.shuffle(payments)  # type: ignore[attr-defined]
    random.shuffle(advices)  # type: ignore[attr-defined]
    again = link_advices(payments, advices, by_name)
    assert {p: link.advice.advice_id for p, link in again.links.items()} == {
        p: link.advice.advice_id for p, link in result.links.items()
    }
