"""The receivables as the matcher sees them: invoices and customers indexed once per run.

`build_book` indexes reference keys (open and paid invoices, to recognise a duplicate
payment), open amounts, each customer's open invoices by due date, and the payer index with
what history taught. The matcher reads it through `Book`'s methods and consumes open amounts
as it applies payments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from cash_application import references
from cash_application.amounts import Open
from cash_application.payer import History, PayerIndex
from cash_application.policy import MatchPolicy, calibrated
from cash_application.remittance_advices.linking import AdviceLink
from mappings.records import Customer, Invoice

FAR = date.max  # sorts undated invoices last
_IdList = str | tuple[str, ...]  # one invoice id, or several when a key is shared
_Key = TypeVar("_Key", str, int)


def _add(table: dict[_Key, _IdList], key: _Key, invoice_id: str) -> None:
    """Index `invoice_id` under `key`, storing a bare id when the key is unique (memory)."""
    found = table.get(key)
    if found is None:
        table[key] = invoice_id
    elif isinstance(found, str):
        if found != invoice_id:
            table[key] = (found, invoice_id)
    elif invoice_id not in found:
        table[key] = (*found, invoice_id)


def _ids(found: _IdList | None) -> tuple[str, ...]:
    if found is None:
        return ()
    return (found,) if isinstance(found, str) else found


@dataclass(slots=True)
class Book:
    """The receivables as the matcher sees them, indexed once per run; open amounts are
    consumed as payments are applied."""

    policy: MatchPolicy
    fx_rates: Mapping[str, Decimal]
    payers: PayerIndex
    invoices: dict[str, Invoice] = field(default_factory=dict)
    open_minor: dict[str, int] = field(default_factory=dict)
    by_key: dict[str, _IdList] = field(default_factory=dict)  # reference keys, open and paid
    by_customer: dict[str, list[str]] = field(default_factory=dict)  # open, by due date
    by_amount: dict[int, _IdList] = field(default_factory=dict)  # open amount -> open invoices
    comparable: dict[str, str] = field(default_factory=dict)  # lazily, for typo checks
    # Per customer, lazily: each open invoice's comparable number and its one-deletion
    # variants -> invoice ids. Two strings one edit apart share a key (symmetric delete).
    typo_keys: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    shapes: set[str] = field(default_factory=set)  # leading letters of invoice numbers
    advice_links: dict[str, AdviceLink] = field(default_factory=dict)  # by payment id

    def with_key(self, key: str) -> tuple[str, ...]:
        """The invoices (open and paid) an extracted reference key names."""
        return _ids(self.by_key.get(key))

    def with_open_amount(self, minor: int) -> tuple[str, ...]:
        """The open invoices whose open amount is exactly `minor`."""
        return _ids(self.by_amount.get(minor))

    def open_items(self, invoice_ids: Iterable[str]) -> list[Open]:
        return [Open(self.invoices[i], self.open_minor[i]) for i in invoice_ids]

    def comparable_number(self, invoice_id: str) -> str:
        found = self.comparable.get(invoice_id)
        if found is None:
            found = self.comparable[invoice_id] = references.comparable(
                self.invoices[invoice_id].number
            )
        return found

    def one_edit_keys(self, customer_id: str) -> dict[str, list[str]]:
        found = self.typo_keys.get(customer_id)
        if found is None:
            found = self.typo_keys[customer_id] = {}
            for invoice_id in self.by_customer.get(customer_id, ()):
                for key in references.deletions(self.comparable_number(invoice_id)):
                    found.setdefault(key, []).append(invoice_id)
        return found


def build_book(
    invoices: Iterable[Invoice],
    customers: Iterable[Customer],
    policy: MatchPolicy | None = None,
    history: History | None = None,
    *,
    fx_rates: Mapping[str, Decimal] | None = None,
) -> Book:
    """Index invoices (open ones to apply; paid ones too, to recognise duplicate payments),
    customers and what `history` taught: payer accounts and aliases, and, from past
    outcomes, each evidence path's measured error (`policy.calibrated`). `fx_rates` maps a
    currency to its rate into the payments' currency on the statement date."""
    policy = policy or MatchPolicy()
    if history is not None and history.outcomes:
        policy = calibrated(policy, history.outcomes)
    book = Book(policy, dict(fx_rates or {}), PayerIndex.build(customers, history))
    for invoice in invoices:
        invoice_id = invoice.invoice_id
        book.invoices[invoice_id] = invoice
        is_open = invoice.status == "open" and invoice.open_amount.minor > 0
        book.open_minor[invoice_id] = invoice.open_amount.minor if is_open else 0
        for key in references.invoice_keys(invoice.number, invoice.po_number):
            _add(book.by_key, key, invoice_id)
        book.shapes.add(references.shape(invoice.number))
        if is_open:
            book.by_customer.setdefault(invoice.customer_id, []).append(invoice_id)
            _add(book.by_amount, invoice.open_amount.minor, invoice_id)
    for own in book.by_customer.values():
        own.sort(key=lambda i: (book.invoices[i].due_date or FAR, i))
    return book
