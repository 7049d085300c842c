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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from cash_application.bank_files.errors import BankFileError
from cash_application.book import build_book
from cash_application.matching import decide_payments
from cash_application.policy import MatchPolicy
from cash_application.received_files import ReceivedFile, read_received_file
from cash_application.remittance_advices import DEFAULT_LAYOUT, CsvLayout
from cash_application.remittance_advices.linking import AdviceLink
from connectors.protocols import BooksHost, FileTransport
from mappings.records import (
    ApplicationWrite,
    Customer,
    Decision,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Invoice,
    Reason,
    Resolution,
    ResolutionWrite,
    Suggestion,
    WriteResult,
)
from sync_jobs import store
from sync_jobs.edi_steps import EDI_STEPS, EdiJob
from sync_jobs.ledger.audit import AuditEvent, append_events
from sync_jobs.ledger.locks import books_host_lock
from sync_jobs.ledger.schema import (
    PULL_STREAMS,
    applications,
    bank_files,
    bindings,
    exception_items,
)

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
    fx_rates: Mapping[str, Decimal] = field(default_factory=dict)  # [matching] fx_rates
    advice_layout: CsvLayout = DEFAULT_LAYOUT  # how CSV remittance advices are laid out
    # A source's `lockbox_layout` (its bank's lockbox layout), by source name.
    lockbox_layouts: Mapping[str, str] = field(default_factory=dict)
    edi: EdiJob | None = None  # the job's trading partner (`edi_partner`), for the EDI steps

    def read_received(self, data: bytes, name: str, digest: str, source: str) -> ReceivedFile:
        """A received file read as this job reads it: the config's advice layout and the
        source's lockbox layout (`read_received_file`)."""
        return read_received_file(
            data,
            name,
            file_digest=digest,
            layout=self.advice_layout,
            lockbox_layout=self.lockbox_layouts.get(source),
        )

    def close(self) -> None:
        """Close the job's file transports (an SFTP session each): a long-lived scheduler or
        worker must not keep SSH connections open between runs."""
        transports = list(self.sources.values())
        if self.edi is not None:
            transports += [self.edi.outbound, *([self.edi.inbound] if self.edi.inbound else [])]
        for transport in transports:
            transport.close()

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


@dataclass(frozen=True, slots=True)
class BooksBatch:
    """What one pull read from the books host, and from when (None: the whole stream)."""

    since: dict[str, datetime | None]
    customers: list[Customer]
    invoices: list[Invoice]
    resolutions: list[Resolution]


def read_books(ctx: JobContext) -> BooksBatch:
    """Read each stream of the books host from its ledger cursor on (what changed since
    the last pull) or, with no cursor (the first run, `arlink run --full`, a host that gives
    no modification times), whole."""
    host = ctx.books
    with ctx.engine.connect() as conn:
        cursors = store.load_pull_cursors(conn, host.name) if host.incremental else {}
    since = {stream: cursors.get(stream) for stream in PULL_STREAMS}
    return BooksBatch(
        since,
        host.pull_customers(since["customers"]),
        host.pull_open_invoices(since["invoices"]),
        host.pull_resolutions(since["resolutions"]),
    )


def store_books(ctx: JobContext, conn: sa.Connection, batch: BooksBatch) -> Counts:
    """Store a batch in the ledger's copy of the books (merged, or replacing a whole
    stream), close the exceptions clerks resolved, and move the cursors, all in `conn`'s
    transaction: a crash before its commit reads the same window again, which is harmless."""
    host, since = ctx.books.name, batch.since
    at = ctx.now()
    store.store_customers(conn, host, batch.customers, at, replace=since["customers"] is None)
    still_open = store.store_invoices(
        conn, host, batch.invoices, at, replace=since["invoices"] is None
    )
    closed = 0
    for resolution in batch.resolutions:
        updated = conn.execute(
            sa.update(exception_items)
            .where(
                exception_items.c.payment_id == resolution.payment_id,
                exception_items.c.status == "open",
            )
            .values(
                status="resolved",
                resolved_at=at,
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
            ctx.audit(conn, "exception_resolved", resolution.payment_id, action=resolution.action)
    streams: dict[str, Sequence[Customer | Invoice | Resolution]] = {
        "customers": batch.customers,
        "invoices": batch.invoices,
        "resolutions": batch.resolutions,
    }
    for stream, records in streams.items():
        store.advance_pull_cursor(
            conn, host, stream, [r.modified for r in records], at=at, run_id=ctx.run_id
        )
    ctx.audit(
        conn,
        "books_pulled",
        host,
        customers=len(batch.customers),
        invoices=len(batch.invoices),
        since={stream: moment.isoformat() if moment else None for stream, moment in since.items()},
    )
    return {
        "customers": len(batch.customers),
        "invoices": len(batch.invoices),
        "open_invoices": still_open,
        "resolved": closed,
    }


def pull(ctx: JobContext) -> Counts:
    """Pull customers, invoices and clerks' resolutions from the books host: what changed
    since the last pull, merged into the ledger's copy (see `read_books`)."""
    batch = read_books(ctx)
    with ctx.engine.begin() as conn:
        counts = store_books(ctx, conn, batch)
    how = "changed" if any(batch.since.values()) else "all"
    ctx.report(
        f"pulled {how}: {counts['customers']} customers, {counts['invoices']} invoices "
        f"({counts['open_invoices']} open)"
    )
    return counts


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


# Where a recorded file goes at its source, by the outcome of its parse; a file not yet
# parsed (`received`) stays in the inbox, so a bad file ends in quarantine at the bank too.
AT_SOURCE = {"parsed": "processed", "quarantined": "quarantine"}


def _leave_source(source: FileTransport, name: str, status: str) -> None:
    """Move a parsed or quarantined file out of its source's inbox (a no-op when it has
    left already)."""
    if AT_SOURCE[status] == "quarantine":
        source.quarantine(name)
    else:
        source.archive(name)


def fetch(ctx: JobContext) -> Counts:
    """Copy new bank files into the ledger's inbox and record their digest; `parse_file`
    moves each out of the source with its outcome. A file seen before (same digest, any
    name) is not parsed again: it follows its first copy to the processed or quarantine
    folder, or waits in the inbox while that copy is not parsed yet.

    A crash anywhere leaves a file either unrecorded (it is fetched again), or recorded and
    still at the source, `received` (the digest check recognises it; its parse moves it)."""
    received = duplicates = 0
    for source_name, source in ctx.sources.items():
        for name in source.list():
            data = source.fetch(name)
            digest = hashlib.sha256(data).hexdigest()
            with ctx.engine.begin() as conn:
                first = conn.execute(
                    sa.select(bank_files.c.name, bank_files.c.source, bank_files.c.status).where(
                        bank_files.c.digest == digest
                    )
                ).first()
                if first is None:
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
                    ctx.report(f"fetched {name} from {source_name}")
                    continue
                if first.status == "received":
                    ctx.report(f"{name} in {source_name}: recorded, waits for its parse")
                    continue
                # A parsed file left its inbox before its outcome committed: this is the
                # bank delivering it again (under this or another name).
                ctx.audit(
                    conn,
                    "file_duplicate",
                    digest,
                    name=name,
                    source=source_name,
                    first_name=first.name,
                    at_source=AT_SOURCE[first.status],
                )
                duplicates += 1
            # Moved once recorded: a crash before this line re-lists it, and the digest
            # check above recognises it.
            _leave_source(source, name, first.status)
            ctx.report(f"moved {name} (seen before) to {AT_SOURCE[first.status]} in {source_name}")
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
    """Parse one received file into payments, or quarantine it, then move it at its source
    into the processed or quarantine folder; files are independent, so workers parse them
    in parallel (`sync_jobs.workers`).

    The file's row, locked for the whole transaction, is the claim: a second worker given
    the same file waits for the first to commit, then finds it no longer `received` (the
    lock re-reads the row), so a file is parsed and recorded once, and when this returns
    the file is no longer being parsed anywhere. A worker that dies mid-parse loses its
    connection, the database drops the lock with the transaction, and the file is still
    `received` for the next try. The file is moved at its source before the outcome
    commits (the audit event names the folder, `at_source`): dying in between leaves it
    `received`, and the retry parses the ledger's copy again and finds it moved already.
    All counts are 0 when the file was not this call's to parse.
    """
    counts = parse_counts()
    error: BankFileError | None = None
    with ctx.engine.begin() as conn:
        row = conn.execute(
            sa.select(bank_files.c.name, bank_files.c.source)
            .where(bank_files.c.digest == digest, bank_files.c.status == "received")
            .with_for_update()
        ).first()
        if row is None:
            return counts
        name, source_name = row
        data = _inbox(ctx, digest).read_bytes()
        try:
            received = ctx.read_received(data, name, digest, source_name)
        except BankFileError as exc:
            error = exc
            _write_once(ctx.var_dir / "quarantine" / f"{digest[:12]}-{name}", data)
            conn.execute(
                sa.update(bank_files)
                .where(bank_files.c.digest == digest)
                .values(status="quarantined", quarantine_reason=str(exc), parsed_at=ctx.now())
            )
            ctx.audit(
                conn,
                "file_quarantined",
                digest,
                name=name,
                reason=str(exc),
                at_source=AT_SOURCE["quarantined"],
            )
        else:
            added = store.insert_payments(conn, received.payments, ctx.run_id)
            added_advices = store.insert_advices(conn, received.advices, ctx.run_id)
            conn.execute(
                sa.update(bank_files)
                .where(bank_files.c.digest == digest)
                .values(status="parsed", format=received.format, parsed_at=ctx.now())
            )
            what = {"advices": added_advices} if received.advices else {"payments": added}
            ctx.audit(
                conn,
                "file_parsed",
                digest,
                name=name,
                format=received.format,
                at_source=AT_SOURCE["parsed"],
                **what,
            )
        # A source dropped from the job since the file arrived keeps it: nothing to move.
        source = ctx.sources.get(source_name)
        if source is not None:
            _leave_source(source, name, "parsed" if error is None else "quarantined")
    if error is not None:
        ctx.report(f"quarantined {name}: {error}")
        counts["files_quarantined"] = 1
        return counts
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
        # What clerks taught (payer aliases, bank accounts) counts from the next run on.
        history = store.learned_history(conn, ctx.books.name)
    book = build_book(invoices, customers, ctx.policy, history, fx_rates=ctx.fx_rates)
    decisions = decide_payments(payments, book, advices)
    links = sorted(book.advice_links.values(), key=lambda link: link.payment_id)
    with ctx.engine.begin() as conn:
        outcomes = record_match(ctx, conn, decisions, links)
    linked = f", {len(links)} remittance advice(s) linked" if links else ""
    ctx.report(f"matched {len(decisions)} payment(s): {outcomes}{linked}")
    return {"decisions": len(decisions), "outcomes": outcomes}


def record_match(
    ctx: JobContext, conn: sa.Connection, decisions: Sequence[Decision], links: Sequence[AdviceLink]
) -> dict[str, int]:
    """Record decisions and advice links, with their audit events; return the outcomes
    counted (`match`, and the match step's parts on the workers)."""
    outcomes: dict[str, int] = {}
    for decision in decisions:
        outcomes[decision.outcome.value] = outcomes.get(decision.outcome.value, 0) + 1
    store.record_decisions(conn, decisions, host=ctx.books.name, run_id=ctx.run_id, at=ctx.now())
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
                    "exception": decision.exception.reason.value if decision.exception else None,
                },
            )
            for decision in decisions
        ],
    )
    return outcomes


# Write-back statuses still owed to the host; `confirmed` and `refused` rows are settled.
UNSETTLED = ("pending", "written")


def write_back(ctx: JobContext) -> Counts:
    """Post pending applications and exceptions to the books host, idempotently.

    Each row is marked `written` before the push (the intent) and `confirmed` with the
    host's id after it. A rerun pushes `pending` and `written` rows again; the host
    connector looks the idempotency key up first, so nothing is posted twice.

    A record the host refuses (a locked or paid invoice, a validation error) is marked
    `refused` with the host's message and never pushed again; the rest goes on. The money
    of a refused application goes to the clerk as a `host_refused` exception, recorded in
    the refusal's transaction and pushed with the other exceptions of this run.
    """
    host = ctx.books.name
    with ctx.engine.connect() as conn:
        app_rows = conn.execute(
            sa.select(applications)
            .where(applications.c.host == host, applications.c.writeback_status.in_(UNSETTLED))
            # By payment first: the host sees the same order whatever order the match step's
            # shards (workers) stored their decisions in.
            .order_by(applications.c.payment_id, applications.c.id)
        ).all()
        payments = store.load_payments(conn, [row.payment_id for row in app_rows])
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
    written, apps_refused = _push(
        ctx, applications, app_writes, ctx.books.push_applications, "application"
    )
    # Read after the applications' push: it may have queued host_refused exceptions.
    with ctx.engine.connect() as conn:
        exc_rows = conn.execute(
            sa.select(exception_items)
            .where(
                exception_items.c.host == host, exception_items.c.writeback_status.in_(UNSETTLED)
            )
            .order_by(exception_items.c.payment_id, exception_items.c.id)
        ).all()
        payments = store.load_payments(conn, [row.payment_id for row in exc_rows])
    exc_writes = [
        ExceptionWrite(row.idempotency_key, payments[row.payment_id], store.exception_from_row(row))
        for row in exc_rows
    ]
    excepted, excs_refused = _push(
        ctx, exception_items, exc_writes, ctx.books.push_exceptions, "exception"
    )
    closed, closes_refused = _push_resolutions(ctx)
    refusals = apps_refused + excs_refused + closes_refused
    refused = f", {refusals} refused" if refusals else ""
    ctx.report(f"wrote back {written} application(s), {excepted} exception(s) to {host}{refused}")
    return {
        "applications_written": written,
        "exceptions_written": excepted,
        "resolutions_written": closed,
        "applications_refused": apps_refused,
        "exceptions_refused": excs_refused,
        "resolutions_refused": closes_refused,
    }


RESOLUTION_ENTITY = "resolution"  # `bindings.entity` of a clerk's decision for the host


def _push_resolutions(ctx: JobContext) -> tuple[int, int]:
    """Write the on-account / not-ours decisions of `ctx.books` not confirmed yet to the
    host: intent -> written before the push, confirmed with the host's id after (as
    `steps.write_back` does for applications); one the host refuses (its exception never
    reached it, say) is kept `refused` and not pushed again. Returns (how many the host
    did not hold, how many it refused)."""
    host = ctx.books.name
    pending = (bindings.c.host == host) & (bindings.c.entity == RESOLUTION_ENTITY)
    with ctx.engine.connect() as conn:
        keys = set(
            conn.scalars(
                sa.select(bindings.c.local_id).where(
                    pending, bindings.c.status.in_(("intent", "written"))
                )
            )
        )
        if not keys:
            return 0, 0
        resolved = conn.execute(
            sa.select(exception_items.c.payment_id, exception_items.c.resolution).where(
                exception_items.c.host == host, exception_items.c.status == "resolved"
            )
        ).all()
    writes = [
        ResolutionWrite(
            row.resolution["idempotency_key"],
            row.payment_id,
            row.resolution["action"],
            row.resolution["invoice_id"],
            row.resolution["note"] or "",
            row.resolution["by"],
        )
        for row in resolved
        if (row.resolution or {}).get("idempotency_key") in keys
    ]
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.update(bindings)
            .where(pending, bindings.c.local_id.in_(sorted(keys)), bindings.c.status == "intent")
            .values(status="written", updated_at=ctx.now())
        )
    results = ctx.books.push_resolutions(writes)
    taken = [result for result in results if result.refused is None]
    by_key = {write.idempotency_key: write for write in writes}
    with ctx.engine.begin() as conn:
        for result in results:
            if result.refused is not None:
                key = result.idempotency_key
                if store.record_binding_refusal(conn, host, RESOLUTION_ENTITY, key, ctx.now()):
                    write = by_key[key]
                    _audit_refusal(
                        ctx,
                        conn,
                        "resolution",
                        key,
                        write.payment_id,
                        write.invoice_id,
                        None,
                        result.refused,
                    )
                continue
            conn.execute(
                sa.update(bindings)
                .where(pending, bindings.c.local_id == result.idempotency_key)
                .values(status="confirmed", external_id=result.external_id, updated_at=ctx.now())
            )
        ctx.audit_many(
            conn,
            [
                (
                    "resolution_confirmed",
                    result.idempotency_key,
                    {
                        "host": host,
                        "external_id": result.external_id,
                        "already_present": result.already_present,
                    },
                )
                for result in taken
            ],
        )
    return sum(not result.already_present for result in taken), len(results) - len(taken)


def _push(
    ctx: JobContext, table: sa.Table, writes: list, push: Callable, kind: str
) -> tuple[int, int]:
    """Push `writes` (intent `written` first), confirm what the host took and record what
    it refused. Returns (records the host did not hold before, records it refused)."""
    if not writes:
        return 0, 0
    keys = [write.idempotency_key for write in writes]
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(table.c.idempotency_key.in_(keys), table.c.writeback_status == "pending")
            .values(writeback_status="written")
        )
    results = push(writes)
    taken = [result for result in results if result.refused is None]
    refusals = [result for result in results if result.refused is not None]
    with ctx.engine.begin() as conn:
        if taken:
            conn.execute(
                sa.update(table)
                .where(table.c.idempotency_key == sa.bindparam("key"))
                .values(writeback_status="confirmed", external_id=sa.bindparam("external"))
                .execution_options(synchronize_session=False),
                [{"key": r.idempotency_key, "external": r.external_id} for r in taken],
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
                for result in taken
            ],
        )
        by_key = {write.idempotency_key: write for write in writes}
        _record_refusals(ctx, conn, table, kind, [(by_key[r.idempotency_key], r) for r in refusals])
    return sum(not result.already_present for result in taken), len(refusals)


def _record_refusals(
    ctx: JobContext,
    conn: sa.Connection,
    table: sa.Table,
    kind: str,
    refusals: list[tuple[ApplicationWrite | ExceptionWrite, WriteResult]],
) -> None:
    """Mark each refused row `refused` with the host's message and audit it; queue the money
    of a refused application for the clerk as a `host_refused` exception."""
    host = ctx.books.name
    invoice_ids = [_refused_invoice(write) for write, _ in refusals]
    numbers = store.invoice_numbers(conn, host, [i for i in invoice_ids if i is not None])
    for (write, result), invoice_id in zip(refusals, invoice_ids, strict=True):
        message = result.refused or ""
        if not store.record_refusal(conn, table, write.idempotency_key, message):
            continue
        number = numbers.get(invoice_id, invoice_id) if invoice_id is not None else None
        _audit_refusal(
            ctx,
            conn,
            kind,
            write.idempotency_key,
            write.payment.payment_id,
            invoice_id,
            number,
            message,
        )
        if isinstance(write, ApplicationWrite):
            store.insert_host_refused_exception(
                conn,
                _host_refused_item(host, write, number or write.application.invoice_id, message),
                write.idempotency_key,
                host=host,
                run_id=ctx.run_id,
                at=ctx.now(),
            )


def _audit_refusal(
    ctx: JobContext,
    conn: sa.Connection,
    kind: str,
    key: str,
    payment_id: str,
    invoice_id: str | None,
    number: str | None,
    message: str,
) -> None:
    """The `<kind>_refused` audit event of a refused write, and its progress line."""
    host = ctx.books.name
    ctx.audit(
        conn,
        f"{kind}_refused",
        key,
        host=host,
        message=message,
        payment_id=payment_id,
        invoice_id=invoice_id,
        invoice_number=number,
    )
    ctx.report(
        f"{host} refused the {kind} of payment {payment_id}"
        f"{f' to invoice {number}' if number else ''}: {message}"
    )


def _refused_invoice(write: ApplicationWrite | ExceptionWrite) -> str | None:
    """The invoice a refused record names: the application's, or an exception's first
    suggestion (None: an exception with no suggestion)."""
    if isinstance(write, ApplicationWrite):
        return write.application.invoice_id
    return write.item.suggestions[0].invoice_id if write.item.suggestions else None


def _host_refused_item(
    host: str, write: ApplicationWrite, number: str, message: str
) -> ExceptionItem:
    """The exception for the money of a refused application: its amount, the host's words
    as the reason, and the refused invoice as the first suggestion (with the match's why)."""
    application = write.application
    refused = Reason(
        ExceptionReason.HOST_REFUSED.value,
        f"{host} refused applying {application.amount} to invoice {number}: {message}",
    )
    return ExceptionItem(
        payment_id=write.payment.payment_id,
        reason=ExceptionReason.HOST_REFUSED,
        amount=application.amount,
        suggestions=(
            Suggestion(application.invoice_id, write.confidence, (refused, *write.reasons)),
        ),
        reasons=(refused,),
    )


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
    # The EDI steps write EDI statuses into the books host beside write-back's writes.
    **{name: _per_books_host(step) for name, step in EDI_STEPS.items()},
}
