"""Alembic environment for the ledger.

`sync_jobs.ledger.migrate` builds the alembic `Config` in code and passes an open
connection in `config.attributes["connection"]`, so the migration runs inside the
caller's transaction (and, on SQLite, under the engine's `BEGIN IMMEDIATE`). Without
one (the alembic command line), it connects to `sqlalchemy.url` itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from sync_jobs.ledger.engine import create_ledger_engine
from sync_jobs.ledger.schema import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the caller's connection when given, else through `sqlalchemy.url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("`sqlalchemy.url` is not set and no connection was passed in")
    # The ledger's own engine, so SQLite gets the same pragmas and BEGIN IMMEDIATE.
    engine = create_ledger_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the ledger migrations run online only; use `sync_jobs.ledger.migrate`")
run_migrations_online()
