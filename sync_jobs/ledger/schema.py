"""The ledger's tables: what arlink has seen, decided, written back and why.

One `MetaData` with a naming convention, so every constraint and index has a
stable, portable name that migrations can refer to. The tables are SQLAlchemy
Core only and use portable types, so the same schema runs on SQLite (the default,
one file) and PostgreSQL. Money is never a float: each amount is a `*_minor`
BigInteger of the currency's minor units beside a `currency` column. Timestamps
are timezone-aware UTC (`UtcDateTime`). The migrations in `migrations/versions/`
create exactly these tables; a test compares the two so they cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# The chain's first `prev_hash`, and the hash of the empty chain in `audit_head`.
GENESIS_HASH = "0" * 64

# Surrogate keys: BIGINT on PostgreSQL; on SQLite only `INTEGER PRIMARY KEY` is
# the auto-incrementing rowid, so the variant keeps autoincrement working there.
SurrogateKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that accepts only aware datetimes and returns them in UTC.

    SQLite stores no offset and hands back naive values; PostgreSQL hands back the
    session's zone. Normalising both to UTC here means callers compare like with like,
    and a naive datetime (whose zone is a guess) is refused instead of stored.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, found {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _status_check(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


RUN_STATUSES = ("running", "succeeded", "failed")
STEP_STATUSES = ("running", "done", "failed")
BANK_FILE_STATUSES = ("received", "parsed", "quarantined")
OUTCOMES = ("applied", "partially_applied", "exception")
# `refused`: the host refused the record (its message in `writeback_error`); never pushed again.
WRITEBACK_STATUSES = ("pending", "written", "confirmed", "refused")
EXCEPTION_STATUSES = ("open", "resolved")
# `refused`: the host refused the write (its message in the audit log); never pushed again.
BINDING_STATUSES = ("intent", "written", "confirmed", "refused")

RUN_ID = sa.String(32)  # uuid4 hex
DIGEST = sa.String(64)  # sha256 hex
HOST = sa.String(100)
HOST_ID = sa.String(200)  # a record's id in the books host
CURRENCY = sa.String(3)
KEY = sa.String(200)  # idempotency keys, job and step names

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("run_id", RUN_ID, primary_key=True),
    sa.Column("job", KEY, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("counts", sa.JSON(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("config_hash", DIGEST, nullable=False),
    _status_check("status", RUN_STATUSES, "status"),
    sa.Index("ix_job_runs_job_started_at", "job", "started_at"),
)

step_checkpoints = sa.Table(
    "step_checkpoints",
    metadata,
    sa.Column("run_id", RUN_ID, sa.ForeignKey("job_runs.run_id"), primary_key=True),
    sa.Column("step", KEY, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=True),
    _status_check("status", STEP_STATUSES, "status"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("host", HOST, primary_key=True),
    sa.Column("entity", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(1000), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# How far the last committed pull read each stream of a books host: the largest modification
# time the host gave in it (the next pull asks from there), or None when the host gives none
# (a CSV export is a whole snapshot, pulled whole every time). Written in the transaction
# that stores the batch, so a pull that dies before commit reads the same window again.
PULL_STREAMS = ("customers", "invoices", "resolutions")

pull_cursors = sa.Table(
    "pull_cursors",
    metadata,
    sa.Column("host", HOST, primary_key=True),
    sa.Column("stream", sa.String(32), primary_key=True),
    sa.Column("modified_at", UtcDateTime(), nullable=True),
    sa.Column("pulled_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", RUN_ID, nullable=True),
    _status_check("stream", PULL_STREAMS, "stream"),
)

bank_files = sa.Table(
    "bank_files",
    metadata,
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    # Unknown until the file is recognised, so a file that cannot be parsed still has a row.
    sa.Column("format", sa.String(32), nullable=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("quarantine_reason", sa.Text(), nullable=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("parsed_at", UtcDateTime(), nullable=True),
    sa.Column("run_id", RUN_ID, nullable=True),
    _status_check("status", BANK_FILE_STATUSES, "status"),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("host", HOST, primary_key=True),
    sa.Column("customer_id", HOST_ID, primary_key=True),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("parent_id", HOST_ID, nullable=True),
    sa.Column("aliases", sa.JSON(), nullable=False),
    sa.Column("bank_accounts", sa.JSON(), nullable=False),
    sa.Column("payment_terms", sa.String(200), nullable=True),
    sa.Column("pulled_at", UtcDateTime(), nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("host", HOST, primary_key=True),
    sa.Column("invoice_id", HOST_ID, primary_key=True),
    sa.Column("number", HOST_ID, nullable=False),
    sa.Column("customer_id", HOST_ID, nullable=False),
    sa.Column("currency", CURRENCY, nullable=False),
    sa.Column("total_minor", sa.BigInteger(), nullable=False),
    sa.Column("open_minor", sa.BigInteger(), nullable=False),
    sa.Column("issue_date", sa.Date(), nullable=True),
    sa.Column("due_date", sa.Date(), nullable=True),
    sa.Column("po_number", sa.String(200), nullable=True),
    sa.Column("discount_terms", sa.String(200), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("pulled_at", UtcDateTime(), nullable=False),
    # Remittance text cites invoice numbers, not host ids.
    sa.Index("ix_invoices_host_number", "host", "number"),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(64), primary_key=True),
    sa.Column("file_digest", DIGEST, sa.ForeignKey("bank_files.digest"), nullable=False),
    sa.Column("first_line", sa.Integer(), nullable=False),
    sa.Column("last_line", sa.Integer(), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("bank_account", sa.String(100), nullable=False),
    sa.Column("value_date", sa.Date(), nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", CURRENCY, nullable=False),
    sa.Column("payer_name", sa.String(1000), nullable=True),
    sa.Column("payer_account", sa.String(100), nullable=True),
    sa.Column("bank_reference", sa.String(200), nullable=True),
    sa.Column("end_to_end_id", sa.String(200), nullable=True),
    sa.Column("remittance", sa.Text(), nullable=False),
    sa.Column("remittance_lines", sa.JSON(), nullable=False),
    sa.Column("run_id", RUN_ID, nullable=True),
    sa.Index("ix_payments_file_digest", "file_digest"),
)

# Remittance advices (X12 820, CSV) that arrived apart from the money, from files taken in
# like bank files (`bank_files` is the intake of every file, whatever its format). An advice
# waits unlinked until a match step links it to its payment; it may arrive days before it.
remittance_advices = sa.Table(
    "remittance_advices",
    metadata,
    sa.Column("advice_id", sa.String(64), primary_key=True),
    sa.Column("file_digest", DIGEST, sa.ForeignKey("bank_files.digest"), nullable=False),
    sa.Column("first_line", sa.Integer(), nullable=False),
    sa.Column("last_line", sa.Integer(), nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("document", sa.String(300), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", CURRENCY, nullable=False),
    sa.Column("payment_date", sa.Date(), nullable=True),
    sa.Column("trace", sa.String(200), nullable=True),
    sa.Column("payer_name", sa.String(1000), nullable=True),
    sa.Column("payer_id", sa.String(200), nullable=True),
    sa.Column("payer_account", sa.String(100), nullable=True),
    sa.Column("lines", sa.JSON(), nullable=False),
    sa.Column("run_id", RUN_ID, nullable=True),
    # Set once, by the match step that links the advice to its payment.
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.payment_id"), nullable=True),
    sa.Column("linked_by", sa.String(32), nullable=True),
    sa.Column("linked_at", UtcDateTime(), nullable=True),
    sa.Column("link_run_id", RUN_ID, nullable=True),
    sa.UniqueConstraint("payment_id"),  # one advice per payment, ever
    sa.Index("ix_remittance_advices_file_digest", "file_digest"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.payment_id"), primary_key=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    # A score, not money: a float is fine here.
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("engine_version", sa.String(64), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("run_id", RUN_ID, nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=False),
    _status_check("outcome", OUTCOMES, "outcome"),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.payment_id"), nullable=False),
    # The books host the row is written back to (a ledger may serve several).
    sa.Column("host", HOST, nullable=False),
    sa.Column("invoice_id", HOST_ID, nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", CURRENCY, nullable=False),
    # 0, not NULL, when there is none: NULL would poison sums in reconciliation queries.
    sa.Column("discount_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("write_off_minor", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("reason_code", sa.String(64), nullable=True),
    sa.Column("idempotency_key", KEY, nullable=False),
    sa.Column("writeback_status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("external_id", HOST_ID, nullable=True),
    sa.Column("writeback_error", sa.Text(), nullable=True),  # the host's refusal message
    sa.Column("run_id", RUN_ID, nullable=True),
    sa.UniqueConstraint("idempotency_key"),
    _status_check("writeback_status", WRITEBACK_STATUSES, "writeback_status"),
    sa.Index("ix_applications_payment_id", "payment_id"),
)

exception_items = sa.Table(
    "exception_items",
    metadata,
    sa.Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.payment_id"), nullable=False),
    # The books host the row is written back to (a ledger may serve several).
    sa.Column("host", HOST, nullable=False),
    # No CHECK on `reason`: the codes grow with the matcher (`ExceptionReason`), which
    # validates them at the boundary; a CHECK would need a migration per new code.
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("currency", CURRENCY, nullable=False),
    sa.Column("suggestions", sa.JSON(), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("resolution", sa.JSON(), nullable=True),
    sa.Column("idempotency_key", KEY, nullable=False),
    sa.Column("writeback_status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("external_id", HOST_ID, nullable=True),
    sa.Column("writeback_error", sa.Text(), nullable=True),  # as on `applications`
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("run_id", RUN_ID, nullable=True),
    sa.UniqueConstraint("idempotency_key"),
    _status_check("status", EXCEPTION_STATUSES, "status"),
    _status_check("writeback_status", WRITEBACK_STATUSES, "writeback_status"),
    sa.Index("ix_exception_items_payment_id", "payment_id"),
    sa.Index("ix_exception_items_status", "status"),
)

# STYLE.md 10: write an intent row, push with the idempotency key, confirm.
bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    sa.Column("host", HOST, nullable=False),
    sa.Column("entity", sa.String(100), nullable=False),
    sa.Column("local_id", KEY, nullable=False),  # the idempotency key
    sa.Column("external_id", HOST_ID, nullable=True),  # known once written
    sa.Column("payload_hash", DIGEST, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("host", "entity", "local_id"),
    _status_check("status", BINDING_STATUSES, "status"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    # `append_event` sets `seq` itself (it is part of the hashed content).
    sa.Column("seq", SurrogateKey, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("event", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("prev_hash", DIGEST, nullable=False),
    sa.Column("hash", DIGEST, nullable=False),
    sa.Index("ix_audit_log_subject", "subject"),
)

# The chain's head (last seq and hash), updated in the same transaction as each
# append. A chain alone cannot reveal that its last rows were deleted; the head can.
# Its single row also serves as the lock that serialises appends on PostgreSQL.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("hash", DIGEST, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

job_locks = sa.Table(
    "job_locks",
    metadata,
    sa.Column("job", KEY, primary_key=True),
    sa.Column("run_id", RUN_ID, nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("acquired_at", UtcDateTime(), nullable=False),
)

# EDI (issue 5). Control numbers per trading partner: the next ISA13 / GS06 / ST02 (X12) or
# UNB 0020 / UNH 0062 (EDIFACT) to use. They are taken in the transaction that records the
# outbound document, so a number is never handed out twice, and never reused: a corrected
# resend is a new document with new numbers.
edi_control_numbers = sa.Table(
    "edi_control_numbers",
    metadata,
    sa.Column("partner", KEY, primary_key=True),
    sa.Column("next_interchange", sa.BigInteger(), nullable=False),
    sa.Column("next_group", sa.BigInteger(), nullable=False),
    sa.Column("next_set", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# built -> valid | invalid; valid -> sent; sent -> received | accepted | accepted_with_errors
# | rejected | overdue (the acknowledgments, or none by the partner's deadline).
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

# One outbound EDI document: an invoice rendered for one partner with its numbers, the
# bytes as delivered and the rendered segment list an acknowledgment's positions join to.
# `host_status` is the status last written to the books host: behind `status` until the
# host has it, so a rerun writes what a crash left unwritten.
edi_documents = sa.Table(
    "edi_documents",
    metadata,
    sa.Column("id", SurrogateKey, primary_key=True, autoincrement=True),
    sa.Column("partner", KEY, nullable=False),
    sa.Column("host", HOST, nullable=False),
    sa.Column("invoice_id", HOST_ID, nullable=False),
    sa.Column("invoice_number", sa.String(200), nullable=False),
    sa.Column("standard", sa.String(8), nullable=False),
    sa.Column("interchange_control", sa.String(14), nullable=False),
    sa.Column("group_control", sa.String(14), nullable=False),
    sa.Column("set_control", sa.String(14), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("content", sa.LargeBinary(), nullable=False),
    sa.Column("digest", DIGEST, nullable=False),
    # sha256 of the canonical document it was built from: a corrected invoice differs.
    sa.Column("source_digest", DIGEST, nullable=False),
    sa.Column("segments", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("host_status", sa.String(24), nullable=True),
    sa.Column("findings", sa.JSON(), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("built_at", UtcDateTime(), nullable=False),
    sa.Column("validated_at", UtcDateTime(), nullable=True),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("run_id", RUN_ID, nullable=True),
    sa.UniqueConstraint("partner", "interchange_control"),
    _status_check("status", EDI_STATUSES, "status"),
    sa.Index("ix_edi_documents_partner_invoice_id", "partner", "invoice_id"),
    sa.Index("ix_edi_documents_status", "status"),
)

EDI_ACK_FILE_STATUSES = ("read", "quarantined")

# Acknowledgment files fetched from a partner, by digest: one delivered twice is read once.
edi_ack_files = sa.Table(
    "edi_ack_files",
    metadata,
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("partner", KEY, nullable=False),
    sa.Column("name", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", RUN_ID, nullable=True),
    _status_check("status", EDI_ACK_FILE_STATUSES, "status"),
)
