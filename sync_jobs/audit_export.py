"""The auditor export: every application in a period with its lineage, and the chain's
verification result.

An application's date is when it was decided: the clerk's action for a clerk's
application, the match decision otherwise. Each row carries the bank file and lines the
payment came from, the decision (outcome, confidence, engine version, reasons), the
write-back status and the host's record id, who applied it, and the audit chain's state
at the time of the export, so a CSV row stands on its own.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from mappings.money import Money
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.schema import applications, audit_log, bank_files, decisions, payments

FORMATS = ("csv", "json")
COLUMNS = (
    "applied_at", "applied_by", "payment_id", "invoice_id", "amount", "currency", "discount",
    "write_off", "reason_code", "writeback_status", "host", "host_record", "idempotency_key",
    "file_name", "file_digest", "file_source", "file_received_at", "first_line", "last_line",
    "bank_reference", "payer_name", "value_date", "outcome", "confidence", "engine_version",
    "reasons", "chain_ok", "chain_events", "chain_problem",
)  # fmt: skip


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def export_rows(conn: sa.Connection, start: date, end: date) -> dict[str, Any]:
    """Applications decided from `start` to `end` (both days included, UTC) with lineage."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    low, high = _day_start(start), _day_start(end + timedelta(days=1))
    clerk = {
        row.subject: (row.at, row.actor)
        for row in conn.execute(
            sa.select(audit_log.c.subject, audit_log.c.at, audit_log.c.actor).where(
                audit_log.c.event == "clerk_applied"
            )
        )
    }
    query = (
        sa.select(
            applications,
            payments.c.first_line,
            payments.c.last_line,
            payments.c.bank_reference,
            payments.c.payer_name,
            payments.c.value_date,
            bank_files.c.name.label("file_name"),
            bank_files.c.digest.label("file_digest"),
            bank_files.c.source.label("file_source"),
            bank_files.c.received_at.label("file_received_at"),
            decisions.c.outcome,
            decisions.c.confidence,
            decisions.c.engine_version,
            decisions.c.reasons,
            decisions.c.decided_at,
        )
        .join(payments, payments.c.payment_id == applications.c.payment_id)
        .join(bank_files, bank_files.c.digest == payments.c.file_digest)
        .outerjoin(decisions, decisions.c.payment_id == applications.c.payment_id)
        .order_by(applications.c.id)
    )
    chain = verify_chain(conn)
    rows = []
    for row in conn.execute(query):
        applied_at, applied_by = clerk.get(row.idempotency_key, (row.decided_at, "arlink"))
        if applied_at is None or not low <= applied_at < high:
            continue
        currency = row.currency
        rows.append(
            {
                "applied_at": applied_at.isoformat(),
                "applied_by": applied_by,
                "payment_id": row.payment_id,
                "invoice_id": row.invoice_id,
                "amount": str(Money(row.amount_minor, currency)),
                "currency": currency,
                "discount": str(Money(row.discount_minor, currency)),
                "write_off": str(Money(row.write_off_minor, currency)),
                "reason_code": row.reason_code or "",
                "writeback_status": row.writeback_status,
                "host": row.host,
                "host_record": row.external_id or "",
                "idempotency_key": row.idempotency_key,
                "file_name": row.file_name,
                "file_digest": row.file_digest,
                "file_source": row.file_source,
                "file_received_at": row.file_received_at.isoformat(),
                "first_line": row.first_line,
                "last_line": row.last_line,
                "bank_reference": row.bank_reference or "",
                "payer_name": row.payer_name or "",
                "value_date": row.value_date.isoformat() if row.value_date else "",
                "outcome": row.outcome or "",
                "confidence": row.confidence,
                "engine_version": row.engine_version or "",
                "reasons": [reason["text"] for reason in row.reasons or ()],
            }
        )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "chain": {"ok": chain.ok, "events": chain.events, "problem": chain.problem},
        "applications": rows,
    }


def render(export: dict[str, Any], fmt: str) -> str:
    """The export as CSV (one row per application, the chain's result on each) or JSON."""
    if fmt == "json":
        return json.dumps(export, indent=2, ensure_ascii=False) + "\n"
    if fmt != "csv":
        raise ValueError(f"format: expected one of {FORMATS}, found {fmt!r}")
    chain = export["chain"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export["applications"]:
        writer.writerow(
            {
                **row,
                "reasons": "; ".join(row["reasons"]),
                "chain_ok": "yes" if chain["ok"] else "NO",
                "chain_events": chain["events"],
                "chain_problem": chain["problem"] or "",
            }
        )
    return out.getvalue()
