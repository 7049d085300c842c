"""Join inbound acknowledgments to what was sent: each invoice's EDI status, in clerk's words.

The join (edi-rules.md section 5, "join-back procedure"): TA1 TA101 / CONTRL UCI
0020 -> the interchange (ISA13 / UNB 0020); AK1 GS06 -> the group; AK2 ST02 /
UCM 0062 -> the invoice sent in that document; AK3 AK302 / UCS 0096 (the
segment's position, header = 1) -> the rendered segment list kept with the
invoice (`render_810` / `render_invoic`) -> which line, party or total it names;
AK4 / UCD -> the field. 824 OTI (GS06 + ST02, or the invoice number) and APERAK
RFF references join the same way, and a TED's segment position too.

An invoice's status is the most severe any acknowledgment gives it: rejected >
accepted with errors > accepted > received. Invoices no acknowledgment names do
not appear (they stay "sent"); `overdue` lists those past the partner's deadline.
The sent invoices passed in are one partner's: control numbers are unique per
partner (the ledger never reuses one), not across partners.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from edi.ack_codes import (
    DOCUMENT_CODES,
    ELEMENT_CODES,
    GROUP_CODES,
    INTERCHANGE_CODES,
    SEGMENT_CODES,
    SYNTAX_CODES,
    words,
)
from edi.acks import (
    Acknowledgment,
    AckStatus,
    AdviceError,
    AdviceItem,
    ApplicationAdvice,
    ElementError,
    GroupAck,
    SegmentError,
    SetAck,
)

_SEVERITY = {
    AckStatus.RECEIVED: 0,
    AckStatus.ACCEPTED: 1,
    AckStatus.PARTIALLY_ACCEPTED: 1,
    AckStatus.ACCEPTED_WITH_ERRORS: 2,
    AckStatus.REJECTED: 3,
}
# A document a group acknowledgment does not list takes the group's status; in a
# partially accepted group the rejected documents are the ones listed.
_UNLISTED = {
    AckStatus.ACCEPTED: AckStatus.ACCEPTED,
    AckStatus.PARTIALLY_ACCEPTED: AckStatus.ACCEPTED,
    AckStatus.ACCEPTED_WITH_ERRORS: AckStatus.ACCEPTED_WITH_ERRORS,
    AckStatus.REJECTED: AckStatus.REJECTED,
    AckStatus.RECEIVED: AckStatus.RECEIVED,
}
_LINE_TAGS = ("IT1", "LIN")
_PARTY_TAGS = ("N1", "NAD")
_SUMMARY_TAGS = ("TDS", "UNS")
# Fields a clerk knows by name: (segment, element) -> name.
_FIELD_NAMES = {
    ("BIG", "1"): "invoice date",
    ("BIG", "2"): "invoice number",
    ("BIG", "3"): "PO date",
    ("BIG", "4"): "PO number",
    ("IT1", "1"): "line number",
    ("IT1", "2"): "quantity",
    ("IT1", "3"): "unit of measure",
    ("IT1", "4"): "unit price",
    ("IT1", "6"): "product id type",
    ("IT1", "7"): "product id",
    ("N1", "1"): "party role",
    ("N1", "2"): "name",
    ("N1", "3"): "id type",
    ("N1", "4"): "party id",
    ("SAC", "2"): "allowance/charge code",
    ("SAC", "5"): "allowance/charge amount",
    ("TDS", "1"): "invoice total",
    ("TXI", "2"): "tax amount",
    ("CTT", "1"): "line count",
    ("ITD", "3"): "discount percent",
    ("ITD", "7"): "net days",
    ("BGM", "2"): "invoice number",
    ("DTM", "1"): "date",
    ("NAD", "2"): "party id (GLN)",
    ("NAD", "4"): "name",
    ("LIN", "3"): "item number",
    ("QTY", "1"): "quantity",
    ("PRI", "1"): "price",
    ("MOA", "1"): "amount",
    ("CNT", "1"): "line count",
    ("RFF", "1"): "reference",
}


@dataclass(frozen=True, slots=True)
class SentInvoice:
    """One invoice as it went out: its control numbers and rendered segments (header first).

    `group_control` is GS06 for X12 and "" for EDIFACT without UNG; `segments` is
    the list `render_810` / `render_invoic` returned, kept with the outbound record.
    """

    invoice_number: str
    interchange_control: str
    group_control: str
    set_control: str
    segments: tuple[tuple[str, ...], ...]
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceError:
    """One error an acknowledgment reports on an invoice, located and explained."""

    source: str
    code: str
    message: str
    segment_position: int | None = None
    segment_id: str = ""
    names: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceStatus:
    """The EDI status of one sent invoice after the acknowledgments, with its errors."""

    invoice_number: str
    status: AckStatus
    sources: tuple[str, ...]
    errors: tuple[InvoiceError, ...] = ()

    def summary(self) -> str:
        """One sentence for the clerk: status, who said so, and the first errors."""
        said = {
            AckStatus.ACCEPTED: "accepted by the partner",
            AckStatus.ACCEPTED_WITH_ERRORS: "accepted by the partner, with errors to correct",
            AckStatus.REJECTED: "rejected by the partner: correct it and send it again",
            AckStatus.RECEIVED: "received by the partner, not yet checked",
            AckStatus.PARTIALLY_ACCEPTED: "partly accepted by the partner",
        }[self.status]
        text = f"invoice {self.invoice_number} {said} ({', '.join(self.sources)})"
        return text + "".join(f"; {e.message}" for e in self.errors)


@dataclass(frozen=True, slots=True)
class Overdue:
    """A sent invoice with no acknowledgment past the partner's deadline."""

    invoice_number: str
    sent_at: datetime
    due_at: datetime
    late_by: timedelta


def control_key(control: str) -> str:
    """A control number as compared: digits as a number (ISA13 `000001201` = `1201`)."""
    text = control.strip()
    return str(int(text)) if text.isdigit() else text


def same_control(ours: str, theirs: str) -> bool:
    """Whether two control numbers are the same (see `control_key`)."""
    return control_key(ours) == control_key(theirs)


def describe_segment(segments: Sequence[Sequence[str]], position: int) -> str:
    """What the segment at `position` (header = 1) of a sent document is, for a clerk."""
    if not 1 <= position <= len(segments):
        return f"segment {position} (beyond the {len(segments)} segments sent)"
    index = position - 1
    segment = segments[index]
    tag = segment[0]
    if tag in _PARTY_TAGS:
        return _party(segment)
    summary = next((i for i, s in enumerate(segments) if s[0] in _SUMMARY_TAGS), len(segments))
    if index >= summary:
        return f"the invoice totals ({tag})"
    line = next((segments[i] for i in range(index, -1, -1) if segments[i][0] in _LINE_TAGS), None)
    if line is not None:
        return _line(line) + ("" if tag in _LINE_TAGS else f" ({tag})")
    return f"the invoice header ({tag})"


def _party(segment: Sequence[str]) -> str:
    role = segment[1] if len(segment) > 1 else ""
    name_at = 4 if segment[0] == "NAD" else 2
    name = segment[name_at] if len(segment) > name_at else ""
    return f"party {role}" + (f" {name}" if name else "")


def _line(segment: Sequence[str]) -> str:
    number = segment[1] if len(segment) > 1 else ""
    item_at = 7 if segment[0] == "IT1" else 3
    item = segment[item_at].split(":")[0] if len(segment) > item_at else ""
    return f"line {number}" + (f" (item {item})" if item else "")


def _field(segments: Sequence[Sequence[str]], position: int, element: str) -> str:
    tag = segments[position - 1][0] if 1 <= position <= len(segments) else ""
    number = element.split(":")[0].lstrip("0")
    name = _FIELD_NAMES.get((tag, number))
    code = f"{tag}{int(number):02d}" if number.isdigit() else f"{tag} element {element}"
    return f"{name} ({code})" if name else code


def _segment_errors(
    source: str, errors: Iterable[SegmentError], sent: SentInvoice, syntax: bool
) -> list[InvoiceError]:
    found = []
    for error in errors:
        names = describe_segment(sent.segments, error.position)
        segment_words = words(SYNTAX_CODES if syntax else SEGMENT_CODES, error.code)
        if not error.elements:
            found.append(
                InvoiceError(
                    source,
                    error.code,
                    f"{names}: {segment_words}",
                    error.position,
                    error.segment_id,
                    names,
                )
            )
        for element in error.elements:
            found.append(_element_error(source, error, element, sent, names, syntax))
    return found


def _element_error(
    source: str,
    error: SegmentError,
    element: ElementError,
    sent: SentInvoice,
    names: str,
    syntax: bool,
) -> InvoiceError:
    field = _field(sent.segments, error.position, element.position)
    what = words(SYNTAX_CODES if syntax else ELEMENT_CODES, element.code)
    value = f" (sent {element.bad_value.strip()!r})" if element.bad_value.strip() else ""
    return InvoiceError(
        source,
        element.code,
        f"{names}: {field} {what}{value}",
        error.position,
        error.segment_id,
        names,
    )


class _Statuses:
    """Collects, per invoice, the most severe status and every error."""

    def __init__(self) -> None:
        self.status: dict[str, AckStatus] = {}
        self.sources: dict[str, list[str]] = {}
        self.errors: dict[str, list[InvoiceError]] = {}

    def add(
        self, invoice: SentInvoice, status: AckStatus, source: str, errors: Iterable[InvoiceError]
    ) -> None:
        key = invoice.invoice_number
        current = self.status.get(key)
        if current is None or _SEVERITY[status] > _SEVERITY[current]:
            self.status[key] = status
        if source not in self.sources.setdefault(key, []):
            self.sources[key].append(source)
        self.errors.setdefault(key, []).extend(errors)

    def result(self, sent: Sequence[SentInvoice]) -> list[InvoiceStatus]:
        return [
            InvoiceStatus(
                s.invoice_number,
                self.status[s.invoice_number],
                tuple(self.sources[s.invoice_number]),
                tuple(self.errors[s.invoice_number]),
            )
            for s in sent
            if s.invoice_number in self.status
        ]


def join_acknowledgments(
    sent: Sequence[SentInvoice],
    acknowledgments: Iterable[Acknowledgment] = (),
    advices: Iterable[ApplicationAdvice] = (),
) -> list[InvoiceStatus]:
    """The EDI status of every sent invoice an acknowledgment or advice names, in sent order."""
    statuses = _Statuses()
    for ack in acknowledgments:
        _join_ack(ack, sent, statuses)
    for advice in advices:
        for item in advice.items:
            _join_advice(advice.kind, item, sent, statuses)
    return statuses.result(sent)


def _join_ack(ack: Acknowledgment, sent: Sequence[SentInvoice], statuses: _Statuses) -> None:
    syntax = ack.kind == "CONTRL"
    table = SYNTAX_CODES if syntax else INTERCHANGE_CODES
    for interchange in ack.interchanges:
        errors = []
        if interchange.code and interchange.code != "000":
            errors.append(
                InvoiceError(
                    ack.kind,
                    interchange.code,
                    f"the whole interchange {interchange.control}: "
                    f"{words(table, interchange.code)}",
                )
            )
        # A TA1 that accepts only vouches for the envelope; the documents are not checked yet.
        status = interchange.status
        if ack.kind == "TA1" and status is AckStatus.ACCEPTED:
            status = AckStatus.RECEIVED
        for invoice in sent:
            if same_control(invoice.interchange_control, interchange.control):
                statuses.add(invoice, status, ack.kind, errors)
    interchange_controls = [i.control for i in ack.interchanges]
    for group in ack.groups:
        for invoice in sent:
            if not _in_group(invoice, group, syntax, interchange_controls):
                continue
            listed = next(
                (a for a in group.sets if same_control(invoice.set_control, a.control)), None
            )
            if listed is not None:
                errors = _set_errors(ack.kind, listed, invoice, syntax)
                statuses.add(invoice, listed.status, ack.kind, errors)
            elif group.status is not None:
                errors = _group_errors(ack.kind, group)
                statuses.add(invoice, _UNLISTED[group.status], ack.kind, errors)


def _in_group(invoice: SentInvoice, group: GroupAck, syntax: bool, interchanges: list[str]) -> bool:
    if not syntax:
        return same_control(invoice.group_control, group.control)
    # CONTRL: messages are scoped by the interchange its UCI names (and UCF, when used).
    in_interchange = any(same_control(invoice.interchange_control, c) for c in interchanges)
    return in_interchange and (
        not group.control or same_control(invoice.group_control, group.control)
    )


def _group_errors(source: str, group: GroupAck) -> list[InvoiceError]:
    return [
        InvoiceError(source, code, f"the whole group {group.control}: {words(GROUP_CODES, code)}")
        for code in group.codes
    ]


def _set_errors(source: str, ack: SetAck, invoice: SentInvoice, syntax: bool) -> list[InvoiceError]:
    errors = [
        InvoiceError(source, code, words(SYNTAX_CODES if syntax else DOCUMENT_CODES, code))
        for code in ack.codes
        # AK502 5 only says "see the segments below"; the segments say more.
        if not (code == "5" and ack.segments and not syntax)
    ]
    return errors + _segment_errors(source, ack.segments, invoice, syntax)


def _join_advice(
    kind: str, item: AdviceItem, sent: Sequence[SentInvoice], statuses: _Statuses
) -> None:
    for invoice in sent:
        by_control = (
            bool(item.set_control)
            and same_control(invoice.set_control, item.set_control)
            and (not item.group_control or same_control(invoice.group_control, item.group_control))
        )
        by_reference = any(value == invoice.invoice_number for _, value in item.references)
        if by_control or by_reference:
            errors = [_advice_error(kind, e, invoice) for e in item.errors]
            if item.text and not errors:
                errors.append(InvoiceError(kind, "", item.text))
            statuses.add(invoice, item.status, kind, errors)


def _advice_error(kind: str, error: AdviceError, invoice: SentInvoice) -> InvoiceError:
    names = describe_segment(invoice.segments, error.position) if error.position else ""
    field = (
        _field(invoice.segments, error.position, error.element)
        if error.position and error.element
        else ""
    )
    parts = [p for p in (names, field) if p]
    text = error.text or f"application error {error.code}"
    value = f" (sent {error.bad_value!r})" if error.bad_value else ""
    where = f"{' '.join(parts)}: " if parts else ""
    return InvoiceError(
        kind, error.code, f"{where}{text}{value}", error.position, error.segment_id, names
    )


def overdue(
    sent: Iterable[SentInvoice],
    acknowledged: Iterable[str],
    deadline: timedelta,
    now: datetime,
) -> list[Overdue]:
    """Sent invoices with no acknowledgment (`acknowledged` invoice numbers) past the deadline."""
    answered = set(acknowledged)
    late = []
    for invoice in sent:
        due = invoice.sent_at + deadline
        if invoice.invoice_number not in answered and now > due:
            late.append(Overdue(invoice.invoice_number, invoice.sent_at, due, now - due))
    return late
