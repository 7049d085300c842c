"""The ledger: arlink's state and audit trail in one SQL database.

It holds job runs and step checkpoints, cursors per host, ingested bank files,
pulled customers and invoices, payments, match decisions, applications and
exception items with their write-back status, bindings to host records, and the
hash-chained audit log (DESIGN.md, "The ledger"). SQLite by default, any
SQLAlchemy URL (PostgreSQL for shared deployments); the schema is kept current
with the Alembic migrations shipped in `migrations/`.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sync_jobs.ledger.engine import create_ledger_engine
from sync_jobs.ledger.migrate import upgrade

__all__ = ["default_url", "open_ledger"]


def default_url(var_dir: Path) -> str:
    """The SQLite ledger URL inside arlink's state folder: `sqlite:///<var_dir>/ledger.sqlite3`."""
    return f"sqlite:///{Path(var_dir) / 'ledger.sqlite3'}"


def open_ledger(url: str | sa.URL) -> sa.Engine:
    """Open (creating if needed) the ledger at `url` and migrate it to the newest schema."""
    engine = create_ledger_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
