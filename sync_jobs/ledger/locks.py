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

import fcntl
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
def _file_lock(database: str | None, host: str) -> Iterator[None]:
    if not database or database == ":memory:":  # one connection, one process: nothing to share
        yield
        return
    name = hashlib.sha256(host.encode()).hexdigest()[:16]
    path = Path(database).with_name(f"{Path(database).name}.books-{name}.lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def books_host_lock(engine: sa.Engine, host: str) -> Iterator[None]:
    """Hold the books host's lock while a step reads or writes its state (the invoices'
    open amounts, the host's write-back journal): at most one holder across every process
    and machine sharing a PostgreSQL ledger.

    On PostgreSQL, a session-level advisory lock on a connection of its own, so the
    step's own transactions may commit while it is held; PostgreSQL releases it when the
    connection ends, so a worker that dies leaves no stale lock. On a SQLite ledger, an
    exclusive `flock` on a file beside the database: `arlink web` and a scheduled
    `arlink run` are two processes on one machine that both write to the books host; the
    kernel drops the lock with a dead process's file descriptors.
    """
    if engine.dialect.name == "sqlite":
        with _file_lock(engine.url.database, host):
            yield
        return
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
