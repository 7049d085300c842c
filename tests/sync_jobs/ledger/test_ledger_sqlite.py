"""The default SQLite ledger: where it lives and the connection settings it relies on."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import sqlalchemy as sa

from sync_jobs.ledger import default_url, open_ledger
from sync_jobs.ledger.engine import SQLITE_BUSY_TIMEOUT_MS
from sync_jobs.ledger.locks import books_host_lock
from sync_jobs.ledger.migrate import current_revision, head_revision


def test_default_url_is_a_file_in_the_var_dir(tmp_path: Path) -> None:
    assert default_url(tmp_path) == f"sqlite:///{tmp_path}/ledger.sqlite3"


def test_open_ledger_creates_the_missing_folder(tmp_path: Path) -> None:
    var_dir = tmp_path / "does" / "not" / "exist"
    engine = open_ledger(default_url(var_dir))
    try:
        assert (var_dir / "ledger.sqlite3").is_file()
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = open_ledger(default_url(tmp_path))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_an_in_memory_ledger_opens() -> None:
    engine = open_ledger("sqlite://")
    try:
        assert set(sa.inspect(engine).get_table_names()) >= {"job_runs", "audit_log"}
    finally:
        engine.dispose()


def _hold_books_lock(url: str, held: Connection, release: Connection) -> None:
    """Child process: hold the books host's lock until told to let go (or killed)."""
    engine = open_ledger(url)
    with books_host_lock(engine, "main"):
        held.send("held")
        release.recv()


def test_the_books_host_lock_spans_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    # `arlink web` and a scheduled `arlink run` are two processes writing to one host.
    url = default_url(tmp_path)
    engine = open_ledger(url)
    context = multiprocessing.get_context("fork")
    for ending in ("release", "kill"):
        held_in, held_out = context.Pipe()
        release_in, release_out = context.Pipe()
        holder = context.Process(target=_hold_books_lock, args=(url, held_out, release_in))
        holder.start()
        assert held_in.recv() == "held"
        order: list[str] = []

        def take(order: list[str] = order) -> None:
            with books_host_lock(engine, "main"):
                order.append("acquired")

        waiter = threading.Thread(target=take)
        waiter.start()
        waiter.join(timeout=0.5)  # long enough to acquire a free lock
        order.append("let go")
        if ending == "release":
            release_out.send("go")
        else:
            os.kill(holder.pid, signal.SIGKILL)
        waiter.join()
        holder.join()
        assert order == ["let go", "acquired"], ending
    engine.dispose()
