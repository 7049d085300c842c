"""A test server that speaks SOAP 1.1 (document/literal) the way two kinds of ERP do.

A small WSGI app, served by wsgiref on a free loopback port in a thread, so the
connector's real zeep client loads the WSDL over HTTP and calls the operations:

- flavour `bc`: Business Central-style page services, one WSDL per page at
  `/WS/<company>/Page/<Page>` (`Customer`, `PostedSalesInvoices`, `CashReceiptJournal`
  and the `ARLExceptions` page of arlink's extension), each with `ReadMultiple`
  (`filter` = [{Field, Criteria}], `bookmarkKey`, `setSize`), `Create` and `Update`.
  Criteria use BC's filter syntax: `a|b` alternatives, `'quoted'` literals, `>=x`,
  `<=x`, `>x`, `<x`, `<>x`, `x..y`. A record's `Key` changes on every modification;
  `Update` with a stale `Key` is refused, as in BC. `bookmarkKey` is the `Key` of the
  last record of the previous page.
- flavour `generic`: one `InvoiceService` WSDL at `/InvoiceService` with
  `GetCustomers`, `GetInvoices`, `FindReceipts`, `PostReceipt`, `CreateCase`,
  `FindCases`; reads take named filters and page with `pageToken`/`nextPageToken`. For
  EDI: `GetInvoiceLines` (an invoice's document, one record per line, allowance, charge,
  tax, party or terms), `FindEdiStatuses` and `PostEdiStatus` (the status journal).

Creating a receipt (a journal line in `bc`) applies it to its invoice at once (as if
posted): the open amount drops by amount + write-off + discount, and an invoice reaching
zero closes. Bad input (an unknown field, a bad criterion, an over-application, an
unknown invoice, an invoice put on hold with `Books.hold`) is a SOAP Fault with HTTP 500;
a missing or wrong Basic/Bearer credential is HTTP 401; `fail_next` makes the next POSTs
answer an HTTP error (`after_commit` ones commit first, as a proxy timing out behind a
finished write would); `withhold` takes an operation from the user (gone from the WSDL,
a Fault when called), as Business Central publishes a page the user may not insert into.
Requests are parsed with lxml without entity expansion, DTDs or network access.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree

from servers.ports import free_port

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
BC_NS = "urn:microsoft-dynamics-schemas/page/"
GENERIC_NS = "urn:example:invoice-service:v1"
COMPANY = "CRONUS"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)

Row = dict[str, Any]


class ServiceFaultError(Exception):
    """A fault the service answers with (`code` is `Client` or `Server`)."""

    def __init__(self, message: str, code: str = "Client") -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------
# Schemas: each record type's fields with their XSD types


@dataclass(frozen=True, slots=True)
class Table:
    """A record type: its element name and fields (name -> xsd type), `id` assigned."""

    name: str
    fields: dict[str, str]
    id_field: str
    modified_field: str


def _fields(text: str) -> dict[str, str]:
    """`"No Name:string Amount:decimal"` -> {"No": "string", ...}; untyped means string."""
    pairs = (item.partition(":") for item in text.split())
    return {name: kind or "string" for name, _, kind in pairs}


BC_TABLES = {
    "customers": Table(
        "Customer",
        _fields(
            "Key SystemId No Name Bill_to_Customer_No Payment_Terms_Code "
            "Last_Modified_Date_Time:dateTime"
        ),
        "SystemId",
        "Last_Modified_Date_Time",
    ),
    "invoices": Table(
        "PostedSalesInvoices",
        _fields(
            "Key SystemId No Sell_to_Customer_No External_Document_No Posting_Date:date "
            "Due_Date:date Currency_Code Amount_Including_VAT:decimal Remaining_Amount:decimal "
            "Closed:boolean Payment_Terms_Code Last_Modified_Date_Time:dateTime"
        ),
        "SystemId",
        "Last_Modified_Date_Time",
    ),
    "receipts": Table(
        "CashReceiptJournal",
        _fields(
            "Key SystemId Journal_Batch_Name Line_No:int Posting_Date:date Document_Type "
            "Document_No External_Document_No Account_Type Account_No Credit_Amount:decimal "
            "Currency_Code Applies_to_Doc_Type Applies_to_Doc_No Description "
            "ARL_Write_Off_Amount:decimal ARL_Discount_Amount:decimal "
            "Last_Modified_Date_Time:dateTime"
        ),
        "SystemId",
        "Last_Modified_Date_Time",
    ),
    "cases": Table(
        "ARLExceptions",
        _fields(
            "Key SystemId Idempotency_Key Payment_Id Bank_Reference Payer_Name Value_Date:date "
            "Amount:decimal Currency_Code Reason Details Customer_No Invoice_No Status "
            "Resolution Resolved_Invoice_No Resolved_Amount:decimal Clerk_Note "
            "Last_Modified_Date_Time:dateTime"
        ),
        "SystemId",
        "Last_Modified_Date_Time",
    ),
}

GENERIC_TABLES = {
    "customers": Table(
        "customer",
        _fields("id name parentId bankAccount paymentTerms modifiedAt:dateTime"),
        "id",
        "modifiedAt",
    ),
    "invoices": Table(
        "invoice",
        _fields(
            "id number customerId poNumber issueDate:date dueDate:date currency "
            "total:decimal balance:decimal status paymentTerms modifiedAt:dateTime"
        ),
        "id",
        "modifiedAt",
    ),
    "receipts": Table(
        "receipt",
        _fields(
            "receiptId externalReference invoiceId customerId amount:decimal "
            "writeOffAmount:decimal discountAmount:decimal currency receiptDate:date "
            "bankReference memo modifiedAt:dateTime"
        ),
        "receiptId",
        "modifiedAt",
    ),
    "cases": Table(
        "case",
        _fields(
            "caseId externalReference paymentId bankReference payerName valueDate:date "
            "amount:decimal currency reason details customerId invoiceNumber status resolution "
            "resolvedInvoiceNumber resolvedAmount:decimal clerkNote modifiedAt:dateTime"
        ),
        "caseId",
        "modifiedAt",
    ),
    # An invoice's EDI document, one record per line, allowance, charge, tax, party or
    # terms (`record`), like the files host's invoice_lines.csv.
    "invoice_lines": Table(
        "invoiceLine",
        _fields(
            "lineId invoiceId record lineNumber productQualifier productId quantity:decimal "
            "unit unitPrice:decimal description code amount:decimal percent:decimal role name "
            "idQualifier partyId netDays:int discountDays:int modifiedAt:dateTime"
        ),
        "lineId",
        "modifiedAt",
    ),
    "edi_statuses": Table(
        "ediStatus",
        _fields(
            "ediStatusId externalReference invoiceId invoiceNumber partner status "
            "interchangeControl message modifiedAt:dateTime"
        ),
        "ediStatusId",
        "modifiedAt",
    ),
}


@dataclass(frozen=True, slots=True)
class Posting:
    """How a receipt finds its invoice and moves its open amount, per flavour."""

    receipt_invoice: str  # receipt field naming the invoice
    invoice_match: str  # invoice field it names
    amounts: tuple[str, ...]  # receipt fields that reduce the open amount
    open_amount: str
    closed: tuple[str, Any, Any]  # invoice field, value when closed, value when open


BC_POSTING = Posting(
    "Applies_to_Doc_No",
    "No",
    ("Credit_Amount", "ARL_Write_Off_Amount", "ARL_Discount_Amount"),
    "Remaining_Amount",
    ("Closed", True, False),
)
GENERIC_POSTING = Posting(
    "invoiceId",
    "id",
    ("amount", "writeOffAmount", "discountAmount"),
    "balance",
    ("status", "paid", "open"),
)


# ---------------------------------------------------------------------------------------
# Values on the wire


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _from_text(kind: str, text: str, what: str) -> Any:
    try:
        if kind == "decimal":
            return Decimal(text)
        if kind == "int":
            return int(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "dateTime":
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise ServiceFaultError(f"{what}: '{text}' is not a valid {kind}") from None
    return text


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _children(node: etree._Element) -> Iterator[etree._Element]:
    return (child for child in node if isinstance(child.tag, str))


# ---------------------------------------------------------------------------------------
# The in-memory books


@dataclass
class Books:
    """The records of one company, by table, in creation order."""

    tables: dict[str, Table]
    posting: Posting
    rows: dict[str, list[Row]] = field(init=False)
    clock: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 8, 0, tzinfo=UTC))
    lock: threading.RLock = field(default_factory=threading.RLock)
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    on_hold: set[int] = field(default_factory=set)  # invoices (by `_seq`) posting refuses

    def __post_init__(self) -> None:
        self.rows = {kind: [] for kind in self.tables}

    def hold(self, invoice: Row) -> None:
        """Put an invoice on hold, as a user does in the ERP: posting a receipt to it is
        then refused with a SOAP Fault (BC: "cannot apply an entry that is on hold")."""
        self.on_hold.add(invoice["_seq"])

    def now(self) -> datetime:
        """A clock that moves one second per change, so modification times are distinct."""
        self.clock += timedelta(seconds=1)
        return self.clock

    def insert(self, kind: str, values: Row) -> Row:
        """Add a record; unknown fields are refused; id, Key and modification time set."""
        table = self.tables[kind]
        unknown = sorted(set(values) - set(table.fields))
        if unknown:
            raise ServiceFaultError(f"{table.name} has no field {', '.join(unknown)}")
        row: Row = dict.fromkeys(table.fields)
        row.update(values)
        row["_seq"] = next(self._sequence)
        if not row[table.id_field]:
            row[table.id_field] = str(uuid.uuid4()) if kind != "receipts" else f"R{row['_seq']}"
        self._stamp(kind, row)
        self.rows[kind].append(row)
        return row

    def update(self, kind: str, row: Row, values: Row) -> None:
        """Change a record as a user would, moving its modification time and Key."""
        row.update(values)
        self._stamp(kind, row)

    def _stamp(self, kind: str, row: Row) -> None:
        table = self.tables[kind]
        row[table.modified_field] = self.now()
        row["_version"] = row.get("_version", 0) + 1
        if "Key" in table.fields:
            row["Key"] = base64.b64encode(f"{row['_seq']};{row['_version']}".encode()).decode()

    def typed(self, kind: str, values: dict[str, Any]) -> Row:
        """Values given as text (a mapping's constants) in their fields' types."""
        table = self.tables[kind]
        return {
            name: _from_text(table.fields[name], value, f"{table.name}.{name}")
            if isinstance(value, str) and name in table.fields
            else value
            for name, value in values.items()
        }

    def find(self, kind: str, name: str, value: Any) -> Row | None:
        return next((row for row in self.rows[kind] if row[name] == value), None)

    def post(self, receipt: Row) -> None:
        """Apply a receipt to its invoice, as posting does; refuse what cannot be applied."""
        p = self.posting
        target = receipt.get(p.receipt_invoice)
        invoice = self.find("invoices", p.invoice_match, target)
        if invoice is None:
            raise ServiceFaultError(f"invoice `{target}` does not exist ({p.receipt_invoice})")
        if invoice["_seq"] in self.on_hold:
            raise ServiceFaultError(f"invoice `{target}` is on hold: it cannot be applied")
        closed_field, closed, _ = p.closed
        if invoice[closed_field] == closed:
            raise ServiceFaultError(f"invoice `{target}` is already closed")
        reduction = sum((receipt.get(name) or Decimal(0) for name in p.amounts), Decimal(0))
        if reduction <= 0 or reduction > invoice[p.open_amount]:
            raise ServiceFaultError(
                f"cannot apply {reduction} to invoice `{target}`: "
                f"{invoice[p.open_amount]} remains open"
            )
        remaining = invoice[p.open_amount] - reduction
        self.update(
            "invoices",
            invoice,
            {p.open_amount: remaining, **({closed_field: closed} if remaining == 0 else {})},
        )


def _matches(value: Any, kind: str, criteria: str, what: str) -> bool:
    """BC filter criteria: alternatives split by `|` outside quotes, each a comparison."""
    return any(_alternative(value, kind, part, what) for part in _split(criteria))


def _split(criteria: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in criteria:
        if char == "'":
            quoted = not quoted
        if char == "|" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _alternative(value: Any, kind: str, text: str, what: str) -> bool:
    text = text.strip()
    for operator in ("<>", ">=", "<=", ">", "<"):
        if text.startswith(operator):
            return _compare(value, operator, _operand(kind, text[len(operator) :], what))
    if ".." in text and not text.startswith("'"):
        low, _, high = text.partition("..")
        return (not low or _compare(value, ">=", _operand(kind, low, what))) and (
            not high or _compare(value, "<=", _operand(kind, high, what))
        )
    return _compare(value, "=", _operand(kind, text, what))


def _operand(kind: str, text: str, what: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("''", "'")
    return _from_text(kind, text, what)


def _compare(value: Any, operator: str, operand: Any) -> bool:
    if operator == "=":
        return value == operand
    if operator == "<>":
        return value != operand
    if value is None:
        return False
    return {
        ">=": value >= operand,
        "<=": value <= operand,
        ">": value > operand,
        "<": value < operand,
    }[operator]


# ---------------------------------------------------------------------------------------
# WSDLs


def _complex(name: str, fields: dict[str, str], ns_prefix: str = "xsd") -> str:
    elements = "".join(
        f'<xsd:element minOccurs="0" maxOccurs="1" name="{n}" type="{ns_prefix}:{k}"/>'
        for n, k in fields.items()
    )
    return (
        f'<xsd:complexType name="{name}"><xsd:sequence>{elements}</xsd:sequence></xsd:complexType>'
    )


def _wsdl(
    namespace: str,
    service: str,
    schema: str,
    operations: dict[str, str],
    url: str,
    omit: frozenset[str] = frozenset(),
) -> str:
    """A document/literal WSDL: `operations` maps each operation to its response element;
    those in `omit` are left out (the user may not call them)."""
    operations = {op: out for op, out in operations.items() if op not in omit}
    messages = "".join(
        f'<message name="{op}"><part name="parameters" element="tns:{op}"/></message>'
        f'<message name="{out}"><part name="parameters" element="tns:{out}"/></message>'
        for op, out in operations.items()
    )
    port_ops = "".join(
        f'<operation name="{op}"><input name="{op}" message="tns:{op}"/>'
        f'<output name="{out}" message="tns:{out}"/></operation>'
        for op, out in operations.items()
    )
    binding_ops = "".join(
        f'<operation name="{op}"><soap:operation style="document" '
        f'soapAction="{namespace}:{op}"/><input name="{op}"><soap:body use="literal"/></input>'
        f'<output name="{out}"><soap:body use="literal"/></output></operation>'
        for op, out in operations.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="{namespace}" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="{namespace}">'
        f'<types><xsd:schema elementFormDefault="qualified" targetNamespace="{namespace}">'
        f"{schema}</xsd:schema></types>{messages}"
        f'<portType name="{service}_Port">{port_ops}</portType>'
        f'<binding name="{service}_Binding" type="tns:{service}_Port">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>'
        f"{binding_ops}</binding>"
        f'<service name="{service}_Service"><port name="{service}_Port" '
        f'binding="tns:{service}_Binding"><soap:address location="{url}"/></port></service>'
        "</definitions>"
    )


def _bc_wsdl(table: Table, url: str, omit: frozenset[str] = frozenset()) -> str:
    name = table.name
    enum = "".join(f'<xsd:enumeration value="{field}"/>' for field in table.fields)
    schema = (
        _complex(name, table.fields)
        + f'<xsd:complexType name="{name}_List"><xsd:sequence><xsd:element minOccurs="1" '
        f'maxOccurs="unbounded" name="{name}" type="tns:{name}"/></xsd:sequence></xsd:complexType>'
        f'<xsd:simpleType name="{name}_Fields"><xsd:restriction base="xsd:string">{enum}'
        "</xsd:restriction></xsd:simpleType>"
        f'<xsd:complexType name="{name}_Filter"><xsd:sequence>'
        f'<xsd:element minOccurs="1" maxOccurs="1" name="Field" type="tns:{name}_Fields"/>'
        '<xsd:element minOccurs="1" maxOccurs="1" name="Criteria" type="xsd:string"/>'
        "</xsd:sequence></xsd:complexType>"
        '<xsd:element name="ReadMultiple"><xsd:complexType><xsd:sequence>'
        f'<xsd:element minOccurs="0" maxOccurs="unbounded" name="filter" type="tns:{name}_Filter"/>'
        '<xsd:element minOccurs="0" maxOccurs="1" name="bookmarkKey" type="xsd:string"/>'
        '<xsd:element minOccurs="0" maxOccurs="1" name="setSize" type="xsd:int"/>'
        "</xsd:sequence></xsd:complexType></xsd:element>"
        '<xsd:element name="ReadMultiple_Result"><xsd:complexType><xsd:sequence>'
        '<xsd:element minOccurs="0" maxOccurs="1" name="ReadMultiple_Result" '
        f'type="tns:{name}_List"/></xsd:sequence></xsd:complexType></xsd:element>'
    )
    for op in ("Create", "Create_Result", "Update", "Update_Result"):
        schema += (
            f'<xsd:element name="{op}"><xsd:complexType><xsd:sequence><xsd:element '
            f'minOccurs="1" maxOccurs="1" name="{name}" type="tns:{name}"/></xsd:sequence>'
            "</xsd:complexType></xsd:element>"
        )
    operations = {op: f"{op}_Result" for op in ("ReadMultiple", "Create", "Update")}
    return _wsdl(BC_NS + name.lower(), name, schema, operations, url, omit)


# The generic service: operation -> (table, its named filters, request record element).
# A filter is (parameter, field, comparison) with comparison "ge", "in" or "eq".
GENERIC_READS: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    "GetCustomers": ("customers", (("modifiedSince", "modifiedAt", "ge"),)),
    "GetInvoices": (
        "invoices",
        (
            ("modifiedSince", "modifiedAt", "ge"),
            ("status", "status", "eq"),
            ("invoiceId", "id", "in"),
            ("invoiceNumber", "number", "in"),
        ),
    ),
    "FindReceipts": (
        "receipts",
        (("modifiedSince", "modifiedAt", "ge"), ("externalReference", "externalReference", "in")),
    ),
    "FindCases": (
        "cases",
        (
            ("modifiedSince", "modifiedAt", "ge"),
            ("status", "status", "eq"),
            ("externalReference", "externalReference", "in"),
            ("paymentId", "paymentId", "in"),
        ),
    ),
    "GetInvoiceLines": ("invoice_lines", (("invoiceId", "invoiceId", "in"),)),
    "FindEdiStatuses": (
        "edi_statuses",
        (("externalReference", "externalReference", "in"),),
    ),
}
GENERIC_WRITES = {
    "PostReceipt": "receipts",
    "CreateCase": "cases",
    "PostEdiStatus": "edi_statuses",
}
# Updates name the record by its id field; the answer is the id.
GENERIC_UPDATES = {"UpdateCase": "cases"}
_FILTER_TYPES = {"ge": "xsd:dateTime", "eq": "xsd:string", "in": "xsd:string"}


def _generic_wsdl(url: str, omit: frozenset[str] = frozenset()) -> str:
    schema = "".join(_complex(t.name, t.fields) for t in GENERIC_TABLES.values())
    operations = {}
    for op, (kind, filters) in GENERIC_READS.items():
        table = GENERIC_TABLES[kind]
        params = "".join(
            f'<xsd:element minOccurs="0" maxOccurs="{"unbounded" if how == "in" else 1}" '
            f'name="{param}" type="{_FILTER_TYPES[how]}"/>'
            for param, _, how in filters
        )
        schema += (
            f'<xsd:element name="{op}"><xsd:complexType><xsd:sequence>{params}'
            '<xsd:element minOccurs="0" maxOccurs="1" name="pageToken" type="xsd:string"/>'
            '<xsd:element minOccurs="0" maxOccurs="1" name="pageSize" type="xsd:int"/>'
            "</xsd:sequence></xsd:complexType></xsd:element>"
            f'<xsd:element name="{op}Response"><xsd:complexType><xsd:sequence>'
            f'<xsd:element minOccurs="0" maxOccurs="unbounded" name="{table.name}" '
            f'type="tns:{table.name}"/><xsd:element minOccurs="0" maxOccurs="1" '
            'name="nextPageToken" type="xsd:string"/></xsd:sequence></xsd:complexType>'
            "</xsd:element>"
        )
        operations[op] = f"{op}Response"
    for op, kind in {**GENERIC_WRITES, **GENERIC_UPDATES}.items():
        table = GENERIC_TABLES[kind]
        schema += (
            f'<xsd:element name="{op}"><xsd:complexType><xsd:sequence><xsd:element '
            f'minOccurs="1" maxOccurs="1" name="{table.name}" type="tns:{table.name}"/>'
            "</xsd:sequence></xsd:complexType></xsd:element>"
            f'<xsd:element name="{op}Response"><xsd:complexType><xsd:sequence><xsd:element '
            f'minOccurs="1" maxOccurs="1" name="{table.id_field}" type="xsd:string"/>'
            "</xsd:sequence></xsd:complexType></xsd:element>"
        )
        operations[op] = f"{op}Response"
    return _wsdl(GENERIC_NS, "InvoiceService", schema, operations, url, omit)


# ---------------------------------------------------------------------------------------
# The WSGI app


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_ENV}">'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault_body(fault: ServiceFaultError) -> bytes:
    text = etree.Element("faultstring")
    text.text = str(fault)
    return _envelope(
        f"<s:Fault><faultcode>s:{fault.code}</faultcode>"
        f"{etree.tostring(text, encoding='unicode')}</s:Fault>"
    )


def _record_xml(namespace: str, table: Table, row: Row, element: str | None = None) -> str:
    node = etree.Element(f"{{{namespace}}}{element or table.name}", nsmap={None: namespace})
    for name in table.fields:
        if row.get(name) is not None:
            etree.SubElement(node, f"{{{namespace}}}{name}").text = _to_text(row[name])
    return etree.tostring(node, encoding="unicode")


@dataclass
class _Failure:
    status: int
    after_commit: bool
    operation: str | None  # the operation it hits (None: any)
    fault: str | None = None  # answer this SOAP Fault instead of doing the work
    kind: str | None = None  # on Business Central, only on the page holding this table


@dataclass
class SoapServer:
    """A running test server of one flavour (`bc` or `generic`) and its switches."""

    flavour: str = "bc"
    username: str = "arlink"
    password: str = "s3cret-pw"
    token: str = "t0ken-abc"
    url: str = ""
    books: Books = field(init=False)
    fail_next: list[_Failure] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # operation names, in order
    wsdl_doctype: str = ""  # put into every WSDL served (to test that clients refuse DTDs)
    answer_delay: float = 0.0  # seconds every operation (not the WSDL) waits before answering
    # (table kind or None for the generic service, operation) the user may not call
    withheld: set[tuple[str | None, str]] = field(default_factory=set)
    _server: WSGIServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.flavour not in ("bc", "generic"):
            raise ValueError(f"unknown flavour {self.flavour!r}")
        bc = self.flavour == "bc"
        self.books = Books(
            BC_TABLES if bc else GENERIC_TABLES, BC_POSTING if bc else GENERIC_POSTING
        )

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server(
            "127.0.0.1", port, self.app, server_class=_ThreadingWSGIServer, handler_class=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail(
        self,
        status: int,
        times: int = 1,
        after_commit: bool = False,
        operation: str | None = None,
    ) -> None:
        """Make the next `times` calls (of `operation`, or any) answer HTTP `status`;
        `after_commit`: do the work first, then lose the answer."""
        self.fail_next.extend(_Failure(status, after_commit, operation) for _ in range(times))

    def withhold(self, operation: str, kind: str | None = None) -> None:
        """Take `operation` (of the page holding `kind` on Business Central) from the user:
        its WSDL no longer offers it and a call to it is a Fault, as Business Central
        publishes a page without Create when the page or the user may not insert."""
        self.withheld.add((kind, operation))

    def refuse(self, message: str, operation: str | None = None, kind: str | None = None) -> None:
        """Make the next call (of `operation`, or any; on Business Central of the page
        holding `kind`, or any page) answer a SOAP Fault, doing nothing."""
        self.fail_next.append(_Failure(500, False, operation, message, kind))

    # -- where things are -------------------------------------------------------------

    def path(self, kind: str) -> str:
        """The URL path of the service holding `kind` (customers, invoices, ...)."""
        if self.flavour == "bc":
            return f"/WS/{COMPANY}/Page/{self.books.tables[kind].name}"
        return "/InvoiceService"

    def _service_of(self, path: str) -> tuple[str, str | None] | None:
        """(namespace, table kind or None for the generic service) for a request path."""
        if self.flavour == "generic":
            return (GENERIC_NS, None) if path == "/InvoiceService" else None
        for kind, table in self.books.tables.items():
            if path == self.path(kind):
                return BC_NS + table.name.lower(), kind
        return None

    # -- WSGI -------------------------------------------------------------------------

    def app(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI entry point: auth, then the WSDL on GET, an operation on POST."""
        path = environ.get("PATH_INFO", "")
        service = self._service_of(path)
        if not self._authorised(environ.get("HTTP_AUTHORIZATION", "")):
            start("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="arlink-test"')])
            return [b""]
        if service is None:
            start("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such service"]
        namespace, kind = service
        url = f"{self.url}{path}"
        withheld = frozenset(op for of, op in self.withheld if of == kind)
        if environ["REQUEST_METHOD"] == "GET":
            wsdl = (
                _generic_wsdl(url, withheld)
                if kind is None
                else _bc_wsdl(self.books.tables[kind], url, withheld)
            )
            start("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            declaration, _, rest = wsdl.partition("?>")
            return [f"{declaration}?>{self.wsdl_doctype}{rest}".encode()]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = self._request(environ["wsgi.input"].read(length))
        except ServiceFaultError as fault:
            start("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
            return [_fault_body(fault)]
        operation = _local(request)
        self.calls.append(operation)
        if operation in withheld:
            start("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
            return [_fault_body(ServiceFaultError(f"You do not have permission to {operation}"))]
        time.sleep(self.answer_delay)
        failure = self._failure_for(operation, kind)
        if failure is not None and failure.fault is not None:
            start("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
            return [_fault_body(ServiceFaultError(failure.fault))]
        if failure is not None and not failure.after_commit:
            start(f"{failure.status} Failure", [("Content-Type", "text/plain")])
            return [b"service unavailable"]
        status = "200 OK"
        try:
            with self.books.lock:
                if kind is not None:
                    answer = _envelope(self._bc(namespace, kind, operation, request))
                else:
                    answer = _envelope(self._generic(operation, request))
        except ServiceFaultError as fault:
            status, answer = "500 Internal Server Error", _fault_body(fault)
        if failure is not None:  # the work is done and committed; the answer is lost
            start(f"{failure.status} Failure", [("Content-Type", "text/plain")])
            return [b"gateway timeout"]
        start(status, [("Content-Type", "text/xml; charset=utf-8")])
        return [answer]

    def _failure_for(self, operation: str, kind: str | None) -> _Failure | None:
        for failure in self.fail_next:
            if failure.operation in (None, operation) and failure.kind in (None, kind):
                self.fail_next.remove(failure)
                return failure
        return None

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return value == self.token
        if scheme == "Basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.username, self.password)
        return False

    def _request(self, body: bytes) -> etree._Element:
        """The operation element of a SOAP request, parsed without entities or DTDs."""
        try:
            envelope = etree.fromstring(body, PARSER)
        except etree.XMLSyntaxError as exc:
            raise ServiceFaultError(f"the request is not well-formed XML: {exc}") from None
        if envelope.getroottree().docinfo.doctype:
            raise ServiceFaultError("a DTD is not allowed in a request")
        soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
        request = next(_children(soap_body), None) if soap_body is not None else None
        if request is None:
            raise ServiceFaultError("the request has no operation in its Body")
        return request

    # -- Business Central-style pages -------------------------------------------------

    def _bc(self, ns: str, kind: str, operation: str, request: etree._Element) -> str:
        table = self.books.tables[kind]
        if operation == "ReadMultiple":
            return self._bc_read(ns, kind, table, request)
        if operation in ("Create", "Update"):
            record = next(_children(request), None)
            if record is None or _local(record) != table.name:
                raise ServiceFaultError(f"{operation} expects a {table.name} record")
            values = self._values(table, record)
            row = (
                self._bc_create(kind, values)
                if operation == "Create"
                else self._bc_update(kind, values)
            )
            inner = _record_xml(ns, table, row)
            return f'<{operation}_Result xmlns="{ns}">{inner}</{operation}_Result>'
        raise ServiceFaultError(f"operation {operation} is not supported by page {table.name}")

    def _values(self, table: Table, record: etree._Element) -> Row:
        values: Row = {}
        for node in _children(record):
            name = _local(node)
            if name not in table.fields:
                raise ServiceFaultError(f"field {name} is not on {table.name}")
            values[name] = _from_text(table.fields[name], node.text or "", f"{table.name}.{name}")
        return values

    def _bc_read(self, ns: str, kind: str, table: Table, request: etree._Element) -> str:
        rows = self.books.rows[kind]
        size, bookmark = 0, None
        for node in _children(request):
            name = _local(node)
            if name == "setSize":
                size = int(node.text or 0)
            elif name == "bookmarkKey":
                bookmark = node.text
            elif name == "filter":
                parts = {_local(part): part.text or "" for part in _children(node)}
                field_name, criteria = parts.get("Field", ""), parts.get("Criteria", "")
                if field_name not in table.fields:
                    raise ServiceFaultError(
                        f"the field {field_name} is not found on page {table.name}"
                    )
                kind_of = table.fields[field_name]
                what = f"filter on {field_name}"
                rows = [r for r in rows if _matches(r[field_name], kind_of, criteria, what)]
        if bookmark:
            seqs = [r["_seq"] for r in self.books.rows[kind] if r["Key"] == bookmark]
            if not seqs:
                raise ServiceFaultError(f"the bookmark key is not valid for page {table.name}")
            rows = [r for r in rows if r["_seq"] > seqs[0]]
        page = rows[:size] if size > 0 else rows
        inner = "".join(_record_xml(ns, table, row) for row in page)
        wrapped = f"<ReadMultiple_Result>{inner}</ReadMultiple_Result>" if page else ""
        return f'<ReadMultiple_Result xmlns="{ns}">{wrapped}</ReadMultiple_Result>'

    def _bc_create(self, kind: str, values: Row) -> Row:
        values.pop("Key", None)
        values.pop("SystemId", None)
        if kind == "receipts":
            values["Line_No"] = 10000 * (len(self.books.rows[kind]) + 1)
            self.books.post(values)
        elif kind == "cases":
            values.setdefault("Status", "Open")
        return self.books.insert(kind, values)

    def _bc_update(self, kind: str, values: Row) -> Row:
        key = values.pop("Key", None)
        row = self.books.find(kind, "Key", key) if key else None
        if row is None:
            raise ServiceFaultError(
                "Another user has modified the record since it was retrieved from the database"
            )
        values.pop("SystemId", None)
        self.books.update(kind, row, values)
        return row

    # -- the generic invoice service --------------------------------------------------

    def _generic_update(self, operation: str, request: etree._Element) -> str:
        kind = GENERIC_UPDATES[operation]
        table = self.books.tables[kind]
        record = next(_children(request), None)
        if record is None or _local(record) != table.name:
            raise ServiceFaultError(f"{operation} expects a {table.name}")
        values = self._values(table, record)
        record_id = values.pop(table.id_field, None)
        row = self.books.find(kind, table.id_field, record_id)
        if row is None:
            raise ServiceFaultError(f"{table.name} `{record_id}` does not exist")
        self.books.update(kind, row, values)
        return (
            f'<{operation}Response xmlns="{GENERIC_NS}"><{table.id_field}>{record_id}'
            f"</{table.id_field}></{operation}Response>"
        )

    def _generic(self, operation: str, request: etree._Element) -> str:
        ns = GENERIC_NS
        if operation in GENERIC_UPDATES:
            return self._generic_update(operation, request)
        if operation in GENERIC_WRITES:
            kind = GENERIC_WRITES[operation]
            table = self.books.tables[kind]
            record = next(_children(request), None)
            if record is None or _local(record) != table.name:
                raise ServiceFaultError(f"{operation} expects a {table.name}")
            values = self._values(table, record)
            values.pop(table.id_field, None)
            if kind == "receipts":
                self.books.post(values)
            else:
                values.setdefault("status", "open")
            row = self.books.insert(kind, values)
            return (
                f'<{operation}Response xmlns="{ns}"><{table.id_field}>{row[table.id_field]}'
                f"</{table.id_field}></{operation}Response>"
            )
        if operation not in GENERIC_READS:
            raise ServiceFaultError(f"operation {operation} is not supported")
        kind, filters = GENERIC_READS[operation]
        table = self.books.tables[kind]
        params: dict[str, list[str]] = {}
        for node in _children(request):
            params.setdefault(_local(node), []).append(node.text or "")
        rows = self.books.rows[kind]
        for param, field_name, how in filters:
            if param not in params:
                continue
            values = params[param]
            if how == "in":
                rows = [r for r in rows if r[field_name] in values]
            elif how == "eq":
                rows = [r for r in rows if r[field_name] == values[0]]
            else:
                since = _from_text("dateTime", values[0], param)
                rows = [r for r in rows if r[field_name] >= since]
        after = int(params.get("pageToken", ["0"])[0] or 0)
        size = int(params.get("pageSize", ["0"])[0] or 0)
        rows = [r for r in rows if r["_seq"] > after]
        page = rows[:size] if size > 0 else rows
        inner = "".join(_record_xml(ns, table, row) for row in page)
        more = f"<nextPageToken>{page[-1]['_seq']}</nextPageToken>" if len(rows) > len(page) else ""
        return f'<{operation}Response xmlns="{ns}">{inner}{more}</{operation}Response>'


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: the tests' output stays readable."""
