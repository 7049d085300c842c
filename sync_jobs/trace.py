"""Lineage for auditors: from a payment, invoice or bank file to everything recorded
about it: the file and its raw lines, the decision and its reasons, the applications
and their records in the host, the clerk's resolution, the audit events, and whether
the audit chain still verifies.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from mappings.money import Money
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.schema import (
    applications,
    audit_log,
    bank_files,
    decisions,
    exception_items,
    invoices,
    payments,
)


def _plain(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        key: value.isoformat() if isinstance(value, date | datetime) else value
        for key, value in row._mapping.items()
    }


def _money(minor: int, currency: str) -> str:
    return f"{currency} {Money(minor, currency)}"


def _raw_lines(var_dir: Path, digest: str, first: int, last: int) -> list[str]:
    path = var_dir / "inbox" / digest
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[first - 1 : last]
    return [line.rstrip(b"\r").decode("latin-1") for line in lines]


def _payment_trace(conn: sa.Connection, payment_id: str, var_dir: Path) -> dict[str, Any]:
    payment = _plain(
        conn.execute(sa.select(payments).where(payments.c.payment_id == payment_id)).first()
    )
    assert payment is not None
    file = _plain(
        conn.execute(
            sa.select(bank_files).where(bank_files.c.digest == payment["file_digest"])
        ).first()
    )
    decision = _plain(
        conn.execute(sa.select(decisions).where(decisions.c.payment_id == payment_id)).first()
    )
    apps = [
        _plain(row)
        for row in conn.execute(
            sa.select(applications)
            .where(applications.c.payment_id == payment_id)
            .order_by(applications.c.id)
        )
    ]
    exception = _plain(
        conn.execute(
            sa.select(exception_items).where(exception_items.c.payment_id == payment_id)
        ).first()
    )
    subjects = {payment_id, payment["file_digest"]}
    subjects.update(app["idempotency_key"] for app in apps if app)
    if exception:
        subjects.add(exception["idempotency_key"])
    events = [
        _plain(row)
        for row in conn.execute(
            sa.select(audit_log).where(audit_log.c.subject.in_(subjects)).order_by(audit_log.c.seq)
        )
    ]
    return {
        "kind": "payment",
        "payment": payment,
        "file": file,
        "lines": _raw_lines(
            var_dir, payment["file_digest"], payment["first_line"], payment["last_line"]
        ),
        "decision": decision,
        "applications": apps,
        "exception": exception,
        "audit_events": events,
    }


def trace(conn: sa.Connection, identifier: str, var_dir: Path) -> dict[str, Any] | None:
    """The lineage of whatever `identifier` names, or None when the ledger has no such thing."""
    chain = verify_chain(conn)
    verification = {"ok": chain.ok, "events": chain.events, "problem": chain.problem}
    if conn.scalar(sa.select(payments.c.payment_id).where(payments.c.payment_id == identifier)):
        return {**_payment_trace(conn, identifier, var_dir), "audit_chain": verification}
    invoice = conn.execute(sa.select(invoices).where(invoices.c.invoice_id == identifier)).first()
    if invoice is not None:
        paid_by = conn.scalars(
            sa.select(applications.c.payment_id)
            .where(applications.c.invoice_id == identifier)
            .order_by(applications.c.id)
        ).all()
        return {
            "kind": "invoice",
            "invoice": _plain(invoice),
            "payments": [_payment_trace(conn, pid, var_dir) for pid in dict.fromkeys(paid_by)],
            "audit_chain": verification,
        }
    file = conn.execute(
        sa.select(bank_files).where(
            sa.or_(bank_files.c.digest == identifier, bank_files.c.name == identifier)
        )
    ).first()
    if file is not None:
        outcomes = conn.execute(
            sa.select(payments.c.payment_id, payments.c.first_line, decisions.c.outcome)
            .outerjoin(decisions, decisions.c.payment_id == payments.c.payment_id)
            .where(payments.c.file_digest == file.digest)
            .order_by(payments.c.first_line)
        ).all()
        return {
            "kind": "file",
            "file": _plain(file),
            "payments": [
                {"payment_id": pid, "line": line, "outcome": outcome}
                for pid, line, outcome in outcomes
            ],
            "audit_chain": verification,
        }
    return None


def _host_said(row: dict[str, Any]) -> str:
    """The books host's message for a record it refused (`writeback_error`), if any."""
    return f" ({row['writeback_error']})" if row.get("writeback_error") else ""


def _render_payment(console: Console, found: dict[str, Any]) -> None:
    payment, file, decision = found["payment"], found["file"], found["decision"]
    console.print(
        f"[bold]payment {payment['payment_id']}[/]  "
        f"{_money(payment['amount_minor'], payment['currency'])}, "
        f"value date {payment['value_date']}"
    )
    console.print(
        f"  file {file['name']} (sha256 {file['digest'][:16]}…, source {file['source']}, "
        f"received {file['received_at']}) lines {payment['first_line']}-{payment['last_line']}:"
    )
    for line in found["lines"]:
        console.print(f"    | {line}", markup=False)
    console.print(f"  payer {payment['payer_name'] or '-'}; remittance: {payment['remittance']!r}")
    if decision:
        console.print(
            f"  decision: {decision['outcome']} (confidence {decision['confidence']}, "
            f"engine {decision['engine_version']}, at {decision['decided_at']})"
        )
        for reason in decision["reasons"] or ():
            console.print(f"    - {reason['text']} [{reason['code']}]", markup=False)
    for app in found["applications"]:
        console.print(
            f"  applied {_money(app['amount_minor'], app['currency'])} "
            f"to invoice {app['invoice_id']}: "
            f"write-back {app['writeback_status']}{_host_said(app)}, "
            f"host record {app['external_id'] or '-'}"
        )
    exception = found["exception"]
    if exception:
        console.print(
            f"  exception: {exception['reason']} ({exception['status']}) for "
            f"{_money(exception['amount_minor'], exception['currency'])}, write-back "
            f"{exception['writeback_status']}{_host_said(exception)}, "
            f"host record {exception['external_id'] or '-'}"
        )
    table = Table(title="audit events")
    for column in ("seq", "at", "event", "actor"):
        table.add_column(column)
    for event in found["audit_events"]:
        table.add_row(str(event["seq"]), event["at"], event["event"], event["actor"])
    console.print(table)


def render(console: Console, found: dict[str, Any]) -> None:
    """Print a trace for a person."""
    if found["kind"] == "payment":
        _render_payment(console, found)
    elif found["kind"] == "invoice":
        invoice = found["invoice"]
        console.print(
            f"[bold]invoice {invoice['invoice_id']}[/] ({invoice['number']}), "
            f"status {invoice['status']}"
        )
        for payment in found["payments"]:
            _render_payment(console, payment)
    else:
        file = found["file"]
        console.print(
            f"[bold]file {file['name']}[/] sha256 {file['digest']} status {file['status']}"
        )
        if file["quarantine_reason"]:
            console.print(f"  quarantined: {file['quarantine_reason']}", markup=False)
        for payment in found["payments"]:
            outcome = payment["outcome"] or "undecided"
            console.print(f"  line {payment['line']}: payment {payment['payment_id']} {outcome}")
    chain = found["audit_chain"]
    status = "[green]verified[/]" if chain["ok"] else f"[red]BROKEN: {chain['problem']}[/]"
    console.print(f"audit chain: {status} ({chain['events']} events)")
