"""Scale-out on Celery: `arlink worker` processes do a job's steps, split by natural key.

With `[workers]` in config.toml, `arlink run JOB` (and `arlink schedule`) stays the one
owner of the run: it takes the job's lock, records the run and each step's checkpoint,
exactly as in-process. Only the work of each step is sent to the workers over the
Redis broker, and the run waits for it:

- `parse`: one task per received bank file (files are independent), run in parallel;
- `match`: one task for the plan (advice links and customer groups: reading payers and
  references, the costly part, done once), then one task per customer shard
  (`[workers] match_shards`) in parallel, then one task for the rest. The matcher's own
  definition is two-phase (`cash_application.matching.decide_payments`): payments
  attributed to a customer group (`cash_application.partition`) are decided group by
  group against the invoices as they were before the step, then the unattributed ones
  (an unknown payer naming nothing) in the fixed order against what the groups left. So
  the result is the single process's exactly, whatever the number of shards or workers.
  Each part stores its decisions and its checkpoint (`match.plan-of-008`,
  `match.shard-003-of-008`, `match.rest-of-008` among the run's steps: the plan with the
  open amounts the step starts from, or those a shard left) in one transaction: a
  duplicated part stores nothing twice, a part that died reruns, and every part rebuilds
  the step's starting point from the ledger and the recorded plan. `arlink run` holds the
  books host's lock for the whole step, so two runs never match one host at once;
- `pull`, `fetch`, `write-back`: one task per step, so one per books host. Write-back
  stays one task: the files host's journal is one file, rewritten per push.

Correctness never rests on the broker delivering a task once. Tasks are acknowledged
late and requeued when their worker dies, so one may run twice; the ledger makes that
harmless: a bank file is claimed by locking its row (`steps.parse_file`), steps that
touch a books host's state hold that host's lock (`ledger.locks.books_host_lock`), a
payment has one decision (primary key), and every write-back carries its idempotency
key. The workers share the config file (a task from a run with another config hash is
refused), the PostgreSQL ledger and `var_dir` (the content-addressed bank file inbox).
Nothing is configured at import time: the app is built from a loaded config.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
from celery import Celery, group

from cash_application.book import Book, build_book
from cash_application.matching import decide, decide_groups, plan_two_phases
from cash_application.partition import Partition, select
from cash_application.remittance_advices.linking import AdviceLink
from mappings.records import Decision, Payment, Reason, RemittanceAdvice
from sync_jobs import store
from sync_jobs.config import LoadedConfig, WorkersConfig
from sync_jobs.ledger import open_ledger, runs
from sync_jobs.ledger.locks import books_host_lock
from sync_jobs.ledger.runs import RunStatus
from sync_jobs.runner import StepRunner, job_context, utc_now
from sync_jobs.steps import (
    STEPS,
    Counts,
    JobContext,
    parse_counts,
    parse_file,
    received_files,
    record_match,
)
from sync_jobs.wiring import ledger_url

TASK_STEP = "arlink.step"
TASK_PARSE_FILE = "arlink.parse_file"
TASK_MATCH_PLAN = "arlink.match_plan"
TASK_MATCH_SHARD = "arlink.match_shard"
TASK_MATCH_REST = "arlink.match_rest"
PING_SECONDS = 10.0  # a worker busy with a task still answers: its main process replies

log = logging.getLogger("arlink.worker")


class NoWorkersError(Exception):
    """`arlink run` has work for the workers, but none is listening on the broker."""


class WorkerConfigMismatchError(Exception):
    """A task came from a run whose config differs from this worker's."""

    def __init__(self, mine: str, theirs: str) -> None:
        super().__init__(
            f"this worker's config (sha256 {mine[:12]}) differs from the run's "
            f"(sha256 {theirs[:12]}): deploy the same config.toml to every worker and restart"
        )


class MatchRoundError(Exception):
    """A part of the match step found the step's parts inconsistent (another number of
    shards, other payments), or the rest found a shard not done."""


def plan_part(shards: int) -> str:
    """The step name the match step's plan (its customer groups and advice links) is
    recorded under."""
    return f"match.plan-of-{shards:03d}"


def shard_part(shard: int, shards: int) -> str:
    """The step name a match shard's checkpoint is recorded under."""
    return f"match.shard-{shard:03d}-of-{shards:03d}"


def rest_part(shards: int) -> str:
    """The step name the match step's last part (the unattributed payments) is recorded under."""
    return f"match.rest-of-{shards:03d}"


@dataclass(frozen=True, slots=True)
class _Round:
    """The match step's starting point, as every part rebuilds it."""

    book: Book
    payments: dict[str, Payment]  # by id, in id order
    advices: dict[str, RemittanceAdvice]  # by id, in id order
    parts: dict[str, dict[str, Any]]  # the parts recorded so far: step name -> detail
    inputs: str  # digest of the payments and advices the step decides


def _load_round(ctx: JobContext, shards: int) -> _Round:
    """The book as it was before the step (its invoices as open as the plan found them),
    its payments (undecided, or decided by this run's parts) and the advices still
    unlinked (only the last part records links)."""
    engine = ctx.engine
    # One snapshot, so a part committing meanwhile is seen in its decisions and its
    # checkpoint alike, or in neither.
    level = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
    with engine.connect().execution_options(isolation_level=level) as conn:
        run = runs.get_run(conn, ctx.run_id)
        if run is None or run.status is not RunStatus.RUNNING:
            raise MatchRoundError(f"run {ctx.run_id} is not running: its match step is over")
        parts = store.match_parts(conn, ctx.run_id)
        host = ctx.books.name
        plan = parts.get(plan_part(shards))
        if plan is None:  # the plan part: nothing of the step is recorded yet
            invoices = store.load_open_invoices(conn, host)
        else:
            invoices = store.invoices_open_at(conn, host, plan["open"])
        payments = store.round_payments(conn, list(ctx.sources), ctx.run_id)
        customers = store.load_customers(conn, host)
        advices = store.unlinked_advices(conn, list(ctx.sources))
        history = store.learned_history(conn, host)
    digest = hashlib.sha256()
    for record_id in (*(p.payment_id for p in payments), "|", *(a.advice_id for a in advices)):
        digest.update(record_id.encode() + b"\n")
    inputs = digest.hexdigest()
    for name, detail in parts.items():
        if detail.get("shards") != shards or detail.get("inputs") != inputs:
            raise MatchRoundError(
                f"run {ctx.run_id}: match part {name} was decided with "
                f"{detail.get('shards')} shard(s) over other payments than this part "
                f"({shards} shard(s)): rerun the job with the config it started with"
            )
    return _Round(
        build_book(invoices, customers, ctx.policy, history, fx_rates=ctx.fx_rates),
        {payment.payment_id: payment for payment in payments},
        {advice.advice_id: advice for advice in advices},
        parts,
        inputs,
    )


def _planned(found: _Round, shards: int) -> Partition:
    """The partition the plan part recorded, its advice links put in the book."""
    plan = found.parts.get(plan_part(shards))
    if plan is None:
        raise MatchRoundError(f"{plan_part(shards)} is not recorded: the plan part comes first")
    for advice_id, payment_id, by, code, text in plan["links"]:
        advice = found.advices[advice_id]
        found.book.advice_links[payment_id] = AdviceLink(advice, payment_id, by, Reason(code, text))
    payments = found.payments
    return Partition(
        {key: [payments[i] for i in ids] for key, ids in plan["groups"].items()},
        {key: frozenset(members) for key, members in plan["members"].items()},
        [payments[i] for i in plan["unattributed"]],
    )


def _done_part(ctx: JobContext, part: str) -> dict[str, Any] | None:
    with ctx.engine.connect() as conn:
        return store.match_parts(conn, ctx.run_id).get(part)


def _record_part(
    ctx: JobContext,
    part: str,
    decided: Sequence[Decision],
    links: Sequence[AdviceLink],
    detail: dict[str, Any],
) -> dict[str, Any]:
    """Store a part's decisions (and links) with its checkpoint in one transaction; the
    checkpoint of whichever copy of a duplicated part committed first."""
    try:
        with ctx.engine.begin() as conn:
            outcomes = record_match(ctx, conn, decided, links)
            detail["counts"] = {"decisions": len(decided), "outcomes": outcomes}
            store.record_match_part(conn, ctx.run_id, part, detail, ctx.now())
    except sa.exc.IntegrityError:
        done = _done_part(ctx, part)
        if done is None:
            raise
        return done
    ctx.report(f"{part}: matched {len(decided)} payment(s): {detail['counts']['outcomes']}")
    return detail


def match_plan(ctx: JobContext, shards: int) -> Counts:
    """Link the advices and split the payments into customer groups, once for every part:
    payer identification and reference extraction are most of the matcher's work."""
    part = plan_part(shards)
    done = _done_part(ctx, part)
    if done is None:
        found = _load_round(ctx, shards)
        book = found.book
        plan = plan_two_phases(list(found.payments.values()), book, list(found.advices.values()))
        links = sorted(book.advice_links.values(), key=lambda link: link.payment_id)
        detail: dict[str, Any] = {
            "shards": shards,
            "inputs": found.inputs,
            # The open amounts the step starts from: the parts' applications, recorded
            # meanwhile, must not count against them.
            "open": dict(book.open_minor),
            "groups": {key: [p.payment_id for p in group] for key, group in plan.groups.items()},
            "members": {key: sorted(members) for key, members in plan.members.items()},
            "unattributed": [payment.payment_id for payment in plan.unattributed],
            "links": [
                [
                    link.advice.advice_id,
                    link.payment_id,
                    link.by,
                    link.reason.code,
                    link.reason.text,
                ]
                for link in links
            ],
        }
        done = _record_part(ctx, part, [], [], detail)
    return done["counts"]


def match_shard(ctx: JobContext, shard: int, shards: int) -> Counts:
    """Decide the payments of the customer groups on `shard` of `shards`, once."""
    part = shard_part(shard, shards)
    done = _done_part(ctx, part)
    if done is None:
        found = _load_round(ctx, shards)
        plan = _planned(found, shards)
        first = decide_groups(select(plan, shard, shards), plan.members, found.book)
        detail = {"shards": shards, "inputs": found.inputs, "after": first.after}
        done = _record_part(ctx, part, first.decisions, [], detail)
    return done["counts"]


def match_rest(ctx: JobContext, shards: int) -> Counts:
    """After every shard: decide the unattributed payments against what the shards left,
    record the advice links; return the whole step's counts."""
    part = rest_part(shards)
    done = _done_part(ctx, part)
    if done is None:
        found = _load_round(ctx, shards)
        missing = [k for k in range(shards) if shard_part(k, shards) not in found.parts]
        if missing:
            raise MatchRoundError(f"run {ctx.run_id}: match shard(s) {missing} not done")
        plan = _planned(found, shards)
        for detail in found.parts.values():
            found.book.open_minor.update(detail.get("after", {}))
        rest = [decide(payment, found.book) for payment in plan.unattributed]
        links = sorted(found.book.advice_links.values(), key=lambda link: link.payment_id)
        done = _record_part(ctx, part, rest, links, {"shards": shards, "inputs": found.inputs})
        if links:
            ctx.report(f"{len(links)} remittance advice(s) linked")
    with ctx.engine.connect() as conn:
        parts = store.match_parts(conn, ctx.run_id)
    outcomes: dict[str, int] = {}
    for detail in parts.values():
        for outcome, count in detail["counts"]["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    return {"decisions": sum(outcomes.values()), "outcomes": outcomes}


def broker_url(workers: WorkersConfig) -> str:
    """The broker URL with the password from its secret (Celery masks it when it logs)."""
    if workers.password is None:
        return workers.broker_url
    parts = urlsplit(workers.broker_url)
    user = quote(parts.username or "", safe="")
    netloc = f"{user}:{quote(workers.password.reveal(), safe='')}@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def make_celery(loaded: LoadedConfig) -> Celery:
    """The Celery app for the config's `[workers]`, with arlink's tasks registered on it."""
    workers = loaded.config.workers
    if workers is None:
        raise ValueError(f"{loaded.file}: no [workers] section, so no broker to connect to")
    url = broker_url(workers)
    # The broker also keeps the results `arlink run` waits for.
    app = Celery("arlink", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Acknowledged after the work, requeued if the worker dies: at-least-once delivery,
        # made safe by the ledger's claims (see the module docstring).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Bank files differ in size: a worker takes one task at a time, so an idle one is
        # never left waiting behind a busy one's prefetched queue.
        worker_prefetch_multiplier=1,
        result_expires=int(workers.step_timeout_seconds) + 3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    engines: dict[int, sa.Engine] = {}

    def context(job: str, run_id: str, config_sha256: str) -> JobContext:
        if config_sha256 != loaded.sha256:
            raise WorkerConfigMismatchError(loaded.sha256, config_sha256)
        # One engine per process: a prefork pool forks after the app is built, and a
        # database connection must never be shared across a fork.
        engine = engines.get(os.getpid())
        if engine is None:
            engine = engines[os.getpid()] = open_ledger(ledger_url(loaded.config))
        return job_context(engine, loaded, job, run_id, utc_now, log.info)

    @app.task(name=TASK_STEP, shared=False)
    def run_step_task(job: str, run_id: str, step: str, config_sha256: str) -> Counts:
        with contextlib.closing(context(job, run_id, config_sha256)) as ctx:
            return STEPS[step](ctx)

    @app.task(name=TASK_PARSE_FILE, shared=False)
    def parse_file_task(job: str, run_id: str, digest: str, config_sha256: str) -> dict[str, int]:
        with contextlib.closing(context(job, run_id, config_sha256)) as ctx:
            return parse_file(ctx, digest)

    @app.task(name=TASK_MATCH_PLAN, shared=False)
    def match_plan_task(job: str, run_id: str, shards: int, config_sha256: str) -> Counts:
        with contextlib.closing(context(job, run_id, config_sha256)) as ctx:
            return match_plan(ctx, shards)

    @app.task(name=TASK_MATCH_SHARD, shared=False)
    def match_shard_task(
        job: str, run_id: str, shard: int, shards: int, config_sha256: str
    ) -> Counts:
        with contextlib.closing(context(job, run_id, config_sha256)) as ctx:
            return match_shard(ctx, shard, shards)

    @app.task(name=TASK_MATCH_REST, shared=False)
    def match_rest_task(job: str, run_id: str, shards: int, config_sha256: str) -> Counts:
        with contextlib.closing(context(job, run_id, config_sha256)) as ctx:
            return match_rest(ctx, shards)

    return app


def dispatcher(loaded: LoadedConfig, app: Celery | None = None) -> StepRunner:
    """A `run_step` for `run_job` that has the workers do each step and waits for them."""
    celery = app if app is not None else make_celery(loaded)
    workers = loaded.config.workers
    assert workers is not None  # make_celery refused a config without [workers]
    timeout = workers.step_timeout_seconds

    def run_match(ctx: JobContext) -> Counts:
        shards = workers.match_shards
        # The shard tasks take no lock: this run holds the books host's for them all.
        with books_host_lock(ctx.engine, ctx.books.name):
            plan = (ctx.job, ctx.run_id, shards, loaded.sha256)
            celery.send_task(TASK_MATCH_PLAN, args=plan).get(timeout=timeout)
            signatures = [
                celery.signature(
                    TASK_MATCH_SHARD, args=(ctx.job, ctx.run_id, shard, shards, loaded.sha256)
                )
                for shard in range(shards)
            ]
            group(signatures, app=celery).apply_async().get(timeout=timeout)
            rest = (ctx.job, ctx.run_id, shards, loaded.sha256)
            counts: Counts = celery.send_task(TASK_MATCH_REST, args=rest).get(timeout=timeout)
        ctx.report(f"workers matched in {shards} shard(s): {counts}")
        return counts

    def run_step(ctx: JobContext, step: str) -> Counts:
        # Fail the step at once, not after the timeout, when no worker is there to do it.
        if not celery.control.ping(timeout=PING_SECONDS, limit=1):
            raise NoWorkersError(
                f"no `arlink worker` answered on the broker within {PING_SECONDS:g} s: "
                "start one with this config (README, Scaling out with Celery)"
            )
        if step == "match":
            return run_match(ctx)
        if step != "parse":
            task = celery.send_task(TASK_STEP, args=(ctx.job, ctx.run_id, step, loaded.sha256))
            return task.get(timeout=timeout)
        digests = received_files(ctx)
        counts = parse_counts()
        if not digests:
            return counts
        signatures = [
            celery.signature(TASK_PARSE_FILE, args=(ctx.job, ctx.run_id, digest, loaded.sha256))
            for digest in digests
        ]
        for file_counts in group(signatures, app=celery).apply_async().get(timeout=timeout):
            for key, value in file_counts.items():
                counts[key] += value
        ctx.report(f"workers parsed {len(digests)} file(s): {counts}")
        return counts

    return run_step


def start_worker(loaded: LoadedConfig, *, concurrency: int, loglevel: str = "INFO") -> None:
    """Run a Celery worker for the config's broker in the foreground until SIGTERM."""
    make_celery(loaded).worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
            # A unique node name per process, so several workers can share one host.
            f"--hostname=arlink.{os.getpid()}@%h",
            # No gossip, mingle or heartbeat events: arlink needs none of them, and
            # mingle alone adds seconds to every start.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
