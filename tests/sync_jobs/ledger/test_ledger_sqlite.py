"""The default SQLite ledger: where it lives and the connection settings it relies on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sync_jobs.ledger import default_url, open_ledger
from sync_jobs.ledger.engine import SQLITE_BUSY_TIMEOUT_MS
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
