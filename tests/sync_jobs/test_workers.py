"""Scale-out on Celery with real servers: two `arlink worker` processes on a Redis broker
and a PostgreSQL ledger do a generated day exactly as one process does (matching split
into customer shards), and workers racing on the same files, shards and steps, or dying
in the middle of a shard, never parse, decide or write back anything twice."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from celery import group
from servers.postgres import PostgresServer
from servers.redis import RedisServer
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from bench.workers import end_state, generate_day, running_workers
from sync_jobs.cli import app
from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.ledger import open_ledger, runs
from sync_jobs.wiring import ledger_url
from sync_jobs.workers import (
    TASK_MATCH_PLAN,
    TASK_MATCH_REST,
    TASK_MATCH_SHARD,
    TASK_PARSE_FILE,
    TASK_STEP,
    make_celery,
)

JOBS = (
    DEMO_CONFIG
    + """[jobs.intake]
books = "main"
sources = ["operating"]
steps = ["pull", "fetch"]
"""
)


def workspace(
    folder: Path, day: Path, ledger: str | None, broker: str | None, shards: int = 4
) -> Path:
    """A copy of the generated day with a config on `ledger` (None: the default SQLite
    file), with `[workers]` on `broker` matching in `shards` customer shards."""
    config = f'[ledger]\nurl = "{ledger}"\n' if ledger is not None else ""
    if broker is not None:
        config += f'[workers]\nbroker_url = "{broker}"\nstep_timeout_seconds = 300\n'
        config += f"match_shards = {shards}\n"
    return make_workspace(folder, JOBS + config, source=day) / "config.toml"


def arlink(config: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 payments over 20 bank accounts in 20 BAI2 files, against 840 open invoices.

    Small because the ledger, not the matcher, sets the pace: tens of milliseconds of
    ledger round trips per payment on a busy 2-core machine (bench/workers.py)."""
    folder = tmp_path_factory.mktemp("day")
    generate_day(folder, payments=600, files=20)
    return folder


def test_two_workers_do_a_day_exactly_as_one_process(
    tmp_path: Path, day: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    # The reference is the embedded default: one process on a SQLite ledger.
    alone = workspace(tmp_path / "alone", day, None, None)
    arlink(alone, "run", "daily", "--json")
    expected = end_state(alone)
    assert len(expected["payments"]) == 600
    assert expected["chain_ok"]
    reasons = {row[1] for row in expected["exception_items"]}
    assert {"'no_candidate'", "'unknown_payer'"} <= reasons  # the day has work for the clerk

    ledger, broker = postgres_server.new_database(), redis_server.url(1)
    scaled = workspace(tmp_path / "scaled", day, ledger, broker)
    with running_workers(scaled, 2) as workers:
        arlink(scaled, "run", "daily", "--json")
    assert end_state(scaled) == expected
    # Both workers took files and customer shards: parse and match really were spread
    # over two processes.
    for worker in workers:
        log = worker.log.read_text()
        assert "parsed 2026-11-02-" in log
        assert "match.shard-" in log


def test_workers_racing_on_the_same_work_never_do_it_twice(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    small = tmp_path / "day"
    generate_day(small, payments=120, files=6)
    alone = workspace(tmp_path / "alone", small, postgres_server.new_database(), None)
    arlink(alone, "run", "daily")
    expected = end_state(alone)

    ledger, broker = postgres_server.new_database(), redis_server.url(2)
    config = workspace(tmp_path / "raced", small, ledger, broker, shards=3)
    loaded = load_config(config)
    celery = make_celery(loaded)
    engine = open_ledger(ledger_url(loaded.config))
    with running_workers(config, 2):
        arlink(config, "run", "intake")  # pull and fetch: 6 files received, none parsed
        with engine.begin() as conn:
            run_id = runs.start_run(conn, "daily", loaded.sha256, datetime.now(UTC))
            digests = list(conn.scalars(sa.text("SELECT digest FROM bank_files")))
        assert len(digests) == 6

        def twice(name: str, *keys: tuple[object, ...]) -> list[dict[str, Any]]:
            # Each task sent twice in a row, so the two workers take the same one at once.
            signatures = [
                celery.signature(name, args=("daily", run_id, *key, loaded.sha256))
                for key in keys
                for _ in range(2)
            ]
            return group(signatures, app=celery).apply_async().get(timeout=300)

        parsed = twice(TASK_PARSE_FILE, *((digest,) for digest in digests))
        assert sum(counts["files_parsed"] for counts in parsed) == 6
        assert sum(counts["payments"] for counts in parsed) == 120
        planned = twice(TASK_MATCH_PLAN, (3,))
        assert planned == [{"decisions": 0, "outcomes": {}}] * 2
        # Both copies of a shard answer with the one copy's recorded counts.
        shards = twice(TASK_MATCH_SHARD, *((shard, 3) for shard in range(3)))
        assert shards[::2] == shards[1::2]
        in_shards = sum(counts["decisions"] for counts in shards[::2])
        assert 0 < in_shards < 120  # the unknown payers are left for the rest
        matched = twice(TASK_MATCH_REST, (3,))
        assert [counts["decisions"] for counts in matched] == [120, 120]
        written = twice(TASK_STEP, ("write-back",))
        assert sum(counts["applications_written"] for counts in written) == len(
            expected["applications"]
        )
    with engine.connect() as conn:
        events = dict(
            conn.execute(sa.text("SELECT event, count(*) FROM audit_log GROUP BY event")).all()
        )
        # No invoice got more than its open amount, whatever the interleaving.
        over = conn.scalar(
            sa.text(
                "SELECT count(*) FROM (SELECT a.invoice_id FROM applications a "
                "JOIN invoices i ON i.invoice_id = a.invoice_id AND i.host = a.host "
                "GROUP BY a.invoice_id, i.open_minor "
                "HAVING sum(a.amount_minor + a.discount_minor + a.write_off_minor) "
                "> i.open_minor) AS over"
            )
        )
        parts = conn.scalar(
            sa.text("SELECT count(*) FROM step_checkpoints WHERE step LIKE 'match.%'")
        )
    engine.dispose()
    assert events["file_parsed"] == 6
    assert events["decision_recorded"] == 120
    assert parts == 5  # the plan, three shards and the rest, each recorded once
    assert over == 0
    found = end_state(config)
    keys = [row["idempotency_key"] for row in found["applications.csv"]]
    assert len(keys) == len(set(keys))
    assert found == expected


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {seconds:g} s")
        time.sleep(0.2)


def test_a_worker_killed_in_the_middle_of_a_shard_leaves_nothing_and_the_shard_reruns(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    small = tmp_path / "day"
    generate_day(small, payments=120, files=6)
    alone = workspace(tmp_path / "alone", small, None, None)
    arlink(alone, "run", "daily")
    expected = end_state(alone)

    ledger, broker = postgres_server.new_database(), redis_server.url(4)
    config = workspace(tmp_path / "killed", small, ledger, broker, shards=2)
    loaded = load_config(config)
    celery = make_celery(loaded)
    engine = open_ledger(ledger_url(loaded.config))

    def send(name: str, *args: object) -> Any:
        return celery.send_task(name, args=("daily", run_id, *args, loaded.sha256))

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return conn.scalar(sa.text(sql)) or 0

    with running_workers(config, 2) as workers:
        arlink(config, "run", "intake")
        with engine.begin() as conn:
            run_id = runs.start_run(conn, "daily", loaded.sha256, datetime.now(UTC))
            digests = list(conn.scalars(sa.text("SELECT digest FROM bank_files")))
        for digest in digests:
            send(TASK_PARSE_FILE, digest).get(timeout=300)
        send(TASK_MATCH_PLAN, 2).get(timeout=300)
        with engine.connect() as holder:
            # Holding the audit chain's head stops the shard's transaction at its audit
            # events, after it inserted its decisions: the worker dies right there.
            holder.execute(sa.text("SELECT seq FROM audit_head FOR UPDATE"))
            send(TASK_MATCH_SHARD, 0, 2)
            wait_until(
                lambda: (
                    count("SELECT count(*) FROM decisions") == 0
                    and count(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                    == 1
                ),
                "the shard waits inside its transaction",
            )
            for worker in workers:
                for pid in worker.pool_pids():
                    os.kill(pid, signal.SIGKILL)
            holder.rollback()
        # The broker hands the task of the dead worker to a worker again: the shard reruns.
        wait_until(
            lambda: (
                count("SELECT count(*) FROM step_checkpoints WHERE step LIKE 'match.shard%'") == 1
            ),
            "the killed shard was done again",
        )
        send(TASK_MATCH_SHARD, 1, 2).get(timeout=300)
        assert send(TASK_MATCH_REST, 2).get(timeout=300)["decisions"] == 120
        send(TASK_STEP, "write-back").get(timeout=300)
    assert count("SELECT count(*) FROM audit_log WHERE event = 'decision_recorded'") == 120
    engine.dispose()
    assert end_state(config) == expected


def test_a_run_with_no_worker_listening_fails_at_once_and_says_why(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    small = tmp_path / "day"
    generate_day(small, payments=20, files=1)
    config = workspace(tmp_path / "w", small, postgres_server.new_database(), redis_server.url(3))
    result = CliRunner().invoke(app, ["--config", str(config), "run", "daily"])
    assert result.exit_code == 1
    assert "no `arlink worker` answered on the broker" in result.stderr
    assert list((tmp_path / "w" / "bank").glob("*.bai2"))  # nothing was done in-process


def test_workers_refuse_a_sqlite_ledger(tmp_path: Path) -> None:
    text = JOBS + '[workers]\nbroker_url = "redis://127.0.0.1:6379/0"\n'
    with pytest.raises(ConfigError) as raised:
        parse_config(text, file=tmp_path / "config.toml")
    [problem] = raised.value.problems
    assert problem.path == "workers"
    assert "PostgreSQL ledger" in problem.message
    assert "SQLite is for one process only" in problem.message


def test_a_broker_password_must_be_a_secret(tmp_path: Path) -> None:
    text = (
        '[ledger]\nurl = "postgresql+psycopg://arlink@db/arlink"\n'
        '[workers]\nbroker_url = "redis://:hunter2@127.0.0.1:6379/0"\n'
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text, file=tmp_path / "config.toml")
    assert "hunter2" not in str(raised.value)
    assert "password = { env" in str(raised.value)


def test_match_shards_must_be_at_least_one(tmp_path: Path) -> None:
    text = (
        '[ledger]\nurl = "postgresql+psycopg://arlink@db/arlink"\n'
        '[workers]\nbroker_url = "redis://127.0.0.1:6379/0"\nmatch_shards = 0\n'
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text, file=tmp_path / "config.toml")
    [problem] = raised.value.problems
    assert problem.path == "workers.match_shards"
    workers = parse_config(text.replace("= 0", "= 3"), file=tmp_path / "c.toml").config.workers
    assert workers is not None
    assert workers.match_shards == 3
