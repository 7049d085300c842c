"""Job runs and their step checkpoints: what ran, how it ended, and where to resume.

A run is one execution of a job (`arlink run JOB`); a checkpoint records how far
each of its steps got, so a run that crashed can be resumed from the ledger
(`last_unfinished_run`, `step_status`). Every change is also an audit event. All
functions work inside the caller's transaction and never commit: the runner owns
the transaction. The clock is passed in (`at`), never read here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync_jobs.ledger._sql import upsert
from sync_jobs.ledger.audit import append_event
from sync_jobs.ledger.errors import LedgerError
from sync_jobs.ledger.schema import job_runs, step_checkpoints


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StepStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of `job_runs`."""

    run_id: str
    job: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, Any] | None
    error: str | None
    config_hash: str


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One row of `step_checkpoints`."""

    run_id: str
    step: str
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None
    detail: dict[str, Any] | None


def _run_record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        job=row.job,
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=row.counts,
        error=row.error,
        config_hash=row.config_hash,
    )


def _step_record(row: sa.Row[Any]) -> StepRecord:
    return StepRecord(
        run_id=row.run_id,
        step=row.step,
        status=StepStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        detail=row.detail,
    )


def _require_aware(at: datetime) -> None:
    if at.utcoffset() is None:
        raise ValueError(f"`at` must be a timezone-aware datetime, found {at!r}")


def _actor(job: str) -> str:
    return f"job:{job}"


def _subject(run_id: str) -> str:
    return f"run:{run_id}"


def start_run(conn: sa.Connection, job: str, config_hash: str, at: datetime) -> str:
    """Record that `job` started at `at` with the config of `config_hash`; return the run id."""
    _require_aware(at)
    if not job:
        raise ValueError(f"`job` must be a non-empty name, found {job!r}")
    run_id = uuid.uuid4().hex
    conn.execute(
        sa.insert(job_runs).values(
            run_id=run_id,
            job=job,
            status=RunStatus.RUNNING.value,
            started_at=at,
            config_hash=config_hash,
        )
    )
    append_event(
        conn,
        actor=_actor(job),
        event="run.started",
        subject=_subject(run_id),
        payload={"job": job, "config_hash": config_hash},
        at=at,
    )
    return run_id


def finish_run(
    conn: sa.Connection,
    run_id: str,
    status: RunStatus | str,
    counts: Mapping[str, Any] | None,
    error: str | None,
    at: datetime,
) -> None:
    """Close a running run as succeeded or failed, with its counts and (redacted) error text."""
    _require_aware(at)
    final = RunStatus(status)
    if final is RunStatus.RUNNING:
        raise ValueError("`status` must be `succeeded` or `failed`, found `running`")
    run = get_run(conn, run_id)
    if run is None:
        raise LedgerError(f"`run_id` {run_id!r} is not a recorded run")
    if run.status is not RunStatus.RUNNING:
        raise LedgerError(f"run {run_id!r} already finished as `{run.status}`")
    result = conn.execute(
        sa.update(job_runs)
        # Guarded on `running` too, so two finishers racing cannot both succeed.
        .where(job_runs.c.run_id == run_id, job_runs.c.status == RunStatus.RUNNING.value)
        .values(
            status=final.value,
            finished_at=at,
            counts=dict(counts) if counts is not None else None,
            error=error,
        )
    )
    if result.rowcount != 1:
        raise LedgerError(f"run {run_id!r} finished while this finish was being recorded")
    append_event(
        conn,
        actor=_actor(run.job),
        event="run.finished",
        subject=_subject(run_id),
        # The error text stays in `job_runs` only: it comes from outside systems, and
        # anything that slipped past redaction could never be removed from the chain.
        payload={
            "status": final.value,
            "counts": dict(counts) if counts is not None else None,
            "has_error": error is not None,
        },
        at=at,
    )


def checkpoint(
    conn: sa.Connection,
    run_id: str,
    step: str,
    status: StepStatus | str,
    detail: Mapping[str, Any] | None,
    at: datetime,
) -> None:
    """Record a step of a running run as running, done or failed (insert or update)."""
    _require_aware(at)
    step_state = StepStatus(status)
    run = get_run(conn, run_id)
    if run is None:
        raise LedgerError(f"`run_id` {run_id!r} is not a recorded run")
    if run.status is not RunStatus.RUNNING:
        raise LedgerError(f"run {run_id!r} already finished as `{run.status}`; start a new run")
    detail_value = dict(detail) if detail is not None else None
    if step_state is StepStatus.RUNNING:
        # (Re)starting a step, e.g. on resume after a crash: its clock starts again.
        insert_values = {"status": step_state.value, "started_at": at, "finished_at": None}
        update_values = dict(insert_values)
    else:
        insert_values = {"status": step_state.value, "started_at": at, "finished_at": at}
        update_values = {"status": step_state.value, "finished_at": at}
    upsert(
        conn,
        step_checkpoints,
        key={"run_id": run_id, "step": step},
        insert_values={**insert_values, "detail": detail_value},
        update_values={**update_values, "detail": detail_value},
    )
    append_event(
        conn,
        actor=_actor(run.job),
        event="step.checkpoint",
        subject=_subject(run_id),
        payload={"step": step, "status": step_state.value},
        at=at,
    )


def step_status(conn: sa.Connection, run_id: str, step: str) -> StepStatus | None:
    """The recorded status of a step of a run, or None if it never started."""
    value = conn.execute(
        sa.select(step_checkpoints.c.status).where(
            step_checkpoints.c.run_id == run_id, step_checkpoints.c.step == step
        )
    ).scalar_one_or_none()
    return StepStatus(value) if value is not None else None


def list_steps(conn: sa.Connection, run_id: str) -> list[StepRecord]:
    """Every checkpointed step of a run, in the order they started."""
    rows = conn.execute(
        sa.select(step_checkpoints)
        .where(step_checkpoints.c.run_id == run_id)
        .order_by(step_checkpoints.c.started_at, step_checkpoints.c.step)
    )
    return [_step_record(row) for row in rows]


def last_unfinished_run(conn: sa.Connection, job: str) -> str | None:
    """The newest run of `job` still marked running (it crashed or is running), to resume."""
    return conn.execute(
        sa.select(job_runs.c.run_id)
        .where(job_runs.c.job == job, job_runs.c.status == RunStatus.RUNNING.value)
        .order_by(job_runs.c.started_at.desc(), job_runs.c.run_id.desc())
        .limit(1)
    ).scalar_one_or_none()


def list_runs(conn: sa.Connection, job: str | None = None, limit: int = 50) -> list[RunRecord]:
    """The newest runs first, of one job or of all jobs."""
    query = sa.select(job_runs).order_by(job_runs.c.started_at.desc(), job_runs.c.run_id.desc())
    if job is not None:
        query = query.where(job_runs.c.job == job)
    return [_run_record(row) for row in conn.execute(query.limit(limit))]


def get_run(conn: sa.Connection, run_id: str) -> RunRecord | None:
    """One run by id, or None if there is no such run."""
    row = conn.execute(sa.select(job_runs).where(job_runs.c.run_id == run_id)).one_or_none()
    return _run_record(row) if row is not None else None
