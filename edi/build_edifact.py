"""Build an EDIFACT INVOIC (D96A or D01B, EANCOM profile) with its UNA/UNB..UNZ envelope.

The caller passes the control references (from the per-partner control-number
ledger, which never reuses one); the builder only renders. The message follows
the EANCOM INVOIC layout: BGM 380, DTM 137, RFF ON (PO), NAD parties with their
GLN (agency 9), CUX, PAT/DTM/PCD terms, header ALC/MOA, then per line LIN, IMD,
QTY 47, MOA 203, PRI AAA, TAX and line ALC/MOA, then UNS+S, CNT+2, MOA 79/125/
176/77, the TAX summary per rate and the ALC totals. The totals are computed as
the validator checks them (E-B05..E-B07): MOA+203 = quantity x net price +/-
the line's allowances and charges, MOA+79 = sum of MOA+203, MOA+125 = 79 +
document charges - allowances, MOA+77 = 125 + tax. Data is release-escaped
(`? ' + :` preceded by `?`).

Canonical codes are X12's (the document's vocabulary); the few that EDIFACT
spells differently are translated both ways by the tables below, so a built
INVOIC parses back (`edi.parse_edifact_invoic`) to the same document.
`render_invoic` returns the bytes and the rendered message segments (UNH first),
kept with the outbound record so a CONTRL's segment position joins back to the
line or party it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from edi.amounts import adjustments_minor, line_minor, lines_minor, tax_minor
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    PaymentTerms,
)
from mappings.money import Money

# X12 N101 role -> NAD 3035 (ship-to = delivery party, bill-to = invoicee, remit-to = payee).
PARTY_ROLES = {"ST": "DP", "BT": "IV", "RE": "PE"}
# X12 N103 id qualifier -> 3055 code list agency (GLN is GS1 = 9; DUNS = 16).
ID_AGENCIES = {"UL": "9", "1": "16"}
# X12 235 product id qualifier -> 7143 item type (vendor's item = supplier's article number).
PRODUCT_TYPES = {"VN": "SA"}
# X12 963 tax type -> 5153 duty/tax/fee type (VAT; state or provincial sales tax).
TAX_TYPES = {"VA": "VAT", "ST": "STT"}
# Directory -> the EANCOM association assigned code for INVOIC (EANCOM 97 / 2002 S3).
ASSOCIATIONS = {"D96A": "EAN008", "D01B": "EAN010"}
# 7161 special service codes are an..3; longer canonical codes travel as C552 1230.
_SERVICE_CODE_MAX = 3
_RELEASED = "?'+:"

Segment = tuple[str, tuple[tuple[str, ...], ...]]


@dataclass(frozen=True, slots=True)
class EdifactEnvelope:
    """Interchange addressing plus the control references for one INVOIC."""

    sender_id: str
    recipient_id: str
    interchange_control: int
    message_reference: int
    sent_on: date
    sent_at: time
    directory: str = "D96A"
    sender_qualifier: str = "14"
    recipient_qualifier: str = "14"
    syntax: str = "UNOC"
    syntax_version: str = "3"
    test: bool = False
    acknowledgment_requested: bool = True


def translate(table: Mapping[str, str], value: str) -> str:
    """`value` through `table`, unchanged when the table does not name it."""
    return table.get(value, value)


def untranslate(table: Mapping[str, str], value: str) -> str:
    """The inverse of `translate`."""
    return next((key for key, code in table.items() if code == value), value)


def _number(value: Decimal) -> str:
    """A numeric data element: a decimal mark only when fractional, no exponent."""
    return format(value.normalize(), "f")


def _amount(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


def _date(value: date) -> tuple[str, ...]:
    return ("", value.strftime("%Y%m%d"), "102")


def _seg(tag: str, *elements: str | tuple[str, ...]) -> Segment:
    """A segment with trailing empty components and elements removed (ISO 9735 7.2)."""
    parts = [(e,) if isinstance(e, str) else e for e in elements]
    trimmed = [_trim(p) for p in parts]
    while trimmed and not any(trimmed[-1]):
        trimmed.pop()
    return tag, tuple(trimmed)


def _trim(components: tuple[str, ...]) -> tuple[str, ...]:
    end = len(components)
    while end > 1 and not components[end - 1]:
        end -= 1
    return components[:end]


def _dtm(qualifier: str, value: date) -> Segment:
    return _seg("DTM", (qualifier, *_date(value)[1:]))


def _escape(value: str) -> str:
    return "".join(f"?{c}" if c in _RELEASED else c for c in value)


def _text(segment: Segment) -> str:
    tag, elements = segment
    return "+".join([tag, *(":".join(_escape(c) for c in e) for e in elements)]) + "'"


def _allowance(item: AllowanceCharge, currency: str) -> list[Segment]:
    short = len(item.code) <= _SERVICE_CODE_MAX
    return [
        _seg(
            "ALC",
            item.kind,
            "" if short else item.code,
            "",
            "",
            (item.code if short else "", "", "", item.description),
        ),
        _seg("MOA", ("23" if item.kind == "C" else "204", _amount(item.amount.minor, currency))),
    ]


def _terms(terms: PaymentTerms) -> list[Segment]:
    segments = [_seg("PAT", "1", "", ("5", "3", "D", str(terms.net_days)))]
    if terms.net_due_date is not None:
        segments.append(_dtm("13", terms.net_due_date))
    if terms.discount_percent is not None:
        days = "" if terms.discount_days is None else str(terms.discount_days)
        segments.append(_seg("PAT", "22", "", ("5", "3", "D", days)))
        segments.append(_seg("PCD", ("12", _number(terms.discount_percent))))
    return segments


def _tax(tax_type: str, percent: Decimal | None) -> Segment:
    rate = ("", "", "", _number(percent)) if percent is not None else ()
    category = "" if percent is None else ("Z" if percent == 0 else "S")
    return _seg("TAX", "7", translate(TAX_TYPES, tax_type), "", "", rate, category)


def _line(line: DocumentLine, document: InvoiceDocument) -> list[Segment]:
    currency = document.currency
    amount = line_minor(line, currency) + adjustments_minor(line.allowances_charges)
    segments = [
        _seg(
            "LIN",
            line.line_number,
            "",
            (line.product_id, translate(PRODUCT_TYPES, line.product_qualifier)),
        )
    ]
    if line.description:
        segments.append(_seg("IMD", "F", "", ("", "", "", line.description)))
    segments += [
        _seg("QTY", ("47", _number(line.quantity), line.unit)),
        _seg("MOA", ("203", _amount(amount, currency))),
        _seg("PRI", ("AAA", _number(line.unit_price))),
    ]
    # One tax rate on the invoice applies to every line (EANCOM SG33, dependent).
    if len(document.taxes) == 1 and document.taxes[0].percent is not None:
        segments.append(_tax(document.taxes[0].tax_type, document.taxes[0].percent))
    for item in line.allowances_charges:
        segments += _allowance(item, currency)
    return segments


def _summary(document: InvoiceDocument) -> list[Segment]:
    currency = document.currency
    line_total = lines_minor(document)
    taxable = line_total + adjustments_minor(document.allowances_charges)
    tax = tax_minor(document)
    segments = [
        _seg("UNS", "S"),
        _seg("CNT", ("2", str(len(document.lines)))),
        _seg("MOA", ("79", _amount(line_total, currency))),
        _seg("MOA", ("125", _amount(taxable, currency))),
        _seg("MOA", ("176", _amount(tax, currency))),
        _seg("MOA", ("77", _amount(taxable + tax, currency))),
    ]
    for item in document.taxes:
        segments += [
            _tax(item.tax_type, item.percent),
            _seg("MOA", ("124", _amount(item.amount.minor, currency))),
        ]
    for kind in ("A", "C"):
        total = sum(i.amount.minor for i in document.allowances_charges if i.kind == kind)
        if total:
            segments += [_seg("ALC", kind), _seg("MOA", ("131", _amount(total, currency)))]
    return segments


def invoic_message(document: InvoiceDocument, envelope: EdifactEnvelope) -> list[Segment]:
    """The UNH..UNT segments of one INVOIC, each (tag, elements of components), unescaped."""
    association = ASSOCIATIONS.get(envelope.directory)
    if association is None:
        raise ValueError(
            f"EDIFACT directory {envelope.directory!r} is not supported "
            f"(use one of {', '.join(ASSOCIATIONS)})"
        )
    reference = str(envelope.message_reference)
    release = envelope.directory[1:]
    body = [
        _seg("UNH", reference, ("INVOIC", "D", release, "UN", association)),
        _seg("BGM", "380", document.invoice_number, "9"),
        _dtm("137", document.invoice_date),
    ]
    if document.po_number:
        body.append(_seg("RFF", ("ON", document.po_number)))
        if document.po_date is not None:
            body.append(_dtm("171", document.po_date))
    for party in document.parties:
        agency = translate(ID_AGENCIES, party.id_qualifier) if party.party_id else ""
        body.append(
            _seg(
                "NAD",
                translate(PARTY_ROLES, party.role),
                (party.party_id, "", agency),
                "",
                party.name,
            )
        )
    body.append(_seg("CUX", ("2", document.currency, "4")))
    if document.terms is not None:
        body += _terms(document.terms)
    for item in document.allowances_charges:
        body += _allowance(item, document.currency)
    for line in document.lines:
        body += _line(line, document)
    body += _summary(document)
    body.append(_seg("UNT", str(len(body) + 1), reference))
    return body


def render_invoic(
    document: InvoiceDocument, envelope: EdifactEnvelope
) -> tuple[bytes, list[list[str]]]:
    """The interchange bytes and the rendered message segments (UNH first).

    Each rendered segment is `[tag, element, ...]` with an element's components
    joined by `:` before release escaping, the shape `render_810` returns for X12.
    """
    message = invoic_message(document, envelope)
    version = envelope.syntax_version
    stamp = envelope.sent_on.strftime("%Y%m%d" if version == "4" else "%y%m%d")
    control = str(envelope.interchange_control)
    unb = _seg(
        "UNB",
        (envelope.syntax, version),
        (envelope.sender_id, envelope.sender_qualifier),
        (envelope.recipient_id, envelope.recipient_qualifier),
        (stamp, envelope.sent_at.strftime("%H%M")),
        control,
        "",
        "",
        "",
        "1" if envelope.acknowledgment_requested else "",
        "",
        "1" if envelope.test else "",
    )
    unz = _seg("UNZ", "1", control)
    text = "UNA:+.? '\n" + "".join(_text(s) + "\n" for s in [unb, *message, unz])
    codec = {"UNOA": "ascii", "UNOB": "ascii", "UNOC": "latin-1"}.get(envelope.syntax, "utf-8")
    rendered = [[tag, *(":".join(e) for e in elements)] for tag, elements in message]
    return text.encode(codec), rendered
