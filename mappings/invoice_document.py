"""The EDI document of an invoice: lines, allowances and charges, taxes, parties.

DESIGN.md's `Invoice` names "for EDI, its document". These records carry it, so
the EDI builders (`edi.build_x12`) turn one canonical invoice into an X12 810 or
an EDIFACT INVOIC without knowing the host it came from. Quantities and unit
prices are Decimals (prices may carry more decimals than the currency); amounts
are `Money`. Never float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mappings.money import Money


@dataclass(frozen=True, slots=True)
class AllowanceCharge:
    """An allowance (`A`, reduces the total) or charge (`C`) with its X12 1300 / EDIFACT code."""

    kind: str
    code: str
    amount: Money
    description: str = ""


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """One invoice line: product id (qualifier + value), quantity, unit, unit price."""

    line_number: str
    product_qualifier: str
    product_id: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    description: str = ""
    allowances_charges: tuple[AllowanceCharge, ...] = ()


@dataclass(frozen=True, slots=True)
class TaxAmount:
    """A tax on the invoice: X12 963 tax type (e.g. `ST`, `VA`), amount, optional percent."""

    tax_type: str
    amount: Money
    percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """A party of the invoice: role (N101 / NAD 3035, e.g. `ST`, `BT`, `RE`), name, id."""

    role: str
    name: str
    id_qualifier: str = ""
    party_id: str = ""


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """Payment terms from the invoice date: net days, and an optional early-payment discount.

    X12 ITD (01 basic, 3 = from invoice date) and EDIFACT PAT/DTM/PCD carry the same facts.
    """

    net_days: int
    discount_percent: Decimal | None = None
    discount_days: int | None = None
    net_due_date: date | None = None


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything an EDI invoice carries beyond the `Invoice` header."""

    invoice_number: str
    invoice_date: date
    currency: str
    lines: tuple[DocumentLine, ...]
    po_number: str = ""
    po_date: date | None = None
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    taxes: tuple[TaxAmount, ...] = ()
    parties: tuple[Party, ...] = ()
    terms: PaymentTerms | None = None
