"""How Odoo's records map onto the canonical ones: the `odoo.toml` mapping and its readers.

The mapping file names the models, fields and domains (`mappings/odoo.toml` ships the
defaults of a standard Odoo 16/17/18); the functions here turn the rows Odoo's
`search_read` returns into `Customer`s and `Invoice`s. Odoo returns monetary fields
as floats: they are read back through the currency's decimal places into `Money`,
never kept as floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from mappings.invoice_document import DocumentLine, InvoiceDocument, Party, TaxAmount
from mappings.money import Money, MoneyError, currency_exponent, money_from_wire
from mappings.records import Customer, Invoice
from mappings.toml_file import read_toml

DEFAULT_MAPPING = Path(__file__).with_name("odoo.toml")
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"  # Odoo's UTC text for datetimes (`write_date`)

Domain = list[Any]


class OdooMappingError(ValueError):
    """A mapping file that is not what the connector needs; names the key and the file."""


class OdooRowError(ValueError):
    """A row from Odoo that cannot become a canonical record (names the record and field)."""


@dataclass(frozen=True, slots=True)
class OdooMapping:
    """The models, fields and domains of one Odoo database (see `odoo.toml`)."""

    customer_model: str
    customer_domain: Domain
    customer_fields: dict[str, str]
    bank_model: str
    bank_number: str
    bank_partner: str
    invoice_model: str
    open_domain: Domain
    changed_domain: Domain
    open_states: tuple[str, ...]
    invoice_fields: dict[str, str]
    payment_model: str
    wizard_model: str
    payment_invoices: str
    payment_amount: str
    payment_currency: str
    payment_modified: str
    memo_by_version: dict[int, str]
    activity_model: str
    activity_type: str
    message_model: str
    source: Path

    @classmethod
    def load(cls, path: Path | None = None) -> OdooMapping:
        """Read a mapping file (default: the shipped `odoo.toml`); every problem at once."""
        source = path or DEFAULT_MAPPING
        raw = read_toml(source, OdooMappingError)
        reader = _Reader(raw, source)
        mapping = cls(
            customer_model=reader.text("customers.model"),
            customer_domain=reader.domain("customers.domain"),
            customer_fields=reader.names(
                "customers.fields", ("name", "parent", "bank_accounts", "modified")
            ),
            bank_model=reader.text("bank_accounts.model"),
            bank_number=reader.text("bank_accounts.number"),
            bank_partner=reader.text("bank_accounts.partner"),
            invoice_model=reader.text("invoices.model"),
            open_domain=reader.domain("invoices.open_domain"),
            changed_domain=reader.domain("invoices.changed_domain"),
            open_states=tuple(reader.value("invoices.open_states", list)),
            invoice_fields=reader.names(
                "invoices.fields",
                (
                    "number",
                    "po_number",
                    "customer",
                    "issue_date",
                    "due_date",
                    "currency",
                    "total",
                    "open_amount",
                    "status",
                    "payment_terms",
                    "modified",
                ),
            ),
            payment_model=reader.text("payments.model"),
            wizard_model=reader.text("payments.wizard"),
            payment_invoices=reader.text("payments.invoices"),
            payment_amount=reader.text("payments.amount"),
            payment_currency=reader.text("payments.currency"),
            payment_modified=reader.text("payments.modified"),
            memo_by_version={
                int(version): name
                for version, name in reader.value("payments.memo", dict).items()
                if str(version).isdigit() and isinstance(name, str)
            },
            activity_model=reader.text("exceptions.activity_model"),
            activity_type=reader.text("exceptions.activity_type"),
            message_model=reader.text("exceptions.message_model"),
            source=source,
        )
        reader.done()
        return mapping

    def memo_field(self, version: int) -> str:
        """The payment field holding free text (`ref` up to 17, `memo` from 18)."""
        try:
            return self.memo_by_version[version]
        except KeyError:
            raise OdooMappingError(
                f"{self.source}: `payments.memo` has no field for Odoo {version}"
            ) from None

    def fields_by_model(self, version: int) -> dict[str, set[str]]:
        """Every model and field the connector reads or writes, for `check()`."""
        customer = set(self.customer_fields.values()) | {"display_name"}
        return {
            self.customer_model: customer | _domain_fields(self.customer_domain),
            self.bank_model: {self.bank_number, self.bank_partner},
            self.invoice_model: set(self.invoice_fields.values())
            | _domain_fields(self.open_domain)
            | _domain_fields(self.changed_domain),
            self.payment_model: {
                self.memo_field(version),
                self.payment_invoices,
                self.payment_amount,
                self.payment_currency,
                self.payment_modified,
            },
            self.wizard_model: {
                "payment_date",
                "journal_id",
                "amount",
                "communication",
                "group_payment",
                "payment_difference_handling",
                "writeoff_account_id",
                "writeoff_label",
            },
            self.activity_model: {
                "res_model_id",
                "res_id",
                "activity_type_id",
                "summary",
                "note",
                "user_id",
                "date_deadline",
            },
            self.message_model: {"model", "res_id", "body", "mail_activity_type_id", "date"},
        }

    def customer_read_fields(self) -> list[str]:
        return sorted(set(self.customer_fields.values()) | {"id"})

    def invoice_read_fields(self) -> list[str]:
        return sorted(set(self.invoice_fields.values()) | {"id"})


def _domain_fields(domain: Domain) -> set[str]:
    return {leaf[0].split(".")[0] for leaf in domain if isinstance(leaf, list)}


class _Reader:
    """Reads dotted keys from the parsed TOML, collecting every problem."""

    def __init__(self, raw: dict[str, Any], source: Path) -> None:
        self.raw, self.source, self.problems = raw, source, list[str]()

    def value(self, key: str, kind: type) -> Any:
        node: Any = self.raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, kind):
            self.problems.append(f"`{key}`: expected a {kind.__name__}, found {node!r}")
            return kind()
        return node

    def text(self, key: str) -> str:
        return self.value(key, str)

    def names(self, key: str, required: Sequence[str]) -> dict[str, str]:
        table = self.value(key, dict)
        for name in required:
            if not isinstance(table.get(name), str):
                self.problems.append(f"`{key}.{name}`: expected a field name, found nothing")
        return {name: table[name] for name in required if isinstance(table.get(name), str)}

    def domain(self, key: str) -> Domain:
        domain = self.value(key, list)
        for term in domain:
            leaf = isinstance(term, list) and len(term) == 3 and isinstance(term[0], str)
            if not (leaf or term in ("&", "|", "!")):
                self.problems.append(
                    f'`{key}`: expected "&", "|", "!" or [field, operator, value], found {term!r}'
                )
        return domain

    def done(self) -> None:
        if self.problems:
            raise OdooMappingError(
                f"{self.source}: " + "; ".join(self.problems) + " (see mappings/odoo.toml)"
            )


# ---------------------------------------------------------------------------------------
# Reading values as Odoo sends them


def many2one_id(value: Any) -> int | None:
    """`[id, "name"]` -> id; False (unset) -> None."""
    return int(value[0]) if isinstance(value, list) and value else None


def many2one_name(value: Any) -> str | None:
    return str(value[1]) if isinstance(value, list) and len(value) > 1 else None


def odoo_text(value: Any) -> str | None:
    """Odoo sends False for an empty char/text field."""
    return None if value is False or value is None or value == "" else str(value)


def odoo_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def odoo_datetime(value: Any) -> datetime | None:
    """`write_date` text (UTC, no zone) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.strptime(value[:19], ODOO_DATETIME).replace(tzinfo=UTC)


def odoo_datetime_text(moment: datetime) -> str:
    """A datetime as Odoo's domain wants it: UTC, `YYYY-MM-DD HH:MM:SS` (no `T`, no zone)."""
    if moment.tzinfo is None:
        raise OdooMappingError(f"a cursor must be timezone-aware, found {moment.isoformat()}")
    return moment.astimezone(UTC).strftime(ODOO_DATETIME)


def money_from_odoo(value: Any, currency: str, where: str) -> Money:
    """An Odoo float amount as exact `Money` (`money_from_wire`); an integer is fine too."""
    if not isinstance(value, int | float):
        raise OdooRowError(f"{where}: expected an amount, found {value!r}")
    try:
        return money_from_wire(value, currency)
    except MoneyError as exc:
        raise OdooRowError(f"{where}: {exc}") from None


def money_to_odoo(amount: Money) -> float:
    """Money as the float Odoo's XML-RPC expects. Exact for any amount below 2**53 minor
    units, and Odoo rounds it to the currency on write."""
    return float(amount.to_decimal())


def customer_from(row: Mapping[str, Any], mapping: OdooMapping, banks: Sequence[str]) -> Customer:
    """A `res.partner` row (and its bank account numbers) as a `Customer`."""
    fields = mapping.customer_fields
    parent = many2one_id(row.get(fields["parent"]))
    return Customer(
        customer_id=str(row["id"]),
        name=odoo_text(row.get(fields["name"])) or "",
        parent_id=str(parent) if parent else None,
        bank_accounts=tuple(banks),
        modified=odoo_datetime(row.get(fields["modified"])),
    )


def invoice_from(row: Mapping[str, Any], mapping: OdooMapping) -> Invoice:
    """An `account.move` row as an `Invoice`; `status` is "open" or Odoo's payment state."""
    fields = mapping.invoice_fields
    where = f"{mapping.invoice_model} {row['id']}"
    currency = many2one_name(row.get(fields["currency"]))
    customer = many2one_id(row.get(fields["customer"]))
    if not currency:
        raise OdooRowError(f"{where}: field `{fields['currency']}` is empty")
    if customer is None:
        raise OdooRowError(f"{where}: field `{fields['customer']}` is empty")
    state = odoo_text(row.get(fields["status"])) or ""
    return Invoice(
        invoice_id=str(row["id"]),
        number=odoo_text(row.get(fields["number"])) or "",
        customer_id=str(customer),
        total=money_from_odoo(row.get(fields["total"]), currency, f"{where} `{fields['total']}`"),
        open_amount=money_from_odoo(
            row.get(fields["open_amount"]), currency, f"{where} `{fields['open_amount']}`"
        ),
        issue_date=odoo_date(row.get(fields["issue_date"])),
        due_date=odoo_date(row.get(fields["due_date"])),
        po_number=odoo_text(row.get(fields["po_number"])),
        discount_terms=many2one_name(row.get(fields["payment_terms"])),
        status="open" if state in mapping.open_states else state,
        modified=odoo_datetime(row.get(fields["modified"])),
    )


# ---------------------------------------------------------------------------------------
# EDI invoice documents (the `[edi]` table of the mapping)

_EDI_LINE_FIELDS = (
    "description", "product", "unit", "quantity", "unit_price", "discount", "taxes",
    "subtotal", "sequence",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OdooEdiMapping:
    """Where an invoice's EDI document is in Odoo (`[edi]` in `odoo.toml`)."""

    line_model: str
    line_invoice: str
    line_domain: Domain
    line_fields: dict[str, str]
    product_model: str
    tax_model: str
    party_model: str
    tax_type: str
    party_ref: str
    party_ref_qualifier: str
    parties: dict[str, str]
    units: dict[str, str]

    @classmethod
    def load(cls, path: Path | None = None) -> OdooEdiMapping:
        """The `[edi]` table of a mapping file; a file without one gets the shipped table."""
        source = path or DEFAULT_MAPPING
        raw = read_toml(source, OdooMappingError)
        if "edi" not in raw and source != DEFAULT_MAPPING:
            return cls.load(DEFAULT_MAPPING)
        reader = _Reader(raw, source)
        mapping = cls(
            line_model=reader.text("edi.line_model"),
            line_invoice=reader.text("edi.line_invoice"),
            line_domain=reader.domain("edi.line_domain"),
            line_fields=reader.names("edi.line_fields", _EDI_LINE_FIELDS),
            product_model=reader.text("edi.product_model"),
            tax_model=reader.text("edi.tax_model"),
            party_model=reader.text("edi.party_model"),
            tax_type=reader.text("edi.tax_type"),
            party_ref=reader.text("edi.party_ref"),
            party_ref_qualifier=reader.text("edi.party_ref_qualifier"),
            parties=dict(reader.value("edi.parties", dict)),
            units=dict(reader.value("edi.units", dict)),
        )
        reader.done()
        return mapping

    def line_read_fields(self) -> list[str]:
        return [self.line_invoice, *self.line_fields.values()]

    def invoice_read_fields(self, invoice_fields: Mapping[str, str]) -> list[str]:
        names = ("number", "issue_date", "currency", "po_number", "due_date")
        return [invoice_fields[name] for name in names] + list(self.parties.values())


@dataclass(frozen=True, slots=True)
class EdiRelated:
    """The records an invoice's lines and parties point to, read by id."""

    products: Mapping[int, Mapping[str, Any]]
    taxes: Mapping[int, Mapping[str, Any]]
    partners: Mapping[int, Mapping[str, Any]]


def _product_id(product: Mapping[str, Any] | None) -> tuple[str, str]:
    """(qualifier, id): the internal reference as the vendor's item number (VN), else the
    barcode as a UPC (12 digits) or EAN/GTIN-13 (EN)."""
    if product is None:
        return "", ""
    code = odoo_text(product.get("default_code"))
    if code:
        return "VN", code
    barcode = odoo_text(product.get("barcode")) or ""
    return ("UP" if len(barcode) == 12 else "EN" if barcode else ""), barcode


def _rounded(amount: Decimal, currency: str) -> Money:
    unit = Decimal(1).scaleb(-currency_exponent(currency))
    return Money.parse(str(amount.quantize(unit, rounding=ROUND_HALF_UP)), currency)


def invoice_document_from(
    move: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    related: EdiRelated,
    invoice_fields: Mapping[str, str],
    edi: OdooEdiMapping,
) -> InvoiceDocument:
    """An `account.move` with its product lines as an `InvoiceDocument`.

    A line's discount is folded into its unit price (the partner sees the net price); each
    tax is computed per line on the line's subtotal and rounded there, as Odoo does by
    default, then summed per tax."""
    where = f"account.move {move['id']}"
    currency = many2one_name(move.get(invoice_fields["currency"]))
    issued = odoo_date(move.get(invoice_fields["issue_date"]))
    if not currency or issued is None:
        missing = invoice_fields["currency" if not currency else "issue_date"]
        raise OdooRowError(f"{where}: field `{missing}` is empty")
    f = edi.line_fields
    doc_lines, tax_sums = [], dict[int, Decimal]()
    for number, line in enumerate(
        sorted(lines, key=lambda r: (r.get(f["sequence"]) or 0, r["id"])), 1
    ):
        product = related.products.get(many2one_id(line.get(f["product"])) or 0)
        qualifier, product_id = _product_id(product)
        unit_name = many2one_name(line.get(f["unit"])) or ""
        price = Decimal(repr(float(line.get(f["unit_price"]) or 0)))
        discount = Decimal(repr(float(line.get(f["discount"]) or 0)))
        doc_lines.append(
            DocumentLine(
                line_number=str(number),
                product_qualifier=qualifier,
                product_id=product_id,
                quantity=Decimal(repr(float(line.get(f["quantity"]) or 0))),
                unit=edi.units.get(unit_name, unit_name),
                unit_price=(price * (1 - discount / 100)).normalize(),
                description=odoo_text(line.get(f["description"])) or "",
            )
        )
        subtotal = money_from_odoo(line.get(f["subtotal"]), currency, f"{where} line {line['id']}")
        for tax_id in line.get(f["taxes"]) or []:
            tax = related.taxes[tax_id]
            if tax.get("amount_type") == "percent":
                share = subtotal.to_decimal() * Decimal(repr(float(tax["amount"]))) / 100
                tax_sums[tax_id] = (
                    tax_sums.get(tax_id, Decimal(0)) + _rounded(share, currency).to_decimal()
                )
    parties = []
    for role, field_name in edi.parties.items():
        partner = related.partners.get(many2one_id(move.get(field_name)) or 0)
        if partner is not None:
            ref = odoo_text(partner.get(edi.party_ref)) or ""
            parties.append(
                Party(
                    role,
                    odoo_text(partner.get("name")) or "",
                    edi.party_ref_qualifier if ref else "",
                    ref,
                )
            )
    return InvoiceDocument(
        invoice_number=odoo_text(move.get(invoice_fields["number"])) or "",
        invoice_date=issued,
        currency=currency,
        lines=tuple(doc_lines),
        po_number=odoo_text(move.get(invoice_fields["po_number"])) or "",
        taxes=tuple(
            TaxAmount(
                edi.tax_type,
                Money.parse(str(amount), currency),
                Decimal(repr(float(related.taxes[tax_id]["amount"]))).normalize(),
            )
            for tax_id, amount in tax_sums.items()
        ),
        parties=tuple(parties),
    )
