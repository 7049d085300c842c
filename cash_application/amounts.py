"""Amount reconciliation: how a payment's amount accounts for the invoices it pays.

Given the invoices a payment is believed to pay (named in the remittance, or the payer's
open invoices when nothing is named), find the one reading of the amount that the policy
allows: exact; several invoices; an early-payment discount taken within the invoice's
terms and window; a bank fee or small difference within the write-off limit; an FX
difference within tolerance; a short pay (with the customer's deduction code when given)
or a partial payment, applied as paid and leaving the rest open; an over-payment, applied
with the remainder left on account; or several unlisted invoices found by a bounded
subset-sum, accepted only when exactly one set of invoices fits. All amounts are integer
minor units; rates are Decimals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cash_application.policy import MatchPolicy
from mappings.money import Money
from mappings.records import Application, Invoice, Reason

_TERMS = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(\d+)")
_DEDUCTION = re.compile(r"\b(DED|DEDUCTION|SHORT|DAMAGED?|PRICING|RETURN)\b")


@dataclass(frozen=True, slots=True)
class Open:
    """An invoice and what is still open on it in this run."""

    invoice: Invoice
    open_minor: int


@dataclass(frozen=True, slots=True)
class Fit:
    """One reading of the amount: what to apply, what stays on account, and why."""

    kind: str  # exact, discount, write_off, fx, short_pay, partial, overpayment, ...
    applications: tuple[Application, ...]
    remainder: int  # cash left on account (minor units of the payment)
    reasons: tuple[Reason, ...]


def discount_terms(terms: str | None) -> tuple[Decimal, int] | None:
    """(percent, days) of early-payment terms such as `2/10 NET 30`, or None."""
    found = _TERMS.search(terms or "")
    return (Decimal(found.group(1)), int(found.group(2))) if found else None


def deduction_code(remittance: str) -> str | None:
    """The deduction code a remittance gives for a short pay (`DED`, `DAMAGED`, ...)."""
    found = _DEDUCTION.search(remittance.upper())
    return found.group(1) if found else None


def _money(minor: int, currency: str) -> str:
    return str(Money(minor, currency))


def fit_listed(
    named: Sequence[Open],
    paid: Money,
    value_date: date | None,
    policy: MatchPolicy,
    code: str | None,
    fx_rates: Mapping[str, Decimal],
) -> Fit | None:
    """The reading of `paid` against invoices the remittance named, or None for review."""
    currency = paid.currency
    if len(named) == 1 and named[0].invoice.currency != currency:
        return _fx(named[0], paid, policy, fx_rates)
    if any(item.invoice.currency != currency for item in named):
        return None
    total = sum(item.open_minor for item in named)
    what = "open amount" if len(named) == 1 else f"sum of {len(named)} open amounts"
    if paid.minor == total:
        return Fit(
            "exact",
            in_full(named, currency),
            0,
            (Reason("amount_equals_open", f"amount equals {what}"),),
        )
    if paid.minor > total:
        extra = paid.minor - total
        return Fit(
            "overpayment",
            in_full(named, currency),
            extra,
            (Reason("amount_above_open", f"amount exceeds {what} by {_money(extra, currency)}"),),
        )
    if len(named) > 1:
        return None
    return _short(named[0], paid, value_date, policy, code)


def in_full(named: Sequence[Open], currency: str) -> tuple[Application, ...]:
    """Each invoice's whole open amount applied."""
    return tuple(
        Application(item.invoice.invoice_id, Money(item.open_minor, currency)) for item in named
    )


def _short(
    item: Open, paid: Money, value_date: date | None, policy: MatchPolicy, code: str | None
) -> Fit | None:
    """One invoice paid less than its open amount: discount, write-off, short or partial."""
    invoice, currency = item.invoice, paid.currency
    missing = item.open_minor - paid.minor
    if discount_fits(item, paid.minor, value_date, policy):
        return Fit(
            "discount",
            (Application(invoice.invoice_id, paid, discount=Money(missing, currency)),),
            0,
            (
                Reason(
                    "discount_in_window",
                    f"early-payment discount {_money(missing, currency)} "
                    f"({invoice.discount_terms}) taken within its window",
                ),
            ),
        )
    if code is None and missing <= policy.write_off_minor(currency):
        return Fit(
            "write_off",
            (
                Application(
                    invoice.invoice_id,
                    paid,
                    write_off=Money(missing, currency),
                    reason_code="BANK_FEE",
                ),
            ),
            0,
            (
                Reason(
                    "difference_written_off",
                    f"difference {_money(missing, currency)} within the write-off limit "
                    f"{policy.write_off_limit}",
                ),
            ),
        )
    if not policy.apply_short_pay:
        return None
    kind = "short_pay" if code else "partial"
    why = f"deduction code {code}" if code else "no deduction code"
    return Fit(
        kind,
        (Application(invoice.invoice_id, paid, reason_code=code or "PARTIAL"),),
        0,
        (
            Reason(
                "amount_below_open",
                f"amount is {_money(missing, currency)} below the open amount ({why}); "
                f"applied as paid, the rest stays open",
            ),
        ),
    )


def discount_fits(item: Open, paid: int, value_date: date | None, policy: MatchPolicy) -> bool:
    """Whether `paid` is the open amount less the discount allowed on `value_date`; one
    minor unit either way is accepted, since customers round the discount their own way."""
    discount = expected_discount(item, value_date, policy)
    return discount is not None and abs(item.open_minor - paid - discount) <= 1


def expected_discount(item: Open, value_date: date | None, policy: MatchPolicy) -> int | None:
    """The early-payment discount the invoice allows on `value_date`, or None."""
    terms = discount_terms(item.invoice.discount_terms)
    invoice = item.invoice
    if (
        not policy.take_discount
        or terms is None
        or value_date is None
        or invoice.issue_date is None
    ):
        return None
    percent, days = terms
    if value_date > invoice.issue_date + timedelta(days=days + policy.discount_grace_days):
        return None
    if item.open_minor != invoice.open_amount.minor or invoice.open_amount != invoice.total:
        return None  # the discount is on the whole invoice, not on a remainder
    discount = (Decimal(invoice.total.minor) * percent / 100).to_integral_value(ROUND_HALF_UP)
    return int(discount)


def _fx(
    item: Open, paid: Money, policy: MatchPolicy, fx_rates: Mapping[str, Decimal]
) -> Fit | None:
    """An invoice in another currency paid at about the given rate."""
    rate = fx_rates.get(item.invoice.currency)
    if rate is None:
        return None
    expected = Decimal(item.open_minor) * rate
    drift = abs(Decimal(paid.minor) - expected) / expected
    if drift > policy.fx_tolerance:
        return None
    invoice = item.invoice
    return Fit(
        "fx",
        (Application(invoice.invoice_id, paid, reason_code="FX"),),
        0,
        (
            Reason(
                "fx_within_tolerance",
                f"{invoice.open_amount.currency} {invoice.open_amount} at rate {rate}: paid "
                f"differs by {(drift * 100).quantize(Decimal('0.01'))}% "
                f"(tolerance {policy.fx_tolerance * 100}%)",
            ),
        ),
    )


def subset_sum(
    candidates: Sequence[Open],
    target: int,
    max_invoices: int,
    max_candidates: int,
    min_invoices: int = 2,
    max_chance: float = math.inf,
) -> tuple[list[tuple[Open, ...]], bool]:
    """Sets of `min_invoices` to `max_invoices` candidates whose open amounts sum to
    `target`, stopping at two (the caller only needs to know whether exactly one exists),
    and whether the search was exhaustive.

    Bounded: with at most `max_candidates` invoices at or below the target every set is
    tried, meeting in the middle: the sums of all pairs are indexed once, and each set is
    a smaller set (smallest amounts first, a branch stops as soon as the rest cannot fit)
    completed by a pair looked up by the sum still missing. With more candidates, only runs
    of invoices adjacent in due-date order are tried (customers mostly pay their oldest
    invoices together), and the answer is not exhaustive. So too when more than
    `max_chance` sets are expected to reach the target by chance (`chance_sets`): a unique
    set among so many proves nothing, since the amount may be no set of them at all."""
    usable = [item for item in candidates if 0 < item.open_minor <= target]
    if len(usable) > max_candidates or (
        chance_sets([item.open_minor for item in usable], target, min_invoices, max_invoices)
        > max_chance
    ):
        return due_date_runs(usable, target, max_invoices, min_invoices), False
    usable.sort(key=lambda item: (item.open_minor, item.invoice.invoice_id))
    amounts = [item.open_minor for item in usable]
    found: list[tuple[int, ...]] = []
    if min_invoices <= 1 <= max_invoices:
        found.extend((i,) for i, amount in enumerate(amounts) if amount == target)
    pairs: dict[int, list[tuple[int, int]]] = {}
    for i, first in enumerate(amounts):
        for j in range(i + 1, len(amounts)):
            total = first + amounts[j]
            if total > target:
                break
            pairs.setdefault(total, []).append((i, j))

    def complete(start: int, size: int, total: int, chosen: tuple[int, ...]) -> None:
        """Sets of `chosen`, `size` more indexes from `start`, then a pair after them."""
        if size == 0:
            for i, j in pairs.get(target - total, ()):
                if i >= start and len(found) < 2:
                    found.append((*chosen, i, j))
            return
        for index in range(start, len(amounts)):
            # Amounts ascend: the size + 2 invoices still to come add at least this much each.
            if len(found) >= 2 or total + amounts[index] * (size + 2) > target:
                return
            complete(index + 1, size - 1, total + amounts[index], (*chosen, index))

    for size in range(max(min_invoices, 2), max_invoices + 1):
        if len(found) >= 2:
            break
        complete(0, size - 2, 0, ())
    return [tuple(usable[i] for i in chosen) for chosen in found[:2]], True


def chance_sets(amounts: Sequence[int], target: int, min_size: int, max_size: int) -> float:
    """How many sets of `min_size` to `max_size` of `amounts` are expected to sum to
    `target` exactly by chance: for each size k, the number of k-sets times the density at
    the target of a sum of k amounts (normal approximation, per minor unit). An estimate,
    not money: floats are fine here."""
    n = len(amounts)
    if n < 2:
        return 0.0
    mean = sum(amounts) / n
    spread = math.sqrt(sum((a - mean) ** 2 for a in amounts) / n) or 1.0
    expected = 0.0
    for k in range(max(min_size, 1), min(max_size, n) + 1):
        deviation = (target - k * mean) / (spread * math.sqrt(k))
        density = math.exp(-deviation * deviation / 2) / (spread * math.sqrt(2 * math.pi * k))
        expected += math.comb(n, k) * density
    return expected


def has_stand_in(chosen: Sequence[Open], candidates: Sequence[Open]) -> bool:
    """Whether a candidate left out has the open amount of one chosen: swapped in, it makes
    another set with the same sum, so the set found is not the only one (a run of invoices
    adjacent by due date is unique as a run, not as a set)."""
    chosen_ids = {item.invoice.invoice_id for item in chosen}
    amounts = {item.open_minor for item in chosen}
    return any(
        item.open_minor in amounts
        for item in candidates
        if item.invoice.invoice_id not in chosen_ids
    )


def due_date_runs(
    candidates: Sequence[Open], target: int, max_invoices: int, min_invoices: int = 2
) -> list[tuple[Open, ...]]:
    """Runs of `min_invoices` to `max_invoices` candidates adjacent in due-date order whose
    open amounts sum to `target`, stopping at two."""
    ordered = sorted(
        (item for item in candidates if item.open_minor > 0),
        key=lambda item: (item.invoice.due_date or date.max, item.invoice.invoice_id),
    )
    found: list[tuple[Open, ...]] = []
    for start in range(len(ordered)):
        total = 0
        for end in range(start, min(start + max_invoices, len(ordered))):
            total += ordered[end].open_minor
            if total == target and end - start + 1 >= min_invoices:
                found.append(tuple(ordered[start : end + 1]))
                if len(found) >= 2:
                    return found
            if total >= target:
                break
    return found
