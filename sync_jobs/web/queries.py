"""What the pages show, read from the ledger with SQLAlchemy Core: the exception queue,
one item with its payment and suggestions, and the dashboard's figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mappings.money import Money
from sync_jobs import clerk_actions
from sync_jobs import trace as tracing
from sync_jobs.ledger.schema import (
    applications,
    bank_files,
    customers,
    decisions,
    edi_documents,
    exception_items,
    invoices,
    job_runs,
    payments,
)

AGE_BUCKETS = ((0, 1, "0-1 days"), (2, 7, "2-7 days"), (8, 30, "8-30 days"), (31, None, "31+ days"))


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """The queue's filters; empty means no filter."""

    reason: str = ""
    min_age_days: int | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    customer: str = ""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One open exception as the queue lists it."""

    id: int
    payment_id: str
    reason: str
    amount: Money
    age_days: int
    value_date: Any
    payer_name: str
    file_name: str
    first_line: int
    last_line: int
    suggestions: list[str] = field(default_factory=list)


def reasons_in_queue(conn: sa.Connection) -> list[str]:
    """The reasons open items have, for the filter's choices."""
    return list(
        conn.scalars(
            sa.select(exception_items.c.reason)
            .where(exception_items.c.status == "open")
            .distinct()
            .order_by(exception_items.c.reason)
        )
    )


def customer_names(
    conn: sa.Connection, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The names of these (host, customer id) pairs, as last pulled."""
    pairs = set(wanted)
    if not pairs:
        return {}
    rows = conn.execute(
        sa.select(customers.c.host, customers.c.customer_id, customers.c.name).where(
            customers.c.customer_id.in_(sorted({cid for _, cid in pairs}))
        )
    )
    return {
        (row.host, row.customer_id): row.name
        for row in rows
        if (row.host, row.customer_id) in pairs
    }


def _invoice_customers(conn: sa.Connection, ids: set[str]) -> dict[tuple[str, str], str]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(invoices.c.host, invoices.c.invoice_id, invoices.c.customer_id).where(
            invoices.c.invoice_id.in_(sorted(ids))
        )
    )
    return {(row.host, row.invoice_id): row.customer_id for row in rows}


def queue(conn: sa.Connection, wanted: QueueFilter, now: datetime) -> list[QueueRow]:
    """Open exception items matching the filter, oldest first."""
    query = (
        sa.select(
            exception_items,
            payments.c.value_date,
            payments.c.payer_name,
            payments.c.first_line,
            payments.c.last_line,
            bank_files.c.name.label("file_name"),
        )
        .join(payments, payments.c.payment_id == exception_items.c.payment_id)
        .join(bank_files, bank_files.c.digest == payments.c.file_digest)
        .where(exception_items.c.status == "open")
        .order_by(exception_items.c.created_at, exception_items.c.id)
    )
    if wanted.reason:
        query = query.where(exception_items.c.reason == wanted.reason)
    if wanted.min_age_days is not None:
        query = query.where(
            exception_items.c.created_at <= now - timedelta(days=wanted.min_age_days)
        )
    rows = conn.execute(query).all()
    suggested = {s["invoice_id"] for row in rows for s in row.suggestions or ()}
    owners = _invoice_customers(conn, suggested)
    names = (
        customer_names(conn, ((host, cid) for (host, _), cid in owners.items()))
        if wanted.customer
        else {}
    )
    needle = wanted.customer.strip().casefold()
    result = []
    for row in rows:
        amount = Money(row.amount_minor, row.currency)
        if wanted.min_amount is not None and amount.to_decimal() < wanted.min_amount:
            continue
        if wanted.max_amount is not None and amount.to_decimal() > wanted.max_amount:
            continue
        ids = [s["invoice_id"] for s in row.suggestions or ()]
        if needle:
            owner_ids = {owners.get((row.host, i), "") for i in ids} - {""}
            haystack = [row.payer_name or "", *owner_ids]
            haystack += [names.get((row.host, cid), "") for cid in owner_ids]
            if not any(needle in text.casefold() for text in haystack):
                continue
        result.append(
            QueueRow(
                id=row.id,
                payment_id=row.payment_id,
                reason=row.reason,
                amount=amount,
                age_days=(now - row.created_at).days,
                value_date=row.value_date,
                payer_name=row.payer_name or "",
                file_name=row.file_name,
                first_line=row.first_line,
                last_line=row.last_line,
                suggestions=ids,
            )
        )
    return result


def item(conn: sa.Connection, item_id: int, var_dir: Path) -> dict[str, Any] | None:
    """One exception item with its payment's lineage and its suggestions, each with the
    invoice as it stands now (number, customer, what is still open)."""
    row = conn.execute(sa.select(exception_items).where(exception_items.c.id == item_id)).first()
    if row is None:
        return None
    lineage = tracing.trace(conn, row.payment_id, var_dir)
    if lineage is not None:
        lineage["disagreements"] = disagreements(lineage)
    ids = [suggestion["invoice_id"] for suggestion in row.suggestions or ()]
    open_now = clerk_actions.open_invoices(conn, row.host, ids)
    names = customer_names(conn, ((row.host, i.customer_id) for i in open_now.values()))
    suggestions = []
    for rank, suggestion in enumerate(row.suggestions or (), start=1):
        invoice = open_now.get(suggestion["invoice_id"])
        suggestions.append(
            {
                "rank": rank,
                "invoice_id": suggestion["invoice_id"],
                "score": suggestion["score"],
                "reasons": suggestion["reasons"],
                "invoice": invoice,
                "customer": names.get((row.host, invoice.customer_id), "") if invoice else "",
            }
        )
    return {
        "row": row,
        "amount": Money(row.amount_minor, row.currency),
        "lineage": lineage,
        "suggestions": suggestions,
        "customer_names": names,
    }


# -- dashboard -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """How many decisions a run or a day made, and how many applied on their own."""

    label: str
    decisions: int
    applied: int
    partial: int
    exceptions: int

    @property
    def percent(self) -> float:
        return 100.0 * self.applied / self.decisions if self.decisions else 0.0


def _rates(groups: dict[str, Counter[str]]) -> list[Rate]:
    return [
        Rate(
            label,
            sum(counts.values()),
            counts["applied"],
            counts["partially_applied"],
            counts["exception"],
        )
        for label, counts in groups.items()
    ]


def rates_per_run(conn: sa.Connection) -> list[Rate]:
    """Auto-apply rate of each run that decided payments, oldest first."""
    rows = conn.execute(
        sa.select(job_runs.c.job, job_runs.c.started_at, decisions.c.outcome, sa.func.count())
        .join(job_runs, job_runs.c.run_id == decisions.c.run_id)
        .group_by(job_runs.c.run_id, job_runs.c.job, job_runs.c.started_at, decisions.c.outcome)
        .order_by(job_runs.c.started_at)
    )
    groups: dict[str, Counter[str]] = {}
    for job, started_at, outcome, count in rows:
        label = f"{job} {started_at:%m-%d %H:%M}"
        groups.setdefault(label, Counter())[outcome] += count
    return _rates(groups)


def rates_per_day(conn: sa.Connection) -> list[Rate]:
    """Auto-apply rate of each UTC day's decisions, oldest first."""
    groups: dict[str, Counter[str]] = {}
    rows = conn.execute(
        sa.select(decisions.c.decided_at, decisions.c.outcome).order_by(decisions.c.decided_at)
    )
    for decided_at, outcome in rows:
        groups.setdefault(f"{decided_at:%Y-%m-%d}", Counter())[outcome] += 1
    return _rates(groups)


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # PostgreSQL's SUM of BIGINT is NUMERIC (a Decimal in Python): cast it back.
    return sa.cast(sa.func.coalesce(sa.func.sum(column), 0), sa.BigInteger)


def cash_split(conn: sa.Connection) -> list[tuple[str, Money]]:
    """Cash applied to invoices, and cash still in open exceptions, per currency."""
    applied = conn.execute(
        sa.select(applications.c.currency, _sum(applications.c.amount_minor)).group_by(
            applications.c.currency
        )
    ).all()
    waiting = conn.execute(
        sa.select(exception_items.c.currency, _sum(exception_items.c.amount_minor))
        .where(exception_items.c.status == "open")
        .group_by(exception_items.c.currency)
    ).all()
    result = [(f"applied {currency}", Money(minor, currency)) for currency, minor in applied]
    result += [(f"in exceptions {currency}", Money(minor, currency)) for currency, minor in waiting]
    return sorted(result, key=lambda pair: (pair[1].currency, pair[0]))


def open_by_reason(conn: sa.Connection) -> list[tuple[str, int, str]]:
    """Open exceptions per reason: (reason, count, amounts per currency)."""
    rows = conn.execute(
        sa.select(
            exception_items.c.reason,
            exception_items.c.currency,
            sa.func.count(),
            _sum(exception_items.c.amount_minor),
        )
        .where(exception_items.c.status == "open")
        .group_by(exception_items.c.reason, exception_items.c.currency)
        .order_by(exception_items.c.reason)
    ).all()
    merged: dict[str, tuple[int, list[str]]] = {}
    for reason, currency, count, minor in rows:
        total, amounts = merged.get(reason, (0, []))
        merged[reason] = (total + count, [*amounts, f"{currency} {Money(minor, currency)}"])
    return [(reason, count, ", ".join(amounts)) for reason, (count, amounts) in merged.items()]


def aging(conn: sa.Connection, now: datetime) -> list[tuple[str, int]]:
    """Open exceptions by how many days they have waited."""
    counts = dict.fromkeys((label for _, _, label in AGE_BUCKETS), 0)
    for (created_at,) in conn.execute(
        sa.select(exception_items.c.created_at).where(exception_items.c.status == "open")
    ):
        days = (now - created_at).days
        for low, high, label in AGE_BUCKETS:
            if days >= low and (high is None or days <= high):
                counts[label] += 1
                break
    return list(counts.items())


# -- ledger rows against their audit events ---------------------------------------------


def _events(found: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [e for e in found["audit_events"] if e["event"] == event]


def disagreements(found: dict[str, Any]) -> list[str]:
    """Where a traced payment's decision and applications differ from the audit events
    recorded with them. The chain proves the events unaltered; this carries that proof
    to the ledger rows an auditor reads, so an edited row shows even with an intact chain."""
    problems = []
    decision = found["decision"]
    recorded = _events(found, "decision_recorded")
    if decision is not None:
        if not recorded:
            problems.append("the decision has no `decision_recorded` audit event")
        elif recorded[-1]["payload"].get("outcome") != decision["outcome"]:
            said = recorded[-1]["payload"].get("outcome")
            problems.append(f"decision outcome is {decision['outcome']}, its audit event {said}")
    decided = [
        (line.get("invoice_id"), line.get("amount"))
        for event in recorded
        for line in event["payload"].get("applications") or ()
    ]
    clerk = {e["subject"]: e["payload"] for e in _events(found, "clerk_applied")}
    confirmed = {e["subject"]: e["payload"] for e in _events(found, "application_confirmed")}
    for app in found["applications"]:
        amount = str(Money(app["amount_minor"], app["currency"]))
        key = app["idempotency_key"]
        where = f"application to invoice {app['invoice_id']} ({app['currency']} {amount})"
        if key in clerk:
            said = (clerk[key].get("invoice_id"), clerk[key].get("amount"))
        else:
            said = next((line for line in decided if line[0] == app["invoice_id"]), None)
        if said is None:
            problems.append(f"{where}: no audit event records it")
        elif said != (app["invoice_id"], amount):
            problems.append(f"{where}: its audit event says {said[1]} to invoice {said[0]}")
        if app["writeback_status"] == "confirmed":
            host_record = confirmed.get(key, {}).get("external_id")
            if host_record != app["external_id"]:
                problems.append(
                    f"{where}: host record {app['external_id']}, its audit event {host_record}"
                )
    return problems


def edi_acceptance(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """EDI documents per partner and status (sent, accepted, rejected, overdue, ...)."""
    rows = conn.execute(
        sa.select(edi_documents.c.partner, edi_documents.c.status, sa.func.count())
        .group_by(edi_documents.c.partner, edi_documents.c.status)
        .order_by(edi_documents.c.partner, edi_documents.c.status)
    ).all()
    return [(partner, status, count) for partner, status, count in rows]
