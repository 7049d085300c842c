"""The canonical records every package speaks (DESIGN.md, "Canonical records").

Plain, immutable, slotted dataclasses. Money is `Money` (integer minor units);
dates are `datetime.date`; collections are tuples so records stay hashable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from mappings.money import Money


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of the books host (the party invoices are billed to)."""

    customer_id: str
    name: str
    parent_id: str | None = None
    aliases: tuple[str, ...] = ()
    bank_accounts: tuple[str, ...] = ()
    payment_terms: str | None = None
    # When the host last changed it (its clock), if the host says: the next pull's cursor.
    # Not part of equality: the same content pulled twice is the same customer.
    modified: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Invoice:
    """An open receivable in the books host."""

    invoice_id: str
    number: str
    customer_id: str
    total: Money
    open_amount: Money
    issue_date: date | None = None
    due_date: date | None = None
    po_number: str | None = None
    discount_terms: str | None = None
    status: str = "open"
    modified: datetime | None = field(default=None, compare=False)  # as on `Customer`

    @property
    def currency(self) -> str:
        return self.total.currency


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a payment came from: the bank file (by digest) and its record lines."""

    file_digest: str
    file_name: str
    format: str
    first_line: int
    last_line: int


@dataclass(frozen=True, slots=True)
class RemittanceLine:
    """One structured remittance line: which invoice, how much, and why any difference."""

    invoice_ref: str
    amount_paid: Money | None = None
    discount: Money | None = None
    reason_code: str | None = None


def payment_id_for(file_digest: str, position: int) -> str:
    """Stable payment id: the same record of the same file always gets the same id."""
    return hashlib.sha256(f"{file_digest}:{position}".encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received: one credit transaction from a bank file."""

    payment_id: str
    bank_account: str
    value_date: date | None
    amount: Money
    source: SourceRef
    payer_name: str | None = None
    payer_account: str | None = None
    bank_reference: str | None = None
    end_to_end_id: str | None = None
    remittance: str = ""
    remittance_lines: tuple[RemittanceLine, ...] = ()


class Outcome(StrEnum):
    APPLIED = "applied"
    PARTIALLY_APPLIED = "partially_applied"
    EXCEPTION = "exception"


class ExceptionReason(StrEnum):
    """Why a payment (or its remainder) went to the clerk's queue."""

    NO_CANDIDATE = "no_candidate"
    AMBIGUOUS = "ambiguous"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNDER_TOLERANCE = "under_tolerance"
    OVER_TOLERANCE = "over_tolerance"
    OVERPAYMENT = "overpayment"
    UNKNOWN_PAYER = "unknown_payer"
    DUPLICATE = "duplicate"
    CURRENCY_MISMATCH = "currency_mismatch"
    LOW_CONFIDENCE = "low_confidence"  # a proposal whose evidence path is over the error budget
    HOST_REFUSED = "host_refused"  # the books host refused an application arlink decided


@dataclass(frozen=True, slots=True)
class Reason:
    """One short structured fact behind a decision or a suggestion."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Application:
    """Part of a payment applied to one invoice."""

    invoice_id: str
    amount: Money
    discount: Money | None = None
    write_off: Money | None = None
    reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A ranked candidate invoice for an exception, with why it was suggested."""

    invoice_id: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    """What a clerk must look at: a payment, or the unapplied remainder of one."""

    payment_id: str
    reason: ExceptionReason
    amount: Money
    suggestions: tuple[Suggestion, ...] = ()
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The matcher's verdict on one payment: applications, and the exception for the rest."""

    payment_id: str
    outcome: Outcome
    confidence: float
    engine_version: str
    applications: tuple[Application, ...] = ()
    exception: ExceptionItem | None = None
    reasons: tuple[Reason, ...] = field(default=())


def idempotency_key(*parts: str) -> str:
    """The key a write carries into the host, derived from what it writes (payment + invoice),
    so a rerun after a crash finds the record it already wrote."""
    return "arl-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class ApplicationWrite:
    """An application to post into the books host, with its idempotency key."""

    idempotency_key: str
    payment: Payment
    application: Application
    confidence: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class ExceptionWrite:
    """An exception item to put where the clerk works, with its idempotency key."""

    idempotency_key: str
    payment: Payment
    item: ExceptionItem


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What the host holds for one idempotency key after a push."""

    idempotency_key: str
    external_id: str
    already_present: bool  # found by the lookup before writing: nothing was posted again
    # The host's own message when it refused this one record (a locked or closed invoice, a
    # validation error): nothing was written, `external_id` is empty. Never holds secrets.
    refused: str | None = None

    @classmethod
    def refusal(cls, idempotency_key: str, message: str) -> WriteResult:
        """The result of a record the host refused: nothing written, the host's message."""
        return cls(idempotency_key, "", False, refused=message)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a clerk did in the host with an earlier exception."""

    payment_id: str
    action: str  # "apply", "on_account", "not_ours"
    invoice_id: str | None
    amount: Money | None
    note: str = ""
    modified: datetime | None = field(default=None, compare=False)  # as on `Customer`


@dataclass(frozen=True, slots=True)
class RemittanceAdvice:
    """Remittance that arrives apart from the money (an X12 820, a CSV a customer uploads):
    the payment it announces (amount, date, payer, bank trace) and the invoices it pays."""

    advice_id: str  # stable: hash of the file digest and the advice's position in it
    amount: Money  # the payment total the advice announces
    source: SourceRef
    document: str  # how a clerk finds it: "820 TRN 0912...", "CSV advice R-1001"
    payment_date: date | None = None
    trace: str | None = None  # the bank trace or payment reference the money carries
    payer_name: str | None = None
    payer_id: str | None = None  # the payer's id as the advice gives it (customer number)
    payer_account: str | None = None
    lines: tuple[RemittanceLine, ...] = ()


# EDI statuses a billing clerk must act on: hosts also put them where exceptions go.
EDI_EXCEPTION_STATUSES = ("invalid", "rejected", "overdue")


@dataclass(frozen=True, slots=True)
class EdiStatusWrite:
    """An invoice's EDI status for the books host, with what the billing clerk should know.

    `status` is the ledger's (`invalid` before sending, `sent`, `accepted`, `rejected`...);
    `message` is in words, e.g. "line 3 has no unit price". The idempotency key names
    the outbound document and the status, so each change is written once.
    """

    idempotency_key: str
    invoice_id: str
    invoice_number: str
    partner: str
    status: str
    interchange_control: str
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ResolutionWrite:
    """A clerk's decision on an exception (taken in `arlink web`) for the books host: close
    the host's exception item for the payment as a clerk there would, once per key."""

    idempotency_key: str
    payment_id: str
    action: str  # "on_account", "not_ours" (an "apply" goes through `ApplicationWrite`)
    invoice_id: str | None
    note: str
    actor: str

    @property
    def text(self) -> str:
        """The decision as hosts record it: the clerk's words, then what, by whom, where."""
        said = f"{self.note} " if self.note else ""
        return f"{said}({self.action.replace('_', ' ')} by {self.actor} in arlink web)"
