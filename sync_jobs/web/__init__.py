"""`arlink web`: the exception queue, the trace and the cash-application dashboard as
server-rendered pages (FastAPI + Jinja2, no JavaScript needed), with the clerk's actions
and the auditor export. Needs the `web` extra."""

from __future__ import annotations

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the pages on this machine (no sign-in needed)."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")
