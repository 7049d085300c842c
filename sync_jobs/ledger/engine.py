"""The ledger's SQLAlchemy engine: any URL, with SQLite made safe for concurrent jobs.

SQLite is the default store (one file, nothing to install). Out of the box its
Python driver starts transactions lazily and outside DDL, which leaves migrations
non-atomic and lets two writers read the same state and then collide. So for
SQLite the engine turns the driver's own transaction handling off and emits
`BEGIN IMMEDIATE` itself: every transaction takes the write lock up front (waiting
up to the busy timeout), DDL is transactional, and read-then-write sequences such
as an audit append are serialised. The price: a read through this engine also holds
the write lock while its transaction is open, so keep read transactions short. WAL
lets other readers (the sqlite3 shell, a backup) read while a job writes, and
foreign keys are enforced (SQLite leaves them off per connection by default).
Other databases get a plain engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

# How long a SQLite writer waits for another to finish before failing ("database is locked").
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_ledger_engine(url: str | sa.URL) -> sa.Engine:
    """Create the engine for a ledger URL; for a SQLite file, create its folder and set pragmas."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    if not in_memory and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


def _configure_sqlite(engine: sa.Engine, *, wal: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing its own (deferred, DML-only) BEGIN; `_on_begin` does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE: take the write lock now, so the busy timeout applies and a transaction
        # never fails half-way when it first writes after another writer committed.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
