"""Refused writes: a books host may refuse one record (a locked or paid invoice, a validation
error); the row is kept `refused` with the host's message, and never pushed again. A clerk's
decision for the host (a `bindings` row) may be refused too (its message is in the audit log).

Hand-written and frozen, like 0001: constraint names as the naming convention of `schema.py`
gives them (wrapped in `op.f()`), plain SQLAlchemy types. SQLite cannot alter a CHECK, so
the tables are rebuilt in batch mode there (the environment's `render_as_batch`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, status column, statuses before): each gains `refused`.
STATUSES = (
    ("applications", "writeback_status", ("pending", "written", "confirmed")),
    ("exception_items", "writeback_status", ("pending", "written", "confirmed")),
    ("bindings", "status", ("intent", "written", "confirmed")),
)
# Where the host's message is kept (bindings: in the audit log).
WITH_ERROR = ("applications", "exception_items")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    for table, column, before in STATUSES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
            batch.create_check_constraint(
                op.f(f"ck_{table}_{column}"), _in(column, (*before, "refused"))
            )
            if table in WITH_ERROR:
                batch.add_column(sa.Column("writeback_error", sa.Text(), nullable=True))


def downgrade() -> None:
    for table, column, before in STATUSES:
        # A refused row goes back to be written again: the old schema has no word for it.
        op.execute(
            sa.text(f"UPDATE {table} SET {column} = :back WHERE {column} = 'refused'").bindparams(
                back=before[1]
            )
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
            batch.create_check_constraint(op.f(f"ck_{table}_{column}"), _in(column, before))
            if table in WITH_ERROR:
                batch.drop_column("writeback_error")
