"""Invoice arithmetic shared by the X12 and EDIFACT builders, in the currency's minor units.

One definition of the totals both standards carry: a line amount is quantity x
unit price rounded half up to the currency's minor unit; the invoice total is the
lines + charges - allowances (line and document level) + taxes (X12 TDS01, rule
X-B06; EDIFACT MOA+77, rule E-B06). Integers of minor units; never float.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from mappings.invoice_document import AllowanceCharge, DocumentLine, InvoiceDocument
from mappings.money import currency_exponent


def line_minor(line: DocumentLine, currency: str) -> int:
    """The extended amount of a line (quantity x unit price), rounded half up to minor units."""
    exponent = currency_exponent(currency)
    amount = (line.quantity * line.unit_price).quantize(Decimal(1).scaleb(-exponent), ROUND_HALF_UP)
    return int(amount.scaleb(exponent))


def adjustments_minor(items: Iterable[AllowanceCharge]) -> int:
    """Charges minus allowances."""
    return sum(item.amount.minor if item.kind == "C" else -item.amount.minor for item in items)


def lines_minor(document: InvoiceDocument) -> int:
    """The sum of the line amounts, each with its own allowances and charges."""
    return sum(
        line_minor(line, document.currency) + adjustments_minor(line.allowances_charges)
        for line in document.lines
    )


def tax_minor(document: InvoiceDocument) -> int:
    """The sum of the invoice's taxes."""
    return sum(tax.amount.minor for tax in document.taxes)


def invoice_total_minor(document: InvoiceDocument) -> int:
    """Lines + charges - allowances (line and document level) + taxes."""
    return (
        lines_minor(document) + adjustments_minor(document.allowances_charges) + tax_minor(document)
    )
