"""Read X12 810 transaction sets back into canonical `InvoiceDocument`s.

The inverse of `edi.build_x12.render_810` for the segments it writes (BIG, CUR,
N1, ITD, IT1, PID, SAC, TDS, TXI, CTT): used to prove the round trip and to show a
received 810 in canonical terms. It assumes a document the validator accepted;
on anything else it raises `ValueError` naming the segment.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from edi.segments import Segment
from edi.x12 import read_x12
from edi.x12_envelope import check_envelopes
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money


def parse_810(data: bytes) -> list[InvoiceDocument]:
    """The invoices of every 810 set in an interchange."""
    reading = read_x12(data)
    if reading.delimiters is None:
        raise ValueError("not an X12 interchange: no ISA header")
    _, sets = check_envelopes(reading.segments, reading.delimiters)
    return [_document(s.segments) for s in sets if s.set_type == "810"]


def _date(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def _document(segments: list[Segment]) -> InvoiceDocument:
    big = next((s for s in segments if s.tag == "BIG"), None)
    if big is None:
        raise ValueError("810 without a BIG segment")
    cur = next((s for s in segments if s.tag == "CUR"), None)
    currency = cur.get(2) if cur else "USD"
    parties: list[Party] = []
    lines: list[DocumentLine] = []
    summary_adjustments: list[AllowanceCharge] = []
    taxes: list[TaxAmount] = []
    terms: PaymentTerms | None = None
    in_summary = False
    for segment in segments:
        tag = segment.tag
        if tag == "N1":
            parties.append(Party(segment.get(1), segment.get(2), segment.get(3), segment.get(4)))
        elif tag == "ITD":
            terms = _terms(segment)
        elif tag == "IT1":
            lines.append(
                DocumentLine(
                    line_number=segment.get(1),
                    product_qualifier=segment.get(6),
                    product_id=segment.get(7),
                    quantity=Decimal(segment.get(2)),
                    unit=segment.get(3),
                    unit_price=Decimal(segment.get(4)),
                )
            )
        elif tag == "PID" and lines and not in_summary:
            lines[-1] = replace(lines[-1], description=segment.get(5))
        elif tag == "TDS":
            in_summary = True
        elif tag == "SAC":
            item = AllowanceCharge(
                segment.get(1),
                segment.get(2),
                Money(int(segment.get(5)), currency),
                segment.get(15),
            )
            if in_summary:
                summary_adjustments.append(item)
            elif lines:
                adjustments = (*lines[-1].allowances_charges, item)
                lines[-1] = replace(lines[-1], allowances_charges=adjustments)
        elif tag == "TXI" and in_summary:
            percent = Decimal(segment.get(3)) if segment.get(3) else None
            taxes.append(TaxAmount(segment.get(1), Money.parse(segment.get(2), currency), percent))
    return InvoiceDocument(
        invoice_number=big.get(2),
        invoice_date=_date(big.get(1)),
        currency=currency,
        lines=tuple(lines),
        po_number=big.get(4),
        po_date=_date(big.get(3)) if big.get(3) else None,
        allowances_charges=tuple(summary_adjustments),
        taxes=tuple(taxes),
        parties=tuple(parties),
        terms=terms,
    )


def _terms(itd: Segment) -> PaymentTerms:
    return PaymentTerms(
        net_days=int(itd.get(7)),
        discount_percent=Decimal(itd.get(3)) if itd.get(3) else None,
        discount_days=int(itd.get(5)) if itd.get(5) else None,
        net_due_date=_date(itd.get(6)) if itd.get(6) else None,
    )
