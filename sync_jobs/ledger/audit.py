"""The audit log: append-only events, each hash-chained to the one before it.

Every event stores `hash = sha256(canonical JSON of {seq, at, actor, event, subject,
payload, prev_hash})`, where `prev_hash` is the previous event's hash (64 zeros for
the first). Changing any stored field of an event, or deleting or inserting one in
the middle, breaks the chain at that event. Deleting the *last* events leaves a
valid shorter chain, so the head (last seq and hash) is also kept in the one-row
`audit_head` table, updated in the same transaction as each append; `verify_chain`
checks the log against it. What the chain cannot reveal is a rewrite of every
later hash *and* the head together: anchoring the head outside the database
(printing it in run summaries, shipping it to a log host) is what closes that gap.

Canonical JSON: keys sorted, separators `,` and `:`, UTF-8 (no ASCII escaping), no
NaN or infinity; `at` as ISO 8601 in UTC with microseconds
(`2024-06-01T12:00:00.000000+00:00`). Changing this format invalidates every
existing chain, so a test pins it.

Payloads must never contain secrets (passwords, tokens, full URLs with query
strings, bank account numbers): an append-only log cannot be scrubbed without
breaking its chain. Record ids, counts, statuses and digests instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sync_jobs.ledger.errors import LedgerError
from sync_jobs.ledger.schema import GENESIS_HASH, audit_head, audit_log

_HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of `verify_chain`: ok, or the first event where the chain breaks and why."""

    ok: bool
    events: int
    first_bad_seq: int | None
    problem: str | None


def canonical_json(value: Any) -> bytes:
    """The one serialisation the hashes are computed over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    event: str,
    subject: str,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 hex digest that chains one event to the previous one."""
    body = {
        "seq": seq,
        "at": _iso_utc(at),
        "actor": actor,
        "event": event,
        "subject": subject,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _json_native(payload: Mapping[str, Any]) -> dict[str, Any]:
    # Store exactly what was hashed: the JSON round trip turns tuples into lists and
    # refuses Decimals, datetimes and NaN instead of letting the database coerce them.
    if not isinstance(payload, Mapping):
        raise TypeError(f"`payload` must be a mapping, found {type(payload).__name__}")
    try:
        return json.loads(canonical_json(payload))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "`payload` must hold only JSON values (str, int, float, bool, None, lists, "
            f"str-keyed dicts; money as Decimal strings or minor units): {exc}"
        ) from None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event to append: who did what to which subject, with JSON facts, and when."""

    actor: str
    event: str
    subject: str
    payload: Mapping[str, Any]
    at: datetime


def append_event(
    conn: sa.Connection,
    *,
    actor: str,
    event: str,
    subject: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> int:
    """Append one event inside the caller's transaction and return its seq.

    `payload` must be JSON values only and must never contain secrets.
    """
    (seq,) = append_events(conn, [AuditEvent(actor, event, subject, payload, at)])
    return seq


def append_events(conn: sa.Connection, events: Sequence[AuditEvent]) -> list[int]:
    """Append events in order inside the caller's transaction; return their seqs.

    One read of the head, one batched insert and one head update, however many events:
    a run that records thousands of decisions pays three round trips, not three each.
    """
    rows = []
    for item in events:
        if item.at.utcoffset() is None:
            raise ValueError(f"`at` must be a timezone-aware datetime, found {item.at!r}")
        for name in ("actor", "event", "subject"):
            text = getattr(item, name)
            if not text:
                raise ValueError(f"`{name}` must be a non-empty string, found {text!r}")
        rows.append((item, _json_native(item.payload)))
    if not rows:
        return []
    # Serialise appends by locking the head row: on PostgreSQL FOR UPDATE makes a
    # concurrent appender wait here until this transaction commits, then read the new
    # head. SQLite has no FOR UPDATE (SQLAlchemy omits it); there the engine's
    # BEGIN IMMEDIATE already holds the database write lock for the whole transaction.
    head = conn.execute(
        sa.select(audit_head.c.seq, audit_head.c.hash)
        .where(audit_head.c.id == _HEAD_ID)
        .with_for_update()
    ).one_or_none()
    if head is None:
        raise LedgerError("`audit_head` has no row: the ledger is not migrated or was altered")
    seq, prev_hash = head.seq, head.hash
    values = []
    for item, stored_payload in rows:
        seq += 1
        digest = event_hash(
            seq=seq,
            at=item.at,
            actor=item.actor,
            event=item.event,
            subject=item.subject,
            payload=stored_payload,
            prev_hash=prev_hash,
        )
        values.append(
            {
                "seq": seq,
                "at": item.at,
                "actor": item.actor,
                "event": item.event,
                "subject": item.subject,
                "payload": stored_payload,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    conn.execute(sa.insert(audit_log), values)
    conn.execute(
        sa.update(audit_head).where(audit_head.c.id == _HEAD_ID).values(seq=seq, hash=prev_hash)
    )
    return [value["seq"] for value in values]


def verify_chain(conn: sa.Connection) -> ChainReport:
    """Recompute the whole chain and compare it with the stored hashes and the head."""
    events = 0
    first_bad_seq: int | None = None
    problem: str | None = None

    def fail(seq: int | None, text: str) -> None:
        nonlocal first_bad_seq, problem
        if problem is None:
            first_bad_seq, problem = seq, text

    expected_seq = 1
    prev_hash = GENESIS_HASH
    rows = conn.execute(
        sa.select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=1000)
    )
    for row in rows:
        events += 1
        if row.seq != expected_seq:
            fail(expected_seq, f"event {expected_seq} is missing (the next event is {row.seq})")
        if row.prev_hash != prev_hash:
            fail(row.seq, f"event {row.seq}: `prev_hash` is not the previous event's hash")
        recomputed = event_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            event=row.event,
            subject=row.subject,
            payload=row.payload,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            fail(row.seq, f"event {row.seq}: `hash` does not match its content")
        prev_hash = row.hash
        expected_seq = row.seq + 1

    last_seq = expected_seq - 1
    head = conn.execute(
        sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)
    ).one_or_none()
    if head is None:
        fail(None, "`audit_head` has no row")
    elif head.seq > last_seq:
        fail(last_seq + 1, f"events {last_seq + 1} to {head.seq} are missing at the end")
    elif head.seq < last_seq:
        fail(head.seq + 1, f"events after {head.seq} were added without updating the head")
    elif head.hash != prev_hash:
        fail(last_seq, f"event {last_seq}: `hash` differs from the head's hash")
    return ChainReport(
        ok=problem is None, events=events, first_bad_seq=first_bad_seq, problem=problem
    )
