"""Sample EDI documents for the EDI tests: builder-made 810 and INVOIC, and a hand-made INVOIC.

The built documents come from `edi.build_x12` / `edi.build_edifact` so their
counts and totals are right by construction; the hand-made INVOIC is written out
with its arithmetic shown.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from edi.build_edifact import EdifactEnvelope, render_invoic
from edi.build_x12 import Envelope, render_810
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money

ENVELOPE = Envelope(
    sender_qualifier="ZZ",
    sender_id="ARLINKSUPPLIER",
    receiver_qualifier="08",
    receiver_id="9251750000",
    interchange_control=1201,
    group_control=1201,
    set_control=1,
    sent_on=date(2026, 11, 2),
    sent_at=time(9, 30),
)


def sample_document(lines: int = 3) -> InvoiceDocument:
    """An invoice with line charges, a summary allowance and sales tax."""
    return InvoiceDocument(
        invoice_number="INV-1043",
        invoice_date=date(2026, 11, 2),
        currency="USD",
        po_number="4500094576",
        po_date=date(2026, 10, 20),
        parties=(
            Party("ST", "MACDONALDS CO", "92", "1602"),
            Party("RE", "ARLINK SUPPLIER INC"),
        ),
        lines=tuple(
            DocumentLine(
                line_number=str(n),
                product_qualifier="UP",
                product_id=f"0{n:011d}",
                quantity=Decimal(n * 4),
                unit="EA",
                unit_price=Decimal("3.61") + n,
                description=f"ITEM {n}",
                allowances_charges=(
                    (AllowanceCharge("C", "D360", Money(150, "USD")),) if n % 2 else ()
                ),
            )
            for n in range(1, lines + 1)
        ),
        allowances_charges=(AllowanceCharge("A", "I410", Money(2350, "USD")),),
        taxes=(TaxAmount("ST", Money(1234, "USD"), Decimal("6.25")),),
    )


INVOIC_ENVELOPE = EdifactEnvelope(
    sender_id="5412345000013",
    recipient_id="4012345000009",
    interchange_control=3001,
    message_reference=1,
    sent_on=date(2026, 11, 2),
    sent_at=time(9, 30),
)


def sample_invoic_document(lines: int = 3) -> InvoiceDocument:
    """An EANCOM-style invoice in EUR: GLN parties, terms, line charges, an allowance, VAT."""

    def eur(minor: int) -> Money:
        return Money(minor, "EUR")

    return InvoiceDocument(
        invoice_number="INV-2044",
        invoice_date=date(2026, 11, 2),
        currency="EUR",
        po_number="4500094577",
        po_date=date(2026, 10, 20),
        parties=(
            Party("BY", "BUYER GMBH", "UL", "4012345000009"),
            Party("SU", "ARLINK SUPPLIER BV", "UL", "5412345000013"),
            Party("ST", "STORE 7", "UL", "4012345000016"),
        ),
        lines=tuple(
            DocumentLine(
                line_number=str(n),
                product_qualifier="EN",
                product_id=f"40008621414{n:02d}",
                quantity=Decimal(n * 2),
                unit="PCE",
                unit_price=Decimal("12.50") + n,
                description=f"ARTICLE {n}",
                allowances_charges=(AllowanceCharge("A", "TD", eur(100), "PROMO"),)
                if n == 2
                else (),
            )
            for n in range(1, lines + 1)
        ),
        allowances_charges=(AllowanceCharge("C", "FC", eur(550), "FREIGHT"),),
        taxes=(TaxAmount("VA", eur(3468), Decimal("19")),),  # 19 % of 182.50
        terms=PaymentTerms(30, Decimal("2"), 10, date(2026, 12, 2)),
    )


def sample_invoic(lines: int = 3) -> bytes:
    """A clean D96A EANCOM INVOIC interchange."""
    data, _ = render_invoic(sample_invoic_document(lines), INVOIC_ENVELOPE)
    return data


def sample_810(lines: int = 3) -> bytes:
    """A clean 004010 810 interchange."""
    data, _ = render_810(sample_document(lines), ENVELOPE)
    return data


# Two lines: 4 x 12.50 = 50.00 and 2 x 7.25 = 14.50 -> MOA+79 64.50; header charge 5.50
# -> MOA+125 70.00; tax 19 % -> MOA+176 13.30; MOA+77 = 83.30. CNT+2 = 2 lines.
SAMPLE_INVOIC = (
    "UNA:+.? '\n"
    "UNB+UNOC:3+5412345000013:14+4012345000009:14+261102:0930+INT0001'\n"
    "UNH+1+INVOIC:D:96A:UN:EAN008'\n"
    "BGM+380+INV-2001+9'\n"
    "DTM+137:20261102:102'\n"
    "NAD+BY+4012345000009::9'\n"
    "NAD+SU+5412345000013::9'\n"
    "CUX+2:EUR:4'\n"
    "ALC+C++++FC'\n"
    "MOA+8:5.50'\n"
    "LIN+1++4000862141404:EN'\n"
    "QTY+47:4'\n"
    "MOA+203:50.00'\n"
    "PRI+AAA:12.50'\n"
    "LIN+2++4000862141411:EN'\n"
    "QTY+47:2'\n"
    "MOA+203:14.50'\n"
    "PRI+AAA:7.25'\n"
    "UNS+S'\n"
    "CNT+2:2'\n"
    "MOA+79:64.50'\n"
    "MOA+125:70.00'\n"
    "MOA+176:13.30'\n"
    "MOA+77:83.30'\n"
    "TAX+7+VAT+++:::19+S'\n"
    "MOA+124:13.30'\n"
    "UNT+25+1'\n"
    "UNZ+1+INT0001'\n"
).encode("ascii")
