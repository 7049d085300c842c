"""Scale-out on Celery with real servers: two `arlink worker` processes on a Redis broker
and a PostgreSQL ledger do a generated day exactly as one process does, and workers
racing on the same files and steps never parse, decide or write back anything twice."""

from __future__ import annotations

import csv
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

from bench.workers import generate_day, running_workers
from sync_jobs.cli import app
from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.ledger import open_ledger, runs
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.schema import (
    applications,
    bank_files,
    decisions,
    exception_items,
    payments,
)
from sync_jobs.wiring import ledger_url
from sync_jobs.workers import TASK_PARSE_FILE, TASK_STEP, make_celery

JOBS = (
    DEMO_CONFIG
    + """[jobs.intake]
books = "main"
sources = ["operating"]
steps = ["pull", "fetch"]
"""
)


def workspace(folder: Path, day: Path, ledger: str | None, broker: str | None) -> Path:
    """A copy of the generated day with a config on `ledger` (None: the default SQLite
    file), with `[workers]` on `broker`."""
    config = f'[ledger]\nurl = "{ledger}"\n' if ledger is not None else ""
    if broker is not None:
        config += f'[workers]\nbroker_url = "{broker}"\nstep_timeout_seconds = 300\n'
    return make_workspace(folder, JOBS + config, source=day) / "config.toml"


def arlink(config: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def end_state(config: Path) -> dict[str, Any]:
    """What the day left behind: the books host's journal files, in order, and the ledger."""

    def journal(name: str) -> list[dict[str, str]]:
        path = config.parent / "books" / name
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    engine = open_ledger(ledger_url(load_config(config).config))
    try:
        with engine.connect() as conn:

            def query(table: sa.Table, *columns: str) -> list[tuple[str, ...]]:
                # Through the table's types, so JSON columns compare as values on any backend.
                rows = conn.execute(sa.select(*(table.c[name] for name in columns)))
                return sorted(tuple(map(repr, row)) for row in rows)

            return {
                "applications.csv": journal("applications.csv"),
                "exceptions.csv": journal("exceptions.csv"),
                "bank_files": query(bank_files, "name", "status"),
                "payments": query(payments, "payment_id", "file_digest", "amount_minor"),
                "decisions": query(
                    decisions, "payment_id", "outcome", "confidence", "engine_version", "reasons"
                ),
                "applications": query(
                    applications,
                    *("payment_id", "invoice_id", "amount_minor", "discount_minor"),
                    *("write_off_minor", "reason_code", "idempotency_key"),
                    *("writeback_status", "external_id"),
                ),
                "exception_items": query(
                    exception_items,
                    *("payment_id", "reason", "amount_minor", "suggestions", "reasons"),
                    *("idempotency_key", "writeback_status", "external_id"),
                ),
                "chain_ok": verify_chain(conn).ok,
            }
    finally:
        engine.dispose()


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
    with running_workers(scaled, 2) as logs:
        arlink(scaled, "run", "daily", "--json")
    assert end_state(scaled) == expected
    # Both workers took files: the parse really was spread over two processes.
    for log in logs:
        assert "parsed 2026-11-02-" in log.read_text()


def test_workers_racing_on_the_same_work_never_do_it_twice(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    small = tmp_path / "day"
    generate_day(small, payments=120, files=6)
    alone = workspace(tmp_path / "alone", small, postgres_server.new_database(), None)
    arlink(alone, "run", "daily")
    expected = end_state(alone)

    ledger, broker = postgres_server.new_database(), redis_server.url(2)
    config = workspace(tmp_path / "raced", small, ledger, broker)
    loaded = load_config(config)
    celery = make_celery(loaded)
    engine = open_ledger(ledger_url(loaded.config))
    with running_workers(config, 2):
        arlink(config, "run", "intake")  # pull and fetch: 6 files received, none parsed
        with engine.begin() as conn:
            run_id = runs.start_run(conn, "daily", loaded.sha256, datetime.now(UTC))
            digests = list(conn.scalars(sa.text("SELECT digest FROM bank_files")))
        assert len(digests) == 6

        def twice(name: str, *keys: str) -> list[dict[str, Any]]:
            # Each task sent twice in a row, so the two workers take the same one at once.
            signatures = [
                celery.signature(name, args=("daily", run_id, key, loaded.sha256))
                for key in keys
                for _ in range(2)
            ]
            return group(signatures, app=celery).apply_async().get(timeout=300)

        parsed = twice(TASK_PARSE_FILE, *digests)
        assert sum(counts["files_parsed"] for counts in parsed) == 6
        assert sum(counts["payments"] for counts in parsed) == 120
        matched = twice(TASK_STEP, "match")
        assert sorted(counts["decisions"] for counts in matched) == [0, 120]
        written = twice(TASK_STEP, "write-back")
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
    engine.dispose()
    assert events["file_parsed"] == 6
    assert events["decision_recorded"] == 120
    assert over == 0
    found = end_state(config)
    keys = [row["idempotency_key"] for row in found["applications.csv"]]
    assert len(keys) == len(set(keys))
    assert found == expected


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
