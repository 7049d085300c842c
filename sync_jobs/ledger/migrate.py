"""Bring a ledger database to the current schema with the migrations shipped in the package.

The alembic `Config` is built in code (no alembic.ini) with `script_location` set to
the `migrations/` folder beside this module, so an installed arlink migrates its
ledger without any file in the working directory.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# An arbitrary, fixed key for PostgreSQL's advisory lock: two workers starting at once
# must not both try to create the tables.
_PG_MIGRATION_LOCK_KEY = 0x61726C696E6B  # "arlink"


def _config() -> Config:
    config = Config()
    # ConfigParser interpolates `%`; a path containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the ledger to `revision` (default: head) in one transaction."""
    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Released at commit. On SQLite the engine's BEGIN IMMEDIATE already serialises.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the ledger database is at, or None if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of arlink."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no ledger migrations found in {MIGRATIONS_DIR}")
    return head
