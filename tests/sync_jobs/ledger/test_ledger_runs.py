"""Runs and step checkpoints round-trip through the ledger and leave audit events behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from sync_jobs.ledger import schema
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.errors import LedgerError
from sync_jobs.ledger.runs import (
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    checkpoint,
    finish_run,
    get_run,
    last_unfinished_run,
    list_runs,
    list_steps,
    start_run,
    step_status,
)
from sync_jobs.ledger.schema import audit_log

T0 = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
CONFIG_HASH = "c" * 64


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_status_enums_match_the_schema_checks() -> None:
    assert tuple(RunStatus) == schema.RUN_STATUSES
    assert tuple(StepStatus) == schema.STEP_STATUSES


def test_a_run_round_trips(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
    with ledger.connect() as conn:
        assert get_run(conn, run_id) == RunRecord(
            run_id=run_id,
            job="daily",
            status=RunStatus.RUNNING,
            started_at=T0,
            finished_at=None,
            counts=None,
            error=None,
            config_hash=CONFIG_HASH,
        )

    with ledger.begin() as conn:
        finish_run(
            conn, run_id, RunStatus.FAILED, {"payments": 12, "exceptions": 2}, "odoo down", _at(5)
        )
    with ledger.connect() as conn:
        run = get_run(conn, run_id)
    assert run is not None
    assert (run.status, run.finished_at, run.counts, run.error) == (
        RunStatus.FAILED,
        _at(5),
        {"payments": 12, "exceptions": 2},
        "odoo down",
    )
    assert len(run_id) == 32
    int(run_id, 16)


def test_get_run_of_an_unknown_id_is_none(ledger: sa.Engine) -> None:
    with ledger.connect() as conn:
        assert get_run(conn, "0" * 32) is None


def test_a_run_finishes_only_once_and_never_as_running(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        with pytest.raises(ValueError, match="`status`"):
            finish_run(conn, run_id, "running", None, None, _at(1))
        finish_run(conn, run_id, "succeeded", {}, None, _at(1))
        with pytest.raises(LedgerError, match="already finished"):
            finish_run(conn, run_id, "failed", None, "late", _at(2))
        with pytest.raises(LedgerError, match="not a recorded run"):
            finish_run(conn, "f" * 32, "failed", None, None, _at(2))


def test_checkpoints_upsert_and_round_trip(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        checkpoint(conn, run_id, "pull", StepStatus.RUNNING, None, _at(1))
        checkpoint(conn, run_id, "pull", StepStatus.DONE, {"invoices": 40}, _at(2))
        checkpoint(conn, run_id, "parse", "running", {"files": 3}, _at(3))

    with ledger.connect() as conn:
        assert step_status(conn, run_id, "pull") is StepStatus.DONE
        assert step_status(conn, run_id, "parse") is StepStatus.RUNNING
        assert step_status(conn, run_id, "match") is None
        assert list_steps(conn, run_id) == [
            StepRecord(run_id, "pull", StepStatus.DONE, _at(1), _at(2), {"invoices": 40}),
            StepRecord(run_id, "parse", StepStatus.RUNNING, _at(3), None, {"files": 3}),
        ]


def test_restarting_a_failed_step_restarts_its_clock(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        checkpoint(conn, run_id, "fetch", "failed", {"error": "timeout"}, _at(1))
        checkpoint(conn, run_id, "fetch", "running", None, _at(10))
        [step] = list_steps(conn, run_id)
    assert (step.status, step.started_at, step.finished_at) == (StepStatus.RUNNING, _at(10), None)


def test_checkpoints_need_a_running_run(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        finish_run(conn, run_id, "succeeded", {}, None, _at(1))
        with pytest.raises(LedgerError, match="already finished"):
            checkpoint(conn, run_id, "pull", "done", None, _at(2))
        with pytest.raises(LedgerError, match="not a recorded run"):
            checkpoint(conn, "f" * 32, "pull", "done", None, _at(2))
        with pytest.raises(ValueError, match="skipped"):
            checkpoint(conn, run_id, "pull", "skipped", None, _at(2))


def test_last_unfinished_run_is_the_newest_running_one_of_that_job(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        assert last_unfinished_run(conn, "daily") is None
        crashed = start_run(conn, "daily", CONFIG_HASH, _at(0))
        newer_crash = start_run(conn, "daily", CONFIG_HASH, _at(10))
        finished = start_run(conn, "daily", CONFIG_HASH, _at(20))
        finish_run(conn, finished, "succeeded", {}, None, _at(21))
        start_run(conn, "edi", CONFIG_HASH, _at(30))

        assert last_unfinished_run(conn, "daily") == newer_crash
        finish_run(conn, newer_crash, "failed", None, "killed", _at(40))
        assert last_unfinished_run(conn, "daily") == crashed


def test_list_runs_newest_first_filtered_and_limited(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        daily = [start_run(conn, "daily", CONFIG_HASH, _at(i)) for i in range(3)]
        edi = start_run(conn, "edi", CONFIG_HASH, _at(5))

    with ledger.connect() as conn:
        assert [r.run_id for r in list_runs(conn)] == [edi, *reversed(daily)]
        assert [r.run_id for r in list_runs(conn, job="daily")] == list(reversed(daily))
        assert [r.run_id for r in list_runs(conn, job="daily", limit=2)] == [daily[2], daily[1]]
        assert list_runs(conn, job="nightly") == []


def test_runs_and_checkpoints_are_audited(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        checkpoint(conn, run_id, "pull", "done", None, _at(1))
        finish_run(conn, run_id, "failed", {"payments": 1}, "password=hunter2", _at(2))

    with ledger.connect() as conn:
        events = conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.event, audit_log.c.subject, audit_log.c.payload
            ).order_by(audit_log.c.seq)
        ).all()
        assert verify_chain(conn).ok
    assert [tuple(e) for e in events] == [
        ("job:daily", "run.started", f"run:{run_id}", {"job": "daily", "config_hash": CONFIG_HASH}),
        ("job:daily", "step.checkpoint", f"run:{run_id}", {"step": "pull", "status": "done"}),
        (
            "job:daily",
            "run.finished",
            f"run:{run_id}",
            {"status": "failed", "counts": {"payments": 1}, "has_error": True},
        ),
    ]


def test_the_runner_owns_the_transaction(ledger: sa.Engine) -> None:
    # Nothing is committed by the ledger functions themselves: a rollback undoes all of it.
    with ledger.connect() as conn:
        run_id = start_run(conn, "daily", CONFIG_HASH, T0)
        checkpoint(conn, run_id, "pull", "running", None, _at(1))
        conn.rollback()
    with ledger.connect() as conn:
        assert get_run(conn, run_id) is None
        assert verify_chain(conn).events == 0
