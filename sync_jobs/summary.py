"""The numbers an admin reads after a run: files, payments, applied, exceptions, seconds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mappings.money import Money
from mappings.records import Decision, Outcome


def _add(totals: dict[str, Money], amount: Money) -> None:
    totals[amount.currency] = totals.get(amount.currency, Money.zero(amount.currency)) + amount


def format_amounts(totals: dict[str, Money]) -> str:
    """`USD 1,500.00; EUR 20.00` (or `0`): one figure per currency, never added across."""
    if not totals:
        return "0"
    return "; ".join(
        f"{currency} {money.to_decimal():,}" for currency, money in sorted(totals.items())
    )


@dataclass(slots=True)
class RunSummary:
    """What one run (or a `match`/`--dry-run` pass) did."""

    files_read: int = 0
    files_quarantined: int = 0
    payments: int = 0
    applied: int = 0
    applied_amount: dict[str, Money] = field(default_factory=dict)
    partially_applied: int = 0
    partially_applied_amount: dict[str, Money] = field(default_factory=dict)  # the applied part
    exceptions: int = 0
    exception_amount: dict[str, Money] = field(default_factory=dict)
    seconds: float = 0.0

    def add_decisions(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            self.payments += 1
            if decision.outcome is Outcome.APPLIED:
                self.applied += 1
                totals = self.applied_amount
            else:
                self.partially_applied += decision.outcome is Outcome.PARTIALLY_APPLIED
                totals = self.partially_applied_amount
            for application in decision.applications:
                _add(totals, application.amount)
            if decision.exception is not None:
                self.exceptions += 1
                _add(self.exception_amount, decision.exception.amount)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the order the summary table shows them."""
        return [
            ("files read", str(self.files_read)),
            ("files quarantined", str(self.files_quarantined)),
            ("payments", str(self.payments)),
            ("applied", f"{self.applied} ({format_amounts(self.applied_amount)})"),
            (
                "partially applied",
                f"{self.partially_applied} ({format_amounts(self.partially_applied_amount)})",
            ),
            ("exceptions", f"{self.exceptions} ({format_amounts(self.exception_amount)})"),
            ("seconds", f"{self.seconds:.2f}"),
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "files_read": self.files_read,
            "files_quarantined": self.files_quarantined,
            "payments": self.payments,
            "applied": self.applied,
            "applied_amount": {c: str(m) for c, m in sorted(self.applied_amount.items())},
            "partially_applied": self.partially_applied,
            "partially_applied_amount": {
                c: str(m) for c, m in sorted(self.partially_applied_amount.items())
            },
            "exceptions": self.exceptions,
            "exception_amount": {c: str(m) for c, m in sorted(self.exception_amount.items())},
            "seconds": round(self.seconds, 3),
        }
