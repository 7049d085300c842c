"""Ledger locks: one run of a job at a time, and one user of a books host's state at a time.

The job lock is a row per job in the ledger that survives crashes. It names the run,
the process id and the host that hold it. A lock left by a process that died (same
host, pid no longer alive) is stale: the next run takes it over and says so in the
audit log. A lock held from another host cannot be checked
from here, so it is refused with the holder named. Functions work inside the
caller's transaction (on SQLite that transaction already holds the write lock; on
PostgreSQL the row is read `FOR UPDATE`).

The books host lock (`books_host_lock`) serialises the steps that read or write a books
host's state across every process and worker sharing a PostgreSQL ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync_jobs.ledger.audit import append_event
from sync_jobs.ledger.errors import LedgerError
from sync_jobs.ledger.schema import job_locks


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a job's lock."""

    run_id: str
    pid: int
    host: str
    acquired_at: datetime


class JobLockedError(LedgerError):
    """The job is running elsewhere (or its lock cannot be proven stale)."""

    def __init__(self, job: str, holder: LockHolder) -> None:
        self.job = job
        self.holder = holder
        super().__init__(
            f"job `{job}` is already running: run {holder.run_id}, pid {holder.pid} on "
            f"{holder.host}, since {holder.acquired_at.isoformat()}"
        )


def acquire_job_lock(
    conn: sa.Connection,
    *,
    job: str,
    run_id: str,
    pid: int,
    host: str,
    at: datetime,
    is_alive: Callable[[int], bool],
) -> LockHolder | None:
    """Take the job's lock for `run_id`; return the stale holder it replaced, if any.

    Raise `JobLockedError` when a live process (or one on another host) holds it.
    """
    held = conn.execute(
        sa.select(job_locks).where(job_locks.c.job == job).with_for_update()
    ).first()
    values = {"run_id": run_id, "pid": pid, "host": host, "acquired_at": at}
    if held is None:
        conn.execute(sa.insert(job_locks).values(job=job, **values))
        return None
    holder = LockHolder(held.run_id, held.pid, held.host, held.acquired_at)
    if holder.host != host or is_alive(holder.pid):
        raise JobLockedError(job, holder)
    conn.execute(sa.update(job_locks).where(job_locks.c.job == job).values(**values))
    append_event(
        conn,
        actor=f"job:{job}",
        event="job_lock_taken_over",
        subject=run_id,
        payload={"stale_run_id": holder.run_id, "stale_pid": holder.pid, "host": host},
        at=at,
    )
    return holder


def release_job_lock(conn: sa.Connection, *, job: str, run_id: str) -> None:
    """Release the job's lock if `run_id` still holds it."""
    conn.execute(sa.delete(job_locks).where(job_locks.c.job == job, job_locks.c.run_id == run_id))


def _advisory_key(name: str) -> int:
    # PostgreSQL advisory locks take a signed 64-bit key: the first 8 bytes of a digest.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def books_host_lock(engine: sa.Engine, host: str) -> Iterator[None]:
    """Hold the books host's lock while a step reads or writes its state (the invoices'
    open amounts, the host's write-back journal): at most one holder across every process
    and machine sharing a PostgreSQL ledger.

    A session-level advisory lock on a connection of its own, so the step's own
    transactions may commit while it is held; PostgreSQL releases it when the connection
    ends, so a worker that dies leaves no stale lock. On SQLite it is a no-op: a SQLite
    ledger serves one process (the config refuses `[workers]` with it), and there each
    transaction already holds the database's write lock.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = _advisory_key(f"arlink.books:{host}")
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
