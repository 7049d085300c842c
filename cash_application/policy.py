"""The application policy: how far the matcher may go on its own.

A policy is the set of business rules an AR team signs off: how large a difference may be
written off as a bank fee, how far an FX rate may drift, whether an early-payment discount
is honoured and with how many days' grace, whether short and partial payments are applied
(leaving the rest open) or sent to review, what to do when equal-amount invoices tie, and
the error budget: each evidence path carries an estimated error rate, and only paths whose
estimate stays within the budget apply without a clerk. Defaults are conservative.
"""

from __future__ import annotations

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
    # How many resolutions the pieces' estimate counts as when measured outcomes are mixed
    # in: a path leaves its estimate only on that much evidence.
    calibration_weight: int = 50

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
    """`policy` with each evidence path's error rate measured on `outcomes` (path, whether
    the matcher's reading was what the clerk applied): the share of wrong readings, with
    the pieces' estimate counted as `calibration_weight` resolutions so that a few lucky
    ones do not promote a path. Paths whose measured rate falls within the error budget may
    then apply on their own; paths that erred more than their estimate are held back."""
    seen: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for path, right in outcomes:
        seen[path] += 1
        wrong[path] += not right
    weight = policy.calibration_weight
    measured = dict(policy.path_error_measured)
    for path, count in seen.items():
        prior = policy.prior_error(tuple(path.split("+")))
        measured[path] = (wrong[path] + weight * min(prior, 1.0)) / (count + weight)
    return replace(policy, path_error_measured=measured)
