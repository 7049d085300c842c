"""What a clerk does with an exception item: apply it to an invoice, or close it as
on-account or not ours.

Each action is one ledger transaction taken under the books host's lock (it consumes
invoices' open amounts, as matching does): the application row (pending write-back),
the exception closed with its resolution (the same shape `steps.pull` records for a
resolution pulled from the host, plus who did it, which the matcher learns from), and
who-did-what audit events. Then the ordinary write-back step posts the application to
the books host with its idempotency key, so a crash or a host that is down leaves a
pending row that the next write-back finishes, never a second posting. On-account and
not-ours go to the host too (`BooksHost.push_resolutions` closes its exception item as a
clerk there would): a `bindings` row (entity `resolution`) is the intent, marked written
before the push and confirmed with the host's id after, so a rerun finds what was written.

A form carries the item's open amount as the clerk saw it; an action on an item that
changed since (another clerk, a double submit) is refused instead of applied twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from cash_application.policy import MatchPolicy
from connectors.protocols import BooksHost
from mappings.money import Money, MoneyError
from mappings.records import idempotency_key
from sync_jobs import steps
from sync_jobs.ledger.locks import books_host_lock
from sync_jobs.ledger.schema import (
    applications,
    bindings,
    exception_items,
    invoices,
)
from sync_jobs.store import learned_history as learned_history
from sync_jobs.store import open_invoices

CLERK_REASON_CODE = "clerk"
CloseAction = Literal["on_account", "not_ours"]
CLOSE_ACTIONS: tuple[CloseAction, ...] = ("on_account", "not_ours")


class ActionRefusedError(ValueError):
    """The action cannot be taken as asked; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: the item's remaining open amount and the write-back outcome."""

    payment_id: str
    remaining: Money
    resolved: bool
    application_key: str | None
    writeback_error: str | None = None


@dataclass(slots=True)
class ClerkDesk:
    """Where a clerk's actions go: the ledger, a books host per name, the policy, who."""

    engine: sa.Engine
    books: Callable[[str], BooksHost]
    var_dir: Path
    policy: MatchPolicy
    actor: str
    now: Callable[[], datetime]

    def _context(self, books: BooksHost) -> steps.JobContext:
        return steps.JobContext(
            engine=self.engine,
            job="clerk",
            run_id=uuid.uuid4().hex,
            books=books,
            sources={},
            var_dir=self.var_dir,
            now=self.now,
            report=lambda _line: None,
            actor=self.actor,
            policy=self.policy,
        )


def _show(money: Money) -> str:
    return f"{money.currency} {money}"


def _money(field: str, text: str | Decimal, currency: str) -> Money:
    try:
        return Money.parse(text, currency)
    except (MoneyError, ValueError, ArithmeticError):
        raise ActionRefusedError(field, f"not an amount in {currency}: {text!r}") from None


def _open_item(conn: sa.Connection, item_id: int, expected_open: str) -> sa.Row[Any]:
    item = conn.execute(
        sa.select(exception_items).where(exception_items.c.id == item_id).with_for_update()
    ).first()
    if item is None:
        raise ActionRefusedError("item", f"no exception item {item_id}")
    if item.status != "open":
        raise ActionRefusedError("item", f"exception item {item_id} is already {item.status}")
    seen = _money("expected_open", expected_open, item.currency)
    if seen.minor != item.amount_minor:
        now_open = Money(item.amount_minor, item.currency)
        raise ActionRefusedError(
            "expected_open",
            f"exception item {item_id} changed since the page was shown "
            f"(open {_show(seen)} then, {_show(now_open)} now): reload and check",
        )
    return item


def _resolution(
    action: str, invoice_id: str | None, amount: Money, note: str, by: str
) -> dict[str, str | None]:
    """The record `steps.pull` keeps for a host's resolution, and who resolved it."""
    return {
        "action": action,
        "invoice_id": invoice_id,
        "amount": str(amount),
        "note": note,
        "by": by,
    }


def _close(conn: sa.Connection, ctx: steps.JobContext, item: sa.Row[Any], resolution: dict) -> None:
    conn.execute(
        sa.update(exception_items)
        .where(exception_items.c.id == item.id)
        .values(status="resolved", resolved_at=ctx.now(), resolution=resolution)
    )
    ctx.audit(conn, "exception_resolved", item.payment_id, **resolution)


def apply_to_invoice(
    desk: ClerkDesk,
    item_id: int,
    *,
    invoice_id: str,
    amount: str | None,
    write_off: str | None,
    expected_open: str,
    note: str = "",
) -> ActionResult:
    """Apply `amount` (default: as much as both the item and the invoice allow) of an
    exception item to `invoice_id`, writing off `write_off` of the invoice's remainder
    within the policy's limit. Less than the item's amount leaves the rest in the queue."""
    with desk.engine.connect() as conn:
        host = conn.scalar(sa.select(exception_items.c.host).where(exception_items.c.id == item_id))
    if host is None:
        raise ActionRefusedError("item", f"no exception item {item_id}")
    books = desk.books(host)
    ctx = desk._context(books)
    with books_host_lock(desk.engine, host):
        with desk.engine.begin() as conn:
            item = _open_item(conn, item_id, expected_open)
            currency = item.currency
            invoice = open_invoices(conn, host, [invoice_id]).get(invoice_id)
            if invoice is None:
                raise ActionRefusedError(
                    "invoice_id", f"invoice {invoice_id!r} is not open in {host}"
                )
            if invoice.currency != currency:
                raise ActionRefusedError(
                    "invoice_id",
                    f"invoice {invoice_id} is in {invoice.currency}, the payment in {currency}",
                )
            available = Money(item.amount_minor, currency)
            applied = (
                _money("amount", amount, currency)
                if amount
                else min(available, invoice.open_amount)
            )
            written_off = _money("write_off", write_off, currency) if write_off else None
            _check_amounts(desk.policy, available, invoice.open_amount, applied, written_off)
            key = idempotency_key(item.payment_id, invoice_id, CLERK_REASON_CODE, str(available))
            conn.execute(
                sa.insert(applications).values(
                    payment_id=item.payment_id,
                    host=host,
                    invoice_id=invoice_id,
                    amount_minor=applied.minor,
                    currency=currency,
                    discount_minor=0,
                    write_off_minor=written_off.minor if written_off else 0,
                    reason_code=CLERK_REASON_CODE,
                    idempotency_key=key,
                    writeback_status="pending",
                    run_id=ctx.run_id,
                )
            )
            remaining = available - applied
            ctx.audit(
                conn,
                "clerk_applied",
                key,
                payment_id=item.payment_id,
                invoice_id=invoice_id,
                amount=str(applied),
                write_off=str(written_off) if written_off else "0",
                remaining=str(remaining),
                note=note,
            )
            if remaining.minor == 0:
                resolution = _resolution("apply", invoice_id, applied, note, desk.actor)
                resolution["customer_id"] = invoice.customer_id
                _close(conn, ctx, item, resolution)
            else:
                conn.execute(
                    sa.update(exception_items)
                    .where(exception_items.c.id == item.id)
                    .values(amount_minor=remaining.minor)
                )
        error = _write_back(ctx)
    return ActionResult(item.payment_id, remaining, remaining.minor == 0, key, error)


def _check_amounts(
    policy: MatchPolicy,
    available: Money,
    invoice_open: Money,
    applied: Money,
    written_off: Money | None,
) -> None:
    if applied.minor <= 0:
        raise ActionRefusedError("amount", f"must be more than 0, found {_show(applied)}")
    if applied > available:
        raise ActionRefusedError(
            "amount", f"{_show(applied)} is more than the item's open {_show(available)}"
        )
    settled = applied + written_off if written_off else applied
    if settled > invoice_open:
        raise ActionRefusedError(
            "amount",
            f"{_show(settled)} (with write-off) is more than the invoice's open "
            f"{_show(invoice_open)}",
        )
    if written_off is not None:
        limit = policy.write_off_minor(written_off.currency)
        if written_off.minor < 0 or written_off.minor > limit:
            raise ActionRefusedError(
                "write_off",
                f"{_show(written_off)} is outside the policy's write-off limit "
                f"0 to {_show(Money(limit, written_off.currency))}",
            )


def close_item(
    desk: ClerkDesk, item_id: int, action: CloseAction, *, expected_open: str, note: str = ""
) -> ActionResult:
    """Close an exception item as on-account (the customer's credit) or not ours
    (a refund or a miscellaneous deposit): nothing is applied to an invoice."""
    if action not in CLOSE_ACTIONS:
        raise ActionRefusedError("action", f"expected one of {CLOSE_ACTIONS}, found {action!r}")
    with desk.engine.connect() as conn:
        host = conn.scalar(sa.select(exception_items.c.host).where(exception_items.c.id == item_id))
    if host is None:
        raise ActionRefusedError("item", f"no exception item {item_id}")
    ctx = desk._context(desk.books(host))
    with books_host_lock(desk.engine, host):
        with desk.engine.begin() as conn:
            item = _open_item(conn, item_id, expected_open)
            amount = Money(item.amount_minor, item.currency)
            resolution = _resolution(action, None, amount, note, desk.actor)
            # From the item's own key: one decision per exception item, whatever the payment.
            key = idempotency_key(item.idempotency_key, steps.RESOLUTION_ENTITY, action)
            resolution["idempotency_key"] = key
            _close(conn, ctx, item, resolution)
            payload = json.dumps(resolution, sort_keys=True).encode()
            conn.execute(
                sa.insert(bindings).values(
                    host=host,
                    entity=steps.RESOLUTION_ENTITY,
                    local_id=key,
                    payload_hash=hashlib.sha256(payload).hexdigest(),
                    status="intent",
                    created_at=ctx.now(),
                    updated_at=ctx.now(),
                )
            )
        error = _write_back(ctx)
    return ActionResult(item.payment_id, Money.zero(item.currency), True, None, error)


def _write_back(ctx: steps.JobContext) -> str | None:
    """Run the write-back step now: it pushes the decisions not confirmed yet after the
    exceptions (an item's exception must be in the host before its decision can close it);
    a failure leaves the rows pending for the next run."""
    try:
        steps.write_back(ctx)
    except Exception as exc:  # any host failure: the row stays pending, the next run retries
        return f"{type(exc).__name__}: {exc}"
    return None


def search_invoices(conn: sa.Connection, host: str, text: str, limit: int = 20) -> list[Any]:
    """Open invoices of `host` whose number, id or customer id contains `text`."""
    pattern = f"%{text.strip()}%"
    rows = conn.execute(
        sa.select(invoices.c.invoice_id)
        .where(
            invoices.c.host == host,
            invoices.c.status == "open",
            sa.or_(
                invoices.c.number.ilike(pattern),
                invoices.c.invoice_id.ilike(pattern),
                invoices.c.customer_id.ilike(pattern),
            ),
        )
        .order_by(invoices.c.number)
        .limit(limit)
    ).all()
    open_now = open_invoices(conn, host, [row.invoice_id for row in rows])
    return [open_now[row.invoice_id] for row in rows if row.invoice_id in open_now]
