"""The `odbc` books host: an ERP whose AR lives in a SQL database reached over ODBC
(pyodbc + unixODBC): customers and open items pulled with keyset pages, applied cash
written as receipts and applications, exceptions as rows of a table the clerk works.

Every query and statement comes from the mapping file (`mappings/odbc/generic.toml`
for the generic AR schema of `mappings/odbc/generic.sql`); the connector only chooses
which mapped statement to run and binds values to its `?` placeholders by name.

The connector takes its client (STYLE.md 14): `PyOdbc` opens connections for one
connection string, with the password appended from its own setting (never in the
connection string the admin writes, never in a repr or a message). Each new connection
gets the DBMS's session from the mapping: ODBC's query timeout where the driver has
one, PostgreSQL's `statement_timeout` where it has not (psqlODBC rejects the attribute).

Write-back is idempotent: the idempotency key is a unique column of the applications and
exceptions tables. Before writing, each key is looked up; a key found is
`already_present`. One bank payment is one transaction (autocommit off): its receipt,
its applications and the open amounts they lower are committed together or not at all.
A failed write is never retried blindly: after a rollback the keys are looked up again
(another run may have inserted them: a UNIQUE violation, which the SQLite driver reports
as a plain error) and only then is the failure reported.

Errors go through one table (`_translate`) into the groups of `connectors.errors`:

    ConnectorError
    ├── FixConfigError        driver not installed, database missing or unopenable,
    │   │                     a mapped table/column/function the database lacks, SQL
    │   │                     syntax in the mapping
    │   ├── AuthError         login refused (unknown user, wrong password)
    │   └── OdbcRightsError   the user lacks a privilege on a mapped table
    ├── RetryLaterError       server unreachable, connection lost, statement timeout,
    │                         serialization failure, deadlock, lock timeout, SQLite busy
    ├── OdbcRecordError       a row that cannot become a record or be written (a value,
    │                         constraint or trigger the database refuses it by, an
    │                         over-application): on a write-back, that record comes back
    │                         refused (`WriteResult.refused`), the rest goes on
    └── OdbcServerError       anything else the database reports: stop and look
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyodbc

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    RetryLaterError,
    RetryPolicy,
    retrying,
)
from connectors.protocols import CheckResult
from mappings.invoice_document import (
    DocumentRowError,
    DocumentRows,
    InvoiceDocument,
    document_from,
    edi_exception_details,
)
from mappings.money import Money
from mappings.odbc import (
    DEFAULT_SCHEMA,
    EDI_STATEMENTS,
    RESOLUTION_STATEMENTS,
    OdbcMapping,
    customer_from,
    invoice_from,
    resolution_from,
    sql_timestamp,
)
from mappings.records import (
    EDI_EXCEPTION_STATUSES,
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)

# The lower bound of a full pull: before any ERP's first record.
FLOOR = datetime(1900, 1, 1)
_SECRET_KEYS = ("pwd", "password")


class OdbcRightsError(FixConfigError):
    """The database user lacks a privilege on a mapped table."""


class OdbcRecordError(ConnectorError):
    """This record cannot be read or written as it is: skip it into the exception queue."""


class OdbcServerError(ConnectorError):
    """The database failed in an unexpected way: stop and look at its log."""


# ---------------------------------------------------------------------------------------
# Settings and the client


def _connection_attributes(connection_string: str) -> dict[str, str]:
    """`KEY=value;` pairs (keys lower-cased), braces around a value removed."""
    pairs = re.findall(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)", connection_string)
    return {key.lower(): value.strip("{}") for key, value in pairs}


@dataclass(frozen=True, slots=True)
class OdbcSettings:
    """What the admin configures for one SQL database (`[books.<name>] kind = "odbc"`)."""

    connection_string: str  # without the password: DRIVER={...};Server=...;Database=...;UID=...
    password: str | None = field(default=None, repr=False)  # appended as PWD=...; never shown
    mapping: Path | None = None  # default: mappings/odbc/generic.toml
    connect_timeout: int = 15  # seconds to log in (pyodbc's `timeout`), where the driver can
    statement_timeout: float = 120.0  # seconds one statement may run
    page_size: int = 1000
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if any(key in _SECRET_KEYS for key in _connection_attributes(self.connection_string)):
            raise FixConfigError(
                "`connection_string` must not hold the password: give it as `password` "
                "(a secret: env or file)"
            )
        if self.page_size < 1:
            raise FixConfigError(f"`page_size` must be at least 1, found {self.page_size}")

    @property
    def where(self) -> str:
        """Driver, server and database for messages: no credentials."""
        attrs = _connection_attributes(self.connection_string)
        server = attrs.get("server") or attrs.get("servername") or attrs.get("host")
        port = attrs.get("port")
        database = attrs.get("database") or attrs.get("dbname") or attrs.get("dsn") or "?"
        place = f" at {server}{f':{port}' if port else ''}" if server else ""
        return f"database `{database}`{place} ({attrs.get('driver', 'ODBC')})"

    @property
    def user(self) -> str:
        attrs = _connection_attributes(self.connection_string)
        return attrs.get("uid") or attrs.get("user") or attrs.get("username") or "(driver default)"


def _braced(value: str) -> str:
    """An ODBC attribute value in braces, so `;`, `=` and `}` in it stay part of it."""
    return "{" + value.replace("}", "}}") + "}"


class OdbcClient(Protocol):
    """Opens DB-API connections to one database."""

    def connect(self) -> pyodbc.Connection: ...


class PyOdbc:
    """Connections through pyodbc and unixODBC, autocommit off."""

    def __init__(self, settings: OdbcSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"PyOdbc({self.settings.where})"

    def connect(self) -> pyodbc.Connection:
        settings = self.settings
        text = settings.connection_string.strip().rstrip(";")
        if settings.password is not None:
            text += f";PWD={_braced(settings.password)}"
        return pyodbc.connect(text, autocommit=False, timeout=settings.connect_timeout)


# ---------------------------------------------------------------------------------------
# The error table

_AUTH = ("password authentication failed", "authentication failed", "login failed")
_AUTH_ROLE = re.compile(r'role "[^"]*" does not exist')
_MISSING_DB = re.compile(r'database "[^"]*" does not exist')
_TRANSIENT_STATES = ("08", "40", "57", "HYT", "55P03", "53")
_TRANSIENT_TEXT = ("database is locked", "connection has been lost", "could not connect")
_MAPPING_STATES = ("42P01", "42S02", "42703", "42S22", "42601", "42000", "42883", "42804")
_MAPPING_TEXT = ("no such table", "no such column", "no such function", "syntax error")
# A database's business rules refusing one row: integrity states (22, 23), PL/pgSQL's
# RAISE EXCEPTION in a trigger (P0001), and SQLite's code 19 (SQLITE_CONSTRAINT, which its
# driver reports as HY000 for a violated constraint and a trigger's RAISE(ABORT) alike).
_RECORD_STATES = ("22", "23", "P0001")
_SQLITE_CONSTRAINT = re.compile(r"\(19\)\s*(\(\d+\)\s*)*\(SQL\w+\)$")


def _message(error: pyodbc.Error) -> tuple[str, str]:
    """The SQLSTATE and the driver's first line, without its `[vendor][driver]` prefixes."""
    state = str(error.args[0]) if error.args else ""
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    text = re.sub(r"^(\[[^\]]*\]\s*)+", "", text.strip())
    text = re.sub(r"\s*(\(\d+\)\s*)+\(SQL\w+\)$", "", text)
    text = re.sub(r"^ERROR:\s*|^FATAL:\s*", "", text.split("\n")[0].strip()).rstrip(";")
    return state, text[:300]


def _translate(error: pyodbc.Error, settings: OdbcSettings, doing: str) -> ConnectorError:
    """The one table from what pyodbc raised to what the caller should do."""
    where = settings.where
    state, text = _message(error)
    lower = text.lower()
    if "can't open lib" in lower or state == "IM002":
        return FixConfigError(
            f"ODBC driver for {where} not found ({text}): install it or fix DRIVER"
        )
    if state.startswith("28") or any(m in lower for m in _AUTH) or _AUTH_ROLE.search(text):
        return AuthError(
            f"{where} refused user `{settings.user}` ({doing}): check UID and the password"
        )
    if state == "3D000" or _MISSING_DB.search(text):
        return FixConfigError(f"{where} does not exist ({text}): check the connection string")
    if lower.startswith("connect failed") or "unable to open database" in lower:
        return FixConfigError(f"cannot open {where} ({doing}): check the Database path")
    if state == "42501" or "permission denied" in lower:
        return OdbcRightsError(
            f"user `{settings.user}` lacks a right ({doing}): {text}; grant what the README lists"
        )
    if state in _MAPPING_STATES or any(m in lower for m in _MAPPING_TEXT):
        return FixConfigError(f"{doing}: {text}; fix the mapping or create the schema")
    if state.startswith(_TRANSIENT_STATES) or any(m in lower for m in _TRANSIENT_TEXT):
        return RetryLaterError(f"{where} did not do it now ({doing}): {text}")
    native = str(error.args[-1]) if error.args else ""
    if state.startswith(_RECORD_STATES) or _SQLITE_CONSTRAINT.search(native):
        return OdbcRecordError(f"{where} refused {doing}: {text}")
    return OdbcServerError(f"{where} failed ({doing}): [{state}] {text}")


# ---------------------------------------------------------------------------------------
# The books host


@dataclass(frozen=True, slots=True)
class _Settlement:
    """One application checked against the open item it lowers."""

    write: ApplicationWrite
    open_before: Money
    open_after: Money


class OdbcBooks:
    """Books host over a SQL database reached through ODBC (see the module docstring)."""

    incremental = True  # `since` returns what changed from then on, closed invoices too

    def __init__(
        self,
        name: str,
        client: OdbcClient,
        settings: OdbcSettings,
        mapping: OdbcMapping | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.mapping = mapping or OdbcMapping.load(settings.mapping)
        self.clock = clock
        self._connection: pyodbc.Connection | None = None
        self.dbms = ""

    # -- connections and statements -----------------------------------------------------

    def _connect(self) -> pyodbc.Connection:
        if self._connection is None:
            try:
                connection = self.client.connect()
            except pyodbc.Error as exc:
                raise _translate(exc, self.settings, "connecting") from None
            try:
                self._start_session(connection)
            except pyodbc.Error as exc:
                with contextlib.suppress(pyodbc.Error):
                    connection.close()
                raise _translate(exc, self.settings, "setting up the session") from None
            self._connection = connection
        return self._connection

    def _start_session(self, connection: pyodbc.Connection) -> None:
        self.dbms = str(connection.getinfo(pyodbc.SQL_DBMS_NAME))
        session = self.mapping.session_for(self.dbms)
        if session.query_timeout == "attribute":
            try:
                connection.timeout = math.ceil(self.settings.statement_timeout)
            except pyodbc.Error:
                raise FixConfigError(
                    f"the ODBC driver of {self.settings.where} has no query timeout: in "
                    f"{self.mapping.source.name} set `session.{self.dbms.lower()}` to "
                    '`query_timeout = "setup"` with a statement that sets one'
                ) from None
        values = {"statement_timeout_ms": str(round(self.settings.statement_timeout * 1000))}
        cursor = connection.cursor()
        for statement in session.setup:
            cursor.execute(statement.sql, statement.bind(values))
        connection.commit()  # set_config() and the like are transactional

    def _drop(self, _error: object = None) -> None:
        """Forget the connection (after it failed): the next call opens a new one."""
        if self._connection is not None:
            with contextlib.suppress(pyodbc.Error):
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the connection, if one is open."""
        self._drop()

    @staticmethod
    def _rows(cursor: pyodbc.Cursor) -> list[dict[str, Any]]:
        names = [column[0].lower() for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _execute(
        self, cursor: pyodbc.Cursor, name: str, values: Mapping[str, Any]
    ) -> pyodbc.Cursor:
        statement = self.mapping.statement(name)
        return cursor.execute(statement.sql, statement.bind(values))

    def _select_once(
        self, names: Sequence[str], values: Mapping[str, Any]
    ) -> list[list[dict[str, Any]]]:
        connection = self._connect()
        results = []
        try:
            for name in names:
                results.append(self._rows(self._execute(connection.cursor(), name, values)))
            connection.commit()  # ends the read transaction (and psqlODBC's declared cursor)
        except pyodbc.Error as exc:
            with contextlib.suppress(pyodbc.Error):
                connection.rollback()
            doing = names[len(results)]
            raise _translate(exc, self.settings, f"running `{doing}`") from None
        return results

    def _select_all(
        self, names: Sequence[str], values: Mapping[str, Any]
    ) -> list[list[dict[str, Any]]]:
        """Mapped queries in one read transaction, on a fresh connection after a transient
        failure, within the policy's bound (reads are safe to retry)."""
        return retrying(
            self.settings.retry,
            lambda: self._select_once(names, values),
            before_retry=self._drop,
        )

    def _select(self, name: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One mapped query (see `_select_all`)."""
        return self._select_all([name], values)[0]

    def _pages(
        self, name: str, since: datetime | None, at: str, key: str
    ) -> Iterator[dict[str, Any]]:
        """Every row of a keyset-paged query from `since` on: ordered by (`at`, `key`), each
        page starting after the last row of the one before. The first page's bound is
        closed (a row changed in the cursor's own instant is read again, not missed)."""
        after_at = FLOOR if since is None else sql_timestamp(since)
        after_id = ""
        size = self.settings.page_size
        while True:
            page = self._select(
                name, {"after_at": after_at, "after_id": after_id, "page_size": size}
            )
            yield from page
            if len(page) < size:
                return
            last = page[-1]
            if at not in last or key not in last:
                raise FixConfigError(
                    f"`{name}` in {self.mapping.source.name} must return the columns `{at}` "
                    f"and `{key}` it pages by"
                )
            after_at, after_id = last[at], last[key]

    # -- check --------------------------------------------------------------------------

    def check(self) -> list[CheckResult]:
        """Reach and log in (one step in ODBC), then each mapped table's columns."""
        target = f"books {self.name}"
        settings = self.settings
        try:
            connection = self._connect()
            version = connection.getinfo(pyodbc.SQL_DBMS_VER)
        except (ConnectorError, pyodbc.Error) as exc:
            self._drop()
            if isinstance(exc, pyodbc.Error):
                exc = _translate(exc, settings, "connecting")
            return [CheckResult(target, False, str(exc))]
        results = [
            CheckResult(
                target,
                True,
                f"connected to {self.dbms} {version}, {settings.where}, as `{settings.user}`",
            )
        ]
        source = self.mapping.source.name
        for name, sql in self.mapping.checks.items():
            try:
                connection.cursor().execute(sql).fetchall()
                connection.commit()
            except pyodbc.Error as exc:
                with contextlib.suppress(pyodbc.Error):
                    connection.rollback()
                _, text = _message(exc)
                results.append(
                    CheckResult(
                        target,
                        False,
                        f"mapping {source} `checks.{name}`: {text}: create it "
                        f"({DEFAULT_SCHEMA.name} has the generic schema) or fix the mapping",
                    )
                )
                continue
            results.append(CheckResult(target, True, f"mapping {source} `checks.{name}`: present"))
        return results + [CheckResult(target, *line) for line in self._check_rights(connection)]

    def _check_rights(self, connection: pyodbc.Connection) -> list[tuple[bool, str]]:
        """One line per table the user cannot write as the mapping's write statements do.
        PostgreSQL answers from its privilege catalog (`has_table_privilege`, or a grant
        on every column the statement writes); nothing is executed."""
        if self.dbms.lower() != "postgresql":
            return [(True, f"rights: {self.dbms} has no user rights arlink can read")]
        cursor = connection.cursor()
        try:
            user = str(cursor.execute("SELECT current_user").fetchone()[0])
            lacking = [
                (False, _rights_line(user, target))
                for target in write_targets(self.mapping.statements)
                if not _may_write(cursor, target)
            ]
            connection.commit()
        except pyodbc.Error as exc:
            with contextlib.suppress(pyodbc.Error):
                connection.rollback()
            return [(False, str(_translate(exc, self.settings, "reading the user's rights")))]
        return lacking or [(True, f"rights: `{user}` may run every write statement")]

    # -- pulls --------------------------------------------------------------------------

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        """Customers changed at or after `since` (all with None), with their bank accounts
        and aliases."""
        rows = list(self._pages("customers.page", since, "updated_at", "customer_id"))
        bound = {"since": FLOOR if since is None else sql_timestamp(since)}
        extras: dict[str, dict[str, list[str]]] = {}
        for name, column in (
            ("customers.bank_accounts", "bank_account"),
            ("customers.aliases", "alias"),
        ):
            found: dict[str, list[str]] = {}
            for row in self._select(name, bound):
                if row.get(column):
                    found.setdefault(str(row["customer_id"]), []).append(str(row[column]).strip())
            extras[column] = found
        try:
            return [
                customer_from(
                    row,
                    extras["bank_account"].get(str(row["customer_id"]), ()),
                    extras["alias"].get(str(row["customer_id"]), ()),
                )
                for row in rows
            ]
        except (DocumentRowError, KeyError) as exc:
            raise OdbcRecordError(str(exc)) from None

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        """Open items (`invoices.open_page`); with `since`, every item changed at or after
        it (`invoices.changed_page`), closed ones included so the ledger sees them close."""
        name = "invoices.open_page" if since is None else "invoices.changed_page"
        try:
            return [
                invoice_from(row, name)
                for row in self._pages(name, since, "updated_at", "invoice_id")
            ]
        except DocumentRowError as exc:
            raise OdbcRecordError(str(exc)) from None

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        """Exceptions clerks resolved at or after `since` (filled `resolved_at`)."""
        try:
            return [
                resolution_from(row)
                for row in self._pages("resolutions.page", since, "resolved_at", "idempotency_key")
            ]
        except DocumentRowError as exc:
            raise OdbcRecordError(str(exc)) from None

    # -- write-back ---------------------------------------------------------------------

    def _find(self, name: str, keys: Sequence[str]) -> dict[str, str]:
        """The external id of each key the host already holds."""
        found = {}
        for key in dict.fromkeys(keys):
            rows = self._select(name, {"idempotency_key": key})
            if rows:
                found[key] = str(rows[0]["external_id"])
        return found

    def _transaction(
        self, keys: Sequence[str], find: str, work: Callable[[pyodbc.Cursor], None], what: str
    ) -> dict[str, WriteResult]:
        """Run `work` in one transaction and commit. On failure roll back and look the keys
        up: found, another writer (or our own lost commit) stored them; else report."""
        connection = self._connect()
        committing = False
        try:
            work(connection.cursor())
            committing = True
            connection.commit()
        except (pyodbc.Error, ConnectorError) as exc:
            with contextlib.suppress(pyodbc.Error):
                connection.rollback()
            error = _translate(exc, self.settings, what) if isinstance(exc, pyodbc.Error) else exc
            if isinstance(error, RetryLaterError):
                self._drop()
            found = self._recheck(find, keys, error)
            if len(found) == len(keys):
                # Our own commit that lost its answer wrote them; else another run did.
                return {k: WriteResult(k, v, not committing) for k, v in found.items()}
            if committing and isinstance(error, RetryLaterError):
                raise RetryLaterError(
                    f"{what}: the commit failed ({error}); nothing was written, the next "
                    "run looks the keys up before writing"
                ) from None
            raise error from None
        return {k: WriteResult(k, v, False) for k, v in self._find(find, keys).items()}

    def _recheck(self, find: str, keys: Sequence[str], error: ConnectorError) -> dict[str, str]:
        try:
            return self._find(find, keys)
        except ConnectorError:
            raise error from None

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        """One transaction per bank payment: its receipt (once), its applications, and the
        open amounts they lower. Keys already in the host are `already_present`; one the
        database refuses comes back refused (`_apply_or_refuse`)."""
        results = {
            key: WriteResult(key, external, True)
            for key, external in self._find(
                "applications.find", [w.idempotency_key for w in writes]
            ).items()
        }
        by_payment: dict[str, dict[str, ApplicationWrite]] = {}
        for write in writes:
            if write.idempotency_key not in results:
                by_payment.setdefault(write.payment.payment_id, {}).setdefault(
                    write.idempotency_key, write
                )
        for group in by_payment.values():
            results.update(self._apply_or_refuse(list(group.values())))
        return [results[w.idempotency_key] for w in writes]

    def _apply_or_refuse(self, pending: Sequence[ApplicationWrite]) -> dict[str, WriteResult]:
        """Write one payment's applications in one transaction. A row the database refuses
        (`OdbcRecordError`: a constraint, a trigger, an over-application) rolls it back;
        then each application is written in its own transaction, so only the one refused
        comes back refused, with the database's message."""
        payment = pending[0].payment
        keys = [write.idempotency_key for write in pending]
        try:
            return self._transaction(
                keys,
                "applications.find",
                lambda cursor: self._apply(cursor, pending),
                f"writing payment {payment.bank_reference or payment.payment_id}",
            )
        except OdbcRecordError as refused:
            if len(pending) == 1:
                return {keys[0]: WriteResult.refusal(keys[0], str(refused))}
        results: dict[str, WriteResult] = {}
        for write in pending:
            results.update(self._apply_or_refuse([write]))
        return results

    def _apply(self, cursor: pyodbc.Cursor, writes: Sequence[ApplicationWrite]) -> None:
        payment = writes[0].payment
        now = sql_timestamp(self.clock())
        settlements = [self._settlement(cursor, write) for write in writes]
        if not self._execute(
            cursor, "receipts.find", {"payment_id": payment.payment_id}
        ).fetchall():
            self._execute(
                cursor,
                "receipts.insert",
                {
                    "payment_id": payment.payment_id,
                    "bank_account": payment.bank_account,
                    "value_date": payment.value_date,
                    "amount": payment.amount.to_decimal(),
                    "currency": payment.amount.currency,
                    "payer_name": payment.payer_name,
                    "bank_reference": payment.bank_reference,
                    "remittance": payment.remittance or None,
                    "created_at": now,
                },
            )
        for settled in settlements:
            app = settled.write.application
            zero = Money.zero(app.amount.currency)
            changed = self._execute(
                cursor,
                "invoices.settle",
                {
                    "open_amount": settled.open_after.to_decimal(),
                    "status": "open" if settled.open_after.minor else "paid",
                    "updated_at": now,
                    "invoice_id": app.invoice_id,
                    "expected_open_amount": settled.open_before.to_decimal(),
                },
            ).rowcount
            if changed != 1:
                raise RetryLaterError(
                    f"invoice {app.invoice_id} changed while payment "
                    f"{payment.bank_reference or payment.payment_id} was written: rolled back"
                )
            self._execute(
                cursor,
                "applications.insert",
                {
                    "idempotency_key": settled.write.idempotency_key,
                    "payment_id": payment.payment_id,
                    "invoice_id": app.invoice_id,
                    "amount": app.amount.to_decimal(),
                    "discount": (app.discount or zero).to_decimal(),
                    "write_off": (app.write_off or zero).to_decimal(),
                    "currency": app.amount.currency,
                    "reasons": _reasons_text(settled.write),
                    "created_at": now,
                },
            )

    def _settlement(self, cursor: pyodbc.Cursor, write: ApplicationWrite) -> _Settlement:
        app = write.application
        rows = self._rows(self._execute(cursor, "invoices.by_id", {"invoice_id": app.invoice_id}))
        if not rows:
            raise OdbcRecordError(f"invoice {app.invoice_id} not found in {self.settings.where}")
        try:
            invoice = invoice_from(rows[0], "invoices.by_id")
        except DocumentRowError as exc:
            raise OdbcRecordError(str(exc)) from None
        if invoice.currency != app.amount.currency:
            raise OdbcRecordError(
                f"invoice {invoice.number} is in {invoice.currency}, the application in "
                f"{app.amount.currency}"
            )
        zero = Money.zero(invoice.currency)
        reduction = app.amount + (app.discount or zero) + (app.write_off or zero)
        if reduction > invoice.open_amount:
            raise OdbcRecordError(
                f"invoice {invoice.number} has {invoice.open_amount} open, the application "
                f"would settle {reduction}: pull again before writing back"
            )
        return _Settlement(write, invoice.open_amount, invoice.open_amount - reduction)

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        """One row per exception in the clerk's table, with the payment, the reason and the
        ranked suggestions in words."""
        results = {
            key: WriteResult(key, external, True)
            for key, external in self._find(
                "exceptions.find", [w.idempotency_key for w in writes]
            ).items()
        }
        for write in writes:
            if write.idempotency_key in results:
                continue
            suggestions = self._suggestions_text(write)
            results.update(
                self._transaction(
                    [write.idempotency_key],
                    "exceptions.find",
                    lambda cursor, write=write, text=suggestions: self._execute(
                        cursor, "exceptions.insert", _exception_values(write, text, self.clock())
                    ),
                    f"writing the exception on payment {write.payment.payment_id}",
                )
            )
        return [results[w.idempotency_key] for w in writes]

    def _suggestions_text(self, write: ExceptionWrite) -> str:
        """The ranked suggestions in words, each invoice by its number."""
        lines = []
        for rank, suggestion in enumerate(write.item.suggestions, start=1):
            rows = self._select("invoices.by_id", {"invoice_id": suggestion.invoice_id})
            number = str(rows[0]["number"]) if rows else suggestion.invoice_id
            why = "; ".join(reason.text for reason in suggestion.reasons)
            lines.append(
                f"{rank}. invoice {number} (id {suggestion.invoice_id}), "
                f"score {suggestion.score:.2f}{': ' + why if why else ''}"
            )
        return "\n".join(lines) or "none: no open invoice came close"

    # -- clerks' decisions taken in arlink web ------------------------------------------

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Close each payment's open exception row as a clerk would (`resolutions.close`:
        the resolution columns and resolved status), the key in the resolution note."""
        lacking = self.mapping.lacking(sorted(RESOLUTION_STATEMENTS))
        if lacking:
            raise FixConfigError(
                f"mapping {self.mapping.source.name} has no {', '.join(lacking)}: decisions "
                "taken in arlink web cannot close exceptions in this database; copy them from "
                "mappings/odbc/generic.toml and adapt the SQL"
            )
        keys = [w.idempotency_key for w in writes]
        results = {
            key: WriteResult(key, external, True)
            for key, external in self._find("resolutions.find", keys).items()
        }
        for write in writes:
            if write.idempotency_key not in results:
                results.update(
                    self._transaction(
                        [write.idempotency_key],
                        "resolutions.find",
                        lambda cursor, write=write: self._close_exception(cursor, write),
                        f"closing the exception on payment {write.payment_id}",
                    )
                )
        return [results[w.idempotency_key] for w in writes]

    def _close_exception(self, cursor: pyodbc.Cursor, write: ResolutionWrite) -> None:
        values = {
            "payment_id": write.payment_id,
            "action": write.action,
            "invoice_id": write.invoice_id,
            "note": f"{write.text}, {write.idempotency_key}",
            "resolved_at": sql_timestamp(self.clock()),
        }
        if self._execute(cursor, "resolutions.close", values).rowcount == 0:
            raise OdbcRecordError(
                f"resolution of payment {write.payment_id}: no open exception for it in "
                f"{self.settings.where} (a clerk resolved it there, or it is not written yet)"
            )

    # -- EDI --------------------------------------------------------------------------

    def _require_edi(self) -> None:
        lacking = self.mapping.lacking(sorted(EDI_STATEMENTS))
        if lacking:
            raise FixConfigError(
                f"mapping {self.mapping.source.name} has no {', '.join(lacking)}: EDI documents "
                "are not available from this database; copy them from "
                "mappings/odbc/generic.toml (tables in generic.sql) and adapt the SQL"
            )

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]:
        """The EDI documents of invoices `ids` (the header from `invoices.by_id`, the rest
        from `documents.*`, one read transaction each), keyed by invoice id. An id not in
        the open items is left out; every invoice with a bad row is named at once."""
        self._require_edi()
        names = ["invoices.by_id", *(f"documents.{f.name}" for f in fields(DocumentRows))]
        documents, problems = {}, []
        for invoice_id in dict.fromkeys(ids):
            header, *parts = self._select_all(names, {"invoice_id": invoice_id})
            if not header:
                continue
            try:
                invoice = invoice_from(header[0], "invoices.by_id")
                documents[invoice_id] = document_from(invoice, DocumentRows(*parts))
            except DocumentRowError as exc:
                problems.append(str(exc))
        if problems:
            raise OdbcRecordError("; ".join(problems))
        return documents

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]:
        """Journal each status in `edi_status.insert` (ar_edi_status); one the clerk must act
        on (invalid, rejected, overdue) is also an exception (`edi_status.exception`) in the
        same transaction. Keys already journaled are `already_present`."""
        self._require_edi()
        results = {
            key: WriteResult(key, external, True)
            for key, external in self._find(
                "edi_status.find", [w.idempotency_key for w in writes]
            ).items()
        }
        for write in writes:
            if write.idempotency_key in results:
                continue
            results.update(
                self._transaction(
                    [write.idempotency_key],
                    "edi_status.find",
                    lambda cursor, write=write: self._journal_edi_status(cursor, write),
                    f"writing the EDI status of invoice {write.invoice_number}",
                )
            )
        return [results[w.idempotency_key] for w in writes]

    def _journal_edi_status(self, cursor: pyodbc.Cursor, write: EdiStatusWrite) -> None:
        values = {
            "idempotency_key": write.idempotency_key,
            "invoice_id": write.invoice_id,
            "invoice_number": write.invoice_number,
            "partner": write.partner,
            "status": write.status,
            "interchange_control": write.interchange_control,
            "message": write.message,
            "created_at": sql_timestamp(self.clock()),
            "reason": f"edi_{write.status}",
            "details": edi_exception_details(write),
        }
        self._execute(cursor, "edi_status.insert", values)
        if write.status in EDI_EXCEPTION_STATUSES:
            self._execute(cursor, "edi_status.exception", values)


def _reasons_text(write: ApplicationWrite) -> str:
    reasons = "; ".join(reason.text for reason in write.reasons)
    return f"confidence {write.confidence:.2f}{': ' + reasons if reasons else ''}"


def _exception_values(write: ExceptionWrite, suggestions: str, now: datetime) -> dict[str, Any]:
    item, payment = write.item, write.payment
    why = "".join(f" {reason.text}." for reason in item.reasons)
    details = (
        f"Payment of {item.amount} {item.amount.currency} from "
        f"{payment.payer_name or 'an unknown payer'} not applied: "
        f"{item.reason.value.replace('_', ' ')}.{why} To resolve: fill resolution_action "
        "('apply' with resolution_invoice_id, 'on_account' or 'not_ours') and resolved_at."
    )
    return {
        "idempotency_key": write.idempotency_key,
        "payment_id": payment.payment_id,
        "reason": item.reason.value,
        "amount": item.amount.to_decimal(),
        "currency": item.amount.currency,
        "payer_name": payment.payer_name,
        "bank_reference": payment.bank_reference,
        "value_date": payment.value_date,
        "remittance": payment.remittance or None,
        "details": details,
        "suggestions": suggestions,
        "created_at": sql_timestamp(now),
    }


def connect_books(name: str, settings: OdbcSettings) -> OdbcBooks:
    """The `odbc` books host for `[books.<name>]`: a pyodbc client and the mapping file."""
    return OdbcBooks(name, PyOdbc(settings), settings)


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """What write statements do to one table: the privilege, the columns, and the names
    of the statements (for `check()`)."""

    privilege: str  # INSERT, UPDATE, DELETE
    table: str
    columns: tuple[str, ...]
    statements: tuple[str, ...]


_WRITE_STATEMENT = re.compile(
    r"^\s*(?:(INSERT)\s+INTO\s+([\w.]+)\s*\(([^)]*)\)"
    r"|(UPDATE)\s+([\w.]+)\s+SET\s+(.*?)\s+WHERE\b|(DELETE)\s+FROM\s+([\w.]+))",
    re.IGNORECASE | re.DOTALL,
)


def write_targets(statements: Mapping[str, Any]) -> list[WriteTarget]:
    """The tables the mapping's INSERT, UPDATE and DELETE statements write, one entry per
    table and privilege; SELECTs and anything else are not writes."""
    found: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for name, statement in statements.items():
        match = _WRITE_STATEMENT.match(statement.sql)
        if match is None:
            continue
        insert, into, listed, update, table, assignments, delete, source = match.groups()
        if insert:
            privilege, target, columns = "INSERT", into, listed.split(",")
        elif update:
            privilege, target = "UPDATE", table
            columns = re.findall(r"(\w+)\s*=", assignments)
        else:
            privilege, target, columns = delete.upper(), source, []
        entry = found.setdefault((privilege.upper(), target), (set(), []))
        entry[0].update(c.strip() for c in columns if c.strip())
        entry[1].append(name)
    return [
        WriteTarget(privilege, table, tuple(sorted(columns)), tuple(names))
        for (privilege, table), (columns, names) in sorted(found.items())
    ]


def _may_write(cursor: pyodbc.Cursor, target: WriteTarget) -> bool:
    """The table privilege, or (INSERT, UPDATE) the privilege on each column written. A
    table or column the database lacks is not a missing right: the checks name it.
    Booleans are cast to integers: psqlODBC hands them over as the text '0' or '1'."""
    (allowed,) = cursor.execute(
        "SELECT CASE WHEN to_regclass(?) IS NOT NULL"
        " THEN CAST(has_table_privilege(?, ?) AS INTEGER) END",
        target.table, target.table, target.privilege,
    ).fetchone()  # fmt: skip
    if allowed is None or allowed == 1 or target.privilege == "DELETE" or not target.columns:
        return allowed != 0
    column_right = (
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(?)"
        " AND attname = ? AND NOT attisdropped)"
        " THEN CAST(has_column_privilege(?, ?, ?) AS INTEGER) END"
    )
    for column in target.columns:
        (granted,) = cursor.execute(
            column_right, target.table, column, target.table, column, target.privilege
        ).fetchone()
        if granted == 0:
            return False
    return True


def _rights_line(user: str, target: WriteTarget) -> str:
    verb = {"INSERT": "insert into", "UPDATE": "update", "DELETE": "delete from"}
    grant = target.privilege
    if target.privilege == "UPDATE":
        grant += f" ({', '.join(target.columns)})"
    return (
        f"odbc: user `{user}` cannot {verb[target.privilege]} `{target.table}` "
        f"({', '.join(f'`{s}`' for s in target.statements)}; ask the DBA for "
        f"GRANT {grant} ON {target.table} TO {user})"
    )
