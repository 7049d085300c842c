"""Loopback ports for the test servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nobody listens on now: for a server to start on, or for a
    "host unreachable" test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
