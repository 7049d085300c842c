"""How a SOAP ERP's records map onto the canonical ones: `mappings/soap/*.toml` and readers.

A SOAP host is described by a mapping file, not code: which WSDL (relative to the
configured URL) holds each service, which operation reads customers and invoices,
which creates a payment application and an exception record, which filters and paging
the service understands, and which element holds each canonical field. Two paging and
filter styles cover the services seen in the field:

- `page` (Business Central-style page services): `ReadMultiple` with a list of
  `{Field, Criteria}` filters in BC's filter syntax and `bookmarkKey` paging;
- `operation` (a service with named request parameters): filters are parameters,
  paging follows a page token the answer hands back.

The functions here are pure: they turn rows (zeep objects serialised to dicts) into
`Customer`s, `Invoice`s and `Resolution`s, and writes into host records. Amounts arrive
as `xsd:decimal` (Decimal) or text and become `Money`; a float is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from mappings.exception_text import exception_lines
from mappings.invoice_document import (
    DocumentRowError,
    DocumentRows,
    InvoiceDocument,
    document_from,
    edi_exception_details,
)
from mappings.money import Money, MoneyError
from mappings.records import (
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
)
from mappings.toml_file import read_toml

MAPPINGS = Path(__file__).with_name("soap")
STYLES = ("page", "operation")
ACTIONS = ("apply", "on_account", "not_ours")

# Canonical names each section's `fields` table must, or may, map.
CUSTOMER_FIELDS = (("id", "name", "modified"), ("parent", "payment_terms", "bank_account"))
INVOICE_FIELDS = (
    ("id", "number", "customer", "currency", "total", "open_amount", "modified"),
    ("po_number", "issue_date", "due_date", "payment_terms"),
)
APPLICATION_FIELDS = (
    ("id", "key", "amount"),
    (
        "invoice_id",
        "invoice_number",
        "customer",
        "currency",
        "write_off",
        "discount",
        "date",
        "bank_reference",
        "memo",
    ),
)
EXCEPTION_FIELDS = (
    ("id", "key", "payment_id", "amount", "details", "action", "modified"),
    (
        "currency",
        "bank_reference",
        "payer",
        "value_date",
        "reason",
        "customer",
        "invoice_number",
        "resolved_invoice_number",
        "resolved_amount",
        "note",
        "version",  # a concurrency token the update must send back (BC's `Key`)
    ),
)
# EDI (optional sections): an invoice's document, one record per `record` kind (line,
# allowance, charge, tax, party, terms) as in the files host's invoice_lines.csv.
DOCUMENT_FIELDS = (
    ("id", "invoice_id", "record"),
    (
        "line_number",
        "product_qualifier",
        "product_id",
        "quantity",
        "unit",
        "unit_price",
        "description",
        "code",
        "amount",
        "percent",
        "role",
        "name",
        "id_qualifier",
        "party_id",
        "net_days",
        "discount_days",
    ),
)
DOCUMENT_RECORDS = ("line", "allowance", "charge", "tax", "party", "terms")
EDI_STATUS_FIELDS = (
    ("id", "key", "invoice_id", "status", "message"),
    ("invoice_number", "partner", "interchange_control"),
)


class SoapMappingError(ValueError):
    """A mapping file that is not what the connector needs; names the key and the file."""


class SoapRowError(ValueError):
    """A row from the host that cannot become a canonical record (names record and field)."""


@dataclass(frozen=True, slots=True)
class Service:
    """Where one WSDL is, and which of its services and ports to bind (None: the first)."""

    wsdl: str
    service: str | None
    port: str | None


@dataclass(frozen=True, slots=True)
class Paging:
    """How the service filters and pages (see the module docstring for the two styles)."""

    style: str
    size_param: str
    filter_param: str = ""  # page: the list of {Field, Criteria}
    bookmark_param: str = ""  # page: where the last record's bookmark goes
    bookmark_field: str = ""  # page: the record field holding its bookmark
    token_param: str = ""  # operation: where the page token goes
    next_token: str = ""  # operation: the answer's element holding the next token


@dataclass(frozen=True, slots=True)
class Query:
    """One read operation: its service, rows in the answer, filters and fields."""

    section: str
    service: str
    operation: str
    rows: str  # dotted path to the rows in zeep's answer ("" when it is the rows)
    filters: dict[str, str]  # role (since, ids, numbers, keys) -> host field or parameter
    where: dict[str, dict[str, str]]  # named constant filter (open, resolved) -> host terms
    fields: dict[str, str]  # canonical name -> host field


@dataclass(frozen=True, slots=True)
class Write:
    """A create operation, the parameter taking the record, constants, and its lookup."""

    query: Query  # how records of this kind are looked up (by `keys`) and read
    operation: str
    record: str
    constants: dict[str, str]
    # The update operation closing a record (exceptions: a decision taken in arlink web).
    update: str | None = None


@dataclass(frozen=True, slots=True)
class SoapMapping:
    """A SOAP host's services, operations and fields (see `mappings/soap/*.toml`)."""

    services: dict[str, Service]
    paging: Paging
    customers: Query
    invoices: Query
    applications: Write
    exceptions: Write
    actions: dict[str, str]  # host resolution value -> apply / on_account / not_ours
    blank_currency_is_local: bool  # BC: a blank currency code means the local currency
    source: Path
    documents: Query | None = None  # EDI: invoice documents (`[documents]`)
    edi_status: Write | None = None  # EDI: the status journal (`[edi_status]`)

    @classmethod
    def load(cls, path: Path | str) -> SoapMapping:
        """Read a mapping file: a path, or the name of a shipped one (`business_central`,
        `generic_invoice_service`). Every problem is reported at once."""
        source = Path(path)
        if not source.suffix and not source.exists():
            source = MAPPINGS / f"{source.name}.toml"
        raw = read_toml(source, SoapMappingError)
        reader = _Reader(raw, source)
        services = {
            name: Service(
                reader.text(f"services.{name}.wsdl"),
                reader.optional(f"services.{name}.service"),
                reader.optional(f"services.{name}.port"),
            )
            for name in reader.table("services")
        }
        paging = reader.paging()
        applications = reader.write("applications", APPLICATION_FIELDS, services)
        exceptions = reader.write("exceptions", EXCEPTION_FIELDS, services)
        actions = {str(k): v for k, v in reader.table("exceptions.actions").items()}
        for value, action in actions.items():
            if action not in ACTIONS:
                reader.problem(
                    f"`exceptions.actions.{value}`: expected one of {', '.join(ACTIONS)}, "
                    f"found {action!r}"
                )
        mapping = cls(
            services=services,
            paging=paging,
            customers=reader.query("customers", CUSTOMER_FIELDS, services),
            invoices=reader.query("invoices", INVOICE_FIELDS, services),
            applications=applications,
            exceptions=exceptions,
            actions=actions,
            blank_currency_is_local=reader.flag("currency.blank_is_local"),
            source=source,
        )
        reader.require_filters(mapping.customers, ("since",))
        reader.require_filters(mapping.invoices, ("since", "ids", "numbers"), ("open",))
        reader.require_filters(applications.query, ("keys",))
        reader.require_filters(exceptions.query, ("keys", "since"), ("resolved",))
        if not ({"invoice_id", "invoice_number"} & set(applications.query.fields)):
            reader.problem("`applications.fields`: map `invoice_id` or `invoice_number`")
        if "documents" in raw:
            documents = reader.query("documents", DOCUMENT_FIELDS, services)
            reader.require_filters(documents, ("ids",))
            mapping = replace(mapping, documents=documents)
        if "edi_status" in raw:
            edi_status = reader.write("edi_status", EDI_STATUS_FIELDS, services)
            reader.require_filters(edi_status.query, ("keys",))
            mapping = replace(mapping, edi_status=edi_status)
        reader.done()
        return mapping

    def queries(self) -> list[Query]:
        """Every read the connector makes, for `check()`."""
        edi = [self.documents, self.edi_status.query if self.edi_status else None]
        return [
            self.customers,
            self.invoices,
            self.applications.query,
            self.exceptions.query,
            *(query for query in edi if query is not None),
        ]


class _Reader:
    """Reads dotted keys from the parsed TOML, collecting every problem."""

    def __init__(self, raw: dict[str, Any], source: Path) -> None:
        self.raw, self.source, self.problems = raw, source, list[str]()

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def _node(self, key: str) -> Any:
        node: Any = self.raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def text(self, key: str) -> str:
        node = self._node(key)
        if not isinstance(node, str) or not node:
            self.problem(f"`{key}`: expected a name, found {node!r}")
            return ""
        return node

    def optional(self, key: str) -> str | None:
        node = self._node(key)
        if node is not None and not isinstance(node, str):
            self.problem(f"`{key}`: expected a name, found {node!r}")
            return None
        return node

    def flag(self, key: str) -> bool:
        node = self._node(key)
        if node is not None and not isinstance(node, bool):
            self.problem(f"`{key}`: expected true or false, found {node!r}")
        return node is True

    def path(self, key: str) -> str:
        node = self._node(key)
        if not isinstance(node, str):
            self.problem(f'`{key}`: expected a dotted path ("" for the answer itself)')
            return ""
        return node

    def table(self, key: str, required: bool = True) -> dict[str, Any]:
        node = self._node(key)
        if node is None and not required:
            return {}
        if not isinstance(node, dict):
            self.problem(f"`{key}`: expected a table, found {node!r}")
            return {}
        return node

    def names(self, key: str, required: bool = True) -> dict[str, str]:
        table = self.table(key, required)
        for name, value in table.items():
            if not isinstance(value, str) or not value:
                self.problem(f"`{key}.{name}`: expected a name, found {value!r}")
        return {name: value for name, value in table.items() if isinstance(value, str) and value}

    def paging(self) -> Paging:
        style = self.text("paging.style")
        if style and style not in STYLES:
            self.problem(f"`paging.style`: expected one of {', '.join(STYLES)}, found {style!r}")
        wanted = (
            ("filter_param", "bookmark_param", "bookmark_field")
            if style == "page"
            else ("token_param", "next_token")
        )
        return Paging(
            style=style,
            size_param=self.text("paging.size_param"),
            **{name: self.text(f"paging.{name}") for name in wanted},
        )

    def query(
        self, section: str, canonical: tuple[tuple[str, ...], tuple[str, ...]], services: dict
    ) -> Query:
        service = self.text(f"{section}.service")
        if service and service not in services:
            self.problem(f"`{section}.service`: no [services.{service}] in the file")
        fields = self.names(f"{section}.fields")
        required, optional = canonical
        for name in required:
            if name not in fields:
                self.problem(f"`{section}.fields.{name}`: expected a field name, found nothing")
        for name in sorted(set(fields) - set(required) - set(optional)):
            self.problem(
                f"`{section}.fields.{name}`: not a field arlink knows; expected one of "
                f"{', '.join(required + optional)}"
            )
        where = {
            name: {str(k): str(v) for k, v in terms.items()}
            for name, terms in self.table(f"{section}.where", required=False).items()
            if isinstance(terms, dict)
        }
        return Query(
            section=section,
            service=service,
            operation=self.text(f"{section}.read"),
            rows=self.path(f"{section}.rows"),
            filters=self.names(f"{section}.filters"),
            where=where,
            fields=fields,
        )

    def write(
        self, section: str, canonical: tuple[tuple[str, ...], tuple[str, ...]], services: dict
    ) -> Write:
        return Write(
            query=self.query(section, canonical, services),
            operation=self.text(f"{section}.create"),
            record=self.text(f"{section}.record"),
            update=self.optional(f"{section}.update"),
            constants={
                str(k): str(v)
                for k, v in self.table(f"{section}.constants", required=False).items()
            },
        )

    def require_filters(
        self, query: Query, roles: Sequence[str], wheres: Sequence[str] = ()
    ) -> None:
        for role in roles:
            if role not in query.filters:
                self.problem(f"`{query.section}.filters.{role}`: expected a field or parameter")
        for name in wheres:
            if name not in query.where:
                self.problem(f"`{query.section}.where.{name}`: expected a table of terms")

    def done(self) -> None:
        if self.problems:
            raise SoapMappingError(f"{self.source}: " + "; ".join(self.problems))


# ---------------------------------------------------------------------------------------
# Reading values as the host sends them


def dig(value: Any, path: str) -> Any:
    """Follow a dotted path through serialised zeep output ("" is the value itself)."""
    for part in path.split(".") if path else ():
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def host_text(value: Any) -> str | None:
    """Text of a host value; an absent or empty element is None."""
    return None if value is None or value == "" else str(value)


def host_date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SoapRowError(f"{where}: expected a date, found {value!r}") from None


def host_datetime(value: Any, where: str) -> datetime | None:
    """A modification time as an aware UTC datetime (a zone-less one is taken as UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise SoapRowError(f"{where}: expected a date and time, found {value!r}") from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def host_money(value: Any, currency: str, where: str) -> Money:
    """An `xsd:decimal` (or its text) as exact Money; a float or a fraction of a minor unit
    is refused rather than rounded."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise SoapRowError(f"{where}: expected a decimal amount, found {value!r}")
    try:
        return Money.parse(value if not isinstance(value, str) else value.strip(), currency)
    except MoneyError as exc:
        raise SoapRowError(f"{where}: {exc}") from None


def currency_of(row: Mapping[str, Any], query: Query, local_currency: str | None) -> str:
    """The row's currency; blank means `local_currency` (BC's LCY) when there is one."""
    name = query.fields.get("currency")
    currency = (host_text(row.get(name)) if name else None) or local_currency
    if not currency:
        raise SoapRowError(f"{query.section} record `{row.get(query.fields['id'])}`: no currency")
    return currency


def _where(query: Query, row: Mapping[str, Any], name: str) -> str:
    return f"{query.section} record `{row.get(query.fields['id'])}` field `{query.fields[name]}`"


def customer_from(row: Mapping[str, Any], mapping: SoapMapping) -> Customer:
    """A customer row as a `Customer`."""
    q = mapping.customers
    f = q.fields
    customer_id = host_text(row.get(f["id"]))
    if customer_id is None:
        raise SoapRowError(f"{q.section} record without `{f['id']}`")
    parent = host_text(row.get(f["parent"])) if "parent" in f else None
    bank = host_text(row.get(f["bank_account"])) if "bank_account" in f else None
    return Customer(
        customer_id=customer_id,
        name=host_text(row.get(f["name"])) or "",
        parent_id=parent if parent != customer_id else None,
        bank_accounts=(bank,) if bank else (),
        payment_terms=host_text(row.get(f["payment_terms"])) if "payment_terms" in f else None,
        modified=host_datetime(row.get(f["modified"]), _where(q, row, "modified")),
    )


def invoice_from(
    row: Mapping[str, Any], mapping: SoapMapping, local_currency: str | None
) -> Invoice:
    """An invoice row as an `Invoice`; `status` is "open" while an amount remains open."""
    q = mapping.invoices
    f = q.fields
    invoice_id = host_text(row.get(f["id"]))
    customer = host_text(row.get(f["customer"]))
    if invoice_id is None:
        raise SoapRowError(f"{q.section} record without `{f['id']}`")
    if customer is None:
        raise SoapRowError(f"{_where(q, row, 'customer')} is empty")
    currency = currency_of(row, q, local_currency)
    open_amount = host_money(row.get(f["open_amount"]), currency, _where(q, row, "open_amount"))

    def optional_date(name: str) -> date | None:
        return host_date(row.get(f[name]), _where(q, row, name)) if name in f else None

    return Invoice(
        invoice_id=invoice_id,
        number=host_text(row.get(f["number"])) or "",
        customer_id=customer,
        total=host_money(row.get(f["total"]), currency, _where(q, row, "total")),
        open_amount=open_amount,
        issue_date=optional_date("issue_date"),
        due_date=optional_date("due_date"),
        po_number=host_text(row.get(f["po_number"])) if "po_number" in f else None,
        discount_terms=host_text(row.get(f["payment_terms"])) if "payment_terms" in f else None,
        status="open" if open_amount.minor > 0 else "closed",
        modified=host_datetime(row.get(f["modified"]), _where(q, row, "modified")),
    )


def _put(record: dict[str, Any], fields: Mapping[str, str], name: str, value: Any) -> None:
    """Set a canonical value on a host record when the mapping maps it and it is set."""
    if name in fields and value is not None and value != "":
        record[fields[name]] = value


def _host_currency(currency: str, local_currency: str | None) -> str:
    return "" if currency == local_currency else currency


def application_record(
    write: ApplicationWrite, invoice: Invoice, mapping: SoapMapping, local_currency: str | None
) -> dict[str, Any]:
    """The host record for one application, with the mapping's constants; the idempotency
    key goes into the field the service can filter on (`applications.filters.keys`)."""
    w = mapping.applications
    f = w.query.fields
    app, payment = write.application, write.payment
    record: dict[str, Any] = dict(w.constants)
    _put(record, f, "key", write.idempotency_key)
    _put(record, f, "invoice_id", invoice.invoice_id)
    _put(record, f, "invoice_number", invoice.number)
    _put(record, f, "customer", invoice.customer_id)
    _put(record, f, "currency", _host_currency(app.amount.currency, local_currency))
    _put(record, f, "amount", app.amount.to_decimal())
    _put(record, f, "write_off", app.write_off.to_decimal() if app.write_off else None)
    _put(record, f, "discount", app.discount.to_decimal() if app.discount else None)
    _put(record, f, "date", payment.value_date)
    _put(record, f, "bank_reference", payment.bank_reference or payment.payment_id)
    _put(record, f, "memo", f"arlink {payment.payment_id}"[:100])
    return record


def exception_details(write: ExceptionWrite, numbers: Mapping[str, str]) -> str:
    """What the clerk reads: the payment, why it was not applied, the ranked suggestions
    with their reasons, and what to do. Plain text: the host shows it as it is."""
    lines = exception_lines(write, numbers)
    lines.append(
        "To resolve: set the resolution (apply, with the invoice number; on account; not "
        "ours) and mark the record resolved."
    )
    return "\n".join(lines)


def exception_record(
    write: ExceptionWrite,
    mapping: SoapMapping,
    local_currency: str | None,
    suggested: Invoice | None,
    numbers: Mapping[str, str],
) -> dict[str, Any]:
    """The host record for one exception, placed on the best suggestion's customer and
    invoice when there is one."""
    w = mapping.exceptions
    f = w.query.fields
    item, payment = write.item, write.payment
    record: dict[str, Any] = dict(w.constants)
    _put(record, f, "key", write.idempotency_key)
    _put(record, f, "payment_id", payment.payment_id)
    _put(record, f, "bank_reference", payment.bank_reference)
    _put(record, f, "payer", payment.payer_name)
    _put(record, f, "value_date", payment.value_date)
    _put(record, f, "amount", item.amount.to_decimal())
    _put(record, f, "currency", _host_currency(item.amount.currency, local_currency))
    _put(record, f, "reason", item.reason.value)
    _put(record, f, "details", exception_details(write, numbers))
    if suggested is not None:
        _put(record, f, "customer", suggested.customer_id)
        _put(record, f, "invoice_number", suggested.number)
    return record


def resolution_from(
    row: Mapping[str, Any],
    mapping: SoapMapping,
    local_currency: str | None,
    invoice_ids: Mapping[str, str],
) -> Resolution | None:
    """A resolved exception row as a `Resolution` (None when its action is not mapped);
    `invoice_ids` turns the invoice number the clerk entered into the invoice's id."""
    q = mapping.exceptions.query
    f = q.fields
    action = mapping.actions.get(host_text(row.get(f["action"])) or "")
    payment_id = host_text(row.get(f["payment_id"]))
    if action is None or payment_id is None:
        return None
    number = (
        host_text(row.get(f["resolved_invoice_number"])) if "resolved_invoice_number" in f else None
    )
    amount = row.get(f["resolved_amount"]) if "resolved_amount" in f else None
    currency = currency_of(row, q, local_currency)
    return Resolution(
        payment_id=payment_id,
        action=action,
        invoice_id=invoice_ids.get(number, number) if number else None,
        amount=host_money(amount, currency, _where(q, row, "resolved_amount"))
        if amount is not None
        else None,
        note=(host_text(row.get(f["note"])) or "") if "note" in f else "",
        modified=host_datetime(row.get(f["modified"]), _where(q, row, "modified")),
    )


# ---------------------------------------------------------------------------------------
# EDI documents and statuses


def documents_from(
    rows: Sequence[Mapping[str, Any]], query: Query, invoices: Mapping[str, Invoice]
) -> tuple[dict[str, InvoiceDocument], list[str]]:
    """The EDI documents of `invoices` from their `documents` records (canonical values by
    `record` kind, shaped as the odbc host's rows and read by the same code), and what was
    wrong with the invoices left out, each naming the record and field."""
    f = query.fields
    parts: dict[str, DocumentRows] = {i: DocumentRows([], [], [], [], []) for i in invoices}
    problems: list[str] = []
    for row in rows:
        values = {name: row.get(host) for name, host in f.items()}
        invoice_id = host_text(values["invoice_id"]) or ""
        record = host_text(values["record"])
        target = parts.get(invoice_id)
        if target is None:
            continue
        if record == "line":
            target.lines.append(values)
        elif record in ("allowance", "charge"):
            target.allowances.append({**values, "kind": record[0].upper()})
        elif record == "tax":
            target.taxes.append({**values, "tax_type": values["code"] if "code" in f else None})
        elif record == "party":
            target.parties.append(values)
        elif record == "terms":
            target.terms.append({**values, "discount_percent": values.get("percent")})
        else:
            problems.append(
                f"{_where(query, row, 'record')}: expected one of "
                f"{', '.join(DOCUMENT_RECORDS)}, found {record!r}"
            )
            parts.pop(invoice_id)
    documents = {}
    for invoice_id, found in parts.items():
        try:
            documents[invoice_id] = document_from(invoices[invoice_id], found)
        except DocumentRowError as exc:
            problems.append(str(exc))
    return documents, problems


def edi_status_record(write: EdiStatusWrite, mapping: SoapMapping) -> dict[str, Any]:
    """The host record journaling one EDI status (`[edi_status]`), keyed by its idempotency
    key."""
    w = mapping.edi_status
    if w is None:
        raise SoapMappingError(f"{mapping.source}: no `[edi_status]`")
    f = w.query.fields
    record: dict[str, Any] = dict(w.constants)
    _put(record, f, "key", write.idempotency_key)
    _put(record, f, "invoice_id", write.invoice_id)
    _put(record, f, "invoice_number", write.invoice_number)
    _put(record, f, "partner", write.partner)
    _put(record, f, "status", write.status)
    _put(record, f, "interchange_control", write.interchange_control)
    _put(record, f, "message", write.message)
    return record


def edi_case_record(
    write: EdiStatusWrite, invoice: Invoice | None, mapping: SoapMapping, local_currency: str | None
) -> dict[str, Any]:
    """An exception record for an invoice the clerk must correct (invalid, rejected,
    overdue): no payment, reason `edi_<status>`, on the invoice and its customer."""
    w = mapping.exceptions
    f = w.query.fields
    record: dict[str, Any] = dict(w.constants)
    _put(record, f, "key", write.idempotency_key)
    _put(record, f, "amount", Decimal(0))
    _put(record, f, "reason", f"edi_{write.status}")
    _put(record, f, "details", edi_exception_details(write))
    _put(record, f, "invoice_number", write.invoice_number)
    if invoice is not None:
        _put(record, f, "customer", invoice.customer_id)
        _put(record, f, "currency", _host_currency(invoice.currency, local_currency))
    return record
