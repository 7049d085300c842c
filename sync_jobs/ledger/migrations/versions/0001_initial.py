"""Initial ledger: runs, cursors, bank files, books, payments, decisions, write-back, audit.

Hand-written and frozen: it names every constraint and index as the naming convention
in `schema.py` would (wrapped in `op.f()`, since alembic otherwise applies that
convention again to names given here), and uses plain SQLAlchemy types (never `schema.py`'s
`UtcDateTime`, whose impl is `DateTime(timezone=True)`), so later changes to
`schema.py` cannot silently change what this revision creates.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def _ts(name: str, *, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _surrogate_key(name: str) -> sa.Column:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at", nullable=False),
        _ts("finished_at", nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_job_runs")),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_job_runs_status")
        ),
    )
    op.create_index(op.f("ix_job_runs_job_started_at"), "job_runs", ["job", "started_at"])

    op.create_table(
        "step_checkpoints",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at", nullable=False),
        _ts("finished_at", nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "step", name=op.f("pk_step_checkpoints")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.run_id"], name=op.f("fk_step_checkpoints_run_id_job_runs")
        ),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed')", name=op.f("ck_step_checkpoints_status")
        ),
    )

    op.create_table(
        "cursors",
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("value", sa.String(1000), nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("host", "entity", name=op.f("pk_cursors")),
    )

    op.create_table(
        "bank_files",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("format", sa.String(32), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        _ts("received_at", nullable=False),
        _ts("parsed_at", nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_bank_files")),
        sa.CheckConstraint(
            "status IN ('received', 'parsed', 'quarantined')", name=op.f("ck_bank_files_status")
        ),
    )

    op.create_table(
        "customers",
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("parent_id", sa.String(200), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("bank_accounts", sa.JSON(), nullable=False),
        sa.Column("payment_terms", sa.String(200), nullable=True),
        _ts("pulled_at", nullable=False),
        sa.PrimaryKeyConstraint("host", "customer_id", name=op.f("pk_customers")),
    )

    op.create_table(
        "invoices",
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("invoice_id", sa.String(200), nullable=False),
        sa.Column("number", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("po_number", sa.String(200), nullable=True),
        sa.Column("discount_terms", sa.String(200), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        _ts("pulled_at", nullable=False),
        sa.PrimaryKeyConstraint("host", "invoice_id", name=op.f("pk_invoices")),
    )
    op.create_index(op.f("ix_invoices_host_number"), "invoices", ["host", "number"])

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("file_digest", sa.String(64), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("bank_account", sa.String(100), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payer_name", sa.String(1000), nullable=True),
        sa.Column("payer_account", sa.String(100), nullable=True),
        sa.Column("bank_reference", sa.String(200), nullable=True),
        sa.Column("end_to_end_id", sa.String(200), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("remittance_lines", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        sa.ForeignKeyConstraint(
            ["file_digest"], ["bank_files.digest"], name=op.f("fk_payments_file_digest_bank_files")
        ),
    )
    op.create_index(op.f("ix_payments_file_digest"), "payments", ["file_digest"])

    op.create_table(
        "decisions",
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        _ts("decided_at", nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_decisions")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.payment_id"], name=op.f("fk_decisions_payment_id_payments")
        ),
        sa.CheckConstraint(
            "outcome IN ('applied', 'partially_applied', 'exception')",
            name=op.f("ck_decisions_outcome"),
        ),
    )

    op.create_table(
        "applications",
        _surrogate_key("id"),
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("invoice_id", sa.String(200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("write_off_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("writeback_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_applications_payment_id_payments"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_applications_idempotency_key")),
        sa.CheckConstraint(
            "writeback_status IN ('pending', 'written', 'confirmed')",
            name=op.f("ck_applications_writeback_status"),
        ),
    )
    op.create_index(op.f("ix_applications_payment_id"), "applications", ["payment_id"])

    op.create_table(
        "exception_items",
        _surrogate_key("id"),
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("writeback_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("external_id", sa.String(200), nullable=True),
        _ts("created_at", nullable=False),
        _ts("resolved_at", nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_items")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_exception_items_payment_id_payments"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_exception_items_idempotency_key")),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_exception_items_status")
        ),
        sa.CheckConstraint(
            "writeback_status IN ('pending', 'written', 'confirmed')",
            name=op.f("ck_exception_items_writeback_status"),
        ),
    )
    op.create_index(op.f("ix_exception_items_payment_id"), "exception_items", ["payment_id"])
    op.create_index(op.f("ix_exception_items_status"), "exception_items", ["status"])

    op.create_table(
        "bindings",
        _surrogate_key("id"),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("local_id", sa.String(200), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bindings")),
        sa.UniqueConstraint(
            "host", "entity", "local_id", name=op.f("uq_bindings_host_entity_local_id")
        ),
        sa.CheckConstraint(
            "status IN ('intent', 'written', 'confirmed')", name=op.f("ck_bindings_status")
        ),
    )

    op.create_table(
        "audit_log",
        _surrogate_key("seq"),
        _ts("at", nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
    )
    # The empty chain's head; appends lock and update this row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])

    op.create_table(
        "job_locks",
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        _ts("acquired_at", nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_locks")),
    )


def downgrade() -> None:
    # Children before parents, so foreign keys never point at a dropped table.
    for table in (
        "job_locks",
        "audit_head",
        "audit_log",
        "bindings",
        "exception_items",
        "applications",
        "decisions",
        "payments",
        "invoices",
        "customers",
        "bank_files",
        "cursors",
        "step_checkpoints",
        "job_runs",
    ):
        op.drop_table(table)
