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
    found = table.setdefault(key, invoice_id)
    if found is invoice_id:
        return
    if isinstance(found, str):
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
    # Per customer, lazily: the comparable numbers of its open invoices, in `by_customer`
    # order, searched for one-edit typos in C (rapidfuzz) rather than through a table.
    numbers: dict[str, list[str]] = field(default_factory=dict)
    # Per text, lazily: the references it names that the book indexes. Advice linking and
    # the decision read the same texts, and a key nothing is indexed under names nothing.
    indexed: dict[str, tuple[references.Found, ...]] = field(default_factory=dict)
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

    def one_edit_of(self, customer_id: str, text: str) -> list[str]:
        """The customer's open invoices (as indexed) whose comparable number is one edit
        from `text` (`references.one_edit`), in due-date order."""
        numbers = self.numbers.get(customer_id)
        if numbers is None:
            own = self.by_customer.get(customer_id, ())
            numbers = self.numbers[customer_id] = [self.comparable_number(i) for i in own]
        if not numbers:
            return []
        own = self.by_customer[customer_id]
        return [own[at] for at in references.one_edit_among(text, numbers)]

    def indexed_refs(self, texts: Iterable[str]) -> list[references.Found]:
        """The references `texts` name (`references.extract`, in order) whose key the book
        indexes: the only ones that can name an invoice."""
        found: list[references.Found] = []
        for text in texts:
            known = self.indexed.get(text)
            if known is None:
                known = self.indexed[text] = tuple(references.extract_known((text,), self.by_key))
            found.extend(known)
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
    # The loop runs once per invoice (a million and more): locals, not attribute lookups.
    by_key, by_amount, by_customer = book.by_key, book.by_amount, book.by_customer
    invoice_keys, shape, shapes = references.invoice_keys, references.shape, book.shapes
    for invoice in invoices:
        invoice_id = invoice.invoice_id
        book.invoices[invoice_id] = invoice
        minor = invoice.open_amount.minor
        is_open = invoice.status == "open" and minor > 0
        book.open_minor[invoice_id] = minor if is_open else 0
        for key in invoice_keys(invoice.number, invoice.po_number):
            _add(by_key, key, invoice_id)
        shapes.add(shape(invoice.number))
        if is_open:
            by_customer.setdefault(invoice.customer_id, []).append(invoice_id)
            _add(by_amount, minor, invoice_id)
    for own in by_customer.values():
        own.sort(key=lambda i: (book.invoices[i].due_date or FAR, i))
    return book
