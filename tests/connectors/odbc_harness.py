"""The contract-test harness of the `odbc` books host, over real ODBC drivers.

The database gets arlink's generic AR schema (`mappings/odbc/generic.sql`), created as an
admin would. The harness plays the ERP (writes customers and open items with their own
`updated_at`) and the clerk (fills an exception's resolution columns), each with plain
SQL on its own connection; the host under test is the real `OdbcBooks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from books_harness import HeldApplication
from servers.odbc import OdbcDatabase, lock_item, postgres_database, sqlite_database

from connectors.errors import RetryPolicy
from connectors.odbc import OdbcBooks, OdbcSettings, PyOdbc
from mappings.money import Money
from mappings.odbc import sql_timestamp
from mappings.records import Customer, Invoice


def odbc_settings(database: OdbcDatabase, **overrides: Any) -> OdbcSettings:
    """Settings for a test database, with small pages so paging is exercised."""
    values: dict[str, Any] = {
        "connection_string": database.connection_string,
        "connect_timeout": 10,
        "statement_timeout": 30.0,
        "page_size": 2,
        "retry": RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.02),
    }
    values.update(overrides)
    return OdbcSettings(**values)


def odbc_books(database: OdbcDatabase, **overrides: Any) -> OdbcBooks:
    settings = odbc_settings(database, **overrides)
    return OdbcBooks("odbc", PyOdbc(settings), settings)


class Erp:
    """The ERP and its users, writing the tables with their own SQL."""

    def __init__(self, database: OdbcDatabase) -> None:
        self.database = database
        self.clock = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        """The next modification time: later than every earlier one, in milliseconds."""
        self.clock += timedelta(seconds=1)
        return sql_timestamp(self.clock)

    def run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self.database.connect() as connection:
            cursor = connection.cursor()
            for sql, params in statements:
                cursor.execute(sql, *params)
            connection.commit()

    def rows(self, sql: str, *params: Any) -> list[Any]:
        with self.database.connect() as connection:
            found = connection.cursor().execute(sql, *params).fetchall()
            connection.commit()
            return found

    def add_customer(self, customer: Customer) -> None:
        statements: list[tuple[str, Sequence[Any]]] = [
            (
                "INSERT INTO ar_customers (id, name, parent_id, payment_terms, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    customer.customer_id,
                    customer.name,
                    customer.parent_id,
                    customer.payment_terms,
                    self.tick(),
                ),
            )
        ]
        statements += [
            (
                "INSERT INTO ar_customer_bank_accounts (customer_id, account_number) VALUES (?, ?)",
                (customer.customer_id, number),
            )
            for number in customer.bank_accounts
        ]
        statements += [
            (
                "INSERT INTO ar_customer_aliases (customer_id, alias) VALUES (?, ?)",
                (customer.customer_id, alias),
            )
            for alias in customer.aliases
        ]
        self.run(statements)

    def add_invoice(self, invoice: Invoice) -> None:
        self.run(
            [
                (
                    "INSERT INTO ar_open_items (id, number, customer_id, currency, total,"
                    " open_amount, issue_date, due_date, po_number, payment_terms, status,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        invoice.invoice_id,
                        invoice.number,
                        invoice.customer_id,
                        invoice.currency,
                        invoice.total.to_decimal(),
                        invoice.open_amount.to_decimal(),
                        invoice.issue_date,
                        invoice.due_date,
                        invoice.po_number,
                        invoice.discount_terms,
                        invoice.status,
                        self.tick(),
                    ),
                )
            ]
        )


class OdbcHarness:
    def __init__(self, database: OdbcDatabase) -> None:
        database.create_schema()
        self.database = database
        self.erp = Erp(database)
        self.host = odbc_books(database)

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        self.erp.run(
            [
                (f"DELETE FROM {table}", ())
                for table in (
                    "ar_exceptions",
                    "ar_receipt_applications",
                    "ar_cash_receipts",
                    "ar_open_items",
                    "ar_customer_aliases",
                    "ar_customer_bank_accounts",
                    "ar_customers",
                )
            ]
        )
        for customer in customers:
            self.erp.add_customer(customer)
        for invoice in invoices:
            self.erp.add_invoice(invoice)

    def applied(self) -> list[HeldApplication]:
        rows = self.erp.rows(
            "SELECT idempotency_key, invoice_id, CAST(amount AS VARCHAR(40)), currency"
            " FROM ar_receipt_applications ORDER BY created_at, idempotency_key"
        )
        return [
            HeldApplication(key, invoice, Money.parse(amount, cur))
            for key, invoice, amount, cur in rows
        ]

    def exception_keys(self) -> list[str]:
        rows = self.erp.rows("SELECT idempotency_key FROM ar_exceptions ORDER BY created_at")
        return [row[0] for row in rows]

    def open_exception_keys(self) -> list[str]:
        rows = self.erp.rows(
            "SELECT idempotency_key FROM ar_exceptions WHERE status = 'open' ORDER BY created_at"
        )
        return [row[0] for row in rows]

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        self.erp.run(
            [
                (
                    "UPDATE ar_exceptions SET status = 'resolved', resolution_action = ?,"
                    " resolution_invoice_id = ?, resolution_note = ?, resolved_at = ?"
                    " WHERE payment_id = ?",
                    (action, invoice_id, f"clerk: {action}", self.erp.tick(), payment_id),
                )
            ]
        )

    def refuse_writes_for(self, invoice_number: str) -> None:
        lock_item(self.database, invoice_number)

    def books_config(self) -> tuple[str, dict[str, str]]:
        table = (
            f'kind = "odbc"\nconnection_string = "{self.database.connection_string}"\n'
            "connect_timeout = 10\nstatement_timeout = 30\n"
        )
        return table, {}

    def touch_invoice(self, invoice_id: str) -> None:
        self.erp.run(
            [
                (
                    "UPDATE ar_open_items SET updated_at = ? WHERE id = ?",
                    (self.erp.tick(), invoice_id),
                )
            ]
        )


def odbc_harness(request: pytest.FixtureRequest, dialect: str) -> OdbcHarness:
    """A fresh database for one test: a SQLite file, or a new database in the session's
    PostgreSQL server."""
    if dialect == "sqlite":
        database = sqlite_database(request.getfixturevalue("tmp_path") / "odbc")
    else:
        database = postgres_database(request.getfixturevalue("postgres_server"))
    harness = OdbcHarness(database)
    request.addfinalizer(harness.host.close)
    return harness
