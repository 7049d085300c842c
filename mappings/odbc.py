"""How a SQL-database ERP's rows map onto arlink's records, for the `odbc` books host.

A mapping file (`mappings/odbc/generic.toml` ships the default, for the generic AR schema
of `mappings/odbc/generic.sql`) holds every query and statement the connector runs, with
`?` placeholders only and a `params` list naming what each placeholder receives. The
connector chooses which mapped statement to run and binds values by name; it never
builds SQL from data. The functions here turn result rows (dicts keyed by the lower-case
column names) into `Customer`s, `Invoice`s and `Resolution`s. Money must arrive as text
or Decimal: a float (the SQLite driver's NUMERIC) is refused, naming the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money, MoneyError
from mappings.records import Customer, EdiStatusWrite, Invoice, Resolution
from mappings.toml_file import read_toml

MAPPING_FOLDER = Path(__file__).with_name("odbc")
DEFAULT_MAPPING = MAPPING_FOLDER / "generic.toml"
DEFAULT_SCHEMA = MAPPING_FOLDER / "generic.sql"
QUERY_TIMEOUTS = ("attribute", "setup")
RESOLUTION_ACTIONS = ("apply", "on_account", "not_ours")

_PAGE = frozenset({"after_at", "after_id", "page_size"})
# Every statement the connector runs, and the values it can bind to it by name.
STATEMENTS: dict[str, frozenset[str]] = {
    "customers.page": _PAGE,
    "customers.bank_accounts": frozenset({"since"}),
    "customers.aliases": frozenset({"since"}),
    "invoices.open_page": _PAGE,
    "invoices.changed_page": _PAGE,
    "invoices.by_id": frozenset({"invoice_id"}),
    "invoices.settle": frozenset(
        {"open_amount", "status", "updated_at", "invoice_id", "expected_open_amount"}
    ),
    "receipts.find": frozenset({"payment_id"}),
    "receipts.insert": frozenset(
        {
            "payment_id",
            "bank_account",
            "value_date",
            "amount",
            "currency",
            "payer_name",
            "bank_reference",
            "remittance",
            "created_at",
        }
    ),
    "applications.find": frozenset({"idempotency_key"}),
    "applications.insert": frozenset(
        {
            "idempotency_key",
            "payment_id",
            "invoice_id",
            "amount",
            "discount",
            "write_off",
            "currency",
            "reasons",
            "created_at",
        }
    ),
    "exceptions.find": frozenset({"idempotency_key"}),
    "exceptions.insert": frozenset(
        {
            "idempotency_key",
            "payment_id",
            "reason",
            "amount",
            "currency",
            "payer_name",
            "bank_reference",
            "value_date",
            "remittance",
            "details",
            "suggestions",
            "created_at",
        }
    ),
    "resolutions.page": _PAGE,
    "resolutions.find": frozenset({"idempotency_key"}),
    "resolutions.close": frozenset({"payment_id", "action", "invoice_id", "note", "resolved_at"}),
    "documents.lines": frozenset({"invoice_id"}),
    "documents.allowances": frozenset({"invoice_id"}),
    "documents.taxes": frozenset({"invoice_id"}),
    "documents.parties": frozenset({"invoice_id"}),
    "documents.terms": frozenset({"invoice_id"}),
    "edi_status.find": frozenset({"idempotency_key"}),
    "edi_status.insert": frozenset(
        {
            "idempotency_key",
            "invoice_id",
            "invoice_number",
            "partner",
            "status",
            "interchange_control",
            "message",
            "created_at",
        }
    ),
    "edi_status.exception": frozenset(
        {"idempotency_key", "reason", "details", "invoice_id", "created_at"}
    ),
}
# The EDI statements: a mapping written before EDI may leave them out (EDI then says so).
EDI_STATEMENTS = frozenset(name for name in STATEMENTS if name.startswith(("documents.", "edi_")))
# Closing an exception for a decision taken in `arlink web`: a mapping without them
# cannot (`push_resolutions` then says so).
RESOLUTION_STATEMENTS = frozenset({"resolutions.find", "resolutions.close"})
SESSION_PARAMS = frozenset({"statement_timeout_ms"})

# A `?` outside quoted literals and identifiers; the loader counts them against `params`.
_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


class OdbcMappingError(ValueError):
    """A mapping file that is not what the connector needs; names the key and the file."""


class OdbcRowError(ValueError):
    """A row that cannot become a canonical record (names the statement, record and column)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One mapped SQL statement and the names of the values its `?` placeholders take."""

    sql: str
    params: tuple[str, ...]

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        """The parameter list for this statement, in placeholder order."""
        return [values[name] for name in self.params]


@dataclass(frozen=True, slots=True)
class Session:
    """What a connection to one DBMS needs first: how it times out queries, and setup SQL."""

    query_timeout: str  # "attribute" (ODBC's query timeout) or "setup" (a setup statement)
    setup: tuple[Statement, ...]


NO_SESSION = Session("attribute", ())


@dataclass(frozen=True, slots=True)
class OdbcMapping:
    """The statements, per-DBMS session setup and existence checks of one database."""

    statements: dict[str, Statement]
    sessions: dict[str, Session]
    checks: dict[str, str]
    source: Path

    @classmethod
    def load(cls, path: Path | None = None) -> OdbcMapping:
        """Read a mapping file (default: the shipped `generic.toml`); every problem at once."""
        source = path or DEFAULT_MAPPING
        raw = read_toml(source, OdbcMappingError)
        problems: list[str] = []
        statements = {
            name: _statement(_at(raw, name), name, allowed, problems)
            for name, allowed in STATEMENTS.items()
            if name not in EDI_STATEMENTS | RESOLUTION_STATEMENTS or _at(raw, name) is not None
        }
        sessions = {
            dbms.lower(): _session(value, f"session.{dbms}", problems)
            for dbms, value in _table(raw, "session", problems).items()
        }
        checks = {}
        for name, sql in _table(raw, "checks", problems).items():
            if isinstance(sql, str) and sql.strip() and _placeholders(sql) == 0:
                checks[name] = sql
            else:
                problems.append(f"`checks.{name}`: expected a SELECT without `?`, found {sql!r}")
        if not checks:
            problems.append("`checks`: expected at least one existence check")
        if problems:
            raise OdbcMappingError(
                f"{source}: " + "; ".join(problems) + " (see mappings/odbc/generic.toml)"
            )
        return cls(statements, sessions, checks, source)

    def statement(self, name: str) -> Statement:
        return self.statements[name]

    def lacking(self, names: Iterable[str]) -> list[str]:
        """Which of the optional statements `names` this mapping leaves out."""
        return [name for name in names if name not in self.statements]

    def session_for(self, dbms: str) -> Session:
        """The session of a DBMS by the name its driver reports; none listed: ODBC's own."""
        return self.sessions.get(dbms.lower(), NO_SESSION)


def _at(raw: Mapping[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _table(raw: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    node = raw.get(key)
    if not isinstance(node, dict):
        problems.append(f"`{key}`: expected a table, found {node!r}")
        return {}
    return node


def _placeholders(sql: str) -> int:
    return sum(1 for match in _QUOTED_OR_MARK.finditer(sql) if match.group(0) == "?")


def _statement(node: Any, key: str, allowed: frozenset[str], problems: list[str]) -> Statement:
    if not isinstance(node, dict) or not isinstance(node.get("sql"), str):
        problems.append(f"`{key}.sql`: expected the statement's SQL, found nothing")
        return Statement("", ())
    sql, params = node["sql"], node.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        problems.append(f"`{key}.params`: expected a list of names, found {params!r}")
        return Statement(sql, ())
    unknown = sorted(set(params) - allowed)
    if unknown:
        problems.append(
            f"`{key}.params`: unknown {', '.join(unknown)}; expected names from "
            f"{', '.join(sorted(allowed))}"
        )
    marks = _placeholders(sql)
    if marks != len(params):
        problems.append(f"`{key}`: the SQL has {marks} `?`, `params` names {len(params)}")
    return Statement(sql, tuple(params))


def _session(node: Any, key: str, problems: list[str]) -> Session:
    if not isinstance(node, dict):
        problems.append(f"`{key}`: expected a table, found {node!r}")
        return NO_SESSION
    timeout = node.get("query_timeout")
    if timeout not in QUERY_TIMEOUTS:
        problems.append(
            f"`{key}.query_timeout`: expected one of {', '.join(QUERY_TIMEOUTS)}, found {timeout!r}"
        )
    setup = node.get("setup", [])
    if not isinstance(setup, list):
        problems.append(f"`{key}.setup`: expected a list of statements, found {setup!r}")
        setup = []
    statements = tuple(
        _statement(item, f"{key}.setup[{index}]", SESSION_PARAMS, problems)
        for index, item in enumerate(setup)
    )
    return Session(str(timeout), statements)


def ddl_statements(script: str) -> list[str]:
    """The statements of a DDL script such as `generic.sql` (`--` comments dropped), one
    per `;`, for a tool that runs one statement at a time."""
    text = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [statement.strip() for statement in text.split(";") if statement.strip()]


# ---------------------------------------------------------------------------------------
# Values as drivers return them, and as they are bound


def money_from_sql(value: Any, currency: str, where: str) -> Money:
    """A money column as `Money`: text, Decimal or int. A float is refused: its cents may
    already be lost (select the column as text, as the shipped mapping does)."""
    if isinstance(value, float):
        raise OdbcRowError(
            f"{where}: the driver returned a float ({value!r}); select the column as text "
            "(CAST(... AS VARCHAR(40))) in the mapping"
        )
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise OdbcRowError(f"{where}: expected an amount, found {value!r}")
    try:
        return Money.parse(value if isinstance(value, str) else str(value), currency)
    except MoneyError as exc:
        raise OdbcRowError(f"{where}: {exc}") from None


def timestamp_from_sql(value: Any, where: str) -> datetime:
    """A TIMESTAMP column (UTC, no zone) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise OdbcRowError(f"{where}: expected a timestamp, found {value!r}") from None
    else:
        raise OdbcRowError(f"{where}: expected a timestamp, found {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sql_timestamp(moment: datetime) -> datetime:
    """An aware datetime as the database holds it: UTC without a zone, to the millisecond
    (the SQLite driver keeps milliseconds; every dialect then sees the same value)."""
    if moment.tzinfo is None:
        raise OdbcMappingError(f"a timestamp must be timezone-aware, found {moment.isoformat()}")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _modified(row: Mapping[str, Any], column: str, where: str) -> datetime | None:
    """When the host last changed the row (`column`, if the query selects it)."""
    value = row.get(column)
    return None if value is None else timestamp_from_sql(value, f"{where} `{column}`")


def _date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise OdbcRowError(f"{where}: expected a date, found {value!r}")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value).strip()


def _required(row: Mapping[str, Any], column: str, where: str) -> Any:
    if column not in row:
        raise OdbcRowError(f"{where}: the query returns no column `{column}`")
    value = row[column]
    if value is None or value == "":
        raise OdbcRowError(f"{where}: column `{column}` is empty")
    return value


# ---------------------------------------------------------------------------------------
# Rows to records


def customer_from(
    row: Mapping[str, Any], bank_accounts: Sequence[str], aliases: Sequence[str]
) -> Customer:
    """A `customers.page` row (and the customer's accounts and aliases) as a `Customer`."""
    customer_id = str(_required(row, "customer_id", "customers.page"))
    where = f"customers.page customer {customer_id}"
    return Customer(
        customer_id=customer_id,
        name=str(_required(row, "name", where)).strip(),
        parent_id=_text(row.get("parent_id")),
        aliases=tuple(aliases),
        bank_accounts=tuple(bank_accounts),
        payment_terms=_text(row.get("payment_terms")),
        modified=_modified(row, "updated_at", where),
    )


def invoice_from(row: Mapping[str, Any], statement: str) -> Invoice:
    """An open-item row as an `Invoice`; `status` is the table's own ('open', 'paid', ...)."""
    invoice_id = str(_required(row, "invoice_id", statement))
    where = f"{statement} invoice {invoice_id}"
    currency = str(_required(row, "currency", where)).strip()
    return Invoice(
        invoice_id=invoice_id,
        number=str(_required(row, "number", where)).strip(),
        customer_id=str(_required(row, "customer_id", where)),
        total=money_from_sql(_required(row, "total", where), currency, f"{where} `total`"),
        open_amount=money_from_sql(
            _required(row, "open_amount", where), currency, f"{where} `open_amount`"
        ),
        issue_date=_date(row.get("issue_date"), f"{where} `issue_date`"),
        due_date=_date(row.get("due_date"), f"{where} `due_date`"),
        po_number=_text(row.get("po_number")),
        discount_terms=_text(row.get("payment_terms")),
        status=_text(row.get("status")) or "open",
        modified=_modified(row, "updated_at", where),
    )


def resolution_from(row: Mapping[str, Any]) -> Resolution:
    """A `resolutions.page` row (an exception a clerk resolved) as a `Resolution`."""
    key = str(_required(row, "idempotency_key", "resolutions.page"))
    where = f"resolutions.page exception {key}"
    action = str(_required(row, "action", where)).strip()
    if action not in RESOLUTION_ACTIONS:
        raise OdbcRowError(
            f"{where}: column `action` must be one of {', '.join(RESOLUTION_ACTIONS)}, "
            f"found {action!r}"
        )
    amount = row.get("amount")
    return Resolution(
        payment_id=str(_required(row, "payment_id", where)),
        action=action,
        invoice_id=_text(row.get("invoice_id")),
        amount=None
        if amount is None
        else money_from_sql(amount, str(_required(row, "currency", where)), f"{where} `amount`"),
        note=_text(row.get("note")) or "",
        modified=_modified(row, "resolved_at", where),
    )


# ---------------------------------------------------------------------------------------
# EDI documents


def decimal_from_sql(value: Any, where: str) -> Decimal:
    """A quantity, price or percent column as a Decimal: text, Decimal or int; a float is
    refused like money's (select it as text)."""
    if isinstance(value, float):
        raise OdbcRowError(
            f"{where}: the driver returned a float ({value!r}); select the column as text "
            "(CAST(... AS VARCHAR(40))) in the mapping"
        )
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise OdbcRowError(f"{where}: expected a number, found {value!r}")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise OdbcRowError(f"{where}: expected a number, found {value!r}") from None
    if not number.is_finite():
        raise OdbcRowError(f"{where}: expected a number, found {value!r}")
    # The column's scale is storage, not meaning: NUMERIC(18,6)'s 10.000000 is 10.
    return (
        number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
    )


def _int(value: Any, where: str) -> int:
    number = decimal_from_sql(value, where)
    if number != number.to_integral_value():
        raise OdbcRowError(f"{where}: expected a whole number, found {value!r}")
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
    kind = str(_required(row, "kind", where)).strip().upper()
    if kind not in ("A", "C"):
        raise OdbcRowError(f"{where}: column `kind` must be 'A' or 'C', found {kind!r}")
    return AllowanceCharge(
        kind=kind,
        code=str(_required(row, "code", where)).strip(),
        amount=money_from_sql(_required(row, "amount", where), currency, f"{where} `amount`"),
        description=_text(row.get("description")) or "",
    )


def document_from(invoice: Invoice, rows: DocumentRows) -> InvoiceDocument:
    """An invoice's EDI document from its header and the `documents.*` rows. Raise
    `OdbcRowError` naming the invoice, the statement and the column of a bad row."""
    where = f"invoice {invoice.invoice_id}"
    if invoice.issue_date is None:
        raise OdbcRowError(f"{where}: needs an issue date for EDI (ar_open_items.issue_date)")
    currency = invoice.currency
    extras: dict[str, list[AllowanceCharge]] = {}
    summary = []
    for row in rows.allowances:
        item = _allowance_from(row, currency, f"documents.allowances {where}")
        line_number = _text(row.get("line_number"))
        if line_number is None:
            summary.append(item)
        else:
            extras.setdefault(line_number, []).append(item)
    lines = []
    for row in rows.lines:
        number = str(_required(row, "line_number", f"documents.lines {where}")).strip()
        at = f"documents.lines {where} line {number}"
        lines.append(
            DocumentLine(
                line_number=number,
                product_qualifier=_text(row.get("product_qualifier")) or "VN",
                product_id=str(_required(row, "product_id", at)).strip(),
                quantity=decimal_from_sql(_required(row, "quantity", at), f"{at} `quantity`"),
                unit=str(_required(row, "unit", at)).strip(),
                unit_price=decimal_from_sql(_required(row, "unit_price", at), f"{at} `unit_price`"),
                description=_text(row.get("description")) or "",
                allowances_charges=tuple(extras.pop(number, ())),
            )
        )
    if extras:
        raise OdbcRowError(
            f"documents.allowances {where}: no line {', '.join(map(repr, sorted(extras)))}"
        )
    at = f"documents.taxes {where}"
    taxes = tuple(
        TaxAmount(
            tax_type=str(_required(row, "tax_type", at)).strip(),
            amount=money_from_sql(_required(row, "amount", at), currency, f"{at} `amount`"),
            percent=None
            if row.get("percent") is None
            else decimal_from_sql(row["percent"], f"{at} `percent`"),
        )
        for row in rows.taxes
    )
    at = f"documents.parties {where}"
    parties = tuple(
        Party(
            role=str(_required(row, "role", at)).strip(),
            name=str(_required(row, "name", at)).strip(),
            id_qualifier=_text(row.get("id_qualifier")) or "",
            party_id=_text(row.get("party_id")) or "",
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
        raise OdbcRowError(f"{where}: expected one row of terms, found {len(rows)}")
    (row,) = rows
    percent, days = row.get("discount_percent"), row.get("discount_days")
    return PaymentTerms(
        net_days=_int(_required(row, "net_days", where), f"{where} `net_days`"),
        discount_percent=None
        if percent is None
        else decimal_from_sql(percent, f"{where} `discount_percent`"),
        discount_days=None if days is None else _int(days, f"{where} `discount_days`"),
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
