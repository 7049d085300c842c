"""Naive re-implementations of the anchors' documented matching rules, for the benchmark.

They follow `../shared/reference/cash-application-benchmark.md` ("How the anchors match"),
with plain dict indexes so they finish on the large set; their rules, not their speed,
are what is compared. Each returns, per payment id, the cash it applied per invoice id
and the cash it parked on account; a payment it applied nothing of went to review.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mappings.records import Customer, Invoice, Payment


@dataclass(slots=True)
class Applied:
    """What a matcher did with one payment (empty `invoices`: sent to review)."""

    invoices: dict[str, int] = field(default_factory=dict)
    on_account: int = 0


_NOT_DIGIT_OR_SPACE = re.compile(r"[^0-9\s]")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@dataclass(slots=True)
class OdooLike:
    """Odoo 17 "Invoices/Bills Perfect Match" with its shipped defaults: partner required,
    tolerance 0. Partner by bank account (master and learned), then the first customer whose
    name contains the payer name (`ilike`). References: whitespace tokens of 4+ characters
    reduced to their digits, looked up in the digit tokens of the invoice number."""

    by_account: dict[str, str]
    names: str  # every customer name, upper case, one a line, in id order
    line_starts: list[int]
    line_ids: list[str]
    open_by_customer: dict[str, list[Invoice]]
    name_cache: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def index(
        cls,
        invoices: Iterable[Invoice],
        customers: Iterable[Customer],
        learned_accounts: Iterable[tuple[str, str]] = (),
    ) -> OdooLike:
        by_account = {}
        names = []
        for customer in customers:
            names.append((customer.name.upper(), customer.customer_id))
            for account in customer.bank_accounts:
                by_account[account] = customer.customer_id
        by_account.update(learned_accounts)
        names.sort(key=lambda pair: pair[1])  # "first hit" in id order
        starts, offset = [], 0
        for full, _ in names:
            starts.append(offset)
            offset += len(full) + 1
        by_customer: dict[str, list[Invoice]] = {}
        for invoice in invoices:
            if invoice.status == "open" and invoice.open_amount.minor > 0:
                by_customer.setdefault(invoice.customer_id, []).append(invoice)
        for own in by_customer.values():
            own.sort(key=lambda inv: (inv.due_date, inv.invoice_id))
        text = "\n".join(full for full, _ in names)
        return cls(by_account, text, starts, [cid for _, cid in names], by_customer)

    def _partner(self, payment: Payment) -> str | None:
        if payment.payer_account and payment.payer_account in self.by_account:
            return self.by_account[payment.payer_account]
        name = (payment.payer_name or "").upper().strip()
        if not name:
            return None
        if name not in self.name_cache:
            at = self.names.find(name)
            self.name_cache[name] = (
                None if at < 0 else self.line_ids[bisect.bisect_right(self.line_starts, at) - 1]
            )
        return self.name_cache[name]

    def match(self, payments: Sequence[Payment]) -> dict[str, Applied]:
        results: dict[str, Applied] = {}
        residual: dict[str, int] = {}
        for payment in payments:
            partner = self._partner(payment)
            result = Applied()
            results[payment.payment_id] = result
            if partner is None:
                continue  # without a partner Odoo proposes, never reconciles
            own = [
                inv
                for inv in self.open_by_customer.get(partner, ())
                if inv.currency == payment.amount.currency
                and residual.get(inv.invoice_id, inv.open_amount.minor) > 0
            ]
            tokens = {_digits(token) for token in payment.remittance.split() if len(token) >= 4} - {
                ""
            }
            by_text = [
                inv for inv in own if _NOT_DIGIT_OR_SPACE.sub("", inv.number).split()[0] in tokens
            ]
            candidates = by_text or own
            batch = self._greedy(candidates, payment.amount.minor, residual)
            total = sum(residual.get(inv.invoice_id, inv.open_amount.minor) for inv in batch)
            if not batch or total > payment.amount.minor:
                continue
            if total < payment.amount.minor and not by_text:
                continue  # amount-only candidates need a perfect match
            for inv in batch:
                amount = residual.get(inv.invoice_id, inv.open_amount.minor)
                result.invoices[inv.invoice_id] = amount
                residual[inv.invoice_id] = 0
            result.on_account = payment.amount.minor - total
        return results

    @staticmethod
    def _greedy(candidates: list[Invoice], amount: int, residual: dict[str, int]) -> list[Invoice]:
        """A single exact invoice, else keep adding invoices while the sum is below the amount."""
        for inv in candidates:
            if residual.get(inv.invoice_id, inv.open_amount.minor) == amount:
                return [inv]
        batch, total = [], 0
        for inv in candidates:
            if total >= amount:
                break
            batch.append(inv)
            total += residual.get(inv.invoice_id, inv.open_amount.minor)
        return batch


@dataclass(slots=True)
class ERPNextLike:
    """ERPNext Bank Reconciliation Tool ranking (1 + reference + amount + party + date),
    auto-applied only when one invoice has party, amount and its name in the description."""

    by_account: dict[str, str]
    by_name: dict[str, str]
    open_by_customer: dict[str, list[Invoice]]

    @classmethod
    def index(cls, invoices: Iterable[Invoice], customers: Iterable[Customer]) -> ERPNextLike:
        by_account, by_name = {}, {}
        for customer in customers:
            by_name[customer.name.upper()] = customer.customer_id
            for account in customer.bank_accounts:
                by_account[account] = customer.customer_id
        by_customer: dict[str, list[Invoice]] = {}
        for invoice in invoices:
            if invoice.status == "open" and invoice.open_amount.minor > 0:
                by_customer.setdefault(invoice.customer_id, []).append(invoice)
        return cls(by_account, by_name, by_customer)

    def match(self, payments: Sequence[Payment]) -> dict[str, Applied]:
        results: dict[str, Applied] = {}
        taken: set[str] = set()
        for payment in payments:
            result = Applied()
            results[payment.payment_id] = result
            party = self.by_account.get(payment.payer_account or "") or self.by_name.get(
                (payment.payer_name or "").upper()
            )
            if party is None:
                continue
            description = payment.remittance.upper()
            full = [
                inv
                for inv in self.open_by_customer.get(party, ())
                if inv.invoice_id not in taken
                and inv.open_amount == payment.amount
                and inv.number.upper() in description
            ]
            if len(full) == 1:
                (inv,) = full
                result.invoices[inv.invoice_id] = inv.open_amount.minor
                taken.add(inv.invoice_id)
        return results
