"""The generated day the web tests run on, and helpers for reading its pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from bench.workers import generate_day
from sync_jobs.clerk_actions import open_invoices
from sync_jobs.cli import app as cli
from sync_jobs.config import LoadedConfig, load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import exception_items
from sync_jobs.wiring import ledger_url

PASSWORD = "correct horse battery staple"
API_TOKEN = "t0ken-for-scripts-0123456789"
# The off-loopback settings: one user and an API token, both from files, as in production.
WEB_CONFIG = """
[web]
api_token = {{ file = "api-token" }}
[web.users.alice]
password_hash = "{hash}"
"""


@dataclass(frozen=True, slots=True)
class Day:
    """A workspace after one `arlink run daily` over a generated day of bank files."""

    folder: Path
    loaded: LoadedConfig
    engine: sa.Engine

    @property
    def books(self) -> Path:
        return self.folder / "books"

    def open_items(self) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(exception_items)
                .where(exception_items.c.status == "open")
                .order_by(exception_items.c.id)
            ).all()

    def item_with_exact_suggestion(self) -> sa.Row:
        """An open item whose first suggestion's open amount equals the item's amount."""
        with self.engine.connect() as conn:
            for row in self.open_items():
                if not row.suggestions:
                    continue
                first = row.suggestions[0]["invoice_id"]
                invoice = open_invoices(conn, row.host, [first]).get(first)
                if invoice is not None and invoice.open_amount.minor == row.amount_minor:
                    return row
        raise AssertionError("the generated day has no item with an exact suggestion")


def run_day(folder: Path, extra_config: str = "") -> Day:
    generate_day(folder / "day", payments=60, files=2)
    make_workspace(folder, DEMO_CONFIG + extra_config, source=folder / "day")
    config = folder / "config.toml"
    result = CliRunner().invoke(cli, ["--config", str(config), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    loaded = load_config(config)
    return Day(folder, loaded, open_ledger(ledger_url(loaded.config)))


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
