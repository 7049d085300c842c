"""Pull cursors: per books host and stream, how far the last committed pull has read.

Hand-written and frozen, like 0001: constraint names as the naming convention of
`schema.py` gives them (wrapped in `op.f()`), plain SQLAlchemy types.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pull_cursors",
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("stream", sa.String(32), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("host", "stream", name=op.f("pk_pull_cursors")),
        sa.CheckConstraint(
            "stream IN ('customers', 'invoices', 'resolutions')",
            name=op.f("ck_pull_cursors_stream"),
        ),
    )


def downgrade() -> None:
    op.drop_table("pull_cursors")
