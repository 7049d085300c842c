"""Fixtures for the ledger tests: one fresh, migrated ledger per test, per database backend.

`ledger_url` is parametrised over `_BACKENDS`, a plain dict from backend name to a
function that returns a URL of an empty database for the requesting test: a SQLite
file under `tmp_path`, or a fresh database on the session's PostgreSQL server, so
every ledger test runs on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from sync_jobs.ledger import default_url, open_ledger


def _sqlite_url(request: pytest.FixtureRequest) -> str:
    tmp_path = request.getfixturevalue("tmp_path")
    return default_url(tmp_path / "var")


def _postgres_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_server").new_database()


_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], str]] = {
    "sqlite": _sqlite_url,
    "postgresql": _postgres_url,
}


@pytest.fixture(params=sorted(_BACKENDS))
def ledger_url(request: pytest.FixtureRequest) -> str:
    """A URL of an empty database on one backend, never migrated."""
    return _BACKENDS[request.param](request)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[sa.Engine]:
    """A ledger opened (and so migrated to head) on `ledger_url`."""
    engine = open_ledger(ledger_url)
    try:
        yield engine
    finally:
        engine.dispose()
