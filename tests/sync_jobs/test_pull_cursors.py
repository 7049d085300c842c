"""Incremental pulls: the pull step reads each stream from its ledger cursor and merges.

Over the Odoo test server (tests/servers/odoo.py, its clock ticking a second a call so
every record has its own `write_date`): the first run pulls everything, the next only
what changed since (an invoice arlink paid comes back closed and leaves the open set), and
a pull that dies before its commit leaves the cursor where it was, so the same window is
read again. Over the files host (no modification times) every pull is whole and replaces.
"""

from __future__ import annotations

import csv
import itertools
import xmlrpc.client
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from servers.odoo import OdooServer, start_odoo
from typer.testing import CliRunner
from workspace import (
    DEMO_CONFIG,
    ODOO_DEMO_CONFIG,
    ODOO_PASSWORD_ENV,
    make_workspace,
    seed_odoo_demo,
)

from sync_jobs import steps, store
from sync_jobs.cli import app as cli
from sync_jobs.config import LoadedConfig, load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.schema import (
    PULL_STREAMS,
    applications,
    audit_log,
    customers,
    invoices,
    pull_cursors,
)
from sync_jobs.runner import job_context, run_job, utc_now
from sync_jobs.wiring import ledger_url

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def ticking(start: datetime) -> Callable[[], datetime]:
    """A clock a second later at each reading."""
    seconds = itertools.count()
    return lambda: start + timedelta(seconds=next(seconds))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_section(request: pytest.FixtureRequest) -> str:
    """Config text for the ledger: the default SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    url = request.getfixturevalue("postgres_server").new_database()
    return f'\n[ledger]\nurl = "{url}"\n'


@pytest.fixture
def odoo() -> Iterator[OdooServer]:
    lifecycle = start_odoo(17, clock=ticking(T0))
    server = next(lifecycle)
    try:
        seed_odoo_demo(server.url)
        yield server
    finally:
        lifecycle.close()


def odoo_call(server: OdooServer, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    return models.execute_kw(server.database, 2, "admin", model, method, list(args), kwargs)


@pytest.fixture
def odoo_workspace(
    tmp_path: Path, odoo: OdooServer, ledger_section: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[LoadedConfig, sa.Engine]:
    monkeypatch.setenv(*ODOO_PASSWORD_ENV)
    config = ODOO_DEMO_CONFIG.format(url=odoo.url) + ledger_section
    make_workspace(tmp_path, config, folders=("bank",))
    loaded = load_config(tmp_path / "config.toml")
    return loaded, open_ledger(ledger_url(loaded.config))


def pull(loaded: LoadedConfig, engine: sa.Engine, now: Callable[[], datetime] = utc_now) -> Any:
    ctx = job_context(engine, loaded, "daily", "pull-test", now, lambda line: None)
    return steps.pull(ctx)


def came_back(engine: sa.Engine, host: str) -> set[str]:
    """Invoices the last pull stored (their `pulled_at` is the invoices cursor's)."""
    with engine.connect() as conn:
        at = conn.scalar(
            sa.select(pull_cursors.c.pulled_at).where(
                pull_cursors.c.host == host, pull_cursors.c.stream == "invoices"
            )
        )
        return set(
            conn.scalars(
                sa.select(invoices.c.invoice_id).where(
                    invoices.c.host == host, invoices.c.pulled_at == at
                )
            )
        )


def at_cursor_second(server: OdooServer, cursor: dict[str, datetime]) -> set[str]:
    """Invoices changed in the invoices cursor's own second: a pull from it reads them
    again (its lower bound is closed, so nothing changed in that second is missed)."""
    moment = cursor["invoices"].strftime("%Y-%m-%d %H:%M:%S")
    rows = odoo_call(
        server, "account.move", "search_read", [["write_date", "=", moment]], fields=["id"]
    )
    return {str(row["id"]) for row in rows}


def cursors(engine: sa.Engine, host: str) -> dict[str, datetime]:
    with engine.connect() as conn:
        return store.load_pull_cursors(conn, host)


def open_amounts(engine: sa.Engine, host: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            invoice_id: invoice.open_amount.minor
            for invoice_id, invoice in store.open_invoices(conn, host).items()
        }


def test_odoo_next_run_pulls_only_what_changed_and_paid_invoices_leave(
    odoo: OdooServer, odoo_workspace: tuple[LoadedConfig, sa.Engine]
) -> None:
    loaded, engine = odoo_workspace
    try:
        first = run_job(engine, loaded, "daily")
        with engine.connect() as conn:
            paid = set(conn.scalars(sa.select(applications.c.invoice_id).distinct()))
            everything = set(conn.scalars(sa.select(invoices.c.invoice_id)))
        assert first.summary.applied > 0
        assert paid
        first_cursors = cursors(engine, "erp")
        assert set(first_cursors) == {"customers", "invoices"}  # no resolution yet
        at_cursor = at_cursor_second(odoo, first_cursors)
        before = open_amounts(engine, "erp")

        run_job(engine, loaded, "daily")

        assert came_back(engine, "erp") == paid | at_cursor
        assert len(paid | at_cursor) < len(everything)
        assert cursors(engine, "erp")["invoices"] > first_cursors["invoices"]
        with engine.connect() as conn:
            statuses = dict(
                conn.execute(
                    sa.select(invoices.c.invoice_id, invoices.c.status).where(
                        invoices.c.invoice_id.in_(paid)
                    )
                ).all()
            )
        fully_paid = {i for i in paid if i not in before}
        assert fully_paid
        assert all(statuses[i] == "closed" for i in fully_paid)
        # What the ledger knew better than the snapshot is what the host now says.
        assert open_amounts(engine, "erp") == before
    finally:
        engine.dispose()


def test_odoo_touched_invoice_comes_back_and_a_crash_before_commit_rereads_it(
    odoo: OdooServer, odoo_workspace: tuple[LoadedConfig, sa.Engine]
) -> None:
    loaded, engine = odoo_workspace
    try:
        pull(loaded, engine)
        first_cursors = cursors(engine, "erp")
        (touched,) = odoo_call(odoo, "account.move", "search", [["name", "=", "INV-10047"]])
        odoo_call(odoo, "account.move", "write", [touched], {"ref": "PO-CHANGED"})

        def crash() -> datetime:
            raise RuntimeError("killed before the pull's commit")

        with pytest.raises(RuntimeError, match="killed"):
            pull(loaded, engine, crash)
        assert cursors(engine, "erp") == first_cursors

        counts = pull(loaded, engine)
        expected = {str(touched)} | at_cursor_second(odoo, first_cursors)
        assert came_back(engine, "erp") == expected
        assert counts["invoices"] == len(expected)
        with engine.connect() as conn:
            po_number = conn.scalar(
                sa.select(invoices.c.po_number).where(invoices.c.invoice_id == str(touched))
            )
        assert po_number == "PO-CHANGED"
        assert cursors(engine, "erp")["invoices"] > first_cursors["invoices"]
    finally:
        engine.dispose()


def last_pull(engine: sa.Engine) -> dict[str, Any]:
    """The payload of the last `books_pulled` audit event."""
    with engine.connect() as conn:
        payload = conn.scalar(
            sa.select(audit_log.c.payload)
            .where(audit_log.c.event == "books_pulled")
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
    assert isinstance(payload, dict)
    return payload


def test_run_full_pulls_everything_again(odoo_workspace: tuple[LoadedConfig, sa.Engine]) -> None:
    loaded, engine = odoo_workspace
    try:
        pull(loaded, engine)
        pull(loaded, engine)
        assert all(last_pull(engine)["since"][s] for s in ("customers", "invoices"))
        with engine.connect() as conn:
            stored = conn.scalar(
                sa.select(sa.func.count()).select_from(invoices).where(invoices.c.status == "open")
            )

        args = ["--config", str(loaded.file), "run", "daily", "--full", "--json"]
        result = CliRunner().invoke(cli, args)

        assert result.exit_code == 0, result.stderr
        pulled = last_pull(engine)
        assert pulled["since"] == dict.fromkeys(PULL_STREAMS)
        assert pulled["invoices"] == stored  # everything open, not just what changed
    finally:
        engine.dispose()


def test_files_host_pulls_whole_and_replaces(tmp_path: Path, ledger_section: str) -> None:
    workspace = make_workspace(tmp_path, DEMO_CONFIG + ledger_section)
    loaded = load_config(workspace / "config.toml")
    engine = open_ledger(ledger_url(loaded.config))
    try:
        pull(loaded, engine)
        export = workspace / "books" / "open_invoices.csv"
        rows = list(csv.reader(export.open(newline="")))
        gone = rows.pop()[0]
        with export.open("w", newline="") as out:
            csv.writer(out).writerows(rows)

        pull(loaded, engine)

        assert cursors(engine, "main") == {}  # no modification times: never a cursor
        with engine.connect() as conn:
            status = conn.scalar(sa.select(invoices.c.status).where(invoices.c.invoice_id == gone))
            stored_customers = conn.scalar(sa.select(sa.func.count()).select_from(customers))
        assert status == "closed"
        assert gone not in open_amounts(engine, "main")
        assert (
            stored_customers
            == len(list(csv.reader((workspace / "books" / "customers.csv").open()))) - 1
        )
    finally:
        engine.dispose()


def test_matching_again_before_the_next_pull_sees_amounts_already_applied(
    tmp_path: Path, ledger_section: str
) -> None:
    workspace = make_workspace(tmp_path, DEMO_CONFIG + ledger_section)
    loaded = load_config(workspace / "config.toml")
    engine = open_ledger(ledger_url(loaded.config))
    try:
        run_job(engine, loaded, "daily")  # pull, then apply and confirm in the host
        with engine.connect() as conn:
            snapshot = dict(
                conn.execute(
                    sa.select(invoices.c.invoice_id, invoices.c.open_minor).where(
                        invoices.c.status == "open"
                    )
                ).all()
            )
        before = open_amounts(engine, "main")
        assert any(before.get(i, 0) < minor for i, minor in snapshot.items())

        pull(loaded, engine)  # the export less arlink's journal: what the ledger knew

        assert open_amounts(engine, "main") == before
    finally:
        engine.dispose()
