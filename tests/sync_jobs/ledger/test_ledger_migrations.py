"""The shipped migrations build exactly the tables of `schema.py`, once, on any backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.engine import create_ledger_engine
from sync_jobs.ledger.migrate import MIGRATIONS_DIR, current_revision, head_revision, upgrade
from sync_jobs.ledger.schema import GENESIS_HASH, audit_head, job_locks, metadata

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

LEDGER_TABLES = {
    "job_runs",
    "step_checkpoints",
    "cursors",
    "pull_cursors",
    "bank_files",
    "customers",
    "invoices",
    "payments",
    "remittance_advices",
    "decisions",
    "applications",
    "exception_items",
    "bindings",
    "audit_log",
    "audit_head",
    "job_locks",
    "edi_control_numbers",
    "edi_documents",
    "edi_ack_files",
}


def _user_tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_schema_declares_the_ledger_tables() -> None:
    assert set(metadata.tables) == LEDGER_TABLES


def test_upgrade_from_empty_creates_every_table(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    try:
        assert current_revision(engine) is None
        assert _user_tables(engine) == set()

        upgrade(engine)

        assert _user_tables(engine) == LEDGER_TABLES
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_head_revision_is_the_refused_writes_one() -> None:
    assert head_revision() == "0005"


def test_migrations_ship_as_package_data() -> None:
    for relative in (
        "__init__.py",
        "env.py",
        "script.py.mako",
        "versions/__init__.py",
        "versions/0001_initial.py",
        "versions/0002_remittance_advices.py",
        "versions/0003_pull_cursors.py",
        "versions/0004_edi.py",
        "versions/0005_refused_writes.py",
    ):
        assert (MIGRATIONS_DIR / relative).is_file(), relative


def test_audit_head_is_seeded_with_the_empty_chain(ledger: sa.Engine) -> None:
    with ledger.connect() as conn:
        rows = conn.execute(sa.select(audit_head)).all()
    assert [tuple(row) for row in rows] == [(1, 0, GENESIS_HASH)]


def test_opening_twice_is_a_no_op(ledger_url: str) -> None:
    first = open_ledger(ledger_url)
    try:
        with first.begin() as conn:
            conn.execute(
                sa.insert(job_locks).values(
                    job="daily", run_id="r1", pid=1, host="worker-1", acquired_at=T0
                )
            )
    finally:
        first.dispose()

    second = open_ledger(ledger_url)
    try:
        assert current_revision(second) == head_revision()
        assert _user_tables(second) == LEDGER_TABLES
        with second.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM audit_head")).scalar() == 1
            assert conn.execute(sa.text("SELECT job FROM job_locks")).scalar() == "daily"
    finally:
        second.dispose()


def _declared(table: sa.Table) -> dict[str, Any]:
    """What `schema.py` says about a table, in the shape the inspector reports."""
    return {
        "columns": {c.name: c.nullable for c in table.columns},
        "primary_key": (
            table.primary_key.name,
            [c.name for c in table.primary_key.columns],
        ),
        "foreign_keys": sorted(
            (
                fk.name,
                tuple(fk.column_keys),
                fk.referred_table.name,
                tuple(e.column.name for e in fk.elements),
            )
            for fk in table.foreign_key_constraints
        ),
        "unique": sorted(
            (c.name, tuple(col.name for col in c.columns))
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint) and not isinstance(c, sa.PrimaryKeyConstraint)
        ),
        "indexes": sorted(
            (ix.name, tuple(col.name for col in ix.columns), bool(ix.unique))
            for ix in table.indexes
        ),
        "checks": sorted(c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)),
    }


def _migrated(inspector: sa.Inspector, name: str) -> dict[str, Any]:
    """What the migrated database says about a table."""
    pk = inspector.get_pk_constraint(name)
    return {
        "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(name)},
        "primary_key": (pk["name"], pk["constrained_columns"]),
        "foreign_keys": sorted(
            (
                fk["name"],
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
            )
            for fk in inspector.get_foreign_keys(name)
        ),
        "unique": sorted(
            (uc["name"], tuple(uc["column_names"])) for uc in inspector.get_unique_constraints(name)
        ),
        "indexes": sorted(
            (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
            for ix in inspector.get_indexes(name)
            # PostgreSQL reports the index behind each unique constraint too.
            if not ix.get("duplicates_constraint")
        ),
        "checks": sorted(c["name"] for c in inspector.get_check_constraints(name)),
    }


def test_migrated_tables_match_schema(ledger: sa.Engine) -> None:
    inspector = sa.inspect(ledger)
    for name, table in sorted(metadata.tables.items()):
        assert _migrated(inspector, name) == _declared(table), name


def test_alembic_finds_no_difference_between_migrations_and_schema(ledger: sa.Engine) -> None:
    # Alembic's own comparison also covers column types, which the inspector check does not.
    with ledger.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
