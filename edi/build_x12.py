"""Build an X12 810 Invoice (004010 or 005010, plain or VICS) with its ISA/GS/ST envelope.

The caller passes the control numbers (from the per-partner control-number
ledger, which never reuses one); the builder only renders. The invoice total
TDS01 is computed as the validator checks it (X-B06): sum of round2(quantity x
unit price) + charges - allowances (line and summary level) + taxes, in cents.
`render_810` also returns the segment list, kept with the outbound record so an
acknowledgment's AK3 segment position can be joined back to the line it names.
The version is the GS08 value (`VERSIONS`); from 00501 on ISA11 is the repetition
separator instead of `U` (rule X-E03).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from edi.amounts import invoice_total_minor
from mappings.invoice_document import AllowanceCharge, InvoiceDocument, PaymentTerms

# GS08 version -> ISA12 interchange control version. VICS is the retail industry
# subset (Voluntary Interindustry Commerce Solutions) of the same 810.
VERSIONS = {"004010": "00401", "004010VICS": "00401", "005010": "00501", "005010VICS": "00501"}


@dataclass(frozen=True, slots=True)
class Envelope:
    """Interchange and group addressing plus the control numbers for one 810."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    interchange_control: int
    group_control: int
    set_control: int
    sent_on: date
    sent_at: time
    usage_indicator: str = "P"
    version: str = "004010"
    element: str = "*"
    component: str = ">"
    terminator: str = "~"
    repetition: str = "^"


def _decimal(value: Decimal) -> str:
    """An X12 R value: a decimal point only when fractional, no exponent, no plus sign."""
    return format(value.normalize(), "f")


def _sac(item: AllowanceCharge) -> list[str]:
    return ["SAC", item.kind, item.code, "", "", str(item.amount.minor)] + (
        ["", "", "", "", "", "", "", "", "", item.description] if item.description else []
    )


def _itd(terms: PaymentTerms) -> list[str]:
    """ITD from the invoice date (ITD02 3): 08 basic discount offered, else 01 basic."""
    return [
        "ITD",
        "01" if terms.discount_percent is None else "08",
        "3",
        "" if terms.discount_percent is None else _decimal(terms.discount_percent),
        "",
        "" if terms.discount_days is None else str(terms.discount_days),
        "" if terms.net_due_date is None else terms.net_due_date.strftime("%Y%m%d"),
        str(terms.net_days),
    ]


def render_810(document: InvoiceDocument, envelope: Envelope) -> tuple[bytes, list[list[str]]]:
    """The interchange bytes and the rendered transaction-set segments (ST first)."""
    body: list[list[str]] = [["ST", "810", f"{envelope.set_control:04d}"]]
    big = ["BIG", document.invoice_date.strftime("%Y%m%d"), document.invoice_number]
    if document.po_number:
        big += [document.po_date.strftime("%Y%m%d") if document.po_date else "", document.po_number]
    body.append(big)
    if document.currency != "USD":
        body.append(["CUR", "SE", document.currency])
    for party in document.parties:
        n1 = ["N1", party.role, party.name]
        if party.party_id:
            n1 += [party.id_qualifier, party.party_id]
        body.append(n1)
    if document.terms is not None:
        body.append(_itd(document.terms))
    for line in document.lines:
        body.append(
            [
                "IT1",
                line.line_number,
                _decimal(line.quantity),
                line.unit,
                _decimal(line.unit_price),
                "",
                line.product_qualifier,
                line.product_id,
            ]
        )
        if line.description:
            body.append(["PID", "F", "", "", "", line.description])
        body += [_sac(item) for item in line.allowances_charges]
    body.append(["TDS", str(invoice_total_minor(document))])
    for tax in document.taxes:
        txi = ["TXI", tax.tax_type, _decimal(tax.amount.to_decimal())]
        if tax.percent is not None:
            txi.append(_decimal(tax.percent))
        body.append(txi)
    body += [_sac(item) for item in document.allowances_charges]
    body.append(["CTT", str(len(document.lines))])
    body.append(["SE", str(len(body) + 1), f"{envelope.set_control:04d}"])
    return _envelope(body, envelope), body


def _envelope(body: list[list[str]], envelope: Envelope) -> bytes:
    sep, end = envelope.element, envelope.terminator
    control_version = VERSIONS.get(envelope.version)
    if control_version is None:
        raise ValueError(
            f"X12 version {envelope.version!r} is not supported (use one of {', '.join(VERSIONS)})"
        )
    isa = sep.join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            envelope.sender_qualifier,
            envelope.sender_id.ljust(15),
            envelope.receiver_qualifier,
            envelope.receiver_id.ljust(15),
            envelope.sent_on.strftime("%y%m%d"),
            envelope.sent_at.strftime("%H%M"),
            "U" if control_version < "00402" else envelope.repetition,
            control_version,
            f"{envelope.interchange_control:09d}",
            "0",
            envelope.usage_indicator,
            envelope.component,
        ]
    )
    gs = [
        "GS",
        "IN",
        envelope.sender_id,
        envelope.receiver_id,
        envelope.sent_on.strftime("%Y%m%d"),
        envelope.sent_at.strftime("%H%M"),
        str(envelope.group_control),
        "X",
        envelope.version,
    ]
    trailer = [
        ["GE", "1", str(envelope.group_control)],
        ["IEA", "1", f"{envelope.interchange_control:09d}"],
    ]
    segments = [isa] + [sep.join(s) for s in [gs, *body, *trailer]]
    return ("".join(segment + end + "\n" for segment in segments)).encode("ascii")
