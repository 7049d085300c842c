"""What is particular to the `odbc` books host, beyond the contract suite: the mapping
loader's errors, the two drivers' differences (the SQLite driver's float NUMERIC, psqlODBC
and the query timeout), check() naming what the database lacks, login failures,
transient failures retried on a new connection up to the cap, keyset paging, refused
writes leaving nothing behind, and a concurrent writer's UNIQUE key found after the
violation instead of reported as an error."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from odbc_harness import Erp, odbc_books
from servers.odbc import OdbcDatabase, postgres_database, sqlite_database
from servers.ports import free_port
from servers.postgres import PostgresServer

from connectors.errors import AuthError, FixConfigError, RetriesExhaustedError
from connectors.odbc import (
    OdbcBooks,
    OdbcRecordError,
    OdbcRightsError,
    OdbcSettings,
    PyOdbc,
    connect_books,
)
from mappings.money import Money
from mappings.odbc import (
    DEFAULT_MAPPING,
    STATEMENTS,
    OdbcMapping,
    OdbcMappingError,
    OdbcRowError,
    money_from_sql,
    sql_timestamp,
)
from mappings.records import (
    Application,
    ApplicationWrite,
    Customer,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Invoice,
    Payment,
    Reason,
    ResolutionWrite,
    SourceRef,
    Suggestion,
    idempotency_key,
)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def payment(pid: str, amount: str) -> Payment:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 7, 8)
    return Payment(pid, "4021558830", date(2026, 11, 2), usd(amount), source, "ACME MFG")


def write(pid: str, paid: str, invoice_id: str, amount: str) -> ApplicationWrite:
    return ApplicationWrite(
        idempotency_key(pid, invoice_id),
        payment(pid, paid),
        Application(invoice_id, usd(amount)),
        1.0,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> OdbcDatabase:
    if request.param == "sqlite":
        made = sqlite_database(tmp_path / "odbc")
    else:
        made = postgres_database(request.getfixturevalue("postgres_server"))
    made.create_schema()
    return made


@pytest.fixture
def postgres(postgres_server: PostgresServer) -> OdbcDatabase:
    made = postgres_database(postgres_server)
    made.create_schema()
    return made


@pytest.fixture
def erp(database: OdbcDatabase) -> Erp:
    seeded = Erp(database)
    seeded.add_customer(Customer("C1", "Acme Manufacturing Inc."))
    return seeded


def books(database: OdbcDatabase, **overrides: Any) -> Iterator[OdbcBooks]:
    made = odbc_books(database, **overrides)
    yield made
    made.close()


@pytest.fixture
def host(database: OdbcDatabase) -> Iterator[OdbcBooks]:
    yield from books(database)


def invoice(number: int, total: str, open_amount: str | None = None) -> Invoice:
    return Invoice(
        f"I{number}",
        f"INV-{number}",
        "C1",
        usd(total),
        usd(open_amount or total),
        date(2026, 10, 1),
    )


def open_amounts(host: OdbcBooks) -> dict[str, Money]:
    return {i.invoice_id: i.open_amount for i in host.pull_open_invoices(None)}


# ---------------------------------------------------------------------------------------
# The mapping file


def test_the_shipped_mapping_has_every_statement_and_both_dialects() -> None:
    mapping = OdbcMapping.load()
    assert set(mapping.statements) == set(STATEMENTS)
    assert mapping.session_for("PostgreSQL").query_timeout == "setup"
    assert mapping.session_for("SQLite").query_timeout == "attribute"
    assert mapping.session_for("Microsoft SQL Server").setup == ()


def test_the_loader_reports_every_problem_at_once(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING.read_text(encoding="utf-8")
    text = text.replace("[receipts.find]", "[receipts.lookup]")
    text = text.replace('params = ["invoice_id"]', 'params = ["invoice_id", "invoice_id"]')
    text = text.replace(
        'params = ["after_at", "after_at", "after_id", "page_size"]',
        'params = ["after_at", "after_at", "customer_name", "page_size"]',
        1,
    )
    text = text.replace('query_timeout = "setup"', 'query_timeout = "never"')
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OdbcMappingError) as caught:
        OdbcMapping.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert "`receipts.find.sql`: expected the statement's SQL" in message
    assert "`invoices.by_id`: the SQL has 1 `?`, `params` names 2" in message
    assert "`customers.page.params`: unknown customer_name" in message
    assert "`session.postgresql.query_timeout`: expected one of attribute, setup" in message


def test_the_loader_counts_placeholders_outside_quotes(tmp_path: Path) -> None:
    text = DEFAULT_MAPPING.read_text(encoding="utf-8").replace(
        'WHERE id = ?"""', 'WHERE id = ? AND number <> \'what?\'"""'
    )
    path = tmp_path / "quoted.toml"
    path.write_text(text, encoding="utf-8")
    assert "'what?'" in OdbcMapping.load(path).statement("invoices.by_id").sql


@pytest.mark.parametrize(
    ("content", "expected"),
    [("[checks\n", "Expected ']'"), ("", "`checks`: expected a table")],
)
def test_the_loader_names_a_file_it_cannot_use(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(OdbcMappingError, match=expected):
        OdbcMapping.load(path)
    with pytest.raises(OdbcMappingError, match="cannot read"):
        OdbcMapping.load(tmp_path / "missing.toml")


def test_money_never_comes_from_a_float() -> None:
    with pytest.raises(OdbcRowError, match=r"invoice I1 `total`: the driver returned a float"):
        money_from_sql(99.99, "USD", "invoice I1 `total`")
    assert money_from_sql("1500.0000", "USD", "x") == usd("1500.00")
    with pytest.raises(OdbcRowError, match="more decimals than USD"):
        money_from_sql("0.125", "USD", "x")


def test_a_mapping_that_reads_numeric_as_is_meets_each_driver(
    database: OdbcDatabase, erp: Erp, tmp_path: Path
) -> None:
    erp.add_invoice(invoice(1, "99.99"))
    text = DEFAULT_MAPPING.read_text(encoding="utf-8").replace(
        "CAST(total AS VARCHAR(40)) AS total", "total"
    )
    path = tmp_path / "uncast.toml"
    path.write_text(text, encoding="utf-8")
    settings = OdbcSettings(database.connection_string, mapping=path)
    host = OdbcBooks("odbc", PyOdbc(settings), settings)
    try:
        if database.dialect == "sqlite":
            # The SQLite driver hands NUMERIC over as a binary float: refused, named.
            with pytest.raises(OdbcRecordError, match=r"invoice I1 `total`: .* float"):
                host.pull_open_invoices(None)
        else:
            (pulled,) = host.pull_open_invoices(None)
            assert pulled.total == usd("99.99")
    finally:
        host.close()


# ---------------------------------------------------------------------------------------
# check(), logins and settings


def test_check_names_what_the_database_lacks(database: OdbcDatabase, host: OdbcBooks) -> None:
    erp = Erp(database)
    erp.run(
        [
            ("DROP TABLE ar_customer_aliases", ()),
            ("ALTER TABLE ar_exceptions DROP COLUMN resolution_note", ()),
        ]
    )
    results = host.check()
    assert results[0].ok
    assert database.dialect in results[0].detail.lower()
    failed = [r.detail for r in results if not r.ok]
    assert len(failed) == 2, results
    assert "`checks.customer_aliases`" in failed[0]
    assert "ar_customer_aliases" in failed[0]
    assert "`checks.exceptions`" in failed[1]
    assert "resolution_note" in failed[1]
    assert all("generic.sql" in detail for detail in failed)


def test_a_refused_login_is_an_auth_error(postgres: OdbcDatabase) -> None:
    host = odbc_books(postgres.as_user("nobody"))
    (result,) = host.check()
    assert not result.ok
    assert "refused user `nobody`" in result.detail
    with pytest.raises(AuthError, match="refused user `nobody`"):
        host.pull_customers(None)


@pytest.mark.parametrize(
    ("connection_string", "expected"),
    [
        ("DRIVER={No Such Driver};Server=127.0.0.1", "ODBC driver .* not found"),
        ("DRIVER={SQLite3};Database=/nonexistent/folder/erp.db", "cannot open database"),
    ],
)
def test_a_wrong_connection_string_is_a_config_error(connection_string: str, expected: str) -> None:
    settings = OdbcSettings(connection_string)
    host = OdbcBooks("odbc", PyOdbc(settings), settings)
    (result,) = host.check()
    assert not result.ok
    with pytest.raises(FixConfigError, match=expected):
        host.pull_open_invoices(None)


def test_connect_books_builds_the_host_from_settings(database: OdbcDatabase) -> None:
    host = connect_books("erp", OdbcSettings(database.connection_string))
    try:
        results = host.check()
    finally:
        host.close()
    assert [r.target for r in results] == ["books erp"] * len(results)
    assert all(r.ok for r in results), results


def test_the_password_is_braced_and_never_shown(postgres: OdbcDatabase) -> None:
    secret = "s3cret};Database=elsewhere"
    settings = OdbcSettings(postgres.connection_string, password=secret)
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(PyOdbc(settings))
    # Unbraced, the text after `;` would point the connection at another database; braced
    # it stays the password (which the trust-auth test server ignores).
    host = OdbcBooks("odbc", PyOdbc(settings), settings)
    try:
        assert all(result.ok for result in host.check())
    finally:
        host.close()
    with pytest.raises(FixConfigError, match="must not hold the password"):
        OdbcSettings(postgres.connection_string + ";PWD=x")


def test_the_rights_the_readme_lists_are_enough(postgres: OdbcDatabase) -> None:
    erp = Erp(postgres)
    erp.add_customer(Customer("C1", "Acme"))
    erp.add_invoice(invoice(1, "100.00"))
    role = f"arlink_{uuid.uuid4().hex[:8]}"
    tables = (
        "ar_customers, ar_customer_bank_accounts, ar_customer_aliases, ar_open_items,"
        " ar_cash_receipts, ar_receipt_applications, ar_exceptions"
    )
    erp.run(
        [
            (f"CREATE ROLE {role} LOGIN", ()),
            (f"GRANT SELECT ON {tables} TO {role}", ()),
            (f"GRANT INSERT ON ar_cash_receipts, ar_receipt_applications TO {role}", ()),
            (f"GRANT UPDATE (open_amount, status, updated_at) ON ar_open_items TO {role}", ()),
        ]
    )
    for host in books(postgres.as_user(role)):
        # `arlink check` names each write right still missing, before any write fails.
        lacking = [r.detail.split(" (")[0] for r in host.check() if not r.ok]
        assert lacking == [
            f"odbc: user `{role}` cannot insert into `ar_edi_status`",
            f"odbc: user `{role}` cannot insert into `ar_exceptions`",
            f"odbc: user `{role}` cannot update `ar_exceptions`",
        ]
        host.push_applications([write("p1", "100.00", "I1", "100.00")])
        assert open_amounts(host) == {}
        item = ExceptionItem("p2", ExceptionReason.NO_CANDIDATE, usd("5.00"))
        exception = ExceptionWrite(idempotency_key("p2"), payment("p2", "5.00"), item)
        # INSERT on ar_exceptions is missing: the admin is told which right, not to retry.
        with pytest.raises(OdbcRightsError, match=f"user `{role}` lacks a right"):
            host.push_exceptions([exception])
    # With the rest of the README's grants, the clerk's queue works both ways.
    erp.run(
        [
            (f"GRANT INSERT ON ar_exceptions TO {role}", ()),
            (f"GRANT SELECT, INSERT ON ar_edi_status TO {role}", ()),
            (
                "GRANT UPDATE (status, resolution_action, resolution_invoice_id, "
                f"resolution_amount, resolution_note, resolved_at) ON ar_exceptions TO {role}",
                (),
            ),
        ]
    )
    for number, host in enumerate(books(postgres.as_user(role))):
        assert [r.detail for r in host.check() if not r.ok] == []
        pid = f"p{number + 3}"
        item = ExceptionItem(pid, ExceptionReason.NO_CANDIDATE, usd("5.00"))
        host.push_exceptions([ExceptionWrite(idempotency_key(pid), payment(pid, "5.00"), item)])
        key = idempotency_key(pid, "not_ours")
        decision = ResolutionWrite(key, pid, "not_ours", None, "", "ann")
        (closed,) = host.push_resolutions([decision])
        assert not closed.already_present


# ---------------------------------------------------------------------------------------
# Transient failures


def test_an_unreachable_server_is_retried_up_to_the_cap() -> None:
    nowhere = OdbcDatabase(
        "postgresql",
        f"DRIVER={{PostgreSQL Unicode}};Server=127.0.0.1;Port={free_port()};Database=erp;"
        "UID=arlink;CommLog=0",
    )
    host = odbc_books(nowhere)
    with pytest.raises(RetriesExhaustedError) as caught:
        host.pull_open_invoices(None)
    assert caught.value.attempts == host.settings.retry.attempts == 2
    assert "Connection refused" in str(caught.value)


def test_a_lost_connection_is_retried_on_a_new_one(postgres: OdbcDatabase) -> None:
    erp = Erp(postgres)
    erp.add_customer(Customer("C1", "Acme"))
    erp.add_invoice(invoice(1, "10.00"))
    for host in books(postgres):
        assert set(open_amounts(host)) == {"I1"}
        # The server drops arlink's session (a restart, a failover, an idle timeout).
        terminated = erp.rows(
            "SELECT CAST(pg_terminate_backend(pid) AS INTEGER) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert [row[0] for row in terminated] == [1]
        assert set(open_amounts(host)) == {"I1"}


def test_postgres_statements_time_out_server_side(postgres: OdbcDatabase) -> None:
    """psqlODBC rejects ODBC's query timeout: the session's statement_timeout does it."""
    erp = Erp(postgres)
    erp.add_customer(Customer("C1", "Acme"))
    with postgres.connect() as locker:
        locker.cursor().execute("LOCK TABLE ar_open_items IN ACCESS EXCLUSIVE MODE")
        for host in books(postgres, statement_timeout=0.2):
            with pytest.raises(RetriesExhaustedError, match="statement timeout") as caught:
                host.pull_open_invoices(None)
            assert caught.value.attempts == 2
        locker.rollback()


# ---------------------------------------------------------------------------------------
# Pulls


def test_keyset_pages_neither_skip_nor_repeat_rows_of_the_same_instant(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    same = erp.tick()
    erp.run(
        [
            (
                "INSERT INTO ar_open_items (id, number, customer_id, currency, total,"
                " open_amount, status, updated_at) VALUES (?, ?, 'C1', 'USD', ?, ?, 'open', ?)",
                (f"I{n}", f"INV-{n}", usd("5.00").to_decimal(), usd("5.00").to_decimal(), same),
            )
            for n in range(1, 6)
        ]
    )
    pulled = [i.invoice_id for i in host.pull_open_invoices(None)]  # page size 2: 3 pages
    assert pulled == ["I1", "I2", "I3", "I4", "I5"]


def test_an_incremental_pull_returns_what_changed_closed_items_included(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    for number in (1, 2, 3):
        erp.add_invoice(invoice(number, "100.00"))
    cursor = erp.clock + timedelta(milliseconds=500)
    host.clock = lambda: cursor + timedelta(seconds=5)
    host.push_applications([write("p1", "100.00", "I1", "100.00")])
    erp.run([("UPDATE ar_open_items SET updated_at = ? WHERE id = 'I3'", (erp.tick(),))])
    changed = {i.invoice_id: i for i in host.pull_open_invoices(cursor)}
    assert set(changed) == {"I1", "I3"}
    assert (changed["I1"].status, changed["I1"].open_amount) == ("paid", usd("0.00"))
    assert set(open_amounts(host)) == {"I2", "I3"}


def test_customers_come_with_accounts_and_aliases_incrementally(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    cursor = erp.clock + timedelta(milliseconds=500)
    erp.add_customer(
        Customer("C2", "Globex Corp", "C1", ("GLOBEX", "Globex Intl"), ("DE89370400440532013000",))
    )
    erp.add_customer(Customer("C3", "Initech"))
    (globex, initech) = host.pull_customers(cursor)
    assert globex == Customer(
        "C2", "Globex Corp", "C1", ("GLOBEX", "Globex Intl"), ("DE89370400440532013000",)
    )
    assert initech.customer_id == "C3"
    assert {c.customer_id for c in host.pull_customers(None)} == {"C1", "C2", "C3"}


def test_resolutions_come_back_incrementally(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    for pid in ("p1", "p2", "p3"):
        item = ExceptionItem(pid, ExceptionReason.NO_CANDIDATE, usd("5.00"))
        host.push_exceptions([ExceptionWrite(idempotency_key(pid), payment(pid, "5.00"), item)])
    resolve = (
        "UPDATE ar_exceptions SET resolution_action = ?, resolution_amount = ?,"
        " resolved_at = ? WHERE payment_id = ?"
    )
    erp.run([(resolve, ("on_account", None, erp.tick(), "p1"))])
    cursor = erp.clock + timedelta(milliseconds=500)
    erp.run(
        [
            (resolve, ("not_ours", None, erp.tick(), "p2")),
            (resolve, ("apply", usd("5.00").to_decimal(), erp.tick(), "p3")),
        ]
    )
    later = host.pull_resolutions(cursor)
    assert [(r.payment_id, r.action, r.amount) for r in later] == [
        ("p2", "not_ours", None),
        ("p3", "apply", usd("5.00")),
    ]
    assert len(host.pull_resolutions(None)) == 3


# ---------------------------------------------------------------------------------------
# Writes


def test_a_refused_application_leaves_nothing_of_it_behind(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    erp.add_invoice(invoice(1, "100.00"))
    erp.add_invoice(invoice(2, "50.00"))
    taken, refused = host.push_applications(
        [write("p1", "160.00", "I1", "100.00"), write("p1", "160.00", "I2", "60.00")]
    )
    # The payment's transaction was rolled back; its applications were then written one
    # by one: the one the database refuses comes back refused, the other is applied.
    assert taken.refused is None
    assert re.search(r"INV-2 has 50\.00 open", refused.refused or ""), refused
    assert open_amounts(host) == {"I2": usd("50.00")}
    assert erp.rows("SELECT COUNT(*) FROM ar_receipt_applications")[0][0] == 1


def test_an_exception_reads_as_words_for_the_clerk(
    database: OdbcDatabase, erp: Erp, host: OdbcBooks
) -> None:
    erp.add_invoice(invoice(1, "100.00"))
    item = ExceptionItem(
        "p1",
        ExceptionReason.AMBIGUOUS,
        usd("100.00"),
        (Suggestion("I1", 0.8, (Reason("amount", "amount equals open amount"),)),),
        (Reason("two", "two invoices of the same amount"),),
    )
    host.push_exceptions([ExceptionWrite(idempotency_key("p1"), payment("p1", "100.00"), item)])
    ((status, details, suggestions),) = erp.rows(
        "SELECT status, details, suggestions FROM ar_exceptions"
    )
    assert status == "open"
    assert "from ACME MFG not applied: ambiguous. two invoices of the same amount." in details
    assert suggestions == "1. invoice INV-1 (id I1), score 0.80: amount equals open amount"


def test_a_concurrent_writers_key_is_found_after_the_unique_violation(
    postgres: OdbcDatabase,
) -> None:
    """Another run inserts the same payment between arlink's lookup and its insert: the
    insert waits on the other transaction, then violates the unique key; arlink rolls
    back, looks the key up, and reports it present instead of failing or posting twice."""
    erp = Erp(postgres)
    erp.add_customer(Customer("C1", "Acme"))
    erp.add_invoice(invoice(1, "100.00"))
    applied = write("p1", "40.00", "I1", "40.00")
    now = sql_timestamp(datetime(2026, 11, 2, tzinfo=UTC))
    with postgres.connect() as other:
        cursor = other.cursor()
        cursor.execute(
            "INSERT INTO ar_cash_receipts (payment_id, bank_account, amount, currency,"
            " created_at) VALUES ('p1', 'x', 40, 'USD', ?)",
            now,
        )
        cursor.execute(
            "INSERT INTO ar_receipt_applications (idempotency_key, payment_id, invoice_id,"
            " amount, discount, write_off, currency, reasons, created_at)"
            " VALUES (?, 'p1', 'I1', 40, 0, 0, 'USD', 'other run', ?)",
            applied.idempotency_key,
            now,
        )
        outcome: list[Any] = []
        host = odbc_books(postgres)
        pusher = threading.Thread(
            target=lambda: outcome.append(_push_or_error(host, applied)), daemon=True
        )
        pusher.start()
        _wait_until_blocked(postgres)
        other.commit()
        pusher.join(timeout=60)
        host.close()
    ((result,),) = outcome
    assert result.already_present
    assert result.external_id == f"ar_receipt_applications/{applied.idempotency_key}"
    assert erp.rows("SELECT COUNT(*) FROM ar_receipt_applications")[0][0] == 1


def _push_or_error(host: OdbcBooks, applied: ApplicationWrite) -> Any:
    try:
        return host.push_applications([applied])
    except Exception as exc:  # reported by the assertion in the test's thread
        return [exc]


def _wait_until_blocked(database: OdbcDatabase) -> None:
    """Until a session of this database waits on a lock (arlink's insert on the key)."""
    with database.connect() as watcher:
        cursor = watcher.cursor()
        for _ in range(600):
            waiting = cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            watcher.commit()
            if waiting:
                return
            threading.Event().wait(0.05)
    pytest.fail("arlink's insert never waited on the other transaction's key")


def test_pyodbc_reports_the_sqlite_unique_violation_as_a_plain_error(tmp_path: Path) -> None:
    """Why writes look keys up after a failure rather than catch IntegrityError."""
    database = sqlite_database(tmp_path)
    database.create_schema()
    insert = "INSERT INTO ar_customers (id, name, updated_at) VALUES ('C1', 'Acme', ?)"
    with database.connect() as connection:
        cursor = connection.cursor()
        cursor.execute(insert, datetime(2026, 1, 1))
        with pytest.raises(pyodbc.Error) as caught:
            cursor.execute(insert, datetime(2026, 1, 1))
    assert type(caught.value) is pyodbc.Error
    assert "UNIQUE constraint failed" in str(caught.value)
