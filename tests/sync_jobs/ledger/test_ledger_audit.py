"""The audit chain verifies when untouched and names the first bad event after any tampering."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from sync_jobs.ledger.audit import ChainReport, append_event, event_hash, verify_chain
from sync_jobs.ledger.errors import LedgerError
from sync_jobs.ledger.schema import GENESIS_HASH, audit_head, audit_log

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
EVENTS = 5


def _append(engine: sa.Engine, count: int, *, start: int = 0) -> list[int]:
    seqs = []
    with engine.begin() as conn:
        for i in range(start, start + count):
            seqs.append(
                append_event(
                    conn,
                    actor="job:daily",
                    event="payment.applied",
                    subject=f"payment:p{i}",
                    payload={"invoice": f"INV-{1040 + i}", "amount": "150.00", "lines": [i, i + 1]},
                    at=T0 + timedelta(seconds=i, microseconds=i),
                )
            )
    return seqs


def _verify(engine: sa.Engine) -> ChainReport:
    with engine.connect() as conn:
        return verify_chain(conn)


def _execute(engine: sa.Engine, statement: sa.Executable) -> None:
    with engine.begin() as conn:
        conn.execute(statement)


def test_empty_chain_verifies(ledger: sa.Engine) -> None:
    report = _verify(ledger)
    assert (report.ok, report.events, report.first_bad_seq, report.problem) == (True, 0, None, None)


def test_appended_events_chain_and_verify(ledger: sa.Engine) -> None:
    assert _append(ledger, EVENTS) == [1, 2, 3, 4, 5]

    report = _verify(ledger)
    assert report.ok
    assert report.events == EVENTS
    with ledger.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
        head = conn.execute(sa.select(audit_head)).one()
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    assert (head.seq, head.hash) == (EVENTS, rows[-1].hash)
    assert rows[0].at == T0


def test_chain_continues_across_transactions(ledger: sa.Engine) -> None:
    _append(ledger, 2)
    assert _append(ledger, 2, start=2) == [3, 4]
    assert _verify(ledger).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("payload", {"invoice": "INV-9999", "amount": "150.00", "lines": [2, 3]}),
        ("actor", "clerk:mallory"),
        ("event", "payment.reversed"),
        ("subject", "payment:other"),
        ("at", T0 + timedelta(days=1)),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_an_edited_event_is_the_first_bad_seq(
    ledger: sa.Engine, column: str, value: object
) -> None:
    _append(ledger, EVENTS)
    _execute(ledger, sa.update(audit_log).where(audit_log.c.seq == 3).values({column: value}))

    report = _verify(ledger)

    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.events == EVENTS
    assert report.problem is not None


def test_an_edit_with_recomputed_hash_is_caught_at_the_next_event(ledger: sa.Engine) -> None:
    _append(ledger, EVENTS)
    with ledger.begin() as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 3)).one()
        forged_payload = {"invoice": "INV-9999"}
        forged = event_hash(
            seq=3,
            at=row.at,
            actor=row.actor,
            event=row.event,
            subject=row.subject,
            payload=forged_payload,
            prev_hash=row.prev_hash,
        )
        conn.execute(
            sa.update(audit_log)
            .where(audit_log.c.seq == 3)
            .values(payload=forged_payload, hash=forged)
        )

    assert _verify(ledger).first_bad_seq == 4


def test_a_deleted_middle_event_is_detected(ledger: sa.Engine) -> None:
    _append(ledger, EVENTS)
    _execute(ledger, sa.delete(audit_log).where(audit_log.c.seq == 3))

    report = _verify(ledger)

    assert not report.ok
    assert report.first_bad_seq == 3
    assert "missing" in (report.problem or "")


def test_a_deleted_first_event_is_detected(ledger: sa.Engine) -> None:
    _append(ledger, EVENTS)
    _execute(ledger, sa.delete(audit_log).where(audit_log.c.seq == 1))

    assert _verify(ledger).first_bad_seq == 1


def test_renumbering_after_a_deletion_is_detected(ledger: sa.Engine) -> None:
    _append(ledger, EVENTS)
    with ledger.begin() as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 3))
        for seq in (4, 5):
            conn.execute(sa.update(audit_log).where(audit_log.c.seq == seq).values(seq=seq - 1))
        conn.execute(sa.update(audit_head).values(seq=EVENTS - 1))

    report = _verify(ledger)

    assert not report.ok
    assert report.first_bad_seq == 3


def test_a_deleted_last_event_is_detected_by_the_head(ledger: sa.Engine) -> None:
    _append(ledger, EVENTS)
    _execute(ledger, sa.delete(audit_log).where(audit_log.c.seq == EVENTS))

    report = _verify(ledger)

    assert not report.ok
    assert report.first_bad_seq == EVENTS
    assert report.events == EVENTS - 1


def test_an_event_added_behind_the_heads_back_is_detected(ledger: sa.Engine) -> None:
    _append(ledger, 2)
    with ledger.begin() as conn:
        last = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 2)).one()
        values = {"seq": 3, "at": T0, "actor": "x", "event": "y", "subject": "z", "payload": {}}
        conn.execute(
            sa.insert(audit_log).values(
                **values, prev_hash=last.hash, hash=event_hash(**values, prev_hash=last.hash)
            )
        )

    assert _verify(ledger).first_bad_seq == 3


def test_a_missing_head_is_reported_and_blocks_appends(ledger: sa.Engine) -> None:
    _execute(ledger, sa.delete(audit_head))

    assert not _verify(ledger).ok
    with ledger.begin() as conn, pytest.raises(LedgerError, match="audit_head"):
        append_event(conn, actor="a", event="e", subject="s", payload={}, at=T0)


def test_the_hash_follows_the_documented_canonical_form() -> None:
    at = T0
    payload = {"job": "daily", "amount": "1500.00", "note": "Müller"}
    documented = {
        "seq": 1,
        "at": "2024-06-01T12:00:00.000000+00:00",
        "actor": "job:daily",
        "event": "run.started",
        "subject": "run:abc",
        "payload": payload,
        "prev_hash": GENESIS_HASH,
    }
    text = json.dumps(documented, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    computed = event_hash(
        seq=1,
        at=at,
        actor="job:daily",
        event="run.started",
        subject="run:abc",
        payload=payload,
        prev_hash=GENESIS_HASH,
    )

    assert computed == hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Pinned: a change here would invalidate every chain already written.
    assert computed == "20f931b4f3a220f03d396d0bdb93b5a636b2d8f5b46e0d8f32396d1a0adac35a"


def test_the_hash_is_the_same_for_the_same_instant_in_any_zone() -> None:
    fields = {"seq": 1, "actor": "a", "event": "e", "subject": "s", "payload": {}}
    cest = timezone(timedelta(hours=2))
    assert event_hash(**fields, at=T0, prev_hash=GENESIS_HASH) == event_hash(
        **fields, at=T0.astimezone(cest), prev_hash=GENESIS_HASH
    )


def test_a_payload_is_stored_as_the_json_that_was_hashed(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        append_event(conn, actor="a", event="e", subject="s", payload={"ids": ("p1", "p2")}, at=T0)
    with ledger.connect() as conn:
        assert conn.execute(sa.select(audit_log.c.payload)).scalar_one() == {"ids": ["p1", "p2"]}
    assert _verify(ledger).ok


@pytest.mark.parametrize(
    "payload",
    [{"amount": Decimal("1.50")}, {"at": T0}, {"ratio": float("nan")}],
    ids=["decimal", "datetime", "nan"],
)
def test_a_payload_that_is_not_json_is_refused(ledger: sa.Engine, payload: dict) -> None:
    with ledger.begin() as conn, pytest.raises(ValueError, match="`payload`"):
        append_event(conn, actor="a", event="e", subject="s", payload=payload, at=T0)


def test_a_naive_timestamp_is_refused(ledger: sa.Engine) -> None:
    with ledger.begin() as conn, pytest.raises(ValueError, match="`at`"):
        append_event(
            conn, actor="a", event="e", subject="s", payload={}, at=datetime(2024, 6, 1, 12)
        )


def test_concurrent_appenders_keep_one_unbroken_chain(ledger: sa.Engine) -> None:
    writers, per_writer = 4, 15
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for i in range(per_writer):
                with ledger.begin() as conn:
                    append_event(
                        conn,
                        actor=f"worker:{writer}",
                        event="tick",
                        subject=f"tick:{i}",
                        payload={"i": i},
                        at=T0,
                    )
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    report = _verify(ledger)
    assert report.ok, report.problem
    assert report.events == writers * per_writer


def test_batched_appends_chain_like_single_ones(ledger: sa.Engine) -> None:
    from sync_jobs.ledger.audit import AuditEvent, append_events

    events = [AuditEvent("job:daily", "decision_recorded", f"p{i}", {"i": i}, T0) for i in range(5)]
    with ledger.begin() as conn:
        append_event(conn, actor="cli", event="first", subject="s", payload={}, at=T0)
        assert append_events(conn, events) == [2, 3, 4, 5, 6]
        assert append_events(conn, []) == []
    with ledger.connect() as conn:
        report = verify_chain(conn)
    assert report.ok
    assert report.events == 6
