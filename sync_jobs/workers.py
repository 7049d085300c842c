"""Scale-out on Celery: `arlink worker` processes do a job's steps, split by natural key.

With `[workers]` in config.toml, `arlink run JOB` (and `arlink schedule`) stays the one
owner of the run: it takes the job's lock, records the run and each step's checkpoint,
exactly as in-process. Only the work of each step is sent to the workers over the
Redis broker, and the run waits for it:

- `parse`: one task per received bank file (files are independent), run in parallel;
- `pull`, `fetch`, `match`, `write-back`: one task per step, so one per books host.
  Matching is global per books host: payments consume the same invoices' open amounts,
  and the matcher decides them in a fixed order (value date, id) so that the result does
  not depend on how they were split. A customer shard is not a safe partition: a payment
  from an unknown payer, or one naming another customer's invoice, may land on any
  invoice. Different books hosts (different jobs) match in parallel.

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
import logging
import os
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
from celery import Celery, group

from sync_jobs.config import LoadedConfig, WorkersConfig
from sync_jobs.ledger import open_ledger
from sync_jobs.runner import StepRunner, job_context, utc_now
from sync_jobs.steps import STEPS, Counts, JobContext, parse_counts, parse_file, received_files
from sync_jobs.wiring import ledger_url

TASK_STEP = "arlink.step"
TASK_PARSE_FILE = "arlink.parse_file"
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

    return app


def dispatcher(loaded: LoadedConfig, app: Celery | None = None) -> StepRunner:
    """A `run_step` for `run_job` that has the workers do each step and waits for them."""
    celery = app if app is not None else make_celery(loaded)
    workers = loaded.config.workers
    assert workers is not None  # make_celery refused a config without [workers]
    timeout = workers.step_timeout_seconds

    def run_step(ctx: JobContext, step: str) -> Counts:
        # Fail the step at once, not after the timeout, when no worker is there to do it.
        if not celery.control.ping(timeout=PING_SECONDS, limit=1):
            raise NoWorkersError(
                f"no `arlink worker` answered on the broker within {PING_SECONDS:g} s: "
                "start one with this config (README, Scaling out with Celery)"
            )
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
