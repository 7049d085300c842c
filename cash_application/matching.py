"""The first matcher: a payment is applied when its remittance names open invoices whose
open amounts it pays exactly; everything else goes to the exception queue with reasons.

A function from records to decisions (no I/O, no clock). It is deliberately strict:
a reference must be found and the amounts must agree. Ambiguity never picks a winner.
The cash-application issue grows this into the full fuzzy matcher.

Payments are matched in a fixed order (value date, then id), and each application
consumes the invoice's open amount, so two payments never both take the same cents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from mappings.money import Money
from mappings.records import (
    Application,
    Customer,
    Decision,
    ExceptionItem,
    ExceptionReason,
    Invoice,
    Outcome,
    Payment,
    Reason,
    Suggestion,
)

ENGINE_VERSION = "arlink-match/0.1"
_FAR = date.max  # sorts missing dates last
MAX_SUGGESTIONS = 5

# Candidate references: runs of letters, digits and the separators invoice numbers use.
# `*`, `\`, `,`, `;`, `:` and spaces end a token (RMR*IV*INV-1001*..\ gives INV-1001).
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/._#]*")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def reference_key(text: str) -> str:
    """The comparable form of an invoice number: upper case, letters and digits only."""
    return _NOT_ALNUM.sub("", text.upper())


def _name_key(text: str) -> str:
    return " ".join(re.sub(r"[^A-Z0-9 ]", " ", text.upper()).split())


@dataclass(slots=True)
class _OpenBook:
    """The open invoices as the matcher sees them, with amounts consumed as it applies."""

    invoices: dict[str, Invoice]
    open_minor: dict[str, int]
    by_reference: dict[str, list[str]]
    by_amount: dict[Money, list[str]]  # by the open amount at index time
    customers_by_account: dict[str, str]
    customers_by_name: dict[str, set[str]]


def _index(invoices: Iterable[Invoice], customers: Iterable[Customer]) -> _OpenBook:
    book = _OpenBook({}, {}, {}, {}, {}, {})
    for invoice in invoices:
        book.invoices[invoice.invoice_id] = invoice
        book.open_minor[invoice.invoice_id] = invoice.open_amount.minor
        book.by_reference.setdefault(reference_key(invoice.number), []).append(invoice.invoice_id)
        book.by_amount.setdefault(invoice.open_amount, []).append(invoice.invoice_id)
    for customer in customers:
        for account in customer.bank_accounts:
            book.customers_by_account[reference_key(account)] = customer.customer_id
        for name in (customer.name, *customer.aliases):
            book.customers_by_name.setdefault(_name_key(name), set()).add(customer.customer_id)
    return book


def _referenced_invoices(payment: Payment, book: _OpenBook) -> list[tuple[str, str]]:
    """(invoice_id, the text that named it) for each open invoice the remittance names."""
    texts = [line.invoice_ref for line in payment.remittance_lines]
    texts.extend(match.group() for match in _TOKEN.finditer(payment.remittance))
    found: dict[str, str] = {}
    for text in texts:
        for invoice_id in book.by_reference.get(reference_key(text), ()):
            found.setdefault(invoice_id, text)
    return list(found.items())


def _payer(payment: Payment, book: _OpenBook) -> tuple[str | None, Reason | None]:
    """The customer the payer is known to be, by bank account or exact name or alias."""
    if payment.payer_account:
        customer_id = book.customers_by_account.get(reference_key(payment.payer_account))
        if customer_id:
            return customer_id, Reason("payer_account_known", f"payer account is {customer_id}'s")
    if payment.payer_name:
        candidates = book.customers_by_name.get(_name_key(payment.payer_name), set())
        if len(candidates) == 1:
            (customer_id,) = candidates
            return customer_id, Reason("payer_name_known", f"payer name is {customer_id}'s")
    return None, None


def _suggestions(
    payment: Payment, book: _OpenBook, referenced: Sequence[str], payer: str | None
) -> tuple[Suggestion, ...]:
    """Rank invoices a clerk may want: those the remittance names, then same-amount
    invoices of the known payer, then same-amount invoices of anyone."""
    scored: dict[str, Suggestion] = {}
    for invoice_id in referenced:
        invoice = book.invoices[invoice_id]
        scored[invoice_id] = Suggestion(
            invoice_id,
            0.9,
            (Reason("invoice_ref_found", f"invoice number {invoice.number} found in remittance"),),
        )
    for invoice_id in book.by_amount.get(payment.amount, ()):
        invoice = book.invoices[invoice_id]
        # Still open for exactly this amount (an earlier payment may have consumed it).
        if invoice_id not in scored and book.open_minor[invoice_id] == payment.amount.minor:
            same_payer = payer is not None and invoice.customer_id == payer
            reasons = [Reason("amount_equals_open", f"open amount equals {payment.amount}")]
            if same_payer:
                reasons.append(Reason("payer_known", f"invoice belongs to payer {payer}"))
            scored[invoice_id] = Suggestion(invoice_id, 0.6 if same_payer else 0.3, tuple(reasons))
    ranked = sorted(
        scored.values(),
        key=lambda s: (-s.score, book.invoices[s.invoice_id].due_date or _FAR, s.invoice_id),
    )
    return tuple(ranked[:MAX_SUGGESTIONS])


def _exception(
    payment: Payment,
    reason: ExceptionReason,
    amount: Money,
    suggestions: tuple[Suggestion, ...],
    reasons: tuple[Reason, ...],
) -> ExceptionItem:
    return ExceptionItem(payment.payment_id, reason, amount, suggestions, reasons)


def decide(payment: Payment, book: _OpenBook) -> Decision:
    """Decide one payment against the open book, consuming what it applies."""
    payer, payer_reason = _payer(payment, book)
    payer_reasons = (payer_reason,) if payer_reason else ()
    referenced_pairs = _referenced_invoices(payment, book)
    referenced = [invoice_id for invoice_id, _ in referenced_pairs]
    same_currency = [
        invoice_id
        for invoice_id in referenced
        if book.invoices[invoice_id].currency == payment.amount.currency
    ]
    still_open = [invoice_id for invoice_id in same_currency if book.open_minor[invoice_id] > 0]

    def to_exception(reason: ExceptionReason, why: tuple[Reason, ...]) -> Decision:
        suggestions = _suggestions(payment, book, still_open, payer)
        item = _exception(payment, reason, payment.amount, suggestions, payer_reasons + why)
        return Decision(
            payment.payment_id,
            Outcome.EXCEPTION,
            0.0,
            ENGINE_VERSION,
            exception=item,
            reasons=payer_reasons + why,
        )

    ambiguous = sorted(
        {text for _, text in referenced_pairs if len(book.by_reference[reference_key(text)]) > 1}
    )
    if ambiguous:
        # The same number on invoices of several customers: never pick one.
        return to_exception(
            ExceptionReason.AMBIGUOUS,
            (Reason("ambiguous_ref", f"{', '.join(ambiguous)} names several open invoices"),),
        )
    if not referenced:
        return to_exception(
            ExceptionReason.UNKNOWN_PAYER if payer is None else ExceptionReason.NO_CANDIDATE,
            (Reason("no_invoice_ref", "no open invoice number found in remittance"),),
        )
    if not same_currency:
        return to_exception(
            ExceptionReason.CURRENCY_MISMATCH,
            (Reason("currency_differs", f"named invoices are not in {payment.amount.currency}"),),
        )
    if not still_open:
        return to_exception(
            ExceptionReason.DUPLICATE,
            (Reason("already_applied", "named invoices were already paid by earlier payments"),),
        )

    found = tuple(
        Reason("invoice_ref_found", f"invoice number {book.invoices[i].number} found in remittance")
        for i in still_open
    )
    total_open = sum(book.open_minor[invoice_id] for invoice_id in still_open)
    paid = payment.amount.minor
    if paid < total_open:
        return to_exception(
            ExceptionReason.AMOUNT_MISMATCH,
            (
                *found,
                Reason(
                    "amount_below_open",
                    f"amount {payment.amount} is less than the open amount "
                    f"{Money(total_open, payment.amount.currency)}",
                ),
            ),
        )
    applications = []
    for invoice_id in still_open:
        amount = Money(book.open_minor[invoice_id], payment.amount.currency)
        book.open_minor[invoice_id] = 0
        applications.append(Application(invoice_id, amount))
    what = "open amount" if len(still_open) == 1 else "sum of open amounts"
    if paid == total_open:
        reasons = (*payer_reasons, *found, Reason("amount_equals_open", f"amount equals {what}"))
        return Decision(
            payment.payment_id,
            Outcome.APPLIED,
            1.0,
            ENGINE_VERSION,
            applications=tuple(applications),
            reasons=reasons,
        )
    remainder = Money(paid - total_open, payment.amount.currency)
    over = Reason("amount_above_open", f"amount exceeds {what} by {remainder}")
    reasons = (*payer_reasons, *found, over)
    item = _exception(payment, ExceptionReason.OVERPAYMENT, remainder, (), reasons)
    return Decision(
        payment.payment_id,
        Outcome.PARTIALLY_APPLIED,
        0.9,
        ENGINE_VERSION,
        applications=tuple(applications),
        exception=item,
        reasons=reasons,
    )


def match_payments(
    payments: Sequence[Payment], invoices: Sequence[Invoice], customers: Sequence[Customer]
) -> list[Decision]:
    """One decision per payment, in the order of `payments`."""
    book = _index(invoices, customers)
    ordered = sorted(payments, key=lambda p: (p.value_date or _FAR, p.payment_id))
    decisions = {payment.payment_id: decide(payment, book) for payment in ordered}
    return [decisions[payment.payment_id] for payment in payments]
