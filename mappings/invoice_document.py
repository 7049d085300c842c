"""The EDI document of an invoice: lines, allowances and charges, taxes, parties.

DESIGN.md's `Invoice` names "for EDI, its document". These records carry it, so
the EDI builders (`edi.build_x12`) turn one canonical invoice into an X12 810 or
an EDIFACT INVOIC without knowing the host it came from. Quantities and unit
prices are Decimals (prices may carry more decimals than the currency); amounts
are `Money`. Never float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from mappings.money import Money, MoneyError
from mappings.records import EdiStatusWrite, Invoice


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


# ---------------------------------------------------------------------------------------
# An invoice's document read from rows (the odbc host's statements, the soap host's
# records shaped the same way): values as text, Decimal or int, never float.


class DocumentRowError(ValueError):
    """A row arlink cannot read: names the invoice or statement, the column, what was
    expected and what was found (the odbc mapping's `OdbcRowError` is one)."""


def _exact_text(value: Any, where: str, what: str) -> str:
    """A numeric column's value as text: text, Decimal or int. A float is refused: its
    digits may already be lost (select the column as text, as the shipped mappings do)."""
    if isinstance(value, float):
        raise DocumentRowError(
            f"{where}: the driver returned a float ({value!r}); select the column as text "
            "(CAST(... AS VARCHAR(40))) in the mapping"
        )
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise DocumentRowError(f"{where}: expected {what}, found {value!r}")
    return value if isinstance(value, str) else str(value)


def money_from_row(value: Any, currency: str, where: str) -> Money:
    """A money column as `Money`: text, Decimal or int (`_exact_text`)."""
    text = _exact_text(value, where, "an amount")
    try:
        return Money.parse(text, currency)
    except MoneyError as exc:
        raise DocumentRowError(f"{where}: {exc}") from None


def text_from_row(value: Any) -> str | None:
    """A text column, stripped; None when empty."""
    return None if value is None or value == "" else str(value).strip()


def required_column(row: Mapping[str, Any], column: str, where: str) -> Any:
    """The value of `column`, which the row must have and must not leave empty."""
    if column not in row:
        raise DocumentRowError(f"{where}: the query returns no column `{column}`")
    value = row[column]
    if value is None or value == "":
        raise DocumentRowError(f"{where}: column `{column}` is empty")
    return value


def decimal_from_row(value: Any, where: str) -> Decimal:
    """A quantity, price or percent column as a Decimal: text, Decimal or int; a float is
    refused like money's (select it as text)."""
    text = _exact_text(value, where, "a number")
    try:
        number = Decimal(text.strip())
    except ArithmeticError:
        raise DocumentRowError(f"{where}: expected a number, found {value!r}") from None
    if not number.is_finite():
        raise DocumentRowError(f"{where}: expected a number, found {value!r}")
    # The column's scale is storage, not meaning: NUMERIC(18,6)'s 10.000000 is 10.
    return (
        number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
    )


def _whole_from_row(value: Any, where: str) -> int:
    number = decimal_from_row(value, where)
    if number != number.to_integral_value():
        raise DocumentRowError(f"{where}: expected a whole number, found {value!r}")
    return int(number)


@dataclass(frozen=True, slots=True)
class DocumentRows:
    """What the `documents.*` statements returned for one invoice."""

    lines: list[Mapping[str, Any]]
    allowances: list[Mapping[str, Any]]
    taxes: list[Mapping[str, Any]]
    parties: list[Mapping[str, Any]]
    terms: list[Mapping[str, Any]]


def _allowance_from(row: Mapping[str, Any], currency: str, where: str) -> AllowanceCharge:
    kind = str(required_column(row, "kind", where)).strip().upper()
    if kind not in ("A", "C"):
        raise DocumentRowError(f"{where}: column `kind` must be 'A' or 'C', found {kind!r}")
    return AllowanceCharge(
        kind=kind,
        code=str(required_column(row, "code", where)).strip(),
        amount=money_from_row(required_column(row, "amount", where), currency, f"{where} `amount`"),
        description=text_from_row(row.get("description")) or "",
    )


def document_from(invoice: Invoice, rows: DocumentRows) -> InvoiceDocument:
    """An invoice's EDI document from its header and the `documents.*` rows. Raise
    `DocumentRowError` naming the invoice, the statement and the column of a bad row."""
    where = f"invoice {invoice.invoice_id}"
    if invoice.issue_date is None:
        raise DocumentRowError(f"{where}: needs an issue date for EDI (ar_open_items.issue_date)")
    currency = invoice.currency
    extras: dict[str, list[AllowanceCharge]] = {}
    summary = []
    for row in rows.allowances:
        item = _allowance_from(row, currency, f"documents.allowances {where}")
        line_number = text_from_row(row.get("line_number"))
        if line_number is None:
            summary.append(item)
        else:
            extras.setdefault(line_number, []).append(item)
    lines = []
    for row in rows.lines:
        number = str(required_column(row, "line_number", f"documents.lines {where}")).strip()
        at = f"documents.lines {where} line {number}"
        lines.append(
            DocumentLine(
                line_number=number,
                product_qualifier=text_from_row(row.get("product_qualifier")) or "VN",
                product_id=str(required_column(row, "product_id", at)).strip(),
                quantity=decimal_from_row(required_column(row, "quantity", at), f"{at} `quantity`"),
                unit=str(required_column(row, "unit", at)).strip(),
                unit_price=decimal_from_row(
                    required_column(row, "unit_price", at), f"{at} `unit_price`"
                ),
                description=text_from_row(row.get("description")) or "",
                allowances_charges=tuple(extras.pop(number, ())),
            )
        )
    if extras:
        raise DocumentRowError(
            f"documents.allowances {where}: no line {', '.join(map(repr, sorted(extras)))}"
        )
    at = f"documents.taxes {where}"
    taxes = tuple(
        TaxAmount(
            tax_type=str(required_column(row, "tax_type", at)).strip(),
            amount=money_from_row(required_column(row, "amount", at), currency, f"{at} `amount`"),
            percent=None
            if row.get("percent") is None
            else decimal_from_row(row["percent"], f"{at} `percent`"),
        )
        for row in rows.taxes
    )
    at = f"documents.parties {where}"
    parties = tuple(
        Party(
            role=str(required_column(row, "role", at)).strip(),
            name=str(required_column(row, "name", at)).strip(),
            id_qualifier=text_from_row(row.get("id_qualifier")) or "",
            party_id=text_from_row(row.get("party_id")) or "",
        )
        for row in rows.parties
    )
    return InvoiceDocument(
        invoice_number=invoice.number,
        invoice_date=invoice.issue_date,
        currency=currency,
        lines=tuple(lines),
        po_number=invoice.po_number or "",
        allowances_charges=tuple(summary),
        taxes=taxes,
        parties=parties,
        terms=_terms_from(rows.terms, invoice, f"documents.terms {where}"),
    )


def _terms_from(
    rows: Sequence[Mapping[str, Any]], invoice: Invoice, where: str
) -> PaymentTerms | None:
    if not rows:
        return None
    if len(rows) > 1:
        raise DocumentRowError(f"{where}: expected one row of terms, found {len(rows)}")
    (row,) = rows
    percent, days = row.get("discount_percent"), row.get("discount_days")
    return PaymentTerms(
        net_days=_whole_from_row(required_column(row, "net_days", where), f"{where} `net_days`"),
        discount_percent=None
        if percent is None
        else decimal_from_row(percent, f"{where} `discount_percent`"),
        discount_days=None if days is None else _whole_from_row(days, f"{where} `discount_days`"),
        net_due_date=invoice.due_date,
    )


# What the clerk does about an EDI exception, by status.
_CORRECT_IT = "Correct the invoice in the ERP: arlink builds and sends it on its next run."
_EDI_HINTS = {
    "invalid": _CORRECT_IT,
    "rejected": _CORRECT_IT,
    "overdue": "No acknowledgment by the partner's deadline: ask the partner if it arrived.",
}


def edi_exception_details(write: EdiStatusWrite) -> str:
    """The text of an EDI exception for the clerk: the invoice, partner, status, findings,
    and what to do."""
    return (
        f"EDI invoice {write.invoice_number} to {write.partner}: {write.status}: "
        f"{write.message}. {_EDI_HINTS.get(write.status, '')}"
    ).strip()
