"""A test server that speaks Salesforce's REST wire protocol, over HTTPS, in memory.

simple-salesforce always builds `https://` URLs, so the server listens with a
certificate from a throwaway CA (`trustme`); clients verify against `ca_file`. It serves,
for API version `vXX.X`:

- `POST /services/oauth2/token`: the OAuth 2.0 client-credentials flow; a wrong client
  id or secret is `400 {"error": "invalid_grant"}`, as Salesforce answers it;
- `GET .../query?q=` and `.../queryAll?q=`: a SOQL subset (SELECT fields or COUNT()
  FROM object WHERE `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `IN`, `NOT IN`, `AND`, `OR`,
  `NOT`, parentheses, `null`, date and datetime literals; ORDER BY ... ASC|DESC NULLS
  FIRST|LAST; LIMIT), pages of `Sforce-Query-Options: batchSize=N` (default
  `page_size`) chained by `nextRecordsUrl`;
- `.../sobjects/<obj>/describe`, `POST .../sobjects/<obj>/` (create, 201),
  `PATCH .../sobjects/<obj>/<id>` (update, 204) and
  `PATCH .../sobjects/<obj>/<ExternalIdField>/<value>` (upsert: 201 created, 204 updated);
- sObject Collections (API 46+): `POST .../composite/sobjects` (create),
  `PATCH .../composite/sobjects` (update by Id) and
  `PATCH .../composite/sobjects/<obj>/<ExternalIdField>` (upsert), up to 200 records a
  call (more: 400 EXCEEDED_ID_LIMIT), each record's result in input order
  (`{"id", "success", "errors": [{"statusCode", "message", "fields"}], "created"}`), with
  `allOrNone` rolling back every record when one fails
  (ALL_OR_NONE_OPERATION_ROLLED_BACK on the others), and rows found locked on request
  (`lock_records`: UNABLE_TO_LOCK_ROW for that record alone);
- `.../limits/` and, on every data response, `Sforce-Limit-Info: api-usage=N/M`;
- Bulk API 2.0 query jobs: `POST .../jobs/query`, `GET .../jobs/query/<id>`,
  `GET .../jobs/query/<id>/results?maxRecords=&locator=` (CSV pages, `Sforce-Locator`);
- errors as Salesforce sends them: `[{"message", "errorCode", "fields"}]` with 400
  (INVALID_FIELD, MALFORMED_QUERY, DUPLICATE_VALUE, FIELD_CUSTOM_VALIDATION_EXCEPTION,
  FIELD_INTEGRITY_EXCEPTION), 401 INVALID_SESSION_ID (after `expire_sessions()`),
  404 NOT_FOUND, and injected faults (`fail(...)`: 503 SERVER_UNAVAILABLE,
  403 REQUEST_LIMIT_EXCEEDED, ...), and answers lost after the commit (`lose_answer`).

The org's own behaviour is simulated as its triggers and roll-ups would do it: writing an
allocation (or an unallocation, with a negative sign), or a write-off record, recomputes
the invoice's balance (`balance = total - allocations - write-offs`) and, where the
profile names one, its status ("Paid" at zero); an allocation beyond the invoice's balance
is refused with FIELD_CUSTOM_VALIDATION_EXCEPTION, as Salesforce Billing refuses it, and
so is any allocation or write-off on an invoice put on hold (`refuse_writes_for`, an
admin's validation rule). A request that fails changes nothing. An admin's narrower
profile is `deny(obj, right, field)`: describe then answers `createable`/`updateable`
false. Two org profiles ship: `BILLING` (Salesforce Billing's `blng__` objects,
exceptions as Tasks) and `CUSTOM` (an org's own `Invoice__c`, Cases).
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import trustme

from servers.ports import free_port

# ---------------------------------------------------------------------------------------
# The org's schema


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an sObject, as describe() reports it."""

    name: str
    type: str  # id, string, textarea, picklist, reference, currency, double, date, datetime
    external_id: bool = False
    createable: bool = True
    updateable: bool = True


SYSTEM = (
    Field("Id", "id", createable=False, updateable=False),
    Field("CreatedDate", "datetime", createable=False, updateable=False),
    Field("LastModifiedDate", "datetime", createable=False, updateable=False),
    Field("SystemModstamp", "datetime", createable=False, updateable=False),
    Field("IsDeleted", "boolean", createable=False, updateable=False),
)


def _obj(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in (*SYSTEM, *fields)}


def _text(*names: str) -> tuple[Field, ...]:
    return tuple(Field(name, "string") for name in names)


def _key() -> Field:
    return Field("arlink_Key__c", "string", external_id=True)


@dataclass(frozen=True, slots=True)
class Child:
    """A record type that lowers an invoice's balance (an allocation, a write-off)."""

    object: str
    invoice: str  # lookup field to the invoice
    amount: str
    negative_when: tuple[str, str] | None = None  # (field, value) that reverses the sign


@dataclass(frozen=True, slots=True)
class OrgProfile:
    """What an org holds: its objects, and how its roll-ups keep an invoice's balance."""

    objects: dict[str, dict[str, Field]]
    invoice: str
    total: str
    balance: str
    children: tuple[Child, ...]
    status: str | None = None  # a status the org sets to paid/open from the balance
    paid: str = "Paid"
    open: str = "Open"
    number: str = "Name"  # the invoice number, as users and validation messages name it


BILLING = OrgProfile(
    objects={
        "Account": _obj(*_text("Name", "Type", "AccountNumber"), Field("ParentId", "reference")),
        "blng__Invoice__c": _obj(
            Field("Name", "string"),
            Field("blng__Account__c", "reference"),
            Field("blng__TotalAmount__c", "currency"),
            Field("blng__Balance__c", "currency", createable=False, updateable=False),
            Field("blng__InvoiceDate__c", "date"),
            Field("blng__DueDate__c", "date"),
            Field("blng__InvoiceStatus__c", "picklist"),
        ),
        # Billing's invoice lines; `arlink_ProductCode__c` is the admin's formula field
        # (the product's code), writable here so tests can seed it.
        "blng__InvoiceLine__c": _obj(
            Field("Name", "string"),
            Field("blng__Invoice__c", "reference"),
            Field("blng__Quantity__c", "double"),
            Field("blng__UnitPrice__c", "currency"),
            Field("blng__TaxAmount__c", "currency"),
            Field("arlink_ProductCode__c", "string"),
        ),
        "blng__Payment__c": _obj(
            Field("Name", "string", createable=False),
            Field("blng__Account__c", "reference"),
            Field("blng__Amount__c", "currency"),
            Field("blng__PaymentDate__c", "date"),
            *_text("blng__PaymentReference__c", "blng__Status__c"),
            _key(),
        ),
        "blng__PaymentAllocationInvoice__c": _obj(
            Field("blng__Payment__c", "reference"),
            Field("blng__Invoice__c", "reference"),
            Field("blng__Amount__c", "currency"),
            Field("blng__Type__c", "picklist"),
            _key(),
        ),
        "blng__CreditNote__c": _obj(
            Field("blng__RelatedInvoice__c", "reference"),
            Field("blng__Account__c", "reference"),
            Field("arlink_WriteOffAmount__c", "currency"),
            Field("blng__CreditNoteDate__c", "date"),
            Field("blng__Notes__c", "textarea"),
            _key(),
        ),
        "Task": _obj(
            Field("WhatId", "reference"),
            Field("OwnerId", "reference"),
            Field("Description", "textarea"),
            Field("ActivityDate", "date"),
            Field("arlink_Invoice__c", "reference"),
            *_text("Subject", "Status", "Priority", "arlink_Key__c", "arlink_PaymentId__c"),
            Field("arlink_Resolution__c", "picklist"),
        ),
    },
    invoice="blng__Invoice__c",
    total="blng__TotalAmount__c",
    balance="blng__Balance__c",
    children=(
        Child(
            "blng__PaymentAllocationInvoice__c",
            "blng__Invoice__c",
            "blng__Amount__c",
            ("blng__Type__c", "Unallocation"),
        ),
        Child("blng__CreditNote__c", "blng__RelatedInvoice__c", "arlink_WriteOffAmount__c"),
    ),
)

CUSTOM = OrgProfile(
    objects={
        "Account": _obj(*_text("Name", "Type"), Field("ParentId", "reference")),
        "Invoice__c": _obj(
            *_text("Name", "CurrencyIsoCode", "PO_Number__c"),
            Field("Account__c", "reference"),
            Field("Amount__c", "currency"),
            Field("Balance__c", "currency", createable=False, updateable=False),
            Field("Invoice_Date__c", "date"),
            Field("Due_Date__c", "date"),
            Field("Status__c", "picklist"),
        ),
        "Payment__c": _obj(
            *_text("Name", "CurrencyIsoCode", "Bank_Reference__c"),
            Field("Account__c", "reference"),
            Field("Amount__c", "currency"),
            Field("Received_On__c", "date"),
            _key(),
        ),
        "Payment_Line__c": _obj(
            Field("Payment__c", "reference"),
            Field("Invoice__c", "reference"),
            Field("Amount__c", "currency"),
            _key(),
        ),
        "Invoice_Adjustment__c": _obj(
            Field("Invoice__c", "reference"),
            Field("Amount__c", "currency"),
            *_text("Reason__c", "Type__c"),
            _key(),
        ),
        "Case": _obj(
            Field("AccountId", "reference"),
            Field("OwnerId", "reference"),
            Field("Description", "textarea"),
            Field("Invoice__c", "reference"),
            *_text("Subject", "Status", "Origin", "arlink_Key__c", "arlink_PaymentId__c"),
            Field("Resolution__c", "picklist"),
        ),
    },
    invoice="Invoice__c",
    total="Amount__c",
    balance="Balance__c",
    children=(
        Child("Payment_Line__c", "Invoice__c", "Amount__c"),
        Child("Invoice_Adjustment__c", "Invoice__c", "Amount__c"),
    ),
    status="Status__c",
)


COLLECTION_LIMIT = 200  # records per sObject Collections call


class SfError(Exception):
    """An error answer: HTTP status, Salesforce errorCode, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------------------
# SOQL: the subset a books connector sends

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SfError(400, "MALFORMED_QUERY", f"unexpected token at {text[position:][:20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "string":
            value: Any = re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m[1], m[1]), raw[1:-1])
        elif kind == "datetime":
            value = datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
        elif kind == "date":
            value = date.fromisoformat(raw)
        elif kind == "number":
            value = Decimal(raw)
        else:
            value = raw
        tokens.append((kind, value))
    return tokens


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class Query:
    """A parsed SELECT."""

    fields: list[str]
    obj: str
    where: Predicate
    order: list[tuple[str, bool, bool]]  # field, descending, nulls first
    limit: int | None
    count: bool


class _Parser:
    def __init__(self, text: str, schema: dict[str, dict[str, Field]]) -> None:
        self.tokens, self.at, self.schema = _tokens(text), 0, schema
        self.fields: dict[str, Field] = {}

    def peek(self, *words: str) -> bool:
        if self.at >= len(self.tokens):
            return False
        kind, value = self.tokens[self.at]
        return kind in ("word", "op") and str(value).upper() in words

    def take(self) -> tuple[str, Any]:
        if self.at >= len(self.tokens):
            raise SfError(400, "MALFORMED_QUERY", "unexpected end of query")
        self.at += 1
        return self.tokens[self.at - 1]

    def expect(self, word: str) -> None:
        _kind, value = self.take()
        if str(value).upper() != word:
            raise SfError(400, "MALFORMED_QUERY", f"expected {word}, found {value}")

    def field(self) -> str:
        kind, name = self.take()
        if kind != "word" or name not in self.fields:
            raise SfError(400, "INVALID_FIELD", f"No such column '{name}' on entity")
        return name

    def parse(self) -> Query:
        self.expect("SELECT")
        names: list[str] = []
        count = False
        if self.peek("COUNT"):
            self.take(), self.expect("("), self.expect(")")
            count = True
        else:
            while True:
                names.append(str(self.take()[1]))
                if not self.peek(","):
                    break
                self.take()
        self.expect("FROM")
        obj = str(self.take()[1])
        if obj not in self.schema:
            raise SfError(
                400, "INVALID_TYPE", f"sObject type '{obj}' is not supported. If you are "
                "attempting to use a custom object, be sure to append the '__c'"
            )  # fmt: skip
        self.fields = self.schema[obj]
        for name in names:
            if name not in self.fields:
                raise SfError(
                    400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj}'"
                )  # fmt: skip
        where: Predicate = lambda row: True  # noqa: E731
        if self.peek("WHERE"):
            self.take()
            where = self.disjunction()
        order: list[tuple[str, bool, bool]] = []
        if self.peek("ORDER"):
            self.take(), self.expect("BY")
            while True:
                name = self.field()
                descending = self.peek("DESC")
                if self.peek("ASC", "DESC"):
                    self.take()
                nulls_first = not descending
                if self.peek("NULLS"):
                    self.take()
                    nulls_first = str(self.take()[1]).upper() == "FIRST"
                order.append((name, descending, nulls_first))
                if not self.peek(","):
                    break
                self.take()
        limit = None
        if self.peek("LIMIT"):
            self.take()
            limit = int(self.take()[1])
        if self.at != len(self.tokens):
            raise SfError(400, "MALFORMED_QUERY", f"unexpected {self.tokens[self.at][1]}")
        return Query(names, obj, where, order, limit, count)

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda row: any(p(row) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.factor()]
        while self.peek("AND"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else lambda row: all(p(row) for p in parts)

    def factor(self) -> Predicate:
        if self.peek("NOT"):
            self.take()
            inner = self.factor()
            return lambda row: not inner(row)
        if self.peek("("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        name = self.field()
        kind = self.fields[name].type
        if self.peek("NOT", "IN"):
            negate = self.peek("NOT")
            if negate:
                self.take()
            self.expect("IN")
            self.expect("(")
            values = [self.value(kind)]
            while self.peek(","):
                self.take()
                values.append(self.value(kind))
            self.expect(")")
            return lambda row: (row.get(name) in values) != negate
        operator = str(self.take()[1])
        value = self.value(kind)
        return _comparison(name, operator, value)

    def value(self, kind: str) -> Any:
        token, value = self.take()
        if token == "word" and value.lower() == "null":
            return None
        if token == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind in ("currency", "double") and token == "number":
            return value
        if kind == "datetime" and token == "datetime":
            return value
        if kind == "date" and token == "date":
            return value
        if kind not in ("currency", "double", "datetime", "date") and token == "string":
            return value
        raise SfError(400, "MALFORMED_QUERY", f"value {value} does not fit a {kind} field")


def _comparison(name: str, operator: str, value: Any) -> Predicate:
    if operator == "=":
        return lambda row: row.get(name) == value
    if operator in ("!=", "<>"):
        return lambda row: row.get(name) != value
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    if operator not in compare or value is None:
        raise SfError(400, "MALFORMED_QUERY", f"unexpected operator {operator}")
    test = compare[operator]
    return lambda row: row.get(name) is not None and test(row[name], value)


def _sorted(rows: list[dict[str, Any]], order: list[tuple[str, bool, bool]]) -> list[dict]:
    for name, descending, nulls_first in reversed(order):
        present = sorted(
            (r for r in rows if r.get(name) is not None), key=lambda r: r[name], reverse=descending
        )
        nulls = [r for r in rows if r.get(name) is None]
        rows = nulls + present if nulls_first else present + nulls
    return rows


# ---------------------------------------------------------------------------------------
# The org


def _wire(value: Any, kind: str) -> Any:
    """A stored value as REST JSON sends it."""
    if value is None:
        return None
    if kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if kind == "date":
        return value.isoformat()
    if kind in ("currency", "double"):
        return float(value)
    return value


def _csv_text(value: Any, kind: str) -> str:
    """A stored value as Bulk API 2.0 CSV writes it."""
    if value is None:
        return ""
    if kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if kind in ("currency", "double"):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, date) else value.isoformat()


@dataclass
class Org:
    """The org's records and its roll-up behaviour (see the module docstring)."""

    profile: OrgProfile
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    last_stamp: datetime = field(default_factory=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    on_hold: set[str] = field(default_factory=set)  # invoice numbers a validation rule locks
    denied: set[tuple[str, str]] = field(default_factory=set)  # (object, "createable"|...)

    def __post_init__(self) -> None:
        for number, name in enumerate(self.profile.objects):
            self.records[name] = {}
            self.prefixes[name] = f"a{number:02d}"

    def stamp(self) -> datetime:
        """Now to the millisecond, always later than the last stamp (ordering by it holds)."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self.last_stamp = max(now, self.last_stamp + timedelta(milliseconds=1))
        return self.last_stamp

    def schema(self, obj: str) -> dict[str, Field]:
        if obj not in self.profile.objects:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        return self.profile.objects[obj]

    def _coerce(self, obj: str, values: dict[str, Any], creating: bool) -> dict[str, Any]:
        schema = self.schema(obj)
        out = {}
        for name, value in values.items():
            spec = schema.get(name)
            if spec is None:
                raise SfError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of "
                              f"type {obj}")  # fmt: skip
            if not (spec.createable if creating else spec.updateable):
                raise SfError(
                    400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile",
                )  # fmt: skip
            out[name] = self._typed(spec, value)
        return out

    def _typed(self, spec: Field, value: Any) -> Any:
        if value is None:
            return None
        try:
            if spec.type in ("currency", "double"):
                if isinstance(value, bool):
                    raise ValueError
                return Decimal(repr(value) if isinstance(value, float) else str(value))
            if spec.type == "date":
                return date.fromisoformat(str(value))
            known = any(str(value) in table for table in self.records.values())
            if spec.type == "reference" and not known:
                raise SfError(
                    400, "FIELD_INTEGRITY_EXCEPTION",
                    f"{spec.name}: id value of incorrect type: {value}",
                )  # fmt: skip
        except (ValueError, ArithmeticError):
            raise SfError(
                400, "JSON_PARSER_ERROR", f"Cannot deserialize {value!r} as {spec.type}"
            ) from None
        return value

    def _unique(self, obj: str, row: dict[str, Any], record_id: str | None) -> None:
        for spec in self.schema(obj).values():
            value = row.get(spec.name)
            if spec.external_id and value is not None:
                for other_id, other in self.records[obj].items():
                    if other_id != record_id and other.get(spec.name) == value:
                        raise SfError(
                            400, "DUPLICATE_VALUE", f"duplicate value found: {spec.name} "
                            f"duplicates value on record with id: {other_id}"
                        )  # fmt: skip

    def _allowed(self, obj: str, right: str) -> None:
        if (obj, right) in self.denied:
            raise SfError(
                400, "INSUFFICIENT_ACCESS_OR_READONLY",
                f"insufficient access rights on object: the profile cannot {right[:6]} {obj}",
            )  # fmt: skip

    def create(self, obj: str, values: dict[str, Any]) -> str:
        """Insert a record (and run the org's roll-ups); a failure leaves nothing behind."""
        self._allowed(obj, "createable")
        row = self._coerce(obj, values, creating=True)
        record_id = f"{self.prefixes[obj]}{next(self.counter):012d}AAA"
        now = self.stamp()
        row.update(Id=record_id, CreatedDate=now, LastModifiedDate=now, SystemModstamp=now)
        row.setdefault("IsDeleted", False)
        for name in self.schema(obj):
            row.setdefault(name, None)
        self._unique(obj, row, None)
        self._commit(obj, record_id, row)
        return record_id

    def update(self, obj: str, record_id: str, values: dict[str, Any]) -> None:
        if record_id not in self.records[obj]:
            raise SfError(404, "NOT_FOUND", "Provided external ID field does not exist or is "
                          "not accessible: " + record_id)  # fmt: skip
        self._allowed(obj, "updateable")
        row = {**self.records[obj][record_id], **self._coerce(obj, values, creating=False)}
        now = self.stamp()
        row.update(LastModifiedDate=now, SystemModstamp=now)
        self._unique(obj, row, record_id)
        self._commit(obj, record_id, row)

    def _commit(self, obj: str, record_id: str, row: dict[str, Any]) -> None:
        """Write the row, then the roll-ups; restore what they touched if a validation fails."""
        profile = self.profile
        table, invoices = self.records[obj], self.records[profile.invoice]
        old = table.get(record_id)
        touched = {record_id} if obj == profile.invoice else set()
        for child in profile.children:
            if child.object == obj:
                touched |= {(old or {}).get(child.invoice), row.get(child.invoice)} - {None}
                self._hold(invoices.get(row.get(child.invoice)))
        saved = {i: dict(invoices[i]) for i in touched if i in invoices}
        table[record_id] = row
        try:
            for invoice_id in touched:
                self._roll_up(invoice_id)
        except SfError:
            if old is None:
                del table[record_id]
            else:
                table[record_id] = old
            invoices.update(saved)
            raise

    def _hold(self, invoice: dict[str, Any] | None) -> None:
        """An admin's validation rule: no allocation or write-off on an invoice on hold."""
        number = (invoice or {}).get(self.profile.number)
        if number in self.on_hold:
            raise SfError(
                400, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                f"Invoice {number} is on hold: no payment may be applied to it",
            )  # fmt: skip

    def _roll_up(self, invoice_id: str) -> None:
        p = self.profile
        invoice = self.records[p.invoice].get(invoice_id)
        if invoice is None:
            return
        settled = Decimal(0)
        for child in p.children:
            for row in self.records[child.object].values():
                if row.get(child.invoice) == invoice_id and row.get(child.amount) is not None:
                    sign = -1 if child.negative_when and (
                        row.get(child.negative_when[0]) == child.negative_when[1]
                    ) else 1  # fmt: skip
                    settled += sign * row[child.amount]
        balance = (invoice.get(p.total) or Decimal(0)) - settled
        if balance < 0:
            raise SfError(
                400, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                f"The amount exceeds the balance of invoice {invoice.get('Name')}",
            )  # fmt: skip
        status = invoice.get(p.status) if p.status else None
        if p.status and status in (p.open, p.paid, None):
            status = p.paid if balance == 0 else p.open
        if invoice.get(p.balance) != balance or (p.status and invoice.get(p.status) != status):
            now = self.stamp()
            invoice.update({p.balance: balance, "LastModifiedDate": now, "SystemModstamp": now})
            if p.status:
                invoice[p.status] = status

    def find(self, obj: str, name: str, value: Any) -> str | None:
        for record_id, row in self.records[obj].items():
            if row.get(name) == value:
                return record_id
        return None

    def query(self, soql: str) -> tuple[Query, list[dict[str, Any]]]:
        query = _Parser(soql, self.profile.objects).parse()
        rows = [r for r in self.records[query.obj].values() if query.where(r)]
        rows = _sorted(rows, query.order) if query.order else rows
        return query, rows[: query.limit] if query.limit is not None else rows


# ---------------------------------------------------------------------------------------
# HTTP


@dataclass
class _Job:
    rows: list[dict[str, Any]]
    query: Query
    polls: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpsServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        try:
            with owner.lock:
                status, payload, headers = owner.handle(method, self.path, dict(self.headers), body)
        except SfError as error:
            status, headers = error.status, {}
            payload = [{"message": error.message, "errorCode": error.code, "fields": []}]
        if owner.take_lost(method, self.path):
            self.close_connection = True  # committed, but the answer never reaches the client
            return
        if isinstance(payload, bytes):
            data, kind = payload, headers.pop("Content-Type", "text/csv")
        elif payload is None:
            data, kind = b"", "application/json"
        else:
            data, kind = json.dumps(payload).encode(), "application/json;charset=UTF-8"
        self.send_response(status)
        for name, value in {**headers, **owner.limit_header()}.items():
            self.send_header(name, value)
        if data or status != 204:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: SalesforceServer


class SalesforceServer:
    """The test org over HTTPS on a free loopback port (see the module docstring)."""

    def __init__(
        self,
        profile: OrgProfile = BILLING,
        *,
        client_id: str = "arlink-client",
        client_secret: str = "s3cret",
        page_size: int = 2000,
        daily_limit: int = 15000,
        api_version: str = "62.0",
    ) -> None:
        self.org = Org(copy.deepcopy(profile))  # drop_field() must not touch the shared one
        self.client_id, self.client_secret = client_id, client_secret
        self.page_size, self.daily_limit, self.api_version = page_size, daily_limit, api_version
        self.lock = threading.RLock()
        self.tokens: set[str] = set()
        self.token_count = itertools.count(1)
        self.api_calls = 0
        self.faults: list[tuple[str, SfError]] = []
        self.lost: list[str] = []
        self.locked_records = 0  # the next records of collections find their row locked
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.cursor_query: dict[str, Query] = {}
        self.jobs: dict[str, _Job] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path without query): what was asked
        self._dir = tempfile.TemporaryDirectory(prefix="sf-test-ca-")
        self.ca = trustme.CA()
        self.ca_file = Path(self._dir.name) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self._httpd: _HttpsServer | None = None
        self._thread: threading.Thread | None = None

    # -- control, for tests -----------------------------------------------------------

    def fail(
        self, times: int, status: int = 503, code: str = "SERVER_UNAVAILABLE", only: str = ""
    ) -> None:
        """Answer the next `times` data-API requests (those whose `METHOD path` contains
        `only`) with this error, before any effect."""
        with self.lock:
            self.faults.extend(
                (only, SfError(status, code, f"injected {code}")) for _ in range(times)
            )

    def lose_answer(self, only: str) -> None:
        """Do the next request whose `METHOD path` contains `only`, then drop the connection
        without answering: a timeout or a crash after the org committed."""
        with self.lock:
            self.lost.append(only)

    def take_lost(self, method: str, path: str) -> bool:
        with self.lock:
            for number, only in enumerate(self.lost):
                if only in f"{method} {path}":
                    del self.lost[number]
                    return True
        return False

    def expire_sessions(self) -> None:
        """Invalidate every access token, as a session timeout or a revoked token does."""
        with self.lock:
            self.tokens.clear()

    def drop_field(self, obj: str, name: str) -> None:
        """Remove a field from the org (an admin deleted it, or the profile hides it)."""
        with self.lock:
            del self.org.profile.objects[obj][name]

    def refuse_writes_for(self, invoice_number: str) -> None:
        """Put an invoice on hold: the org refuses every allocation and write-off on it
        (FIELD_CUSTOM_VALIDATION_EXCEPTION), as an admin's validation rule does."""
        with self.lock:
            self.org.on_hold.add(invoice_number)

    def lock_records(self, times: int) -> None:
        """The next `times` records sent in collections fail on their own with
        UNABLE_TO_LOCK_ROW (another transaction holds the row), the rest of the call goes on."""
        with self.lock:
            self.locked_records += times

    def deny(self, obj: str, right: str, field_name: str | None = None) -> None:
        """Take `right` ("createable" or "updateable") on `obj`, or on one of its fields,
        from the integration user's profile: describe reports it false, writes are refused."""
        with self.lock:
            if field_name is None:
                self.org.denied.add((obj, right))
                return
            fields = self.org.profile.objects[obj]
            fields[field_name] = replace(fields[field_name], **{right: False})

    def limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_calls}/{self.daily_limit}"}

    # -- requests ---------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        path, params = unquote(parts.path), parse_qs(parts.query)
        self.requests.append((method, path))
        if path == "/services/oauth2/token" and method == "POST":
            return self._token(parse_qs(body.decode()))
        prefix = f"/services/data/v{self.api_version}/"
        if not path.startswith(prefix):
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        self.api_calls += 1
        for number, (only, fault) in enumerate(self.faults):
            if only in f"{method} {path}":
                del self.faults[number]
                raise fault
        rest = path[len(prefix) :].rstrip("/").split("/")
        document = json.loads(body) if body and method != "GET" else None
        return self._route(method, rest, params, headers, document)

    def _token(self, form: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        if one("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "grant type not supported"}, {}  # fmt: skip
        if (one("client_id"), one("client_secret")) != (self.client_id, self.client_secret):
            return (
                400,
                {"error": "invalid_grant", "error_description": "authentication failure"},
                {},
            )
        token = f"00D000000000001!tok{next(self.token_count)}"
        self.tokens.add(token)
        return 200, {"access_token": token, "instance_url": self.url,
                     "id": f"{self.url}/id/00D000000000001/005000000000001",
                     "token_type": "Bearer", "issued_at": "0", "signature": "sig"}, {}  # fmt: skip

    def _route(
        self,
        method: str,
        rest: list[str],
        params: dict[str, list[str]],
        headers: dict[str, str],
        document: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        head = rest[0]
        if head in ("query", "queryAll") and method == "GET":
            if len(rest) == 2:
                return 200, self._page(rest[1]), {}
            return 200, self._query(params.get("q", [""])[0], headers), {}
        if head == "limits" and method == "GET":
            remaining = self.daily_limit - self.api_calls
            return 200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining}}, {}
        if head == "sobjects" and len(rest) >= 2:
            return self._sobjects(method, rest[1:], document)
        if rest[:2] == ["composite", "sobjects"]:
            return self._collection(method, rest[2:], document)
        if head == "jobs" and len(rest) >= 2 and rest[1] == "query":
            return self._bulk(method, rest[2:], params, document)
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    def _record(self, query: Query, row: dict[str, Any]) -> dict[str, Any]:
        schema = self.org.schema(query.obj)
        url = f"/services/data/v{self.api_version}/sobjects/{query.obj}/{row['Id']}"
        return {
            "attributes": {"type": query.obj, "url": url},
            **{name: _wire(row.get(name), schema[name].type) for name in query.fields},
        }

    def _query(self, soql: str, headers: dict[str, str]) -> dict[str, Any]:
        query, rows = self.org.query(soql)
        if query.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        size = self.page_size
        options = headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize=(\d+)", options)
        if match:
            size = max(1, min(int(match.group(1)), 2000))
        cursor = f"01g{len(self.cursors) + 1:015d}"
        self.cursors[cursor] = [dict(row) for row in rows]
        self.cursor_query[cursor] = query
        return self._slice(cursor, 0, size)

    def _slice(self, cursor: str, start: int, size: int) -> dict[str, Any]:
        rows, query = self.cursors[cursor], self.cursor_query[cursor]
        page = rows[start : start + size]
        done = start + size >= len(rows)
        answer: dict[str, Any] = {
            "totalSize": len(rows),
            "done": done,
            "records": [self._record(query, row) for row in page],
        }
        if not done:
            next_start = start + size
            answer["nextRecordsUrl"] = (
                f"/services/data/v{self.api_version}/query/{cursor}-{next_start}-{size}"
            )
        return answer

    def _page(self, locator: str) -> dict[str, Any]:
        cursor, start, size = ([*locator.split("-"), "", ""])[:3]
        if cursor not in self.cursors or not start.isdigit() or not size.isdigit():
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._slice(cursor, int(start), int(size))

    def _sobjects(
        self, method: str, rest: list[str], document: Any
    ) -> tuple[int, Any, dict[str, str]]:
        obj = rest[0]
        schema = self.org.schema(obj)
        if len(rest) == 2 and rest[1] == "describe" and method == "GET":
            return 200, self._describe(obj, schema), {}
        if len(rest) == 1 and method == "POST":
            record_id = self.org.create(obj, document or {})
            return 201, {"id": record_id, "success": True, "errors": []}, {}
        if len(rest) == 2 and method == "PATCH":
            self.org.update(obj, rest[1], document or {})
            return 204, None, {}
        if len(rest) == 3 and method == "PATCH":
            self._external_id(obj, rest[1])
            record_id, created = self._upsert(obj, rest[1], rest[2], document or {})
            if created:
                return 201, {"id": record_id, "success": True, "errors": [], "created": True}, {}
            return 204, None, {}
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    def _external_id(self, obj: str, name: str) -> None:
        spec = self.org.schema(obj).get(name)
        if spec is None or not spec.external_id:
            raise SfError(
                404, "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
            )  # fmt: skip

    def _upsert(self, obj: str, name: str, value: Any, values: dict[str, Any]) -> tuple[str, bool]:
        found = self.org.find(obj, name, value)
        if found is None:
            return self.org.create(obj, {**values, name: value}), True
        self.org.update(obj, found, values)
        return found, False

    def _collection(
        self, method: str, rest: list[str], document: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """sObject Collections: create, update or upsert up to 200 records, each on its
        own (a failure is that record's result) unless `allOrNone` rolls them all back."""
        records = (document or {}).get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SfError(400, "JSON_PARSER_ERROR", "`records` must be a list of sObjects")
        if len(records) > COLLECTION_LIMIT:
            raise SfError(
                400, "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records "
                "into this call",
            )  # fmt: skip
        if len(rest) == 2 and method == "PATCH":
            self._external_id(rest[0], rest[1])
        elif rest or method not in ("POST", "PATCH"):
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        all_or_none = bool(document.get("allOrNone"))
        before = copy.deepcopy(self.org.records) if all_or_none else None
        results = [self._collection_one(method, rest, dict(record)) for record in records]
        if before is not None and not all(r["success"] for r in results):
            self.org.records = before
            rolled_back = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
            results = [
                r if not r["success"] else {**r, "success": False, "errors": [rolled_back]}
                for r in results
            ]
        return 200, results, {}

    def _collection_one(
        self, method: str, rest: list[str], record: dict[str, Any]
    ) -> dict[str, Any]:
        attributes = record.pop("attributes", None) or {}
        obj = rest[0] if rest else str(attributes.get("type", ""))
        record_id = record.pop("Id", None) if method == "PATCH" and not rest else None
        try:
            if self.locked_records:
                self.locked_records -= 1
                raise SfError(
                    400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"
                )
            if attributes.get("type") != obj or not obj:
                raise SfError(400, "INVALID_TYPE", "each record needs attributes.type: " + obj)
            if rest:
                name = rest[1]
                if record.get(name) is None:
                    raise SfError(400, "REQUIRED_FIELD_MISSING", f"missing external id {name}")
                record_id, created = self._upsert(obj, name, record.pop(name), record)
                return {"id": record_id, "success": True, "errors": [], "created": created}
            if method == "POST":
                return {"id": self.org.create(obj, record), "success": True, "errors": []}
            if record_id is None:
                raise SfError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
            self.org.update(obj, record_id, record)
            return {"id": record_id, "success": True, "errors": []}
        except SfError as error:
            failed = {"message": error.message, "statusCode": error.code, "fields": []}
            answer: dict[str, Any] = {"success": False, "errors": [failed]}
            if record_id is not None:
                answer["id"] = record_id
            return answer

    def _describe(self, obj: str, schema: dict[str, Field]) -> dict[str, Any]:
        return {
            "name": obj,
            "queryable": True,
            "createable": (obj, "createable") not in self.org.denied,
            "updateable": (obj, "updateable") not in self.org.denied,
            "fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "externalId": f.external_id,
                    "unique": f.external_id,
                    "idLookup": f.external_id or f.name == "Id",
                    "createable": f.createable,
                    "updateable": f.updateable,
                    "nillable": f.name != "Id",
                }
                for f in schema.values()
            ],
        }

    def _bulk(
        self, method: str, rest: list[str], params: dict[str, list[str]], document: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if not rest and method == "POST":
            if (document or {}).get("operation") not in ("query", "queryAll"):
                raise SfError(400, "INVALIDJOB", "operation must be query or queryAll")
            query, rows = self.org.query(document["query"])
            job_id = f"750{len(self.jobs) + 1:015d}"
            self.jobs[job_id] = _Job([dict(row) for row in rows], query)
            return 200, {"id": job_id, "operation": "query", "object": query.obj,
                         "state": "UploadComplete"}, {}  # fmt: skip
        job = self.jobs.get(rest[0]) if rest else None
        if job is None:
            raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 1 and method == "GET":
            # The first poll finds the job running, as a real one usually is.
            job.polls += 1
            state = "InProgress" if job.polls == 1 else "JobComplete"
            return 200, {"id": rest[0], "state": state,
                         "numberRecordsProcessed": len(job.rows)}, {}  # fmt: skip
        if len(rest) == 2 and rest[1] == "results" and method == "GET":
            size = int((params.get("maxRecords") or [str(self.page_size)])[0])
            start = int((params.get("locator") or ["0"])[0] or 0)
            page = job.rows[start : start + size]
            schema = self.org.schema(job.query.obj)
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job.query.fields)
            for row in page:
                writer.writerow(
                    [_csv_text(row.get(name), schema[name].type) for name in job.query.fields]
                )
            more = start + size < len(job.rows)
            return (
                200,
                out.getvalue().encode(),
                {
                    "Content-Type": "text/csv",
                    "Sforce-Locator": str(start + size) if more else "null",
                    "Sforce-NumberOfRecords": str(len(page)),
                },
            )
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        httpd = _HttpsServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="salesforce-test-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._dir.cleanup()


def start_salesforce(profile: OrgProfile = BILLING, **options: Any) -> Iterator[SalesforceServer]:
    """A started test org for a fixture; stopped when the fixture ends."""
    server = SalesforceServer(profile, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
