"""The steps of a job: pull, fetch, parse, match, write-back.

Remittance advices (X12 820, CSV) come in through the same sources as bank files: `parse`
recognises them by content before bank file detection and keeps them in the ledger with
their file; `match` links the unlinked ones to the payments it decides.

Each step reads its input from the ledger and records its output there, so any step
can be rerun after a crash: it picks up what is not done yet and never repeats what
is. Steps return counts for the run summary.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from cash_application.bank_files.errors import BankFileError
from cash_application.matching import build_book, decide_payments
from cash_application.policy import MatchPolicy
from cash_application.received_files import read_received_file
from cash_application.remittance_advices import DEFAULT_LAYOUT, CsvLayout
from connectors.protocols import BooksHost, FileTransport
from mappings.records import ApplicationWrite, ExceptionWrite
from sync_jobs import store
from sync_jobs.ledger.audit import AuditEvent, append_events
from sync_jobs.ledger.locks import books_host_lock
from sync_jobs.ledger.schema import applications, bank_files, exception_items

Counts = dict[str, int | dict[str, int]]


@dataclass(slots=True)
class JobContext:
    """Everything a step may use: the ledger, the job's connectors, a clock, a reporter."""

    engine: sa.Engine
    job: str
    run_id: str
    books: BooksHost
    sources: dict[str, FileTransport]
    var_dir: Path
    now: Callable[[], datetime]
    report: Callable[[str], None]
    actor: str = "arlink"
    policy: MatchPolicy | None = None  # [matching] in config.toml; None: the defaults
    advice_layout: CsvLayout = DEFAULT_LAYOUT  # how CSV remittance advices are laid out

    def audit(self, conn: sa.Connection, event: str, subject: str, **payload: object) -> None:
        self.audit_many(conn, [(event, subject, payload)])

    def audit_many(
        self, conn: sa.Connection, events: list[tuple[str, str, dict[str, object]]]
    ) -> None:
        """Append (event, subject, payload) audit events in one batch."""
        at = self.now()
        append_events(
            conn,
            [
                AuditEvent(self.actor, event, subject, {"run_id": self.run_id, **payload}, at)
                for event, subject, payload in events
            ],
        )


def pull(ctx: JobContext) -> Counts:
    """Pull customers and open invoices from the books host, and clerks' resolutions."""
    customers = ctx.books.pull_customers(None)
    invoices = ctx.books.pull_open_invoices(None)
    resolutions = ctx.books.pull_resolutions(None)
    closed = 0
    with ctx.engine.begin() as conn:
        store.replace_books_snapshot(conn, ctx.books.name, customers, invoices, ctx.now())
        for resolution in resolutions:
            updated = conn.execute(
                sa.update(exception_items)
                .where(
                    exception_items.c.payment_id == resolution.payment_id,
                    exception_items.c.status == "open",
                )
                .values(
                    status="resolved",
                    resolved_at=ctx.now(),
                    resolution={
                        "action": resolution.action,
                        "invoice_id": resolution.invoice_id,
                        "amount": str(resolution.amount) if resolution.amount else None,
                        "note": resolution.note,
                    },
                )
            )
            if updated.rowcount:
                closed += updated.rowcount
                ctx.audit(
                    conn, "exception_resolved", resolution.payment_id, action=resolution.action
                )
        ctx.audit(
            conn, "books_pulled", ctx.books.name, customers=len(customers), invoices=len(invoices)
        )
    ctx.report(f"pulled {len(customers)} customers, {len(invoices)} open invoices")
    return {"customers": len(customers), "open_invoices": len(invoices), "resolved": closed}


def _inbox(ctx: JobContext, digest: str) -> Path:
    return ctx.var_dir / "inbox" / digest


def _write_once(path: Path, data: bytes) -> None:
    """Content-addressed write: temp name, fsync, rename; a rerun rewrites the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def fetch(ctx: JobContext) -> Counts:
    """Copy new bank files into the ledger's inbox, record their digest, then archive them
    at the source. A file seen before (same digest, any name) is archived, not read again."""
    received = duplicates = 0
    for source_name, source in ctx.sources.items():
        for name in source.list():
            data = source.fetch(name)
            digest = hashlib.sha256(data).hexdigest()
            with ctx.engine.begin() as conn:
                seen = conn.scalar(
                    sa.select(bank_files.c.name).where(bank_files.c.digest == digest)
                )
                if seen is None:
                    _write_once(_inbox(ctx, digest), data)
                    conn.execute(
                        sa.insert(bank_files).values(
                            digest=digest,
                            name=name,
                            source=source_name,
                            size=len(data),
                            status="received",
                            received_at=ctx.now(),
                            run_id=ctx.run_id,
                        )
                    )
                    ctx.audit(conn, "file_received", digest, name=name, source=source_name)
                    received += 1
                else:
                    ctx.audit(conn, "file_duplicate", digest, name=name, first_name=seen)
                    duplicates += 1
            # Archived only once recorded: a crash before this line re-lists the file,
            # and the digest check above recognises it.
            source.archive(name)
            ctx.report(
                f"fetched {name} from {source_name}" + ("" if seen is None else " (seen before)")
            )
    return {"files_received": received, "files_duplicate": duplicates}


def received_files(ctx: JobContext) -> list[str]:
    """Digests of the job's files waiting to be parsed, in the order they were received."""
    with ctx.engine.connect() as conn:
        return list(
            conn.scalars(
                sa.select(bank_files.c.digest)
                .where(
                    bank_files.c.status == "received", bank_files.c.source.in_(list(ctx.sources))
                )
                .order_by(bank_files.c.received_at, bank_files.c.name)
            )
        )


def parse_counts() -> Counts:
    """The parse step's counts, all zero (in-process and on workers alike)."""
    return {"files_parsed": 0, "files_quarantined": 0, "payments": 0, "advices": 0}


def parse(ctx: JobContext) -> Counts:
    """Parse every received file into payments (or remittance advices); quarantine a file
    that does not parse."""
    counts = parse_counts()
    for digest in received_files(ctx):
        for key, value in parse_file(ctx, digest).items():
            counts[key] += value
    return counts


def parse_file(ctx: JobContext, digest: str) -> dict[str, int]:
    """Parse one received file into payments, or quarantine it; files are independent, so
    workers parse them in parallel (`sync_jobs.workers`).

    The file's row, locked for the whole transaction, is the claim: a second worker given
    the same file waits for the first to commit, then finds it no longer `received` (the
    lock re-reads the row), so a file is parsed and recorded once, and when this returns
    the file is no longer being parsed anywhere. A worker that dies mid-parse loses its
    connection, the database drops the lock with the transaction, and the file is still
    `received` for the next try. All counts are 0 when the file was not this call's to parse.
    """
    counts = parse_counts()
    with ctx.engine.begin() as conn:
        name = conn.scalar(
            sa.select(bank_files.c.name)
            .where(bank_files.c.digest == digest, bank_files.c.status == "received")
            .with_for_update()
        )
        if name is None:
            return counts
        data = _inbox(ctx, digest).read_bytes()
        try:
            received = read_received_file(data, name, file_digest=digest, layout=ctx.advice_layout)
        except BankFileError as exc:
            _write_once(ctx.var_dir / "quarantine" / f"{digest[:12]}-{name}", data)
            conn.execute(
                sa.update(bank_files)
                .where(bank_files.c.digest == digest)
                .values(status="quarantined", quarantine_reason=str(exc), parsed_at=ctx.now())
            )
            ctx.audit(conn, "file_quarantined", digest, name=name, reason=str(exc))
            ctx.report(f"quarantined {name}: {exc}")
            counts["files_quarantined"] = 1
            return counts
        added = store.insert_payments(conn, received.payments, ctx.run_id)
        added_advices = store.insert_advices(conn, received.advices, ctx.run_id)
        conn.execute(
            sa.update(bank_files)
            .where(bank_files.c.digest == digest)
            .values(status="parsed", format=received.format, parsed_at=ctx.now())
        )
        what = {"advices": added_advices} if received.advices else {"payments": added}
        ctx.audit(conn, "file_parsed", digest, name=name, format=received.format, **what)
    found = (
        f"{len(received.advices)} remittance advice(s)"
        if received.advices
        else f"{len(received.payments)} payment(s)"
    )
    ctx.report(f"parsed {name}: {found}")
    counts.update(files_parsed=1, payments=added, advices=added_advices)
    return counts


def match(ctx: JobContext) -> Counts:
    """Decide every undecided payment against the open invoices, with the remittance
    advices not yet linked; record the decisions and the advices' links."""
    with ctx.engine.connect() as conn:
        payments = store.undecided_payments(conn, list(ctx.sources))
        invoices = store.load_open_invoices(conn, ctx.books.name)
        customers = store.load_customers(conn, ctx.books.name)
        advices = store.unlinked_advices(conn, list(ctx.sources))
    book = build_book(invoices, customers, ctx.policy)
    decisions = decide_payments(payments, book, advices)
    links = sorted(book.advice_links.values(), key=lambda link: link.payment_id)
    outcomes: dict[str, int] = {}
    for decision in decisions:
        outcomes[decision.outcome.value] = outcomes.get(decision.outcome.value, 0) + 1
    with ctx.engine.begin() as conn:
        store.record_decisions(
            conn, decisions, host=ctx.books.name, run_id=ctx.run_id, at=ctx.now()
        )
        store.record_advice_links(
            conn,
            [(link.advice.advice_id, link.payment_id, link.by) for link in links],
            run_id=ctx.run_id,
            at=ctx.now(),
        )
        ctx.audit_many(
            conn,
            [
                (
                    "advice_linked",
                    link.payment_id,
                    {"advice_id": link.advice.advice_id, "by": link.by, "reason": link.reason.text},
                )
                for link in links
            ],
        )
        ctx.audit_many(
            conn,
            [
                (
                    "decision_recorded",
                    decision.payment_id,
                    {
                        "outcome": decision.outcome.value,
                        "engine_version": decision.engine_version,
                        "applications": [
                            {"invoice_id": a.invoice_id, "amount": str(a.amount)}
                            for a in decision.applications
                        ],
                        "exception": decision.exception.reason.value
                        if decision.exception
                        else None,
                    },
                )
                for decision in decisions
            ],
        )
    linked = f", {len(links)} remittance advice(s) linked" if links else ""
    ctx.report(f"matched {len(decisions)} payment(s): {outcomes}{linked}")
    return {"decisions": len(decisions), "outcomes": outcomes}


def write_back(ctx: JobContext) -> Counts:
    """Post pending applications and exceptions to the books host, idempotently.

    Each row is marked `written` before the push (the intent) and `confirmed` with the
    host's id after it. A rerun pushes `pending` and `written` rows again; the host
    connector looks the idempotency key up first, so nothing is posted twice.
    """
    host = ctx.books.name
    with ctx.engine.connect() as conn:
        app_rows = conn.execute(
            sa.select(applications)
            .where(applications.c.host == host, applications.c.writeback_status != "confirmed")
            .order_by(applications.c.id)
        ).all()
        exc_rows = conn.execute(
            sa.select(exception_items)
            .where(
                exception_items.c.host == host, exception_items.c.writeback_status != "confirmed"
            )
            .order_by(exception_items.c.id)
        ).all()
        payments = store.load_payments(
            conn, [row.payment_id for row in app_rows] + [row.payment_id for row in exc_rows]
        )
        summaries = store.decision_summaries(conn, [row.payment_id for row in app_rows])
    app_writes = [
        ApplicationWrite(
            idempotency_key=row.idempotency_key,
            payment=payments[row.payment_id],
            application=store.application_from_row(row),
            confidence=summaries[row.payment_id][0],
            reasons=summaries[row.payment_id][1],
        )
        for row in app_rows
    ]
    exc_writes = [
        ExceptionWrite(row.idempotency_key, payments[row.payment_id], store.exception_from_row(row))
        for row in exc_rows
    ]
    written = _push(ctx, applications, app_writes, ctx.books.push_applications, "application")
    excepted = _push(ctx, exception_items, exc_writes, ctx.books.push_exceptions, "exception")
    ctx.report(f"wrote back {written} application(s), {excepted} exception(s) to {host}")
    return {"applications_written": written, "exceptions_written": excepted}


def _push(ctx: JobContext, table: sa.Table, writes: list, push: Callable, kind: str) -> int:
    if not writes:
        return 0
    keys = [write.idempotency_key for write in writes]
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.idempotency_key.in_(keys), table.c.writeback_status == "pending")
            .values(writeback_status="written")
        )
    results = push(writes)
    if not results:
        return 0
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.idempotency_key == sa.bindparam("key"))
            .values(writeback_status="confirmed", external_id=sa.bindparam("external"))
            .execution_options(synchronize_session=False),
            [{"key": r.idempotency_key, "external": r.external_id} for r in results],
        )
        ctx.audit_many(
            conn,
            [
                (
                    f"{kind}_confirmed",
                    result.idempotency_key,
                    {
                        "host": ctx.books.name,
                        "external_id": result.external_id,
                        "already_present": result.already_present,
                    },
                )
                for result in results
            ],
        )
    return sum(not result.already_present for result in results)


def _per_books_host(step: Callable[[JobContext], Counts]) -> Callable[[JobContext], Counts]:
    """Run `step` holding its books host's lock. Matching is global per host: payments
    consume the same invoices' open amounts, so two concurrent matchers could each apply
    the last open cent. A pull replaces those amounts, and the files host's write-back
    rewrites its journal file. So these steps run one at a time per host, whichever job,
    process or worker runs them."""

    @functools.wraps(step)
    def locked(ctx: JobContext) -> Counts:
        with books_host_lock(ctx.engine, ctx.books.name):
            return step(ctx)

    return locked


STEPS: dict[str, Callable[[JobContext], Counts]] = {
    "pull": _per_books_host(pull),
    "fetch": fetch,
    "parse": parse,
    "match": _per_books_host(match),
    "write-back": _per_books_host(write_back),
}
