"""The application policy: how far the matcher may go on its own.

A policy is the set of business rules an AR team signs off: how large a difference may be
written off as a bank fee, how far an FX rate may drift, whether an early-payment discount
is honoured and with how many days' grace, whether short and partial payments are applied
(leaving the rest open) or sent to review, what to do when equal-amount invoices tie, and
the error budget: each evidence path carries an estimated error rate, and only paths whose
estimate stays within the budget apply without a clerk. Defaults are conservative.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from mappings.money import Money


class TiePolicy(StrEnum):
    """What to do when several open invoices of the payer fit the amount equally well."""

    REVIEW = "review"  # send to the clerk with every candidate (default)
    OLDEST = "oldest"  # take the oldest by due date (aging differs, money does not)


# Estimated error rate of each piece of evidence: the share of payments decided on it that
# a clerk later corrected. Seeded from the labelled benchmark (docs/benchmarks.md); a path's
# estimate is the sum over its pieces, and its confidence is 1 minus that.
DEFAULT_SIGNAL_ERROR: MappingProxyType[str, float] = MappingProxyType(
    {
        # payer evidence
        "payer:account": 0.00001,
        "payer:learned_account": 0.00005,
        "payer:name": 0.0001,
        "payer:alias": 0.0001,
        "payer:learned_alias": 0.0001,
        "payer:prefix": 0.0002,
        "payer:fuzzy": 0.002,
        "payer:none": 0.0,
        "payer:corroborated": 0.00001,  # the named invoice is the identified payer's
        # reference evidence
        "ref:exact": 0.00002,
        "ref:po": 0.0001,
        "ref:sequence": 0.0002,
        "ref:one_edit": 0.0002,
        "ref:exact_and_one_edit": 0.0002,
        "ref:other_customer": 0.0003,
        "ref:none": 0.0001,
        # amount evidence
        "amount:exact": 0.0,
        "amount:listed_plus_unlisted": 0.0003,
        "amount:listed_plus_run": 0.0004,
        "amount:listed_plus_named": 0.0002,  # remainder made up by PO/sequence/typo refs
        "amount:discount": 0.00005,
        "amount:write_off": 0.0001,
        "amount:fx": 0.0001,
        "amount:short_pay": 0.0002,
        "amount:partial": 0.0002,
        "amount:overpayment": 0.0001,
        "amount:list_remainder": 0.01,  # several listed, more paid: a number cut or mistyped
        "amount:unique_amount": 0.0002,
        "amount:subset_sum": 0.0003,
        "amount:due_date_run": 0.0004,
        # Only reachable with TiePolicy.OLDEST: equal amounts, so money is right either way.
        "amount:oldest_of_equal": 0.0003,
        "amount:no_typo_alternative": 0.0002,  # payer unknown, no one-edit same-amount invoice
        "amount:uncorroborated": 0.01,  # a non-exact amount on an invoice the payer does not own
        # remittance advice that arrived apart from the money, and how it was linked
        "advice:trace": 0.00001,
        "advice:amount_date_payer": 0.0001,
        "amount:advice_lines": 0.0002,  # each invoice read against its advice line's amount
    }
)


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Tolerances, write-off limits, discount handling, tie policy and the error budget.

    Money limits are Decimal strings in the payment's currency, never floats."""

    write_off_limit: Decimal = Decimal("50.00")  # bank fee / small difference written off
    fx_tolerance: Decimal = Decimal("0.01")  # relative drift from the given rate
    take_discount: bool = True
    discount_grace_days: int = 0
    apply_short_pay: bool = True  # apply what was paid and leave the rest open
    tie_policy: TiePolicy = TiePolicy.REVIEW
    subset_sum_max_invoices: int = 5
    subset_sum_max_candidates: int = 80
    # A unique set is trusted only while fewer sets than this are expected to hit the amount
    # by chance: beyond, the amount may be no set of the invoices at all (a discount or
    # short pay without a reference) and a chance set would be applied.
    subset_sum_max_chance: float = 0.02
    error_budget: float = 0.0005
    # A remittance advice links to a payment by amount and payer only when the payment's
    # value date is this many days or fewer from the advice's payment date.
    advice_date_window_days: int = 3
    signal_error: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SIGNAL_ERROR)
    # Error rates measured on clerks' resolutions, by whole evidence path ("a+b+c"); they
    # replace the sum of the pieces' estimates (`calibrated`).
    path_error_measured: Mapping[str, float] = field(default_factory=dict)
    # A path leaves its estimate only on evidence: at least this many judged outcomes, and
    # outcomes this unlikely (one-sided binomial test) were its error rate at the budget.
    calibration_min_outcomes: int = 20
    calibration_significance: float = 0.01

    def write_off_minor(self, currency: str) -> int:
        """The write-off limit in minor units of `currency`."""
        return Money.parse(self.write_off_limit, currency).minor

    def path_error(self, signals: tuple[str, ...]) -> float:
        """The error rate of an evidence path: measured on resolutions when calibrated, else
        the sum of its pieces' estimates (unknown signals count as 1)."""
        measured = self.path_error_measured.get(path_name(signals))
        return measured if measured is not None else self.prior_error(signals)

    def prior_error(self, signals: tuple[str, ...]) -> float:
        """The estimate of an evidence path from its pieces alone."""
        return sum(self.signal_error.get(signal, 1.0) for signal in signals)


def path_name(signals: Iterable[str]) -> str:
    """An evidence path as one string, `payer:account+ref:exact+amount:exact`."""
    return "+".join(signals)


def calibrated(policy: MatchPolicy, outcomes: Iterable[tuple[str, bool]]) -> MatchPolicy:
    """`policy` with the evidence paths that `outcomes` (path, whether the matcher's reading
    was what the clerk applied) show, with evidence, to err more or less than the budget.

    A path is judged on `calibration_min_outcomes` outcomes or more, against a path whose
    error rate is exactly the budget (exact binomial tails): it is held back when that
    many wrong readings or more would come by chance with probability under
    `calibration_significance` (its measured rate is then the share wrong), and promoted
    when so few would (its rate is then the smoothed share wrong, at most the budget).
    Anything less keeps the pieces' estimate: one wrong reading in eighty is not evidence
    against a 0.05 % budget (it happens by chance 4 % of the time), nor are a few clean
    ones for it."""
    seen: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for path, right in outcomes:
        seen[path] += 1
        wrong[path] += not right
    budget = policy.error_budget
    alpha = policy.calibration_significance
    measured = dict(policy.path_error_measured)
    for path, count in seen.items():
        if count < policy.calibration_min_outcomes:
            continue
        errors = wrong[path]
        below = binomial_cdf(errors, count, budget)  # P(this few wrong or fewer)
        above = 1.0 - binomial_cdf(errors - 1, count, budget)  # P(this many or more)
        if above < alpha:
            measured[path] = errors / count
        elif below < alpha:
            measured[path] = min((errors + 1) / (count + 2), budget)
    return replace(policy, path_error_measured=measured)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in logs so that large `n` does not
    underflow."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    base = math.lgamma(n + 1)
    total = math.fsum(
        math.exp(base - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
        for i in range(k + 1)
    )
    return min(total, 1.0)
