"""A throwaway Redis server on a free loopback port, for the Celery broker.

`make test` installs redis-server (scripts/install-system-deps.sh); a machine without
it fails these tests with what to install, rather than skipping them. Nothing is
persisted (`--save ''`, `--appendonly no`): the server and its folder go at the end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from servers.ports import free_port


@dataclass(frozen=True, slots=True)
class RedisServer:
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> Iterator[RedisServer]:
    """Start redis-server in a fresh temp folder; yield it; stop it and remove the folder."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: run `make test` as root or install redis-server")
    base = Path(tempfile.mkdtemp(prefix="arlink-redis-"))
    port = free_port()
    log = base / "server.log"
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(base),
        "--save", "", "--appendonly", "no", "--logfile", str(log),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not _ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-2000:] if log.exists() else ""
                pytest.fail(f"redis-server did not start: {tail}")
            time.sleep(0.05)
        yield RedisServer(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)
