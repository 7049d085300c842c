"""Shared pytest configuration for the arlink test suite: fixtures for real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; tests take fresh databases from it."""
    yield from start_postgres()
