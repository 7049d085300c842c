"""Shared pytest configuration for the arlink test suite: fixtures for real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers.postgres import PostgresServer, start_postgres
from servers.redis import RedisServer, start_redis
from servers.sshd import SshdServer, start_sshd


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; tests take fresh databases from it."""
    yield from start_postgres()


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshdServer]:
    """One OpenSSH sshd (SFTP, chroot, key-only) for the session; tests take fresh inboxes."""
    yield from start_sshd()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the session (the Celery broker); tests take their own db number."""
    yield from start_redis()
