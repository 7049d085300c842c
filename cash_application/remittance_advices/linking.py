"""Linking remittance advices to the payments they announce.

An advice arrives apart from the money (by EDI, e-mail, a portal), so it must first be
paired with its payment. Two rules, in order, each accepting a pair only when it is
mutually unique (the advice has one candidate payment and that payment one candidate
advice), so one advice never drives two payments and no payment gets two advices:

1. Bank trace: the advice's trace (820 TRN02, the CSV trace column) equals the payment's
   bank reference, end-to-end id, or a reference-like token of its remittance text.
2. Amount, date and payer: same currency and amount, the payment's value date within a
   window of the advice's payment date, and a payer in common (the caller says which
   customers each side may be, so this module needs no customer index). A payment whose
   own remittance already names invoices is not linked this way: an advice that only
   agrees on amount and payer would then compete with what the bank file says.

Pure: records in, links out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from mappings.records import Payment, Reason, RemittanceAdvice

BY_TRACE = "trace"
BY_AMOUNT_DATE_PAYER = "amount_date_payer"
# Remittance tokens that may be a trace: long enough not to be an amount or a date part.
_TRACE_TOKEN = re.compile(r"[A-Z0-9]{8,}")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")

PayerOf = Callable[[RemittanceAdvice | Payment], frozenset[str]]


@dataclass(frozen=True, slots=True)
class AdviceLink:
    """An advice paired with its payment, how, and the reason a clerk reads."""

    advice: RemittanceAdvice
    payment_id: str
    by: str  # BY_TRACE or BY_AMOUNT_DATE_PAYER
    reason: Reason


@dataclass(frozen=True, slots=True)
class Linking:
    """The links by payment id, and the advices left without a payment (kept for later runs:
    an advice often arrives before its money)."""

    links: dict[str, AdviceLink]
    unlinked: tuple[RemittanceAdvice, ...]


def trace_key(text: str) -> str:
    """A trace as compared: letters and digits, upper case, leading zeros dropped."""
    return _NOT_ALNUM.sub("", text.upper()).lstrip("0")


def payment_traces(payment: Payment) -> set[str]:
    """Every trace key the payment carries: its references and reference-like tokens."""
    keys = {trace_key(ref) for ref in (payment.bank_reference, payment.end_to_end_id) if ref}
    keys.update(trace_key(token) for token in _TRACE_TOKEN.findall(payment.remittance.upper()))
    keys.discard("")
    return keys


def _mutual(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (advice id, payment id) pairs whose advice and payment appear in no other pair."""
    pairs = list(dict.fromkeys(pairs))
    advices: dict[str, int] = {}
    payments: dict[str, int] = {}
    for advice_id, payment_id in pairs:
        advices[advice_id] = advices.get(advice_id, 0) + 1
        payments[payment_id] = payments.get(payment_id, 0) + 1
    return [(a, p) for a, p in pairs if advices[a] == 1 and payments[p] == 1]


def _by_trace(
    payments: Sequence[Payment], advices: Sequence[RemittanceAdvice]
) -> list[tuple[str, str]]:
    by_key: dict[str, list[Payment]] = {}
    for payment in payments:
        for key in payment_traces(payment):
            by_key.setdefault(key, []).append(payment)
    pairs = []
    for advice in advices:
        key = trace_key(advice.trace or "")
        for payment in by_key.get(key, ()) if key else ():
            if payment.amount.currency == advice.amount.currency:
                pairs.append((advice.advice_id, payment.payment_id))
    return _mutual(pairs)


def _by_amount_date_payer(
    payments: Sequence[Payment],
    advices: Sequence[RemittanceAdvice],
    payer_of: PayerOf,
    window_days: int,
) -> list[tuple[str, str]]:
    by_amount: dict[tuple[str, int], list[tuple[Payment, date]]] = {}
    for payment in payments:
        if payment.value_date is not None:
            key = (payment.amount.currency, payment.amount.minor)
            by_amount.setdefault(key, []).append((payment, payment.value_date))
    pairs = []
    for advice in advices:
        if advice.payment_date is None:
            continue
        candidates = by_amount.get((advice.amount.currency, advice.amount.minor), ())
        advice_payers = payer_of(advice) if candidates else frozenset()
        for payment, value_date in candidates:
            near = abs((value_date - advice.payment_date).days) <= window_days
            if near and advice_payers & payer_of(payment):
                pairs.append((advice.advice_id, payment.payment_id))
    return _mutual(pairs)


def link_advices(
    payments: Sequence[Payment],
    advices: Sequence[RemittanceAdvice],
    payer_of: PayerOf,
    *,
    window_days: int = 3,
    names_invoices: Callable[[Payment], bool] = lambda payment: False,
) -> Linking:
    """Pair advices with payments: by bank trace first, then among what is left by amount,
    value date within `window_days` and a common payer (`payer_of` gives the customers an
    advice or a payment may come from; an empty set never links). Only mutually unique
    pairs link; payments for which `names_invoices` is true link by trace only."""
    advice_by_id = {advice.advice_id: advice for advice in advices}
    links: dict[str, AdviceLink] = {}
    for advice_id, payment_id in _by_trace(payments, advices):
        advice = advice_by_id[advice_id]
        reason = Reason(
            "advice_linked",
            f"remittance advice {advice.document} linked by bank trace {advice.trace}",
        )
        links[payment_id] = AdviceLink(advice, payment_id, BY_TRACE, reason)
    linked_advices = {link.advice.advice_id for link in links.values()}
    rest_payments = [p for p in payments if p.payment_id not in links and not names_invoices(p)]
    rest_advices = [a for a in advices if a.advice_id not in linked_advices]
    for advice_id, payment_id in _by_amount_date_payer(
        rest_payments, rest_advices, _cached(payer_of), window_days
    ):
        advice = advice_by_id[advice_id]
        reason = Reason(
            "advice_linked",
            f"remittance advice {advice.document} linked by amount {advice.amount}, payment "
            f"date within {window_days} days and payer: the only such pair",
        )
        links[payment_id] = AdviceLink(advice, payment_id, BY_AMOUNT_DATE_PAYER, reason)
    linked_advices = {link.advice.advice_id for link in links.values()}
    unlinked = tuple(a for a in advices if a.advice_id not in linked_advices)
    return Linking(links, unlinked)


def _cached(payer_of: PayerOf) -> PayerOf:
    """`payer_of` computed once per record (a payment is compared with several advices)."""
    seen: dict[str, frozenset[str]] = {}

    def lookup(record: RemittanceAdvice | Payment) -> frozenset[str]:
        key = record.advice_id if isinstance(record, RemittanceAdvice) else record.payment_id
        found = seen.get(key)
        if found is None:
            found = seen[key] = payer_of(record)
        return found

    return lookup
