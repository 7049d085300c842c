"""How a Salesforce org's objects and fields map onto arlink's records.

A mapping file (`mappings/salesforce/<name>.toml`) names the objects and fields the
`salesforce` books host reads and writes: customers (Account), open invoices, payments
and their allocations to invoices, write-offs, and the Task or Case a clerk works an
exception from. The shipped `billing.toml` fits Salesforce Billing (`blng__` objects);
`invoice_custom.toml` fits an org with its own `Invoice__c`: a customised org copies a
file and edits names, never code.

Conditions (`open_where`, `changed_where`, `where`) are SOQL fragments written by the
admin; the connector only ANDs its own cursor onto them and formats every value it adds
from data with simple-salesforce's escaping. This module is pure: it parses TOML and
turns rows (REST JSON or Bulk 2.0 CSV text) into canonical records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mappings.invoice_document import DocumentLine, InvoiceDocument, Party, TaxAmount
from mappings.money import Money, MoneyError, money_from_wire
from mappings.records import Customer, Invoice
from mappings.toml_file import read_toml

MAPPINGS = Path(__file__).with_name("salesforce")
DEFAULT_MAPPING = MAPPINGS / "billing.toml"
ACTIONS = ("apply", "on_account", "not_ours")


class SalesforceMappingError(ValueError):
    """A mapping file that is not what the connector needs; names the key and the file."""


class SalesforceRowError(ValueError):
    """A row from Salesforce that cannot become a canonical record (names record and field)."""


@dataclass(frozen=True, slots=True)
class ObjectMap:
    """One Salesforce object: its API name, the canonical-to-field names, an optional
    External ID field carrying arlink's key, and constant values written on create."""

    name: str
    fields: dict[str, str]
    key: str | None = None
    values: tuple[tuple[str, Any], ...] = ()

    def field(self, canonical: str) -> str | None:
        return self.fields.get(canonical)

    def wanted(self) -> set[str]:
        """Every field of this object arlink reads or writes (for `check()`)."""
        names = set(self.fields.values()) | {name for name, _ in self.values}
        return names | ({self.key} if self.key else set())


@dataclass(frozen=True, slots=True)
class InvoiceLinesMap:
    """Where an invoice's EDI document lives (`[invoice_lines]`): the line object and its
    fields, the codes the org has no field for, and the account fields naming the bill-to
    party (`party_name`, `party_id`, on the customers object)."""

    lines: ObjectMap
    product_qualifier: str
    unit: str
    tax_type: str
    party_role: str
    party_id_qualifier: str

    def party_fields(self) -> list[str]:
        return [self.lines.fields[k] for k in ("party_name", "party_id") if k in self.lines.fields]

    def line_fields(self) -> list[str]:
        return [v for k, v in self.lines.fields.items() if not k.startswith("party_")]


@dataclass(frozen=True, slots=True)
class SalesforceMapping:
    """The objects, fields and conditions of one org (see `salesforce/billing.toml`)."""

    customers: ObjectMap
    customer_where: str
    invoices: ObjectMap
    open_where: str
    changed_where: str
    payments: ObjectMap
    allocations: ObjectMap
    write_offs: ObjectMap
    exceptions: ObjectMap
    exception_link: str  # "invoice" or "account": what the exception's link field points at
    done_status: str
    resolutions: dict[str, str]  # value of the resolution field -> "apply" | ...
    source: Path
    invoice_lines: InvoiceLinesMap | None = None  # EDI documents; None: not available

    @classmethod
    def load(cls, path: Path | str | None = None) -> SalesforceMapping:
        """Read a mapping file: a path, or the name of a shipped one (`billing`, the
        default, or `invoice_custom`). Every problem is reported at once."""
        source = Path(path) if path is not None else DEFAULT_MAPPING
        if not source.suffix and not source.exists():
            source = MAPPINGS / f"{source.name}.toml"
        raw = read_toml(source, SalesforceMappingError)
        r = _Reader(raw, source)
        mapping = cls(
            customers=r.object("customers", ("name", "modified"), ("parent",), keyed=False),
            customer_where=r.optional_text("customers.where"),
            invoices=r.object(
                "invoices",
                ("number", "customer", "total", "open_amount", "modified"),
                ("issue_date", "due_date", "status", "currency", "po_number", "payment_terms"),
                keyed=False,
            ),
            open_where=r.text("invoices.open_where"),
            changed_where=r.optional_text("invoices.changed_where"),
            payments=r.object("payments", ("account", "amount"), ("date", "reference")),
            allocations=r.object("allocations", ("payment", "invoice", "amount"), ()),
            write_offs=r.object("write_offs", ("invoice", "amount"), ("account", "date", "reason")),
            exceptions=r.object(
                "exceptions",
                ("link", "subject", "description", "status", "payment", "resolution", "modified"),
                ("resolved_invoice", "owner", "due_date"),
            ),
            exception_link=r.choice("exceptions.link_to", ("invoice", "account")),
            done_status=r.text("exceptions.done_status"),
            resolutions=r.resolutions("exceptions.resolutions"),
            source=source,
            invoice_lines=r.invoice_lines() if "invoice_lines" in raw else None,
        )
        r.done()
        return mapping

    def objects(self) -> dict[str, set[str]]:
        """Every object and field the connector reads or writes, for `check()`."""
        wanted: dict[str, set[str]] = {}
        for obj in (
            self.customers,
            self.invoices,
            self.payments,
            self.allocations,
            self.write_offs,
            self.exceptions,
        ):
            wanted.setdefault(obj.name, set()).update(obj.wanted() | {"Id"})
        if self.invoice_lines is not None:
            edi = self.invoice_lines
            wanted.setdefault(edi.lines.name, set()).update({*edi.line_fields(), "Id"})
            wanted[self.customers.name].update(edi.party_fields())
        return wanted

    def keyed(self) -> tuple[ObjectMap, ...]:
        """The objects whose `key` field must be an External ID (upserted by key)."""
        return (self.payments, self.allocations, self.write_offs)

    def written(self) -> list[tuple[str, str, set[str]]]:
        """What the connector writes, as (object, "createable" or "updateable", fields):
        an upsert creates or edits every field it sends; an exception is created with its
        text and link, and later edited to its status and resolution (`check()`)."""
        rights = []
        for obj in self.keyed():
            names = {n for n in obj.wanted() if n != obj.fields.get("modified")}
            rights += [(obj.name, "createable", names), (obj.name, "updateable", names)]
        ex = self.exceptions
        read_only = {ex.fields.get(n) for n in ("modified", "resolution", "resolved_invoice")}
        created = {n for n in ex.wanted() if n not in read_only}
        updated = {ex.fields[n] for n in ("status", "resolution")}
        return [*rights, (ex.name, "createable", created), (ex.name, "updateable", updated)]


class _Reader:
    """Reads dotted keys from the parsed TOML, collecting every problem."""

    def __init__(self, raw: dict[str, Any], source: Path) -> None:
        self.raw, self.source, self.problems = raw, source, list[str]()

    def _node(self, key: str) -> Any:
        node: Any = self.raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def text(self, key: str) -> str:
        node = self._node(key)
        if not isinstance(node, str) or not node.strip():
            self.problems.append(f"`{key}`: expected a text, found {node!r}")
            return ""
        return node

    def optional_text(self, key: str) -> str:
        node = self._node(key)
        if node is not None and not isinstance(node, str):
            self.problems.append(f"`{key}`: expected a text, found {node!r}")
            return ""
        return node or ""

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        node = self._node(key)
        if node not in allowed:
            self.problems.append(f"`{key}`: expected one of {', '.join(allowed)}, found {node!r}")
            return allowed[0]
        return str(node)

    def object(
        self, section: str, required: Sequence[str], optional: Sequence[str], keyed: bool = True
    ) -> ObjectMap:
        name = self.text(f"{section}.object")
        table = self._node(f"{section}.fields")
        if not isinstance(table, dict):
            self.problems.append(f"`{section}.fields`: expected a table, found {table!r}")
            table = {}
        for canonical in required:
            if not isinstance(table.get(canonical), str):
                self.problems.append(
                    f"`{section}.fields.{canonical}`: expected a field name, found nothing"
                )
        for canonical, value in table.items():
            if canonical not in (*required, *optional):
                self.problems.append(f"`{section}.fields.{canonical}`: not a field arlink knows")
            elif not isinstance(value, str):
                self.problems.append(
                    f"`{section}.fields.{canonical}`: expected a field name, found {value!r}"
                )
        values = self._node(f"{section}.values") or {}
        if not isinstance(values, dict):
            self.problems.append(f"`{section}.values`: expected a table, found {values!r}")
            values = {}
        return ObjectMap(
            name=name,
            fields={k: v for k, v in table.items() if isinstance(v, str)},
            key=self.text(f"{section}.key") if keyed else None,
            values=tuple(sorted(values.items())),
        )

    def resolutions(self, key: str) -> dict[str, str]:
        table = self._node(key)
        if not isinstance(table, dict) or not table:
            self.problems.append(f"`{key}`: expected a table of value = action, found {table!r}")
            return {}
        for value, action in table.items():
            if action not in ACTIONS:
                self.problems.append(
                    f"`{key}.{value}`: expected one of {', '.join(ACTIONS)}, found {action!r}"
                )
        return {value: action for value, action in table.items() if action in ACTIONS}

    def invoice_lines(self) -> InvoiceLinesMap:
        lines = self.object(
            "invoice_lines",
            ("invoice", "line_number", "product_id", "quantity", "unit_price"),
            ("unit", "description", "tax", "party_name", "party_id"),
            keyed=False,
        )
        return InvoiceLinesMap(
            lines,
            product_qualifier=self.text("invoice_lines.product_qualifier"),
            unit=self.text("invoice_lines.unit"),
            tax_type=self.text("invoice_lines.tax_type"),
            party_role=self.text("invoice_lines.party_role"),
            party_id_qualifier=self.optional_text("invoice_lines.party_id_qualifier"),
        )

    def done(self) -> None:
        if self.problems:
            raise SalesforceMappingError(
                f"{self.source}: "
                + "; ".join(self.problems)
                + " (see mappings/salesforce/billing.toml)"
            )


# ---------------------------------------------------------------------------------------
# Values as Salesforce sends them: REST JSON (numbers, null) or Bulk 2.0 CSV (text, "")


def sf_text(value: Any) -> str | None:
    """A text value; null (JSON) and "" (Bulk CSV) are both empty."""
    return None if value is None or value == "" else str(value)


def sf_date(value: Any, where: str) -> date | None:
    text = sf_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise SalesforceRowError(f"{where}: expected a date, found {text!r}") from None


def sf_datetime(value: Any, where: str) -> datetime | None:
    """`2026-11-02T10:15:00.000+0000` (REST) or `...Z` (Bulk) as an aware datetime."""
    text = sf_text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise SalesforceRowError(f"{where}: expected a datetime, found {text!r}") from None


def soql_datetime(moment: datetime) -> str:
    """A cursor as a SOQL datetime literal: UTC, truncated to the second (SOQL literals
    carry no fractions), so a `>=` bound re-reads that second rather than skip it."""
    if moment.tzinfo is None:
        raise SalesforceMappingError(f"a cursor must be timezone-aware, found {moment.isoformat()}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money_from_sf(value: Any, currency: str, where: str) -> Money:
    """A currency field as exact `Money` (`money_from_wire`): JSON numbers arrive as floats,
    Bulk CSV sends text."""
    if value is None or value == "":
        raise SalesforceRowError(f"{where}: expected an amount, found {value!r}")
    try:
        return money_from_wire(value, currency)
    except MoneyError as exc:
        raise SalesforceRowError(f"{where}: {exc}") from None


def money_to_sf(amount: Money) -> float:
    """Money as the JSON number Salesforce's REST API takes (simple-salesforce encodes
    with `json.dumps`, which has no Decimal). Exact below 2**53 minor units."""
    return float(amount.to_decimal())


def customer_from(row: Mapping[str, Any], mapping: SalesforceMapping) -> Customer:
    """An Account row as a `Customer`."""
    obj = mapping.customers
    parent = obj.field("parent")
    return Customer(
        customer_id=str(row["Id"]),
        name=sf_text(row.get(obj.fields["name"])) or "",
        parent_id=sf_text(row.get(parent)) if parent else None,
        modified=sf_datetime(row.get(obj.fields["modified"]), f"{obj.name} {row.get('Id')}"),
    )


def invoice_from(row: Mapping[str, Any], mapping: SalesforceMapping, currency: str) -> Invoice:
    """An invoice row as an `Invoice`; `currency` is the org's when the mapping names no
    currency field. `status` is "open" while a balance remains, else the host's status."""
    obj = mapping.invoices
    f = obj.fields
    where = f"{obj.name} {row.get('Id')}"

    def optional(canonical: str) -> Any:
        name = f.get(canonical)
        return row.get(name) if name else None

    code = sf_text(optional("currency")) or currency
    customer = sf_text(row.get(f["customer"]))
    if customer is None:
        raise SalesforceRowError(f"{where}: field `{f['customer']}` is empty")
    total = money_from_sf(row.get(f["total"]), code, f"{where} `{f['total']}`")
    open_amount = money_from_sf(row.get(f["open_amount"]), code, f"{where} `{f['open_amount']}`")
    status = sf_text(optional("status")) or ""
    return Invoice(
        invoice_id=str(row["Id"]),
        number=sf_text(row.get(f["number"])) or "",
        customer_id=customer,
        total=total,
        open_amount=open_amount,
        issue_date=sf_date(optional("issue_date"), f"{where} `{f.get('issue_date')}`"),
        due_date=sf_date(optional("due_date"), f"{where} `{f.get('due_date')}`"),
        po_number=sf_text(optional("po_number")),
        discount_terms=sf_text(optional("payment_terms")),
        status="open" if open_amount.minor > 0 else (status or "closed"),
        modified=sf_datetime(row.get(f["modified"]), f"{where} `{f['modified']}`"),
    )


# ---------------------------------------------------------------------------------------
# EDI documents


def _quantity(value: Any, where: str) -> Decimal:
    """A number field (JSON float or Bulk text) as a Decimal, through its shortest repr."""
    if isinstance(value, bool) or value is None or value == "":
        raise SalesforceRowError(f"{where}: expected a number, found {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise SalesforceRowError(f"{where}: expected a number, found {value!r}") from None
    # 10.0 from JSON is 10: the quantity, not its float form.
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def document_from(
    invoice: Invoice,
    lines: Sequence[Mapping[str, Any]],
    account: Mapping[str, Any] | None,
    mapping: SalesforceMapping,
) -> InvoiceDocument:
    """An invoice's EDI document from its line rows (sorted by line number) and its account
    row (the bill-to party). Line taxes are summed into one tax of `tax_type`."""
    edi = mapping.invoice_lines
    if edi is None:
        raise SalesforceMappingError(f"{mapping.source}: no `[invoice_lines]`")
    f = edi.lines.fields
    where = f"{mapping.invoices.name} {invoice.invoice_id}"
    if invoice.issue_date is None:
        raise SalesforceRowError(f"{where}: needs an invoice date for EDI")
    document_lines = []
    tax = Money.zero(invoice.currency)
    for row in sorted(lines, key=lambda r: str(r.get(f["line_number"]) or "")):
        at = f"{edi.lines.name} {row.get('Id')}"
        product = sf_text(row.get(f["product_id"]))
        if product is None:
            raise SalesforceRowError(f"{at}: field `{f['product_id']}` is empty")
        document_lines.append(
            DocumentLine(
                line_number=sf_text(row.get(f["line_number"])) or "",
                product_qualifier=edi.product_qualifier,
                product_id=product,
                quantity=_quantity(row.get(f["quantity"]), f"{at} `{f['quantity']}`"),
                unit=(sf_text(row.get(f["unit"])) if "unit" in f else None) or edi.unit,
                unit_price=_quantity(row.get(f["unit_price"]), f"{at} `{f['unit_price']}`"),
                description=(sf_text(row.get(f["description"])) if "description" in f else "")
                or "",
            )
        )
        if "tax" in f and row.get(f["tax"]) not in (None, ""):
            tax += money_from_sf(row[f["tax"]], invoice.currency, f"{at} `{f['tax']}`")
    parties: tuple[Party, ...] = ()
    if account is not None and "party_name" in f:
        name = sf_text(account.get(f["party_name"]))
        party_id = (sf_text(account.get(f["party_id"])) if "party_id" in f else None) or ""
        if name:
            qualifier = edi.party_id_qualifier if party_id else ""
            parties = (Party(edi.party_role, name, qualifier, party_id),)
    return InvoiceDocument(
        invoice_number=invoice.number,
        invoice_date=invoice.issue_date,
        currency=invoice.currency,
        lines=tuple(document_lines),
        po_number=invoice.po_number or "",
        taxes=(TaxAmount(edi.tax_type, tax),) if tax.minor else (),
        parties=parties,
    )
