"""Running a job: a run record, its steps in order with checkpoints, and a summary.

A run that stopped part-way (crash, kill, host down) is continued by the next
`arlink run` of the same job: steps already checkpointed `done` are skipped and the
others pick up from the ledger, so a rerun never starts over or applies twice.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from cash_application.bank_files.detect import parse_bank_file
from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.payments import payments_from
from cash_application.matching import match_payments
from sync_jobs import store
from sync_jobs.config import LoadedConfig
from sync_jobs.ledger import runs
from sync_jobs.ledger.locks import acquire_job_lock, release_job_lock
from sync_jobs.ledger.schema import bank_files, decisions
from sync_jobs.steps import STEPS, Counts, JobContext
from sync_jobs.summary import RunSummary
from sync_jobs.wiring import build_books, build_source


def utc_now() -> datetime:
    return datetime.now(UTC)


class JobFailedError(Exception):
    """A job could not do its work; the run is recorded as failed with this reason."""

    def __init__(self, run_id: str, step: str, cause: BaseException) -> None:
        self.run_id = run_id
        self.step = step
        self.cause = cause
        super().__init__(f"job step `{step}` failed (run {run_id}): {cause}")


# Does one step of a run and returns its counts for the run summary.
StepRunner = Callable[[JobContext, str], Counts]


def run_step_here(ctx: JobContext, step: str) -> Counts:
    """The embedded default: do the step in this process."""
    return STEPS[step](ctx)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    resumed: bool
    summary: RunSummary


def job_context(
    engine: sa.Engine,
    loaded: LoadedConfig,
    job_name: str,
    run_id: str,
    now: Callable[[], datetime],
    report: Callable[[str], None],
) -> JobContext:
    """The connectors, ledger and policy a job's steps work with, for run `run_id`."""
    config = loaded.config
    job = config.jobs[job_name]
    return JobContext(
        engine=engine,
        job=job_name,
        run_id=run_id,
        books=build_books(config, job.books),
        sources={name: build_source(config, name) for name in job.sources},
        var_dir=config.var_dir,
        now=now,
        report=report,
        policy=config.matching.policy(),
    )


def run_job(
    engine: sa.Engine,
    loaded: LoadedConfig,
    job_name: str,
    *,
    now: Callable[[], datetime] = utc_now,
    report: Callable[[str], None] = lambda line: None,
    on_step: Callable[[str, int, int], None] = lambda step, index, total: None,
    run_step: StepRunner = run_step_here,
) -> RunResult:
    """Run (or continue) a job; raise `JobFailedError` if a step could not do its work.

    `report` receives progress lines; `on_step(step, index, total)` is called as each
    step starts (index from 0), and once more with index == total at the end.
    `run_step` does one step's work: in this process by default, or on Celery workers
    (`sync_jobs.workers.dispatcher`); this run keeps the lock, the record and checkpoints.
    """
    started = time.perf_counter()
    with engine.begin() as conn:
        run_id = runs.last_unfinished_run(conn, job_name)
        resumed = run_id is not None
        if run_id is None:
            run_id = runs.start_run(conn, job_name, loaded.sha256, now())
        # Raises JobLockedError (rolling the new run back) when a live run holds the job.
        stale = acquire_job_lock(
            conn,
            job=job_name,
            run_id=run_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            at=now(),
            is_alive=_pid_alive,
        )
    if stale is not None:
        report(f"took over the lock of run {stale.run_id} (pid {stale.pid} is gone)")
    if resumed:
        report(f"continuing unfinished run {run_id}")
    try:
        return _run_steps(
            engine, loaded, job_name, run_id, resumed, started, now, report, on_step, run_step
        )
    finally:
        with engine.begin() as conn:
            release_job_lock(conn, job=job_name, run_id=run_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _run_steps(
    engine: sa.Engine,
    loaded: LoadedConfig,
    job_name: str,
    run_id: str,
    resumed: bool,
    started: float,
    now: Callable[[], datetime],
    report: Callable[[str], None],
    on_step: Callable[[str, int, int], None],
    run_step: StepRunner,
) -> RunResult:
    steps = loaded.config.jobs[job_name].steps
    ctx = job_context(engine, loaded, job_name, run_id, now, report)
    counts: dict[str, object] = {}
    for index, step in enumerate(steps):
        on_step(step, index, len(steps))
        with engine.connect() as conn:
            status = runs.step_status(conn, run_id, step)
        if status == "done":
            continue
        with engine.begin() as conn:
            runs.checkpoint(conn, run_id, step, "running", {}, now())
        try:
            counts[step] = run_step(ctx, step)
        except Exception as exc:
            with engine.begin() as conn:
                runs.checkpoint(conn, run_id, step, "failed", {"error": str(exc)}, now())
                runs.finish_run(conn, run_id, "failed", counts, f"{step}: {exc}", now())
            raise JobFailedError(run_id, step, exc) from exc
        with engine.begin() as conn:
            runs.checkpoint(conn, run_id, step, "done", counts[step], now())
    on_step("done", len(steps), len(steps))
    summary = run_summary(engine, run_id)
    summary.seconds = time.perf_counter() - started
    with engine.begin() as conn:
        runs.finish_run(
            conn, run_id, "succeeded", {**counts, "summary": summary.to_json()}, None, now()
        )
    return RunResult(run_id, resumed, summary)


def run_summary(engine: sa.Engine, run_id: str) -> RunSummary:
    """The summary of a run, read back from what the ledger recorded for it."""
    summary = RunSummary()
    with engine.connect() as conn:
        statuses = conn.execute(
            sa.select(bank_files.c.status, sa.func.count())
            .where(bank_files.c.run_id == run_id)
            .group_by(bank_files.c.status)
        ).all()
        summary.add_decisions(store.load_decisions(conn, decisions.c.run_id == run_id))
    for status, count in statuses:
        summary.files_read += count
        if status == "quarantined":
            summary.files_quarantined += count
    return summary


def preview_job(
    engine: sa.Engine,
    loaded: LoadedConfig,
    job_name: str,
    *,
    report: Callable[[str], None] = lambda line: None,
) -> RunSummary:
    """`--dry-run`: what a run would do now, without writing to the ledger, the host or the
    sources. Files the ledger already holds are left out, as a real run would."""
    started = time.perf_counter()
    ctx = job_context(engine, loaded, job_name, "dry-run", utc_now, report)
    summary = RunSummary()
    found = []
    for source in ctx.sources.values():
        for name in source.list():
            data = source.fetch(name)
            digest = hashlib.sha256(data).hexdigest()
            with engine.connect() as conn:
                if conn.scalar(sa.select(bank_files.c.digest).where(bank_files.c.digest == digest)):
                    continue
            summary.files_read += 1
            try:
                parsed = parse_bank_file(data, name)
                found.extend(payments_from(parsed, file_digest=digest, file_name=name))
            except BankFileError as exc:
                summary.files_quarantined += 1
                report(f"would quarantine {name}: {exc}")
    with engine.connect() as conn:
        found.extend(store.undecided_payments(conn, list(ctx.sources)))
    invoices = ctx.books.pull_open_invoices(None)
    customers = ctx.books.pull_customers(None)
    summary.add_decisions(match_payments(found, invoices, customers, ctx.policy))
    summary.seconds = time.perf_counter() - started
    return summary
