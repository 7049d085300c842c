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
from pathlib import Path
from typing import Any

from mappings.invoice_document import (
    DocumentRowError,
    money_from_row,
    required_column,
    text_from_row,
)
from mappings.money import Money
from mappings.records import Customer, Invoice, Resolution
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


class OdbcRowError(DocumentRowError):
    """A row that cannot become a canonical record (names the statement, record and column).
    The row readers it shares with the EDI documents raise their base, `DocumentRowError`."""


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
    """A money column as `Money` (`money_from_row`: text, Decimal or int, never a float),
    refused as this mapping's `OdbcRowError`."""
    try:
        return money_from_row(value, currency, where)
    except DocumentRowError as exc:
        raise OdbcRowError(str(exc)) from None


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


# ---------------------------------------------------------------------------------------
# Rows to records


def customer_from(
    row: Mapping[str, Any], bank_accounts: Sequence[str], aliases: Sequence[str]
) -> Customer:
    """A `customers.page` row (and the customer's accounts and aliases) as a `Customer`."""
    customer_id = str(required_column(row, "customer_id", "customers.page"))
    where = f"customers.page customer {customer_id}"
    return Customer(
        customer_id=customer_id,
        name=str(required_column(row, "name", where)).strip(),
        parent_id=text_from_row(row.get("parent_id")),
        aliases=tuple(aliases),
        bank_accounts=tuple(bank_accounts),
        payment_terms=text_from_row(row.get("payment_terms")),
        modified=_modified(row, "updated_at", where),
    )


def invoice_from(row: Mapping[str, Any], statement: str) -> Invoice:
    """An open-item row as an `Invoice`; `status` is the table's own ('open', 'paid', ...)."""
    invoice_id = str(required_column(row, "invoice_id", statement))
    where = f"{statement} invoice {invoice_id}"
    currency = str(required_column(row, "currency", where)).strip()
    return Invoice(
        invoice_id=invoice_id,
        number=str(required_column(row, "number", where)).strip(),
        customer_id=str(required_column(row, "customer_id", where)),
        total=money_from_sql(required_column(row, "total", where), currency, f"{where} `total`"),
        open_amount=money_from_sql(
            required_column(row, "open_amount", where), currency, f"{where} `open_amount`"
        ),
        issue_date=_date(row.get("issue_date"), f"{where} `issue_date`"),
        due_date=_date(row.get("due_date"), f"{where} `due_date`"),
        po_number=text_from_row(row.get("po_number")),
        discount_terms=text_from_row(row.get("payment_terms")),
        status=text_from_row(row.get("status")) or "open",
        modified=_modified(row, "updated_at", where),
    )


def resolution_from(row: Mapping[str, Any]) -> Resolution:
    """A `resolutions.page` row (an exception a clerk resolved) as a `Resolution`."""
    key = str(required_column(row, "idempotency_key", "resolutions.page"))
    where = f"resolutions.page exception {key}"
    action = str(required_column(row, "action", where)).strip()
    if action not in RESOLUTION_ACTIONS:
        raise OdbcRowError(
            f"{where}: column `action` must be one of {', '.join(RESOLUTION_ACTIONS)}, "
            f"found {action!r}"
        )
    amount = row.get("amount")
    return Resolution(
        payment_id=str(required_column(row, "payment_id", where)),
        action=action,
        invoice_id=text_from_row(row.get("invoice_id")),
        amount=None
        if amount is None
        else money_from_sql(
            amount, str(required_column(row, "currency", where)), f"{where} `amount`"
        ),
        note=text_from_row(row.get("note")) or "",
        modified=_modified(row, "resolved_at", where),
    )


# ---------------------------------------------------------------------------------------
# EDI documents
