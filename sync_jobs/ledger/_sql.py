"""Small SQL helpers that hide the one place dialects differ: insert-or-update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    *,
    key: Mapping[str, Any],
    insert_values: Mapping[str, Any],
    update_values: Mapping[str, Any],
) -> None:
    """Insert `key` + `insert_values`, or if a row with `key` exists, set `update_values` on it.

    `key` must be the table's primary key or a unique constraint's columns.
    """
    row = {**key, **insert_values}
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        # Both speak ON CONFLICT DO UPDATE, atomic even with concurrent writers.
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = (
            insert(table)
            .values(row)
            .on_conflict_do_update(
                index_elements=[table.c[name] for name in key], set_=dict(update_values)
            )
        )
        conn.execute(statement)
        return
    # Other databases: update-then-insert; a concurrent insert of the same key fails
    # loudly on the unique constraint rather than being lost.
    where = [table.c[name] == value for name, value in key.items()]
    result = conn.execute(sa.update(table).where(*where).values(dict(update_values)))
    if result.rowcount == 0:
        conn.execute(sa.insert(table).values(row))
