"""Remittance advices: X12 820 and CSV advices kept with their file, until linked to a payment.

Hand-written and frozen, like 0001: constraint and index names as the naming convention of
`schema.py` gives them (wrapped in `op.f()`), plain SQLAlchemy types.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remittance_advices",
        sa.Column("advice_id", sa.String(64), nullable=False),
        sa.Column("file_digest", sa.String(64), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("document", sa.String(300), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("trace", sa.String(200), nullable=True),
        sa.Column("payer_name", sa.String(1000), nullable=True),
        sa.Column("payer_id", sa.String(200), nullable=True),
        sa.Column("payer_account", sa.String(100), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("linked_by", sa.String(32), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("advice_id", name=op.f("pk_remittance_advices")),
        sa.ForeignKeyConstraint(
            ["file_digest"],
            ["bank_files.digest"],
            name=op.f("fk_remittance_advices_file_digest_bank_files"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_remittance_advices_payment_id_payments"),
        ),
        sa.UniqueConstraint("payment_id", name=op.f("uq_remittance_advices_payment_id")),
    )
    op.create_index(
        op.f("ix_remittance_advices_file_digest"), "remittance_advices", ["file_digest"]
    )


def downgrade() -> None:
    op.drop_table("remittance_advices")
