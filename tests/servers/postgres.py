"""A throwaway PostgreSQL server on a free loopback port (initdb + pg_ctl).

`make test` installs PostgreSQL (scripts/install-system-deps.sh); a machine without it
fails these tests with what to install, rather than skipping them. As root the
cluster runs as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from servers.ports import free_port


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    pytest.fail(
        "PostgreSQL server binaries not found: run `make test` as root or install postgresql"
    )


@dataclass(frozen=True, slots=True)
class PostgresServer:
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)


def start_postgres() -> Iterator[PostgresServer]:
    """Start a cluster in a fresh temp folder; yield it; stop it and remove the folder.

    Not under pytest's tmp_path: that tree is private to root, and the server runs as
    the `postgres` user."""
    bin_dir = _bin_dir()
    base = Path(tempfile.mkdtemp(prefix="arlink-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = {"check": True, "capture_output": True, "text": True}
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            **run,
        )
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"initdb failed: {exc.stderr[-2000:]}")
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = base / "server.log"
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*ctl, "-o", options, "-l", str(log), "-w", "start"], **run)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text()[-2000:] if log.exists() else exc.stderr
        pytest.fail(f"PostgreSQL did not start: {tail}")
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
