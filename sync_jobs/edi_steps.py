"""The EDI steps of a job: build, validate, deliver invoices to a trading partner, read answers.

Each step works from the ledger's `edi_documents` (one row per invoice rendered for the
job's partner) and records its outcome there, so a rerun after a crash picks up what is
not done and repeats nothing:

- `edi-build`: the partner's customers' open invoices not yet sent (or sent and rejected,
  or invalid, and corrected since) are pulled as documents from the books host and
  rendered; the control numbers are taken from `edi_control_numbers` in the transaction
  that records the document, so a number is never given twice nor reused.
- `edi-validate`: every finding of `edi.validate` plus the history checks (control and
  invoice numbers already used with the partner). An invalid document is never sent; its
  findings go to the books host as an exception on the invoice, in the clerk's words.
- `edi-deliver`: each valid document is put through the partner's transport (temp name,
  then rename), named by its interchange control number. A crash after the put and
  before the ledger records it leaves the file there: the rerun sees it and only records.
- `edi-acks`: acknowledgment files from the partner (997, 999, TA1, CONTRL, 824, APERAK),
  read once each by digest (one that does not parse is quarantined), joined to the
  documents sent; statuses go to the ledger and the host. Documents past the partner's
  deadline with no answer become `overdue`.

Each status change reaches the books host through `push_edi_status`; `host_status` in the
ledger lags `status` until the host confirms, so a status a crash left unwritten is
written by the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connectors.errors import FixConfigError
from connectors.folder import FolderTransport
from connectors.protocols import EdiBooksHost, FileTransport
from edi.ack_join import SentInvoice, join_acknowledgments, overdue
from edi.acks import AckStatus, read_acknowledgments
from edi.build_edifact import EdifactEnvelope, render_invoic
from edi.build_x12 import Envelope, render_810
from edi.findings import Finding, Severity, has_reject
from edi.history import History, history_findings
from edi.profile import PartnerProfile
from edi.validate import validate
from mappings.invoice_document import InvoiceDocument
from mappings.records import EdiStatusWrite, WriteResult, idempotency_key
from sync_jobs import store
from sync_jobs.config import Config, EdiPartnerConfig
from sync_jobs.edi_cli import load_partner_profile
from sync_jobs.ledger.schema import edi_ack_files, edi_control_numbers, edi_documents
from sync_jobs.wiring import build_source

if TYPE_CHECKING:
    from sync_jobs.steps import JobContext

Counts = dict[str, int | dict[str, int]]

# Statuses of a document that went out and may still be answered.
DELIVERED = ("sent", "received", "overdue", "accepted", "accepted_with_errors", "rejected")
# How far an answer goes: a later file never moves a document back (a 997 accepting after
# an 824 rejected it leaves it rejected).
_RANK = {
    "sent": 0,
    "overdue": 0,
    "received": 1,
    "accepted": 2,
    "accepted_with_errors": 3,
    "rejected": 4,
}
_ACK_STATUS = {
    AckStatus.RECEIVED: "received",
    AckStatus.ACCEPTED: "accepted",
    AckStatus.PARTIALLY_ACCEPTED: "accepted_with_errors",
    AckStatus.ACCEPTED_WITH_ERRORS: "accepted_with_errors",
    AckStatus.REJECTED: "rejected",
}
# Statuses the books host hears about (`built` and `valid` are arlink's own business).
HOST_STATUSES = ("invalid", *DELIVERED)
# An invoice whose last document ended here is built again once corrected in the books.
_REBUILD = ("invalid", "rejected")


@dataclass(frozen=True, slots=True)
class EdiJob:
    """A job's trading partner: its settings, profile, and where files go and come from."""

    partner: str
    settings: EdiPartnerConfig
    profile: PartnerProfile
    outbound: FileTransport
    inbound: FileTransport | None


def edi_job(config: Config, job_name: str) -> EdiJob | None:
    """The EDI partner of job `job_name` with its transports built; None without one."""
    partner = config.jobs[job_name].edi_partner
    if partner is None:
        return None
    spec = config.edi.partners[partner]

    def transport(source: str | None, folder: Any, role: str) -> FileTransport | None:
        if source is not None:
            return build_source(config, source)
        if folder is not None:
            return FolderTransport(f"edi-{partner}-{role}", folder)
        return None

    outbound = transport(spec.deliver_to, spec.deliver_folder, "out")
    assert outbound is not None  # the config requires one of the two
    return EdiJob(
        partner,
        spec,
        load_partner_profile(spec.profile),
        outbound,
        transport(spec.acks_from, spec.acks_folder, "acks"),
    )


def _edi(ctx: JobContext) -> tuple[EdiJob, EdiBooksHost]:
    if ctx.edi is None:
        raise FixConfigError(
            f"job `{ctx.job}`: the EDI steps need the job's trading partner "
            "(`edi_partner` in [jobs], one of [edi.partners])"
        )
    if not isinstance(ctx.books, EdiBooksHost):
        raise FixConfigError(
            f"books host `{ctx.books.name}`: this host cannot give invoice documents yet "
            "(EDI needs `pull_invoice_documents` and `push_edi_status`)"
        )
    return ctx.edi, ctx.books


def document_digest(document: InvoiceDocument) -> str:
    """A fingerprint of the canonical document: a corrected invoice has another."""
    return hashlib.sha256(repr(document).encode()).hexdigest()


# -- edi-build -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    """One document's numbers: ISA13 / GS06 / ST02, or UNB 0020 / (none) / UNH 0062."""

    interchange: int
    group: int
    set: int


def allocate_control_numbers(
    conn: sa.Connection, partner: str, first: int, at: datetime
) -> ControlNumbers:
    """Take the partner's next control numbers, in the caller's transaction (the one that
    records the document), so they are used once: a rollback gives them back unused."""
    row = conn.execute(
        sa.select(edi_control_numbers)
        .where(edi_control_numbers.c.partner == partner)
        .with_for_update()
    ).first()
    if row is None:
        numbers = ControlNumbers(first, first, first)
        conn.execute(
            sa.insert(edi_control_numbers).values(
                partner=partner,
                next_interchange=first + 1,
                next_group=first + 1,
                next_set=first + 1,
                updated_at=at,
            )
        )
        return numbers
    numbers = ControlNumbers(row.next_interchange, row.next_group, row.next_set)
    conn.execute(
        sa.update(edi_control_numbers)
        .where(edi_control_numbers.c.partner == partner)
        .values(
            next_interchange=numbers.interchange + 1,
            next_group=numbers.group + 1,
            # ST02 / UNH 0062 are 4 to 9 digits: wrap before they outgrow the field.
            next_set=numbers.set % 999_999_999 + 1,
            updated_at=at,
        )
    )
    return numbers


def next_control_numbers(conn: sa.Connection, partner: str, first: int) -> ControlNumbers:
    """The numbers the partner's next document will get (nothing is taken)."""
    row = conn.execute(
        sa.select(edi_control_numbers).where(edi_control_numbers.c.partner == partner)
    ).first()
    if row is None:
        return ControlNumbers(first, first, first)
    return ControlNumbers(row.next_interchange, row.next_group, row.next_set)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered document: bytes, the segment list, its controls as sent and a file name."""

    data: bytes
    segments: list[list[str]]
    interchange_control: str
    group_control: str
    set_control: str
    file_name: str


def render_document(
    document: InvoiceDocument,
    partner: str,
    spec: EdiPartnerConfig,
    numbers: ControlNumbers,
    at: datetime,
) -> Rendered:
    """Render `document` for the partner in its standard, version and envelope."""
    if spec.standard == "x12":
        data, segments = render_810(
            document,
            Envelope(
                sender_qualifier=spec.sender_qualifier,
                sender_id=spec.sender_id,
                receiver_qualifier=spec.receiver_qualifier,
                receiver_id=spec.receiver_id,
                interchange_control=numbers.interchange,
                group_control=numbers.group,
                set_control=numbers.set,
                sent_on=at.date(),
                sent_at=at.time(),
                usage_indicator=spec.usage_indicator,
                version=spec.version,
            ),
        )
        return Rendered(
            data,
            segments,
            f"{numbers.interchange:09d}",
            str(numbers.group),
            f"{numbers.set:04d}",
            f"{partner}-{numbers.interchange:09d}.x12",
        )
    data, segments = render_invoic(
        document,
        EdifactEnvelope(
            sender_id=spec.sender_id,
            recipient_id=spec.receiver_id,
            interchange_control=numbers.interchange,
            message_reference=numbers.set,
            sent_on=at.date(),
            sent_at=at.time(),
            directory=spec.version,
            sender_qualifier=spec.sender_qualifier,
            recipient_qualifier=spec.receiver_qualifier,
            test=spec.usage_indicator == "T",
        ),
    )
    return Rendered(
        data,
        segments,
        str(numbers.interchange),
        "",
        str(numbers.set),
        f"{partner}-{numbers.interchange:09d}.edi",
    )


def _last_documents(conn: sa.Connection, partner: str) -> dict[str, sa.Row[Any]]:
    """Each invoice's latest document for the partner."""
    rows = conn.execute(
        sa.select(edi_documents.c.invoice_id, edi_documents.c.status, edi_documents.c.source_digest)
        .where(edi_documents.c.partner == partner)
        .order_by(edi_documents.c.id)
    ).all()
    return {row.invoice_id: row for row in rows}


def edi_build(ctx: JobContext) -> Counts:
    """Render the partner's customers' open invoices that have not gone to it yet."""
    edi, books = _edi(ctx)
    customers = set(edi.settings.customers)
    with ctx.engine.connect() as conn:
        candidates = [
            invoice.invoice_id
            for invoice in store.load_open_invoices(conn, books.name)
            if invoice.customer_id in customers
        ]
        last = _last_documents(conn, edi.partner)
    wanted = [i for i in candidates if i not in last or last[i].status in _REBUILD]
    documents = books.pull_invoice_documents(wanted) if wanted else {}
    built = unchanged = 0
    for invoice_id in wanted:
        document = documents.get(invoice_id)
        if document is None:
            continue  # gone from the host since the pull: nothing to send
        digest = document_digest(document)
        if invoice_id in last and last[invoice_id].source_digest == digest:
            unchanged += 1  # failed as it is: waits for the clerk's correction
            continue
        with ctx.engine.begin() as conn:
            at = ctx.now()
            numbers = allocate_control_numbers(
                conn, edi.partner, edi.settings.first_control_number, at
            )
            rendered = render_document(document, edi.partner, edi.settings, numbers, at)
            conn.execute(
                sa.insert(edi_documents).values(
                    partner=edi.partner,
                    host=books.name,
                    invoice_id=invoice_id,
                    invoice_number=document.invoice_number,
                    standard=edi.settings.standard,
                    interchange_control=rendered.interchange_control,
                    group_control=rendered.group_control,
                    set_control=rendered.set_control,
                    file_name=rendered.file_name,
                    content=rendered.data,
                    digest=hashlib.sha256(rendered.data).hexdigest(),
                    source_digest=digest,
                    segments=rendered.segments,
                    status="built",
                    built_at=at,
                    run_id=ctx.run_id,
                )
            )
            ctx.audit(
                conn,
                "edi_built",
                invoice_id,
                partner=edi.partner,
                invoice_number=document.invoice_number,
                interchange_control=rendered.interchange_control,
            )
        built += 1
    ctx.report(f"edi: built {built} invoice(s) for {edi.partner}, {unchanged} awaiting correction")
    return {"edi_built": built, "edi_awaiting_correction": unchanged}


# -- edi-validate --------------------------------------------------------------------


def partner_history(conn: sa.Connection, partner: str, leave_out: int) -> History:
    """What went to the partner before document `leave_out`: every control number taken,
    and the invoice numbers delivered and not rejected (a rejected one may be resent)."""
    rows = conn.execute(
        sa.select(
            edi_documents.c.interchange_control,
            edi_documents.c.group_control,
            edi_documents.c.invoice_number,
            edi_documents.c.status,
        ).where(edi_documents.c.partner == partner, edi_documents.c.id != leave_out)
    ).all()
    return History.of(
        (row.interchange_control for row in rows),
        (row.group_control for row in rows if row.group_control),
        (
            row.invoice_number
            for row in rows
            if row.status in DELIVERED and row.status != "rejected"
        ),
    )


def clerk_message(partner: str, findings: Iterable[Finding]) -> str:
    """Why an invoice was not sent, in the findings' own words (reject-level first)."""
    rejects = [f.message for f in findings if f.severity is Severity.REJECT]
    return f"not sent to {partner}: " + "; ".join(rejects)


def edi_validate(ctx: JobContext) -> Counts:
    """Validate every built document; an invalid one is held back and reported to the host."""
    edi, books = _edi(ctx)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(edi_documents.c.id, edi_documents.c.content, edi_documents.c.invoice_id)
            .where(edi_documents.c.partner == edi.partner, edi_documents.c.status == "built")
            .order_by(edi_documents.c.id)
        ).all()
    valid = invalid = 0
    for row in rows:
        with ctx.engine.begin() as conn:
            history = partner_history(conn, edi.partner, row.id)
            findings = validate(row.content, edi.profile, today=ctx.now().date())
            findings += history_findings(row.content, history)
            rejected = has_reject(findings)
            conn.execute(
                sa.update(edi_documents)
                .where(edi_documents.c.id == row.id)
                .values(
                    status="invalid" if rejected else "valid",
                    findings=[f.to_json() for f in findings],
                    message=clerk_message(edi.partner, findings) if rejected else None,
                    validated_at=ctx.now(),
                )
            )
            ctx.audit(
                conn,
                "edi_validated",
                row.invoice_id,
                partner=edi.partner,
                deliverable=not rejected,
                rules=sorted({f.rule for f in findings}),
            )
        invalid += rejected
        valid += not rejected
    pushed = push_statuses(ctx, edi, books)
    ctx.report(f"edi: {valid} valid, {invalid} held back as invalid for {edi.partner}")
    return {"edi_valid": valid, "edi_invalid": invalid, "edi_statuses_written": pushed}


# -- edi-deliver ---------------------------------------------------------------------


def edi_deliver(ctx: JobContext) -> Counts:
    """Put each valid document to the partner, once; record it as sent."""
    edi, books = _edi(ctx)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                edi_documents.c.id,
                edi_documents.c.file_name,
                edi_documents.c.content,
                edi_documents.c.invoice_id,
            )
            .where(edi_documents.c.partner == edi.partner, edi_documents.c.status == "valid")
            .order_by(edi_documents.c.id)
        ).all()
    present = set(edi.outbound.list()) if rows else set()
    sent = 0
    for row in rows:
        # Named by control number: a file already there is this document, put by a run that
        # stopped before recording it.
        already = row.file_name in present
        if not already:
            edi.outbound.put(row.file_name, row.content)
        with ctx.engine.begin() as conn:
            conn.execute(
                sa.update(edi_documents)
                .where(edi_documents.c.id == row.id)
                .values(status="sent", sent_at=ctx.now())
            )
            ctx.audit(
                conn,
                "edi_sent",
                row.invoice_id,
                partner=edi.partner,
                file=row.file_name,
                transport=edi.outbound.name,
                already_present=already,
            )
        sent += 1
        ctx.report(f"edi: sent {row.file_name} to {edi.partner}")
    pushed = push_statuses(ctx, edi, books)
    return {"edi_sent": sent, "edi_statuses_written": pushed}


# -- edi-acks ------------------------------------------------------------------------


def _sent_invoices(rows: Iterable[sa.Row[Any]]) -> list[SentInvoice]:
    return [
        SentInvoice(
            row.invoice_number,
            row.interchange_control,
            row.group_control,
            row.set_control,
            tuple(tuple(segment) for segment in row.segments),
            row.sent_at,
        )
        for row in rows
    ]


def _delivered(conn: sa.Connection, partner: str) -> list[sa.Row[Any]]:
    """The partner's documents that went out and await or hold an answer (not rejected ones:
    an invoice resent after a rejection is answered for its new document)."""
    return list(
        conn.execute(
            sa.select(edi_documents)
            .where(
                edi_documents.c.partner == partner,
                edi_documents.c.status.in_([s for s in DELIVERED if s != "rejected"]),
            )
            .order_by(edi_documents.c.id)
        ).all()
    )


def _read_ack_file(
    ctx: JobContext, edi: EdiJob, name: str, data: bytes
) -> tuple[dict[str, int], str]:
    """Record one acknowledgment file and the statuses it gives, in one transaction.
    Returns the counts and the file's recorded status (`read` or `quarantined`)."""
    digest = hashlib.sha256(data).hexdigest()
    counts = {"files": 0, "duplicates": 0, "quarantined": 0, "updated": 0}
    with ctx.engine.begin() as conn:
        seen = conn.scalar(
            sa.select(edi_ack_files.c.status).where(edi_ack_files.c.digest == digest)
        )
        if seen is not None:
            ctx.audit(conn, "edi_ack_duplicate", digest, partner=edi.partner, name=name)
            counts["duplicates"] = 1
            return counts, seen
        record = {
            "digest": digest,
            "partner": edi.partner,
            "name": name,
            "received_at": ctx.now(),
            "run_id": ctx.run_id,
        }
        try:
            inbound = read_acknowledgments(data)
        except ValueError as exc:
            conn.execute(
                sa.insert(edi_ack_files).values(**record, status="quarantined", reason=str(exc))
            )
            ctx.audit(conn, "edi_ack_quarantined", digest, name=name, reason=str(exc))
            ctx.report(f"edi: quarantined acknowledgment {name}: {exc}")
            counts["quarantined"] = 1
            return counts, "quarantined"
        conn.execute(sa.insert(edi_ack_files).values(**record, status="read"))
        rows = _delivered(conn, edi.partner)
        by_number = {row.invoice_number: row for row in rows}
        statuses = join_acknowledgments(
            _sent_invoices(rows), inbound.acknowledgments, inbound.advices
        )
        for answer in statuses:
            row = by_number[answer.invoice_number]
            status = _ACK_STATUS[answer.status]
            if _RANK[status] <= _RANK[row.status]:
                continue
            conn.execute(
                sa.update(edi_documents)
                .where(edi_documents.c.id == row.id)
                .values(status=status, message=answer.summary(), acknowledged_at=ctx.now())
            )
            ctx.audit(
                conn,
                "edi_acknowledged",
                row.invoice_id,
                partner=edi.partner,
                status=status,
                file=name,
                errors=[error.message for error in answer.errors],
            )
            counts["updated"] += 1
        counts["files"] = 1
    ctx.report(f"edi: read acknowledgment {name}: {counts['updated']} invoice status(es) changed")
    return counts, "read"


def mark_overdue(ctx: JobContext, edi: EdiJob) -> list[str]:
    """Mark documents sent with no answer past the partner's deadline `overdue`; audit and
    report each. Returns their invoice numbers."""
    deadline = timedelta(hours=edi.profile.ack_deadline_hours)
    with ctx.engine.begin() as conn:
        rows = [row for row in _delivered(conn, edi.partner) if row.status == "sent"]
        late = overdue(_sent_invoices(rows), (), deadline, ctx.now())
        by_number = {row.invoice_number: row for row in rows}
        for item in late:
            row = by_number[item.invoice_number]
            hours = int(item.late_by.total_seconds() // 3600)
            message = (
                f"no acknowledgment from {edi.partner} for interchange "
                f"{row.interchange_control}, due {item.due_at:%Y-%m-%d %H:%M} UTC "
                f"({hours} h late): ask the partner or the VAN whether the file arrived"
            )
            conn.execute(
                sa.update(edi_documents)
                .where(edi_documents.c.id == row.id)
                .values(status="overdue", message=message)
            )
            ctx.audit(
                conn,
                "edi_ack_overdue",
                row.invoice_id,
                partner=edi.partner,
                invoice_number=item.invoice_number,
                interchange_control=row.interchange_control,
                due_at=item.due_at.isoformat(),
            )
            ctx.report(f"edi: overdue: invoice {item.invoice_number}: {message}")
    return [item.invoice_number for item in late]


def edi_acks(ctx: JobContext) -> Counts:
    """Read the partner's acknowledgment files, set statuses, flag overdue answers."""
    edi, books = _edi(ctx)
    totals = {"files": 0, "duplicates": 0, "quarantined": 0, "updated": 0}
    if edi.inbound is not None:
        for name in edi.inbound.list():
            counts, status = _read_ack_file(ctx, edi, name, edi.inbound.fetch(name))
            for key, value in counts.items():
                totals[key] += value
            # Moved only once recorded: a crash before this re-lists the file, and its
            # digest says what became of it.
            if status == "quarantined":
                edi.inbound.quarantine(name)
            else:
                edi.inbound.archive(name)
    late = mark_overdue(ctx, edi)
    pushed = push_statuses(ctx, edi, books)
    return {
        "edi_ack_files": totals["files"],
        "edi_ack_duplicates": totals["duplicates"],
        "edi_ack_quarantined": totals["quarantined"],
        "edi_statuses_changed": totals["updated"],
        "edi_overdue": len(late),
        "edi_statuses_written": pushed,
    }


# -- statuses to the books host ------------------------------------------------------


def push_statuses(ctx: JobContext, edi: EdiJob, books: EdiBooksHost) -> int:
    """Write each status the host has not confirmed yet; return how many were new there."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(edi_documents)
            .where(
                edi_documents.c.partner == edi.partner,
                edi_documents.c.status.in_(HOST_STATUSES),
                sa.or_(
                    edi_documents.c.host_status.is_(None),
                    edi_documents.c.host_status != edi_documents.c.status,
                ),
            )
            .order_by(edi_documents.c.id)
        ).all()
    if not rows:
        return 0
    writes = {
        row.id: EdiStatusWrite(
            idempotency_key=idempotency_key(
                "edi", edi.partner, row.interchange_control, row.status
            ),
            invoice_id=row.invoice_id,
            invoice_number=row.invoice_number,
            partner=edi.partner,
            status=row.status,
            interchange_control=row.interchange_control,
            message=row.message
            or _STATUS_WORDS.get(row.status, row.status).format(partner=edi.partner),
            at=ctx.now(),
        )
        for row in rows
    }
    results = books.push_edi_status(list(writes.values()))
    by_key: Mapping[str, WriteResult] = {r.idempotency_key: r for r in results}
    with ctx.engine.begin() as conn:
        for row_id, write in writes.items():
            if write.idempotency_key in by_key:
                conn.execute(
                    sa.update(edi_documents)
                    .where(edi_documents.c.id == row_id, edi_documents.c.status == write.status)
                    .values(host_status=write.status)
                )
    return sum(not r.already_present for r in results)


_STATUS_WORDS = {
    "sent": "sent to {partner}; waiting for the acknowledgment",
    "received": "received by {partner}, not yet checked",
    "accepted": "accepted by {partner}",
}

EDI_STEPS = {
    "edi-build": edi_build,
    "edi-validate": edi_validate,
    "edi-deliver": edi_deliver,
    "edi-acks": edi_acks,
}
