"""EDI: per-partner control numbers, outbound documents with their status, acknowledgment files.

Hand-written and frozen, like 0001: constraint and index names as the naming convention of
`schema.py` gives them (wrapped in `op.f()`), plain SQLAlchemy types.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EDI_STATUSES = (
    "built",
    "valid",
    "invalid",
    "sent",
    "received",
    "accepted",
    "accepted_with_errors",
    "rejected",
    "overdue",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "edi_control_numbers",
        sa.Column("partner", sa.String(200), nullable=False),
        sa.Column("next_interchange", sa.BigInteger(), nullable=False),
        sa.Column("next_group", sa.BigInteger(), nullable=False),
        sa.Column("next_set", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("partner", name=op.f("pk_edi_control_numbers")),
    )
    op.create_table(
        "edi_documents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("partner", sa.String(200), nullable=False),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("invoice_id", sa.String(200), nullable=False),
        sa.Column("invoice_number", sa.String(200), nullable=False),
        sa.Column("standard", sa.String(8), nullable=False),
        sa.Column("interchange_control", sa.String(14), nullable=False),
        sa.Column("group_control", sa.String(14), nullable=False),
        sa.Column("set_control", sa.String(14), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source_digest", sa.String(64), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("host_status", sa.String(24), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edi_documents")),
        sa.UniqueConstraint(
            "partner",
            "interchange_control",
            name=op.f("uq_edi_documents_partner_interchange_control"),
        ),
        sa.CheckConstraint(_in("status", EDI_STATUSES), name=op.f("ck_edi_documents_status")),
    )
    op.create_index(
        op.f("ix_edi_documents_partner_invoice_id"), "edi_documents", ["partner", "invoice_id"]
    )
    op.create_index(op.f("ix_edi_documents_status"), "edi_documents", ["status"])
    op.create_table(
        "edi_ack_files",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(200), nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_edi_ack_files")),
        sa.CheckConstraint(
            _in("status", ("read", "quarantined")), name=op.f("ck_edi_ack_files_status")
        ),
    )


def downgrade() -> None:
    op.drop_table("edi_ack_files")
    op.drop_index(op.f("ix_edi_documents_status"), table_name="edi_documents")
    op.drop_index(op.f("ix_edi_documents_partner_invoice_id"), table_name="edi_documents")
    op.drop_table("edi_documents")
    op.drop_table("edi_control_numbers")
