"""Running a job: a run record, its steps in order with checkpoints, and a summary.

A run that stopped part-way (crash, kill, host down) is continued by the next
`arlink run` of the same job: steps already checkpointed `done` are skipped and the
others pick up from the ledger, so a rerun never starts over or applies twice.

Each step runs under its kind's bounded retry policy (`StepRetries`): only a transient
`RetryLaterError` is retried, waiting max(backoff, the server's hint) capped; a
`FixConfigError` or any other error fails the step at once. Every retried attempt is an
audit event (`step.retry`); the step's checkpoint keeps the attempts with their errors
and waits; when the cap is reached the step is checkpointed `failed` and so is the run.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from cash_application.bank_files.errors import BankFileError
from cash_application.matching import match_payments
from connectors.errors import RetryAttempt, RetryPolicy, retrying
from mappings.records import Payment, RemittanceAdvice
from sync_jobs import steps, store
from sync_jobs.config import Config, LoadedConfig
from sync_jobs.edi_steps import edi_job
from sync_jobs.ledger import runs
from sync_jobs.ledger.audit import append_event
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


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True, slots=True)
class StepRetries:
    """One bounded retry policy per step kind (`pull`, `fetch`, ...); `default` for a kind
    not named. Applied by the runner around a whole step, on top of any retries a
    connector makes of its own single calls."""

    policies: Mapping[str, RetryPolicy] = field(default_factory=dict)
    default: RetryPolicy = NO_RETRY

    def for_step(self, step: str) -> RetryPolicy:
        """The policy for step kind `step`."""
        return self.policies.get(step, self.default)


# Defaults a config's `[retries.<step>]` tables override. `pull` and `write-back` wait
# out a books host being restarted or rate-limiting us (a rerun of either is safe: pull
# replaces a snapshot, write-back looks every key up before writing). `fetch` is not
# retried as a step: the SFTP transport already retries each call, reconnecting and
# resuming a cut download, and a second layer would multiply its `retry_attempts`.
# `parse` and `match` only read the ledger and the local inbox: nothing transient.
_BOOKS_HOST_OUTAGE = RetryPolicy(attempts=3, initial_wait=10.0, max_wait=120.0)
DEFAULT_STEP_RETRIES = StepRetries(
    policies={"pull": _BOOKS_HOST_OUTAGE, "write-back": _BOOKS_HOST_OUTAGE},
    default=NO_RETRY,
)


def step_retries(config: Config) -> StepRetries:
    """The defaults, with each step kind the config's `[retries.<step>]` names replaced."""
    configured = {
        step: RetryPolicy(spec.attempts, spec.initial_wait, spec.max_wait)
        for step, spec in config.retries.items()
    }
    policies = {**DEFAULT_STEP_RETRIES.policies, **configured}
    return StepRetries(policies, DEFAULT_STEP_RETRIES.default)


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
        advice_layout=config.remittance.csv_layout(),
        lockbox_layouts={
            name: layout
            for name in job.sources
            if (layout := config.sources[name].lockbox_layout) is not None
        },
        fx_rates=config.matching.fx_rates,
        edi=edi_job(config, job_name),
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
    retries: StepRetries | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run (or continue) a job; raise `JobFailedError` if a step could not do its work.

    `report` receives progress lines; `on_step(step, index, total)` is called as each
    step starts (index from 0), and once more with index == total at the end.
    `run_step` does one step's work: in this process by default, or on Celery workers
    (`sync_jobs.workers.dispatcher`); this run keeps the lock, the record and checkpoints.
    `retries` bounds the retries of each step kind (default: the config's `[retries]`
    over `DEFAULT_STEP_RETRIES`); `sleep` waits between attempts.
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
            engine,
            loaded,
            _RunPlan(job_name, run_id, resumed, started),
            now,
            report,
            on_step,
            _StepRetrier(
                engine,
                job_name,
                run_id,
                run_step,
                retries or step_retries(loaded.config),
                sleep,
                now,
                report,
            ),
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


@dataclass(frozen=True, slots=True)
class _RunPlan:
    job: str
    run_id: str
    resumed: bool
    started: float  # perf_counter at the start, for the summary's timing


class _StepFailedError(Exception):
    """A step failed for good; `attempts` are all its attempts, the failed last one
    included, for its checkpoint."""

    def __init__(self, cause: Exception, attempts: list[dict[str, object]]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


@dataclass(slots=True)
class _StepRetrier:
    """Runs one step under its kind's policy, recording each retried attempt."""

    engine: sa.Engine
    job: str
    run_id: str
    run_step: StepRunner
    retries: StepRetries
    sleep: Callable[[float], None]
    now: Callable[[], datetime]
    report: Callable[[str], None]

    def __call__(self, ctx: JobContext, step: str) -> tuple[Counts, list[dict[str, object]]]:
        """The step's counts and its retried attempts; raise `_StepFailedError` when it
        failed with a non-transient error or ran out of attempts."""
        attempts: list[dict[str, object]] = []

        def record(attempt: RetryAttempt) -> None:
            attempts.append(
                {
                    "attempt": attempt.attempt,
                    "error": str(attempt.error),
                    "wait": attempt.wait,
                    "hint": attempt.hint,
                }
            )
            with self.engine.begin() as conn:
                # Only the error's type is chained: its text comes from outside systems,
                # and the chain can never drop what slipped past redaction. The text is
                # kept in the step's checkpoint.
                append_event(
                    conn,
                    actor=f"job:{self.job}",
                    event="step.retry",
                    subject=f"run:{self.run_id}",
                    payload={
                        "step": step,
                        "attempt": attempt.attempt,
                        "error_type": type(attempt.error).__name__,
                        "wait": attempt.wait,
                        "hint": attempt.hint,
                    },
                    at=self.now(),
                )
            self.report(
                f"{step}: attempt {attempt.attempt} failed ({attempt.error}); "
                f"retrying in {attempt.wait:g} s"
            )

        try:
            counts = retrying(
                self.retries.for_step(step),
                lambda: self.run_step(ctx, step),
                on_retry=record,
                sleep=self.sleep,
            )
        except Exception as exc:
            attempts.append(
                {"attempt": len(attempts) + 1, "error": str(exc), "wait": None, "hint": None}
            )
            raise _StepFailedError(exc, attempts) from exc
        return counts, attempts


def _run_steps(
    engine: sa.Engine,
    loaded: LoadedConfig,
    plan: _RunPlan,
    now: Callable[[], datetime],
    report: Callable[[str], None],
    on_step: Callable[[str, int, int], None],
    run_step: _StepRetrier,
) -> RunResult:
    run_id = plan.run_id
    steps = loaded.config.jobs[plan.job].steps
    ctx = job_context(engine, loaded, plan.job, run_id, now, report)
    try:
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
                done, retried = run_step(ctx, step)
            except _StepFailedError as failed:
                exc = failed.cause
                detail = {"error": str(exc), "attempts": failed.attempts}
                with engine.begin() as conn:
                    runs.checkpoint(conn, run_id, step, "failed", detail, now())
                    runs.finish_run(conn, run_id, "failed", counts, f"{step}: {exc}", now())
                raise JobFailedError(run_id, step, exc) from exc
            counts[step] = done
            with engine.begin() as conn:
                record = {**done, "retries": retried} if retried else done
                runs.checkpoint(conn, run_id, step, "done", record, now())
        on_step("done", len(steps), len(steps))
        summary = run_summary(engine, run_id)
        summary.seconds = time.perf_counter() - plan.started
        with engine.begin() as conn:
            runs.finish_run(
                conn, run_id, "succeeded", {**counts, "summary": summary.to_json()}, None, now()
            )
        return RunResult(run_id, plan.resumed, summary)
    finally:
        ctx.close()


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
    try:
        summary = RunSummary()
        found: list[Payment] = []
        advices: list[RemittanceAdvice] = []
        for source_name, source in ctx.sources.items():
            for name in source.list():
                data = source.fetch(name)
                digest = hashlib.sha256(data).hexdigest()
                known = sa.select(bank_files.c.digest).where(bank_files.c.digest == digest)
                with engine.connect() as conn:
                    if conn.scalar(known):
                        continue
                summary.files_read += 1
                try:
                    received = ctx.read_received(data, name, digest, source_name)
                except BankFileError as exc:
                    summary.files_quarantined += 1
                    report(f"would quarantine {name}: {exc}")
                    continue
                found.extend(received.payments)
                advices.extend(received.advices)
        with engine.connect() as conn:
            found.extend(store.undecided_payments(conn, list(ctx.sources)))
            advices.extend(store.unlinked_advices(conn, list(ctx.sources)))
        batch = steps.read_books(ctx)
        # The pull a run would do, in a transaction rolled back: the ledger's view of open
        # amounts (less applications not yet confirmed) and what clerks taught the matcher.
        with engine.connect() as conn, conn.begin() as transaction:
            steps.store_books(ctx, conn, batch)
            invoices = store.load_open_invoices(conn, ctx.books.name)
            customers = store.load_customers(conn, ctx.books.name)
            history = store.learned_history(conn, ctx.books.name)
            transaction.rollback()
        decisions = match_payments(
            found, invoices, customers, ctx.policy, history, fx_rates=ctx.fx_rates, advices=advices
        )
        summary.add_decisions(decisions)
        summary.seconds = time.perf_counter() - started
        return summary
    finally:
        ctx.close()
