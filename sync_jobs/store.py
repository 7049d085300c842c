"""Reading and writing canonical records in the ledger's tables.

The one place that knows how a `Payment`, `RemittanceAdvice`, `Decision` or `Invoice`
becomes a row and back. Money goes in as integer minor units plus currency; never as a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

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
    bank_files,
    customers,
    decisions,
    exception_items,
    invoices,
    payments,
    remittance_advices,
)


def _reasons_json(reasons: Iterable[Reason]) -> list[dict[str, str]]:
    return [{"code": reason.code, "text": reason.text} for reason in reasons]


def _reasons(data: Iterable[dict[str, str]] | None) -> tuple[Reason, ...]:
    return tuple(Reason(item["code"], item["text"]) for item in data or ())


def _minor(money: Money | None) -> int:
    return money.minor if money is not None else 0


# -- books snapshot ------------------------------------------------------------------


def replace_books_snapshot(
    conn: sa.Connection,
    host: str,
    pulled_customers: Sequence[Customer],
    open_invoices: Sequence[Invoice],
    at: datetime,
) -> None:
    """Store a full pull: these customers and open invoices; earlier ones not in it are closed."""
    conn.execute(sa.delete(customers).where(customers.c.host == host))
    if pulled_customers:
        conn.execute(
            sa.insert(customers),
            [
                {
                    "host": host,
                    "customer_id": c.customer_id,
                    "name": c.name,
                    "parent_id": c.parent_id,
                    "aliases": list(c.aliases),
                    "bank_accounts": list(c.bank_accounts),
                    "payment_terms": c.payment_terms,
                    "pulled_at": at,
                }
                for c in pulled_customers
            ],
        )
    conn.execute(
        sa.update(invoices)
        .where(invoices.c.host == host, invoices.c.status == "open")
        .values(status="closed", open_minor=0, pulled_at=at)
    )
    known = set(conn.scalars(sa.select(invoices.c.invoice_id).where(invoices.c.host == host)))
    rows = [
        {
            "b_invoice_id": invoice.invoice_id,
            "number": invoice.number,
            "customer_id": invoice.customer_id,
            "currency": invoice.currency,
            "total_minor": invoice.total.minor,
            "open_minor": invoice.open_amount.minor,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "po_number": invoice.po_number,
            "discount_terms": invoice.discount_terms,
            "status": "open",
            "pulled_at": at,
        }
        for invoice in open_invoices
    ]
    # Two batched statements, not one round trip per invoice.
    updates = [row for row in rows if row["b_invoice_id"] in known]
    if updates:
        columns = [name for name in rows[0] if name != "b_invoice_id"]
        conn.execute(
            sa.update(invoices)
            .where(invoices.c.host == host, invoices.c.invoice_id == sa.bindparam("b_invoice_id"))
            .values({name: sa.bindparam(name) for name in columns}),
            updates,
        )
    inserts = [
        {**{k: v for k, v in row.items() if k != "b_invoice_id"}, "host": host,
         "invoice_id": row["b_invoice_id"]}
        for row in rows
        if row["b_invoice_id"] not in known
    ]  # fmt: skip
    if inserts:
        conn.execute(sa.insert(invoices), inserts)


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


def load_open_invoices(conn: sa.Connection, host: str) -> list[Invoice]:
    """Open invoices as the matcher must see them: the host's open amount less what the
    ledger has applied but not yet confirmed in the host."""
    unconfirmed = (
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
        .where(applications.c.host == host, applications.c.writeback_status != "confirmed")
        .group_by(applications.c.invoice_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(invoices, sa.func.coalesce(unconfirmed.c.minor, 0).label("pending_minor"))
        .outerjoin(unconfirmed, unconfirmed.c.invoice_id == invoices.c.invoice_id)
        .where(invoices.c.host == host, invoices.c.status == "open")
        .order_by(invoices.c.invoice_id)
    )
    result = []
    for row in rows:
        remaining = row.open_minor - row.pending_minor
        if remaining <= 0:
            continue
        result.append(
            Invoice(
                invoice_id=row.invoice_id,
                number=row.number,
                customer_id=row.customer_id,
                total=Money(row.total_minor, row.currency),
                open_amount=Money(remaining, row.currency),
                issue_date=row.issue_date,
                due_date=row.due_date,
                po_number=row.po_number,
                discount_terms=row.discount_terms,
            )
        )
    return result


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
        {
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
            "idempotency_key": idempotency_key(item.payment_id, "exception"),
            "writeback_status": "pending",
            "created_at": at,
            "run_id": run_id,
        }
        for d in new
        if (item := d.exception) is not None
    ]
    if exception_rows:
        conn.execute(sa.insert(exception_items), exception_rows)


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
