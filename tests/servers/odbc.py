"""Databases reached through real ODBC drivers (unixODBC): a SQLite file through the
SQLite3 driver, and a fresh database in the session's PostgreSQL server (the
`postgres_server` fixture of tests/conftest.py) through psqlODBC.

`make test` installs the drivers (unixodbc, libsqliteodbc, odbc-postgresql); a machine
without them fails with what to install, rather than skipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyodbc
import pytest

from mappings.odbc import DEFAULT_SCHEMA, ddl_statements
from servers.postgres import PostgresServer

SQLITE_DRIVER = "SQLite3"
POSTGRES_DRIVER = "PostgreSQL Unicode"


@dataclass(frozen=True, slots=True)
class OdbcDatabase:
    """One database and the connection string arlink would be configured with."""

    dialect: str  # "sqlite" or "postgresql"
    connection_string: str

    def connect(self) -> pyodbc.Connection:
        """A connection for the test itself (playing the ERP, the admin or the clerk)."""
        return pyodbc.connect(self.connection_string, autocommit=False, timeout=10)

    def as_user(self, user: str) -> OdbcDatabase:
        """The same database, logging in as another user."""
        attributes = [
            f"UID={user}" if part.upper().startswith("UID=") else part
            for part in self.connection_string.split(";")
        ]
        return OdbcDatabase(self.dialect, ";".join(attributes))

    def create_schema(self, script: Path = DEFAULT_SCHEMA) -> None:
        """Run a DDL script, as an admin creating arlink's tables would."""
        with self.connect() as connection:
            cursor = connection.cursor()
            for statement in ddl_statements(script.read_text(encoding="utf-8")):
                cursor.execute(statement)
            connection.commit()


# The ERP's own rule for a closed period or a disputed invoice: an item listed in
# `erp_locked_items` refuses any change, by a trigger in each dialect's own way.
ITEM_LOCKS = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS erp_locked_items (number VARCHAR(64) PRIMARY KEY)",
        "CREATE TRIGGER IF NOT EXISTS erp_refuse_locked BEFORE UPDATE ON ar_open_items"
        " WHEN OLD.number IN (SELECT number FROM erp_locked_items)"
        " BEGIN SELECT RAISE(ABORT, 'the invoice is locked: its period is closed'); END",
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS erp_locked_items (number VARCHAR(64) PRIMARY KEY)",
        "CREATE OR REPLACE FUNCTION erp_refuse_locked() RETURNS trigger AS $$ BEGIN"
        " IF EXISTS (SELECT 1 FROM erp_locked_items WHERE number = OLD.number) THEN"
        " RAISE EXCEPTION 'invoice % is locked: its period is closed', OLD.number;"
        " END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE OR REPLACE TRIGGER erp_refuse_locked BEFORE UPDATE ON ar_open_items"
        " FOR EACH ROW EXECUTE FUNCTION erp_refuse_locked()",
    ),
}


def lock_item(database: OdbcDatabase, number: str) -> None:
    """Lock the open item `number` by the ERP's rule (`ITEM_LOCKS`, installed on first use):
    the database then refuses every change to it, a payment's settlement included."""
    with database.connect() as connection:
        cursor = connection.cursor()
        for statement in ITEM_LOCKS[database.dialect]:
            cursor.execute(statement)
        cursor.execute("INSERT INTO erp_locked_items (number) VALUES (?)", number)
        connection.commit()


def _require_driver(name: str) -> None:
    if name not in pyodbc.drivers():
        pytest.fail(
            f"ODBC driver `{name}` not installed: run `make test` as root or install "
            "unixodbc, libsqliteodbc and odbc-postgresql"
        )


def sqlite_database(folder: Path) -> OdbcDatabase:
    """An empty SQLite file in `folder`, through the SQLite3 ODBC driver."""
    _require_driver(SQLITE_DRIVER)
    folder.mkdir(parents=True, exist_ok=True)
    return OdbcDatabase("sqlite", f"DRIVER={{{SQLITE_DRIVER}}};Database={folder / 'erp.db'}")


def postgres_database(server: PostgresServer) -> OdbcDatabase:
    """A fresh database in the running server, through psqlODBC. `UseDeclareFetch=1` makes
    the driver fetch through a cursor (it buffers whole results otherwise); `CommLog=0`
    stops it writing a log file per connection (Debian's odbcinst.ini turns it on)."""
    _require_driver(POSTGRES_DRIVER)
    name = server.new_database().rsplit("/", 1)[1]
    return OdbcDatabase(
        "postgresql",
        f"DRIVER={{{POSTGRES_DRIVER}}};Server=127.0.0.1;Port={server.port};Database={name};"
        "UID=postgres;UseDeclareFetch=1;Fetch=5000;CommLog=0",
    )
