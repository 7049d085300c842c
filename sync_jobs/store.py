"""Reading and writing canonical records in the ledger's tables.

The one place that knows how a `Payment`, `RemittanceAdvice`, `Decision` or `Invoice`
becomes a row and back. Money goes in as integer minor units plus currency; never as a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cash_application.matching import EVIDENCE_PATH, outcome
from cash_application.payer import History
from mappings.money import Money
from mappings.records import (
    Application,
    Customer,
    Decision,
    ExceptionItem,
    ExceptionReason,
    Invoice,
    Outcome,
    Payment,
    Reason,
    RemittanceAdvice,
    RemittanceLine,
    SourceRef,
    Suggestion,
    idempotency_key,
)
from sync_jobs.ledger.schema import (
    applications,
    audit_log,
    bank_files,
    bindings,
    customers,
    decisions,
    exception_items,
    invoices,
    payments,
    pull_cursors,
    remittance_advices,
    step_checkpoints,
)


def _reasons_json(reasons: Iterable[Reason]) -> list[dict[str, str]]:
    return [{"code": reason.code, "text": reason.text} for reason in reasons]


def _reasons(data: Iterable[dict[str, str]] | None) -> tuple[Reason, ...]:
    return tuple(Reason(item["code"], item["text"]) for item in data or ())


def _minor(money: Money | None) -> int:
    return money.minor if money is not None else 0


# -- books snapshot ------------------------------------------------------------------


def load_pull_cursors(conn: sa.Connection, host: str) -> dict[str, datetime]:
    """Where the next pull of each stream of `host` starts (the host's modification time);
    a stream without one (never pulled, or a host that gives none) is pulled whole."""
    rows = conn.execute(
        sa.select(pull_cursors.c.stream, pull_cursors.c.modified_at).where(
            pull_cursors.c.host == host, pull_cursors.c.modified_at.is_not(None)
        )
    )
    return {row.stream: row.modified_at for row in rows}


def advance_pull_cursor(
    conn: sa.Connection,
    host: str,
    stream: str,
    modified: Iterable[datetime | None],
    *,
    at: datetime,
    run_id: str,
) -> None:
    """Move the stream's cursor to the latest modification time among the pulled records
    (never back). Call it in the transaction that stores them: a pull that dies before
    commit keeps the old cursor and reads the same window again."""
    key = (pull_cursors.c.host == host, pull_cursors.c.stream == stream)
    old = conn.execute(sa.select(pull_cursors.c.modified_at).where(*key)).first()
    times = [moment for moment in modified if moment is not None]
    if old is not None and old.modified_at is not None:
        times.append(old.modified_at)
    values = {"modified_at": max(times, default=None), "pulled_at": at, "run_id": run_id}
    if old is None:
        conn.execute(sa.insert(pull_cursors).values(host=host, stream=stream, **values))
    else:
        conn.execute(sa.update(pull_cursors).where(*key).values(values))


def forget_pull_cursors(conn: sa.Connection, host: str) -> None:
    """Make the next pull of `host` read everything and replace the snapshot (`--full`)."""
    conn.execute(sa.delete(pull_cursors).where(pull_cursors.c.host == host))


def _upsert(
    conn: sa.Connection, table: sa.Table, host: str, id_column: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert or update these rows (keyed by host and `id_column`), in two batched
    statements rather than one round trip per row."""
    if not rows:
        return
    # The host's ids, not an IN list of the batch's: a whole pull may exceed the drivers'
    # parameter limits.
    known = set(conn.scalars(sa.select(table.c[id_column]).where(table.c.host == host)))
    updates = [
        {**{k: v for k, v in row.items() if k != id_column}, "b_id": row[id_column]}
        for row in rows
        if row[id_column] in known
    ]
    if updates:
        columns = [name for name in rows[0] if name != id_column]
        conn.execute(
            sa.update(table)
            .where(table.c.host == host, table.c[id_column] == sa.bindparam("b_id"))
            .values({name: sa.bindparam(name) for name in columns}),
            updates,
        )
    inserts = [{**row, "host": host} for row in rows if row[id_column] not in known]
    if inserts:
        conn.execute(sa.insert(table), inserts)


def store_customers(
    conn: sa.Connection, host: str, pulled: Sequence[Customer], at: datetime, *, replace: bool
) -> None:
    """Store pulled customers: all of them (`replace`: customers not in the pull are
    dropped) or those changed since the last pull (merged into the snapshot)."""
    if replace:
        conn.execute(sa.delete(customers).where(customers.c.host == host))
    # The host may list a customer twice in one window (paged by modification time).
    latest = {c.customer_id: c for c in pulled}
    _upsert(
        conn,
        customers,
        host,
        "customer_id",
        [
            {
                "customer_id": c.customer_id,
                "name": c.name,
                "parent_id": c.parent_id,
                "aliases": list(c.aliases),
                "bank_accounts": list(c.bank_accounts),
                "payment_terms": c.payment_terms,
                "pulled_at": at,
            }
            for c in latest.values()
        ],
    )


def store_invoices(
    conn: sa.Connection, host: str, pulled: Sequence[Invoice], at: datetime, *, replace: bool
) -> int:
    """Store pulled invoices and return how many are open. With `replace` the pull is the
    whole open set and every earlier open invoice not in it is closed; otherwise it holds
    the invoices changed since the last pull, and one that came back paid (closed, or open
    amount 0) leaves the open set."""
    if replace:
        conn.execute(
            sa.update(invoices)
            .where(invoices.c.host == host, invoices.c.status == "open")
            .values(status="closed", open_minor=0, pulled_at=at)
        )
    latest = {invoice.invoice_id: invoice for invoice in pulled}
    rows = []
    for invoice in latest.values():
        is_open = invoice.status == "open" and invoice.open_amount.minor > 0
        rows.append(
            {
                "invoice_id": invoice.invoice_id,
                "number": invoice.number,
                "customer_id": invoice.customer_id,
                "currency": invoice.currency,
                "total_minor": invoice.total.minor,
                "open_minor": invoice.open_amount.minor if is_open else 0,
                "issue_date": invoice.issue_date,
                "due_date": invoice.due_date,
                "po_number": invoice.po_number,
                "discount_terms": invoice.discount_terms,
                "status": "open" if is_open else "closed",
                "pulled_at": at,
            }
        )
    _upsert(conn, invoices, host, "invoice_id", rows)
    return sum(row["status"] == "open" for row in rows)


def load_customers(conn: sa.Connection, host: str) -> list[Customer]:
    rows = conn.execute(sa.select(customers).where(customers.c.host == host))
    return [
        Customer(
            customer_id=row.customer_id,
            name=row.name,
            parent_id=row.parent_id,
            aliases=tuple(row.aliases or ()),
            bank_accounts=tuple(row.bank_accounts or ()),
            payment_terms=row.payment_terms,
        )
        for row in rows
    ]


def open_invoices(
    conn: sa.Connection, host: str, invoice_ids: Sequence[str] | None = None
) -> dict[str, Invoice]:
    """Open invoices (these, or all with None) as open now, by id in id order: the host's
    open amount at the invoice's last pull less every application that pull could not
    have seen. One is seen once confirmed in the host before the pull; one pending, only
    written, or confirmed since is not, so matching twice between pulls (or a clerk acting
    on a snapshot that write-back has overtaken) never applies the same open amount twice.
    """
    if invoice_ids is not None and not invoice_ids:
        return {}
    seen_by_pull = sa.exists().where(
        audit_log.c.subject == applications.c.idempotency_key,
        audit_log.c.event == "application_confirmed",
        audit_log.c.at < invoices.c.pulled_at,
    )
    unseen_query = (
        sa.select(
            applications.c.invoice_id,
            # PostgreSQL's SUM of BIGINT is NUMERIC (a Decimal in Python): cast it back.
            sa.cast(
                sa.func.sum(
                    applications.c.amount_minor
                    + applications.c.discount_minor
                    + applications.c.write_off_minor
                ),
                sa.BigInteger,
            ).label("minor"),
        )
        .join(
            invoices,
            sa.and_(
                invoices.c.host == applications.c.host,
                invoices.c.invoice_id == applications.c.invoice_id,
            ),
        )
        .where(
            applications.c.host == host,
            invoices.c.status == "open",
            # A refused application never reached the host: the invoice is still open for it.
            applications.c.writeback_status != "refused",
            sa.or_(applications.c.writeback_status != "confirmed", ~seen_by_pull),
        )
        .group_by(applications.c.invoice_id)
    )
    query = sa.select(invoices).where(invoices.c.host == host, invoices.c.status == "open")
    if invoice_ids is not None:
        unseen_query = unseen_query.where(applications.c.invoice_id.in_(list(invoice_ids)))
        query = query.where(invoices.c.invoice_id.in_(list(invoice_ids)))
    unseen = unseen_query.subquery()
    rows = conn.execute(
        query.add_columns(sa.func.coalesce(unseen.c.minor, 0).label("unseen_minor"))
        .outerjoin(unseen, unseen.c.invoice_id == invoices.c.invoice_id)
        .order_by(invoices.c.invoice_id)
    )
    return {
        row.invoice_id: Invoice(
            invoice_id=row.invoice_id,
            number=row.number,
            customer_id=row.customer_id,
            total=Money(row.total_minor, row.currency),
            open_amount=Money(row.open_minor - row.unseen_minor, row.currency),
            issue_date=row.issue_date,
            due_date=row.due_date,
            po_number=row.po_number,
            discount_terms=row.discount_terms,
        )
        for row in rows
        if row.open_minor > row.unseen_minor
    }


def load_open_invoices(conn: sa.Connection, host: str) -> list[Invoice]:
    """Every open invoice as the matcher must see it (`open_invoices`)."""
    return list(open_invoices(conn, host).values())


def learned_history(conn: sa.Connection, host: str) -> History:
    """What clerks' applications teach the matcher: for each resolved item applied to an
    invoice, the payer name and account as the bank gave them and the invoice's customer.
    Resolutions pulled from the host and those made on the web page count alike."""
    rows = conn.execute(
        sa.select(payments.c.payer_name, payments.c.payer_account, exception_items.c.resolution)
        .join(payments, payments.c.payment_id == exception_items.c.payment_id)
        .where(exception_items.c.host == host, exception_items.c.status == "resolved")
        .order_by(exception_items.c.id)
    ).all()
    applied = [
        (row.payer_name or "", row.payer_account or "", row.resolution.get("invoice_id"))
        for row in rows
        if row.resolution
        and row.resolution.get("action") == "apply"
        and (row.payer_name or row.payer_account)
    ]
    owners = dict(
        conn.execute(
            sa.select(invoices.c.invoice_id, invoices.c.customer_id).where(
                invoices.c.host == host,
                invoices.c.invoice_id.in_(sorted({i for _, _, i in applied if i})),
            )
        ).all()
    )
    return History(
        tuple(
            dict.fromkeys(
                (name, account, owners[invoice_id])
                for name, account, invoice_id in applied
                if invoice_id in owners
            )
        ),
        learned_outcomes(conn, host),
    )


def learned_outcomes(conn: sa.Connection, host: str) -> tuple[tuple[str, bool], ...]:
    """What production teaches about each evidence path (`matching.outcome`): for every
    decision whose fate is settled, its path and whether its reading (what it applied, or
    the proposal it held back) is what finally stood. Settled: a clerk resolved one of the
    payment's exception items, or every application it made was confirmed in the host
    with nothing left open. What stood: the applications the host did not refuse, plus
    the invoice a clerk applied the payment to. So an auto-applied decision that stood
    counts as right; one whose application a clerk redid on another invoice, or a held
    proposal the clerk applied differently or not at all, counts as wrong. A decision
    still awaiting the host or a clerk teaches nothing yet."""
    of_host = sa.union(
        sa.select(applications.c.payment_id).where(applications.c.host == host),
        sa.select(exception_items.c.payment_id).where(exception_items.c.host == host),
    ).subquery()
    apps: dict[str, list[sa.Row[Any]]] = {}
    for row in conn.execute(
        sa.select(applications).where(applications.c.host == host).order_by(applications.c.id)
    ):
        apps.setdefault(row.payment_id, []).append(row)
    items: dict[str, list[sa.Row[Any]]] = {}
    for row in conn.execute(
        sa.select(exception_items)
        .where(exception_items.c.host == host)
        .order_by(exception_items.c.id)
    ):
        items.setdefault(row.payment_id, []).append(row)
    found = []
    for row in conn.execute(
        sa.select(decisions)
        .where(decisions.c.payment_id.in_(sa.select(of_host.c.payment_id)))
        .order_by(decisions.c.payment_id)
    ):
        if not any(r.get("code") == EVIDENCE_PATH for r in row.reasons or ()):
            continue
        made = apps.get(row.payment_id, [])
        raised = items.get(row.payment_id, [])
        resolved = [item for item in raised if item.status == "resolved"]
        settled = bool(resolved) or (
            bool(made)
            and all(a.writeback_status == "confirmed" for a in made)
            and not any(item.status == "open" for item in raised)
        )
        if not settled:
            continue
        stood = {a.invoice_id for a in made if a.writeback_status != "refused"}
        stood.update(
            item.resolution["invoice_id"]
            for item in resolved
            if item.resolution
            and item.resolution.get("action") == "apply"
            and item.resolution.get("invoice_id")
        )
        own_key = idempotency_key(row.payment_id, "exception")
        decision = Decision(
            payment_id=row.payment_id,
            outcome=Outcome(row.outcome),
            confidence=row.confidence,
            engine_version=row.engine_version,
            applications=tuple(application_from_row(a) for a in made),
            exception=next(
                (exception_from_row(i) for i in raised if i.idempotency_key == own_key), None
            ),
            reasons=_reasons(row.reasons),
        )
        judged = outcome(decision, stood)
        if judged is not None:
            found.append(judged)
    return tuple(found)


# -- payments ------------------------------------------------------------------------


def insert_payments(conn: sa.Connection, new: Sequence[Payment], run_id: str) -> int:
    """Insert payments not yet in the ledger (ids are stable); return how many were new."""
    if not new:
        return 0
    known = set(
        conn.scalars(
            sa.select(payments.c.payment_id).where(
                payments.c.payment_id.in_([p.payment_id for p in new])
            )
        )
    )
    rows = [_payment_row(p, run_id) for p in new if p.payment_id not in known]
    if rows:
        conn.execute(sa.insert(payments), rows)
    return len(rows)


def _payment_row(payment: Payment, run_id: str) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "file_digest": payment.source.file_digest,
        "first_line": payment.source.first_line,
        "last_line": payment.source.last_line,
        "format": payment.source.format,
        "bank_account": payment.bank_account,
        "value_date": payment.value_date,
        "amount_minor": payment.amount.minor,
        "currency": payment.amount.currency,
        "payer_name": payment.payer_name,
        "payer_account": payment.payer_account,
        "bank_reference": payment.bank_reference,
        "end_to_end_id": payment.end_to_end_id,
        "remittance": payment.remittance,
        "remittance_lines": _lines_json(payment.remittance_lines),
        "run_id": run_id,
    }


def _lines_json(lines: Iterable[RemittanceLine]) -> list[dict[str, str | None]]:
    return [
        {
            "invoice_ref": line.invoice_ref,
            "amount_paid": str(line.amount_paid) if line.amount_paid else None,
            "discount": str(line.discount) if line.discount else None,
            "reason_code": line.reason_code,
        }
        for line in lines
    ]


def _lines(data: Iterable[Mapping[str, Any]] | None, currency: str) -> tuple[RemittanceLine, ...]:
    return tuple(
        RemittanceLine(
            invoice_ref=line["invoice_ref"],
            amount_paid=Money.parse(line["amount_paid"], currency) if line["amount_paid"] else None,
            discount=Money.parse(line["discount"], currency) if line["discount"] else None,
            reason_code=line["reason_code"],
        )
        for line in data or ()
    )


def _payment(row: sa.Row[Any]) -> Payment:
    currency = row.currency
    lines = _lines(row.remittance_lines, currency)
    return Payment(
        payment_id=row.payment_id,
        bank_account=row.bank_account,
        value_date=row.value_date,
        amount=Money(row.amount_minor, currency),
        source=SourceRef(row.file_digest, row.file_name, row.format, row.first_line, row.last_line),
        payer_name=row.payer_name,
        payer_account=row.payer_account,
        bank_reference=row.bank_reference,
        end_to_end_id=row.end_to_end_id,
        remittance=row.remittance or "",
        remittance_lines=lines,
    )


def _payments_query() -> sa.Select[Any]:
    return sa.select(payments, bank_files.c.name.label("file_name")).join(
        bank_files, bank_files.c.digest == payments.c.file_digest
    )


def undecided_payments(conn: sa.Connection, sources: Sequence[str]) -> list[Payment]:
    """Payments from these sources that have no decision yet."""
    query = (
        _payments_query()
        .outerjoin(decisions, decisions.c.payment_id == payments.c.payment_id)
        .where(decisions.c.payment_id.is_(None), bank_files.c.source.in_(sources))
        .order_by(payments.c.payment_id)
    )
    return [_payment(row) for row in conn.execute(query)]


def load_payments(conn: sa.Connection, payment_ids: Iterable[str]) -> dict[str, Payment]:
    ids = list(set(payment_ids))
    if not ids:
        return {}
    rows = conn.execute(_payments_query().where(payments.c.payment_id.in_(ids)))
    return {row.payment_id: _payment(row) for row in rows}


# -- remittance advices --------------------------------------------------------------


def insert_advices(conn: sa.Connection, new: Sequence[RemittanceAdvice], run_id: str) -> int:
    """Insert advices not yet in the ledger (ids are stable); return how many were new."""
    if not new:
        return 0
    known = set(
        conn.scalars(
            sa.select(remittance_advices.c.advice_id).where(
                remittance_advices.c.advice_id.in_([a.advice_id for a in new])
            )
        )
    )
    rows = [
        {
            "advice_id": advice.advice_id,
            "file_digest": advice.source.file_digest,
            "first_line": advice.source.first_line,
            "last_line": advice.source.last_line,
            "format": advice.source.format,
            "document": advice.document,
            "amount_minor": advice.amount.minor,
            "currency": advice.amount.currency,
            "payment_date": advice.payment_date,
            "trace": advice.trace,
            "payer_name": advice.payer_name,
            "payer_id": advice.payer_id,
            "payer_account": advice.payer_account,
            "lines": _lines_json(advice.lines),
            "run_id": run_id,
        }
        for advice in new
        if advice.advice_id not in known
    ]
    if rows:
        conn.execute(sa.insert(remittance_advices), rows)
    return len(rows)


def unlinked_advices(conn: sa.Connection, sources: Sequence[str]) -> list[RemittanceAdvice]:
    """Advices from these sources not yet linked to a payment (they may precede it)."""
    query = (
        sa.select(remittance_advices, bank_files.c.name.label("file_name"))
        .join(bank_files, bank_files.c.digest == remittance_advices.c.file_digest)
        .where(remittance_advices.c.payment_id.is_(None), bank_files.c.source.in_(sources))
        .order_by(remittance_advices.c.advice_id)
    )
    return [
        RemittanceAdvice(
            advice_id=row.advice_id,
            amount=Money(row.amount_minor, row.currency),
            source=SourceRef(
                row.file_digest, row.file_name, row.format, row.first_line, row.last_line
            ),
            document=row.document,
            payment_date=row.payment_date,
            trace=row.trace,
            payer_name=row.payer_name,
            payer_id=row.payer_id,
            payer_account=row.payer_account,
            lines=_lines(row.lines, row.currency),
        )
        for row in conn.execute(query)
    ]


def record_advice_links(
    conn: sa.Connection, links: Sequence[tuple[str, str, str]], *, run_id: str, at: datetime
) -> None:
    """Record (advice id, payment id, how) links in one batched statement; an advice that
    is already linked keeps its link."""
    if not links:
        return
    conn.execute(
        sa.update(remittance_advices)
        .where(
            remittance_advices.c.advice_id == sa.bindparam("b_advice_id"),
            remittance_advices.c.payment_id.is_(None),
        )
        .values(
            payment_id=sa.bindparam("b_payment_id"),
            linked_by=sa.bindparam("b_linked_by"),
            linked_at=at,
            link_run_id=run_id,
        ),
        [
            {"b_advice_id": advice_id, "b_payment_id": payment_id, "b_linked_by": linked_by}
            for advice_id, payment_id, linked_by in links
        ],
    )


# -- decisions -----------------------------------------------------------------------


def record_decisions(
    conn: sa.Connection, new: Sequence[Decision], *, host: str, run_id: str, at: datetime
) -> None:
    """Store decisions with their applications (pending write-back) and exceptions, in
    three batched inserts whatever their number."""
    if not new:
        return
    conn.execute(
        sa.insert(decisions),
        [
            {
                "payment_id": d.payment_id,
                "outcome": d.outcome.value,
                "confidence": d.confidence,
                "engine_version": d.engine_version,
                "reasons": _reasons_json(d.reasons),
                "run_id": run_id,
                "decided_at": at,
            }
            for d in new
        ],
    )
    application_rows = [
        {
            "payment_id": d.payment_id,
            "host": host,
            "invoice_id": a.invoice_id,
            "amount_minor": a.amount.minor,
            "currency": a.amount.currency,
            "discount_minor": _minor(a.discount),
            "write_off_minor": _minor(a.write_off),
            "reason_code": a.reason_code,
            "idempotency_key": idempotency_key(d.payment_id, a.invoice_id),
            "writeback_status": "pending",
            "run_id": run_id,
        }
        for d in new
        for a in d.applications
    ]
    if application_rows:
        conn.execute(sa.insert(applications), application_rows)
    exception_rows = [
        _exception_row(
            item, idempotency_key(item.payment_id, "exception"), host=host, run_id=run_id, at=at
        )
        for d in new
        if (item := d.exception) is not None
    ]
    if exception_rows:
        conn.execute(sa.insert(exception_items), exception_rows)


def _exception_row(
    item: ExceptionItem, key: str, *, host: str, run_id: str, at: datetime
) -> dict[str, Any]:
    """An `exception_items` row for `item`: open, pending write-back under `key`."""
    return {
        "payment_id": item.payment_id,
        "host": host,
        "reason": item.reason.value,
        "amount_minor": item.amount.minor,
        "currency": item.amount.currency,
        "suggestions": [
            {"invoice_id": s.invoice_id, "score": s.score, "reasons": _reasons_json(s.reasons)}
            for s in item.suggestions
        ],
        "reasons": _reasons_json(item.reasons),
        "status": "open",
        "idempotency_key": key,
        "writeback_status": "pending",
        "created_at": at,
        "run_id": run_id,
    }


def host_refused_key(application_key: str) -> str:
    """The key of the exception that carries a refused application: derived from the
    application's own, so a rerun after a crash creates it once."""
    return idempotency_key(application_key, ExceptionReason.HOST_REFUSED.value)


def record_refusal(conn: sa.Connection, table: sa.Table, key: str, message: str) -> bool:
    """Mark the row under `key` refused by the host, with its message; False if it was
    not awaiting the host's answer (`written`), so a refusal is recorded once."""
    updated = conn.execute(
        sa.update(table)
        .where(table.c.idempotency_key == key, table.c.writeback_status == "written")
        .values(writeback_status="refused", writeback_error=message)
    )
    return bool(updated.rowcount)


def record_binding_refusal(
    conn: sa.Connection, host: str, entity: str, key: str, at: datetime
) -> bool:
    """Mark a `bindings` row refused by the host (its message is in the audit log); False
    if it was not awaiting the host's answer (`written`), so a refusal is recorded once."""
    updated = conn.execute(
        sa.update(bindings)
        .where(
            bindings.c.host == host,
            bindings.c.entity == entity,
            bindings.c.local_id == key,
            bindings.c.status == "written",
        )
        .values(status="refused", updated_at=at)
    )
    return bool(updated.rowcount)


def insert_host_refused_exception(
    conn: sa.Connection,
    item: ExceptionItem,
    application_key: str,
    *,
    host: str,
    run_id: str,
    at: datetime,
) -> None:
    """Queue `item` (the money of a refused application) for the clerk, pending write-back."""
    conn.execute(
        sa.insert(exception_items).values(
            _exception_row(item, host_refused_key(application_key), host=host, run_id=run_id, at=at)
        )
    )


REFUSAL_EVENTS = ("application_refused", "exception_refused", "resolution_refused")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A record the books host refused, as write-back audited it."""

    kind: str  # "application", "exception" or "resolution"
    payment_id: str
    invoice_number: str | None
    message: str


def refusals_of_run(conn: sa.Connection, run_id: str, since: datetime) -> list[Refusal]:
    """The refusals write-back recorded in run `run_id` (which started at `since`)."""
    rows = conn.execute(
        sa.select(audit_log.c.event, audit_log.c.payload)
        .where(audit_log.c.event.in_(REFUSAL_EVENTS), audit_log.c.at >= since)
        .order_by(audit_log.c.seq)
    )
    return [
        Refusal(
            row.event.removesuffix("_refused"),
            row.payload["payment_id"],
            row.payload["invoice_number"],
            row.payload["message"],
        )
        for row in rows
        if row.payload.get("run_id") == run_id
    ]


def invoice_numbers(conn: sa.Connection, host: str, ids: Iterable[str]) -> dict[str, str]:
    """The numbers of these invoices of `host` as last pulled, by id (a clerk knows numbers)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(invoices.c.invoice_id, invoices.c.number).where(
            invoices.c.host == host, invoices.c.invoice_id.in_(wanted)
        )
    )
    return {row.invoice_id: row.number for row in rows}


def application_from_row(row: sa.Row[Any]) -> Application:
    currency = row.currency
    return Application(
        invoice_id=row.invoice_id,
        amount=Money(row.amount_minor, currency),
        discount=Money(row.discount_minor, currency) if row.discount_minor else None,
        write_off=Money(row.write_off_minor, currency) if row.write_off_minor else None,
        reason_code=row.reason_code,
    )


def exception_from_row(row: sa.Row[Any]) -> ExceptionItem:
    return ExceptionItem(
        payment_id=row.payment_id,
        reason=ExceptionReason(row.reason),
        amount=Money(row.amount_minor, row.currency),
        suggestions=tuple(
            Suggestion(s["invoice_id"], s["score"], _reasons(s["reasons"]))
            for s in row.suggestions or ()
        ),
        reasons=_reasons(row.reasons),
    )


def decision_summaries(
    conn: sa.Connection, payment_ids: Iterable[str]
) -> dict[str, tuple[float, tuple[Reason, ...]]]:
    """Confidence and reasons of the decisions on these payments."""
    ids = list(set(payment_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(decisions.c.payment_id, decisions.c.confidence, decisions.c.reasons).where(
            decisions.c.payment_id.in_(ids)
        )
    )
    return {row.payment_id: (row.confidence, _reasons(row.reasons)) for row in rows}


def load_decisions(conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[Decision]:
    """Rebuild `Decision`s (with applications and exception) for the decisions matching `where`."""
    rows = conn.execute(sa.select(decisions).where(where).order_by(decisions.c.payment_id)).all()
    ids = [row.payment_id for row in rows]
    apps: dict[str, list[Application]] = {}
    items: dict[str, ExceptionItem] = {}
    if ids:
        for row in conn.execute(
            sa.select(applications)
            .where(applications.c.payment_id.in_(ids))
            .order_by(applications.c.id)
        ):
            apps.setdefault(row.payment_id, []).append(application_from_row(row))
        for row in conn.execute(
            sa.select(exception_items).where(exception_items.c.payment_id.in_(ids))
        ):
            items[row.payment_id] = exception_from_row(row)
    return [
        Decision(
            payment_id=row.payment_id,
            outcome=Outcome(row.outcome),
            confidence=row.confidence,
            engine_version=row.engine_version,
            applications=tuple(apps.get(row.payment_id, ())),
            exception=items.get(row.payment_id),
            reasons=_reasons(row.reasons),
        )
        for row in rows
    ]


# -- the match step's parts on the workers (sync_jobs.workers) ------------------------

MATCH_PARTS = "match.%"  # step names of a sharded match step's parts


def round_payments(conn: sa.Connection, sources: Sequence[str], run_id: str) -> list[Payment]:
    """Payments from these sources that the run's match step decides: those with no
    decision yet, and those a part of this run's match step decided already."""
    query = (
        _payments_query()
        .outerjoin(decisions, decisions.c.payment_id == payments.c.payment_id)
        .where(
            sa.or_(decisions.c.payment_id.is_(None), decisions.c.run_id == run_id),
            bank_files.c.source.in_(sources),
        )
        .order_by(payments.c.payment_id)
    )
    return [_payment(row) for row in conn.execute(query)]


def match_parts(conn: sa.Connection, run_id: str) -> dict[str, dict[str, Any]]:
    """The parts of the run's sharded match step recorded so far: step name -> detail."""
    rows = conn.execute(
        sa.select(step_checkpoints.c.step, step_checkpoints.c.detail).where(
            step_checkpoints.c.run_id == run_id, step_checkpoints.c.step.like(MATCH_PARTS)
        )
    )
    return {row.step: row.detail for row in rows}


def record_match_part(
    conn: sa.Connection, run_id: str, part: str, detail: Mapping[str, Any], at: datetime
) -> None:
    """Record a part of the match step as done. A plain insert: a second recording of the
    same part (a duplicated task) fails on the primary key, so its transaction, with the
    decisions it would have stored, stores nothing."""
    conn.execute(
        sa.insert(step_checkpoints).values(
            run_id=run_id,
            step=part,
            status="done",
            started_at=at,
            finished_at=at,
            detail=dict(detail),
        )
    )


def invoices_open_at(
    conn: sa.Connection, host: str, open_minor: Mapping[str, int]
) -> list[Invoice]:
    """The invoices in `open_minor` (invoice id -> open minor units), in id order, as open
    as it says: as a match step's plan found them, whatever its parts consumed since."""
    rows = conn.execute(
        sa.select(invoices)
        .where(invoices.c.host == host, invoices.c.status == "open")
        .order_by(invoices.c.invoice_id)
    )
    return [
        Invoice(
            invoice_id=row.invoice_id,
            number=row.number,
            customer_id=row.customer_id,
            total=Money(row.total_minor, row.currency),
            open_amount=Money(open_minor[row.invoice_id], row.currency),
            issue_date=row.issue_date,
            due_date=row.due_date,
            po_number=row.po_number,
            discount_terms=row.discount_terms,
        )
        for row in rows
        if row.invoice_id in open_minor
    ]
