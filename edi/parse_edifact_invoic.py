"""Read EDIFACT INVOIC messages back into canonical `InvoiceDocument`s.

The inverse of `edi.build_edifact.render_invoic` for the segments it writes
(BGM, DTM 137/171/13, RFF ON, NAD, CUX, PAT/PCD, ALC/MOA, LIN, IMD, QTY 47,
PRI AAA, the summary TAX groups); totals (MOA 203/79/125/176/77, CNT) are
derived, so they are checked by the validator, not read. Used to prove the round
trip and to show a received INVOIC in canonical terms. It assumes a message the
validator accepted; on anything else it raises `ValueError` naming the segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from edi.build_edifact import ID_AGENCIES, PARTY_ROLES, PRODUCT_TYPES, TAX_TYPES, untranslate
from edi.edifact import read_edifact
from edi.edifact_envelope import check_envelopes
from edi.segments import Segment
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money


def parse_invoic(data: bytes) -> list[InvoiceDocument]:
    """The invoices of every INVOIC message in an interchange."""
    reading = read_edifact(data)
    if reading.delimiters is None:
        raise ValueError("not an EDIFACT interchange: no UNB header")
    decimal = reading.delimiters.decimal
    _, messages = check_envelopes(reading.segments)
    return [_document(m.segments, decimal) for m in messages if m.message_type == "INVOIC"]


def _date(segment: Segment) -> date:
    if segment.get(1, 3) not in ("", "102"):
        raise ValueError(f"segment {segment.position} DTM: date format {segment.get(1, 3)}")
    return datetime.strptime(segment.get(1, 2), "%Y%m%d").date()


def _decimal(segment: Segment, element: int, component: int, decimal: str) -> Decimal:
    text = segment.get(element, component)
    try:
        return Decimal(text.replace(decimal, "."))
    except InvalidOperation:
        raise ValueError(
            f"segment {segment.position} {segment.tag}: {text!r} is not a number"
        ) from None


class _Reader:
    """Walks one message, keeping which group (header ALC, line, summary) a segment is in."""

    def __init__(self, decimal: str) -> None:
        self.decimal = decimal
        self.fields: dict[str, object] = {"po_number": "", "po_date": None}
        self.currency = ""
        self.parties: list[Party] = []
        self.lines: list[DocumentLine] = []
        self.adjustments: list[AllowanceCharge] = []
        self.taxes: list[TaxAmount] = []
        self.terms: PaymentTerms | None = None
        self.pending: Segment | None = None  # an ALC waiting for its MOA
        self.pending_tax: Segment | None = None  # a summary TAX waiting for its MOA+124
        self.after_pat = ""
        self.summary = False

    def read(self, segment: Segment) -> None:
        handler = _HANDLERS.get(segment.tag)
        if handler is not None:
            handler(self, segment)

    def _on_bgm(self, segment: Segment) -> None:
        self.fields["invoice_number"] = segment.get(2)

    def _on_dtm(self, segment: Segment) -> None:
        qualifier = segment.get(1, 1)
        if qualifier == "137" and not self.lines:
            self.fields["invoice_date"] = _date(segment)
        elif qualifier == "171":
            self.fields["po_date"] = _date(segment)
        elif qualifier == "13" and self.terms is not None:
            self.terms = replace(self.terms, net_due_date=_date(segment))

    def _on_rff(self, segment: Segment) -> None:
        if segment.get(1, 1) == "ON":
            self.fields["po_number"] = segment.get(1, 2)

    def _on_nad(self, segment: Segment) -> None:
        party_id = segment.get(2, 1)
        qualifier = untranslate(ID_AGENCIES, segment.get(2, 3)) if party_id else ""
        role = untranslate(PARTY_ROLES, segment.get(1))
        self.parties.append(Party(role, segment.get(4, 1), qualifier, party_id))

    def _on_cux(self, segment: Segment) -> None:
        self.currency = segment.get(1, 2)

    def _on_pat(self, segment: Segment) -> None:
        days = segment.get(3, 4)
        self.after_pat = segment.get(1)
        if self.after_pat == "1":
            self.terms = PaymentTerms(net_days=int(days))
        elif self.after_pat == "22" and self.terms is not None:
            self.terms = replace(self.terms, discount_days=int(days) if days else None)

    def _on_pcd(self, segment: Segment) -> None:
        if self.after_pat == "22" and self.terms is not None and segment.get(1, 1) == "12":
            percent = _decimal(segment, 1, 2, self.decimal)
            self.terms = replace(self.terms, discount_percent=percent)

    def _on_alc(self, segment: Segment) -> None:
        self.pending = None if self.summary else segment

    def _on_moa(self, segment: Segment) -> None:
        qualifier = segment.get(1, 1)
        if self.pending is not None and qualifier in ("23", "204"):
            self._adjustment(self.pending, segment)
            self.pending = None
        elif self.pending_tax is not None and qualifier == "124":
            tax = self.pending_tax
            percent = _decimal(tax, 5, 4, self.decimal) if tax.get(5, 4) else None
            amount = Money.parse(_decimal(segment, 1, 2, self.decimal), self._currency(segment))
            self.taxes.append(TaxAmount(untranslate(TAX_TYPES, tax.get(2)), amount, percent))
            self.pending_tax = None

    def _adjustment(self, alc: Segment, moa: Segment) -> None:
        amount = Money.parse(_decimal(moa, 1, 2, self.decimal), self._currency(moa))
        item = AllowanceCharge(alc.get(1), alc.get(5, 1) or alc.get(2, 1), amount, alc.get(5, 4))
        if self.lines:
            line = self.lines[-1]
            self.lines[-1] = replace(line, allowances_charges=(*line.allowances_charges, item))
        else:
            self.adjustments.append(item)

    def _currency(self, segment: Segment) -> str:
        if not self.currency:
            raise ValueError(f"segment {segment.position} {segment.tag}: amount before CUX")
        return self.currency

    def _on_lin(self, segment: Segment) -> None:
        self.pending = None
        self.lines.append(
            DocumentLine(
                line_number=segment.get(1),
                product_qualifier=untranslate(PRODUCT_TYPES, segment.get(3, 2)),
                product_id=segment.get(3, 1),
                quantity=Decimal(0),
                unit="",
                unit_price=Decimal(0),
            )
        )

    def _on_imd(self, segment: Segment) -> None:
        if self.lines:
            self.lines[-1] = replace(self.lines[-1], description=segment.get(3, 4))

    def _on_qty(self, segment: Segment) -> None:
        if self.lines and segment.get(1, 1) == "47":
            quantity = _decimal(segment, 1, 2, self.decimal)
            self.lines[-1] = replace(self.lines[-1], quantity=quantity, unit=segment.get(1, 3))

    def _on_pri(self, segment: Segment) -> None:
        if self.lines and segment.get(1, 1) == "AAA":
            price = _decimal(segment, 1, 2, self.decimal)
            self.lines[-1] = replace(self.lines[-1], unit_price=price)

    def _on_uns(self, segment: Segment) -> None:
        self.summary = True
        self.pending = None

    def _on_tax(self, segment: Segment) -> None:
        # Line TAX segments repeat the rate; the amounts are in the summary TAX groups.
        self.pending_tax = segment if self.summary else None

    def document(self) -> InvoiceDocument:
        for name in ("invoice_number", "invoice_date"):
            if name not in self.fields:
                raise ValueError(f"INVOIC without its {name.replace('_', ' ')} (BGM / DTM+137)")
        return InvoiceDocument(
            invoice_number=str(self.fields["invoice_number"]),
            invoice_date=self.fields["invoice_date"],  # type: ignore[arg-type]
            currency=self.currency,
            lines=tuple(self.lines),
            po_number=str(self.fields["po_number"]),
            po_date=self.fields["po_date"],  # type: ignore[arg-type]
            allowances_charges=tuple(self.adjustments),
            taxes=tuple(self.taxes),
            parties=tuple(self.parties),
            terms=self.terms,
        )


_HANDLERS: dict[str, Callable[[_Reader, Segment], None]] = {
    "BGM": _Reader._on_bgm,
    "DTM": _Reader._on_dtm,
    "RFF": _Reader._on_rff,
    "NAD": _Reader._on_nad,
    "CUX": _Reader._on_cux,
    "PAT": _Reader._on_pat,
    "PCD": _Reader._on_pcd,
    "ALC": _Reader._on_alc,
    "MOA": _Reader._on_moa,
    "LIN": _Reader._on_lin,
    "IMD": _Reader._on_imd,
    "QTY": _Reader._on_qty,
    "PRI": _Reader._on_pri,
    "UNS": _Reader._on_uns,
    "TAX": _Reader._on_tax,
}


def _document(segments: list[Segment], decimal: str) -> InvoiceDocument:
    reader = _Reader(decimal)
    for segment in segments:
        reader.read(segment)
    return reader.document()
