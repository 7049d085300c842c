"""One contract, every books host: the same tests run over each host's connector through
its harness (`books_harness.py`). A host joins by adding its harness factory to
`HARNESSES`; its test server is started by the factory's fixtures."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from books_harness import BooksHarness
from click.testing import Result as CliResult
from files_harness import FilesHarness
from odbc_harness import odbc_harness
from odoo_harness import odoo_harness
from salesforce_harness import salesforce_harness
from soap_harness import SoapHarness, soap_harness
from typer.testing import CliRunner

from cash_application.policy import MatchPolicy
from connectors.files import FilesBooks
from mappings.money import Money
from mappings.records import (
    Application,
    ApplicationWrite,
    Customer,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Invoice,
    Payment,
    Reason,
    ResolutionWrite,
    SourceRef,
    Suggestion,
    idempotency_key,
)
from sync_jobs.clerk_actions import ClerkDesk, close_item
from sync_jobs.cli import app
from sync_jobs.config import load_config
from sync_jobs.ledger import default_url
from sync_jobs.store import host_refused_key
from sync_jobs.wiring import build_books

HARNESSES: dict[str, Callable[[pytest.FixtureRequest], BooksHarness]] = {
    "files": lambda request: FilesHarness(request.getfixturevalue("tmp_path") / "books"),
    "odbc-postgres": lambda request: odbc_harness(request, "postgresql"),
    "odbc-sqlite": lambda request: odbc_harness(request, "sqlite"),
    "odoo-17": lambda request: odoo_harness(request, 17),
    "odoo-18": lambda request: odoo_harness(request, 18),
    "odoo-18-jsonrpc": lambda request: odoo_harness(request, 18, "jsonrpc"),
    "salesforce-billing": lambda request: salesforce_harness(request, "billing"),
    "salesforce-custom": lambda request: salesforce_harness(request, "custom"),
    "soap-bc": lambda request: soap_harness(request, "bc"),
    "soap-generic": lambda request: soap_harness(request, "generic"),
}


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


CUSTOMERS = [
    Customer("C1", "Acme Manufacturing Inc.", bank_accounts=("021000021-1",)),
    Customer("C2", "Globex Corporation"),
]
INVOICES = [
    Invoice("I1", "INV-1001", "C1", usd("1500.00"), usd("1500.00"), date(2026, 10, 1)),
    Invoice("I2", "INV-1002", "C1", usd("250.00"), usd("250.00"), date(2026, 10, 2)),
    Invoice("I3", "INV-1003", "C2", usd("99.99"), usd("99.99"), date(2026, 10, 3)),
    Invoice("I4", "INV-1004", "C2", usd("400.00"), usd("400.00"), date(2026, 10, 4)),
]


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> BooksHarness:
    made = HARNESSES[request.param](request)
    made.seed(CUSTOMERS, INVOICES)
    return made


def payment(pid: str, amount: str) -> Payment:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 7, 8)
    return Payment(
        pid, "4021558830", date(2026, 11, 2), usd(amount), source,
        payer_name="ACME MFG", bank_reference=f"REF-{pid}", remittance="INV-1001",
    )  # fmt: skip


def write(pid: str, paid: str, invoice_id: str, amount: str, **kw: Money) -> ApplicationWrite:
    return ApplicationWrite(
        idempotency_key(pid, invoice_id),
        payment(pid, paid),
        Application(invoice_id, usd(amount), **kw),
        1.0,
        (Reason("invoice_ref_found", "invoice number found in remittance"),),
    )


def open_amounts(harness: BooksHarness) -> dict[str, Money]:
    return {i.invoice_id: i.open_amount for i in harness.host.pull_open_invoices(None)}


def test_check_passes_on_a_ready_host(harness: BooksHarness) -> None:
    results = harness.host.check()
    assert results
    assert all(result.ok for result in results), results


def test_pull_customers_and_open_invoices(harness: BooksHarness) -> None:
    customers = {c.customer_id: c.name for c in harness.host.pull_customers(None)}
    assert customers == {"C1": "Acme Manufacturing Inc.", "C2": "Globex Corporation"}
    invoices = {i.invoice_id: i for i in harness.host.pull_open_invoices(None)}
    assert set(invoices) == {"I1", "I2", "I3", "I4"}
    assert invoices["I1"].number == "INV-1001"
    assert invoices["I1"].customer_id == "C1"
    assert invoices["I3"].open_amount == usd("99.99")


def test_incremental_pull_returns_what_changed(harness: BooksHarness) -> None:
    first = harness.host.pull_open_invoices(None)
    assert first
    harness.touch_invoice("I2")
    later = harness.host.pull_open_invoices(None)
    assert "I2" in {i.invoice_id for i in later}


def test_full_application_closes_the_invoice(harness: BooksHarness) -> None:
    (result,) = harness.host.push_applications([write("p1", "1500.00", "I1", "1500.00")])
    assert not result.already_present
    assert result.external_id
    assert "I1" not in open_amounts(harness)
    assert [(a.invoice_id, a.amount) for a in harness.applied()] == [("I1", usd("1500.00"))]


def test_partial_application_leaves_the_rest_open(harness: BooksHarness) -> None:
    harness.host.push_applications([write("p1", "100.00", "I4", "100.00")])
    assert open_amounts(harness)["I4"] == usd("300.00")


def test_one_payment_for_several_invoices(harness: BooksHarness) -> None:
    harness.host.push_applications(
        [write("p1", "1750.00", "I1", "1500.00"), write("p1", "1750.00", "I2", "250.00")]
    )
    remaining = open_amounts(harness)
    assert "I1" not in remaining
    assert "I2" not in remaining
    assert sorted(a.invoice_id for a in harness.applied()) == ["I1", "I2"]


def test_write_off_closes_a_short_paid_invoice(harness: BooksHarness) -> None:
    harness.host.push_applications([write("p1", "99.90", "I3", "99.90", write_off=usd("0.09"))])
    assert "I3" not in open_amounts(harness)


def test_a_rerun_after_a_lost_confirmation_posts_nothing_twice(harness: BooksHarness) -> None:
    writes = [write("p1", "1750.00", "I1", "1500.00"), write("p1", "1750.00", "I2", "250.00")]
    first = harness.host.push_applications(writes)
    # The process died before the ledger heard back: the rerun pushes the same writes.
    again = harness.host.push_applications(writes)
    assert [r.already_present for r in again] == [True, True]
    assert [r.external_id for r in again] == [r.external_id for r in first]
    assert len(harness.applied()) == 2


def test_exceptions_land_where_the_clerk_looks_once(harness: BooksHarness) -> None:
    item = ExceptionItem(
        "p9", ExceptionReason.AMOUNT_MISMATCH, usd("1400.00"), (Suggestion("I1", 0.9),)
    )
    exception = ExceptionWrite(idempotency_key("p9", "exception"), payment("p9", "1400.00"), item)
    (first,) = harness.host.push_exceptions([exception])
    (again,) = harness.host.push_exceptions([exception])
    assert again.already_present
    assert again.external_id == first.external_id
    assert harness.exception_keys() == [exception.idempotency_key]


def test_resolutions_come_back(harness: BooksHarness) -> None:
    item = ExceptionItem("p9", ExceptionReason.NO_CANDIDATE, usd("400.00"))
    harness.host.push_exceptions(
        [ExceptionWrite(idempotency_key("p9", "exception"), payment("p9", "400.00"), item)]
    )
    harness.resolve("p9", "apply", "I4")
    (resolution,) = harness.host.pull_resolutions(None)
    assert (resolution.payment_id, resolution.action, resolution.invoice_id) == (
        "p9",
        "apply",
        "I4",
    )


@pytest.mark.parametrize("action", ["on_account", "not_ours"])
def test_a_decision_taken_in_arlink_closes_the_hosts_item_once(
    harness: BooksHarness, action: str
) -> None:
    items = [
        ExceptionWrite(
            idempotency_key(pid, "exception"),
            payment(pid, "400.00"),
            ExceptionItem(pid, ExceptionReason.NO_CANDIDATE, usd("400.00")),
        )
        for pid in ("p8", "p9")
    ]
    harness.host.push_exceptions(items)
    decision = ResolutionWrite(
        idempotency_key("p9", "resolution", action), "p9", action, None, "customer called", "ann"
    )
    (first,) = harness.host.push_resolutions([decision])
    assert not first.already_present
    assert first.external_id
    assert harness.open_exception_keys() == [items[0].idempotency_key]
    (resolution,) = harness.host.pull_resolutions(None)
    assert (resolution.payment_id, resolution.action, resolution.invoice_id) == ("p9", action, None)
    # The process died before the ledger heard back: the rerun writes nothing twice.
    (again,) = harness.host.push_resolutions([decision])
    assert again.already_present
    assert again.external_id == first.external_id
    assert len(harness.host.pull_resolutions(None)) == 1


def test_a_refused_application_comes_back_refused_and_the_rest_is_posted(
    harness: BooksHarness,
) -> None:
    harness.refuse_writes_for("INV-1002")
    writes = [write("p1", "1750.00", "I1", "1500.00"), write("p1", "1750.00", "I2", "250.00")]
    taken, refused = harness.host.push_applications(writes)
    assert taken.refused is None
    assert taken.external_id
    assert refused.refused, "the host's message"
    assert not refused.external_id
    assert [(a.invoice_id, a.amount) for a in harness.applied()] == [("I1", usd("1500.00"))]
    # A rerun finds the one posted; the host still refuses the other, and posts nothing.
    again = harness.host.push_applications(writes)
    assert (again[0].already_present, again[0].external_id) == (True, taken.external_id)
    assert again[1].refused
    assert len(harness.applied()) == 1


# ---------------------------------------------------------------------------------------
# A whole `arlink run` over the host, configured as an admin would


DEMO = Path(__file__).resolve().parents[2] / "examples"
RUN_CONFIG = """
var_dir = "var"
[books.erp]
{books}
[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"
[jobs.daily]
books = "erp"
sources = ["operating"]
[jobs.writeback]
books = "erp"
sources = ["operating"]
steps = ["write-back"]
[jobs.decide]
books = "erp"
sources = ["operating"]
steps = ["pull", "fetch", "parse", "match"]
"""


@pytest.fixture(params=sorted(HARNESSES))
def bare_harness(request: pytest.FixtureRequest) -> BooksHarness:
    return HARNESSES[request.param](request)


def demo_workspace(
    harness: BooksHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """The demo's books seeded into the host and its bank folder beside a config naming the
    host as an admin would; returns `arlink(*args)` run over that config."""
    demo = FilesBooks("demo", DEMO / "books")
    harness.seed(demo.pull_customers(None), demo.pull_open_invoices(None))
    table, env = harness.books_config()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shutil.copytree(DEMO / "bank", tmp_path / "bank")
    config = tmp_path / "config.toml"
    config.write_text(RUN_CONFIG.format(books=table))

    def arlink(*args: str) -> CliResult:
        return CliRunner().invoke(app, ["--config", str(config), *args])

    return arlink


def test_arlink_run_over_the_host_posts_once_even_after_a_lost_confirmation(
    bare_harness: BooksHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arlink = demo_workspace(bare_harness, tmp_path, monkeypatch)
    check = arlink("check")
    assert check.exit_code == 0, check.stdout + check.stderr
    run = arlink("run", "daily", "--json")
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    # The demo's mix, whatever the host (README, "Quick start").
    assert (summary["applied"], summary["partially_applied"], summary["exceptions"]) == (10, 1, 3)
    applied, excepted = bare_harness.applied(), bare_harness.exception_keys()
    engine = sa.create_engine(default_url(tmp_path / "var"))
    with engine.connect() as conn:
        ledger = {
            name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
            for name in ("applications", "exception_items")
        }
    # The host holds exactly what the ledger says was written, once each.
    assert len({a.idempotency_key for a in applied}) == len(applied) == ledger["applications"]
    assert len(set(excepted)) == len(excepted) == ledger["exception_items"] >= 3

    # The process died after the host committed, before the ledger heard back.
    with engine.begin() as conn:
        for table_name in ("applications", "exception_items"):
            conn.execute(
                sa.text(f"UPDATE {table_name} SET writeback_status='written', external_id=NULL")
            )
    engine.dispose()
    again = arlink("run", "writeback", "--json")
    assert again.exit_code == 0, again.stderr
    assert sorted(bare_harness.applied(), key=str) == sorted(applied, key=str)
    assert bare_harness.exception_keys() == excepted


def test_arlink_run_sends_a_refused_application_to_the_clerk_and_goes_on(
    bare_harness: BooksHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arlink = demo_workspace(bare_harness, tmp_path, monkeypatch)
    decided = arlink("run", "decide")
    assert decided.exit_code == 0, decided.stderr
    # Between match and write-back, the host stops taking payments on one invoice (the demo
    # pays it and INV-10062 with one payment).
    bare_harness.refuse_writes_for("INV-10063")
    run = arlink("run", "writeback", "--json")
    assert run.exit_code == 0, run.stderr
    engine = sa.create_engine(default_url(tmp_path / "var"))
    with engine.connect() as conn:
        ((key, payment_id, message),) = conn.execute(
            sa.text(
                "SELECT a.idempotency_key, a.payment_id, a.writeback_error FROM applications a "
                "JOIN invoices i ON i.host = a.host AND i.invoice_id = a.invoice_id "
                "WHERE a.writeback_status = 'refused' AND i.number = 'INV-10063'"
            )
        ).all()
        others = set(
            conn.scalars(
                sa.text(
                    "SELECT idempotency_key FROM applications WHERE writeback_status = 'confirmed'"
                )
            )
        )
        same_payment = set(
            conn.scalars(
                sa.text("SELECT idempotency_key FROM applications WHERE payment_id = :p"),
                {"p": payment_id},
            )
        )
        ((payload,),) = conn.execute(
            sa.text("SELECT payload FROM audit_log WHERE event = 'application_refused'")
        ).all()
        ((reason, exception_status),) = conn.execute(
            sa.text(
                "SELECT reason, writeback_status FROM exception_items WHERE idempotency_key = :k"
            ),
            {"k": host_refused_key(key)},
        ).all()
    assert message
    assert f"payment {payment_id}, invoice INV-10063: {message}" in run.stderr
    assert json.loads(payload)["message"] == message
    assert (reason, exception_status) == ("host_refused", "confirmed")
    # The payment's other application and every other one are in the host; the refused
    # one is not; its money is in the host's exception queue, where the clerk looks.
    held = {a.idempotency_key for a in bare_harness.applied()}
    assert held == others
    assert same_payment - {key} <= held
    assert key not in held
    assert host_refused_key(key) in bare_harness.exception_keys()

    # A rerun posts nothing more and does not try the refused application again.
    excepted = sorted(bare_harness.exception_keys())
    again = arlink("run", "writeback")
    assert again.exit_code == 0, again.stderr
    assert "refused" not in again.stderr
    assert {a.idempotency_key for a in bare_harness.applied()} == held
    assert sorted(bare_harness.exception_keys()) == excepted
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM audit_log WHERE event = 'application_refused'")
            ).scalar()
            == 1
        )
    engine.dispose()


@pytest.fixture(params=["soap-bc", "soap-generic"])
def soap_host(request: pytest.FixtureRequest) -> SoapHarness:
    return HARNESSES[request.param](request)


def test_a_refused_exception_stays_refused_and_is_not_pushed_again(
    soap_host: SoapHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Of the hosts, a SOAP service alone answers the creation of an exception record with a
    # Fault of its own (a field rule of the exception page).
    arlink = demo_workspace(soap_host, tmp_path, monkeypatch)
    assert arlink("run", "decide").exit_code == 0
    create = soap_host.mapping.exceptions.operation
    # Business Central's pages all call it `Create`: the exception page's alone refuses.
    page = "cases" if soap_host.server.flavour == "bc" else None
    soap_host.server.refuse("Payer Name must have a value", create, page)
    run = arlink("run", "writeback")
    assert run.exit_code == 0, run.stderr
    engine = sa.create_engine(default_url(tmp_path / "var"))
    with engine.connect() as conn:
        ((key, payment_id, message),) = conn.execute(
            sa.text(
                "SELECT idempotency_key, payment_id, writeback_error FROM exception_items "
                "WHERE writeback_status = 'refused'"
            )
        ).all()
        confirmed = set(
            conn.scalars(
                sa.text(
                    "SELECT idempotency_key FROM exception_items "
                    "WHERE writeback_status = 'confirmed'"
                )
            )
        )
        events = conn.execute(
            sa.text("SELECT subject, payload FROM audit_log WHERE event = 'exception_refused'")
        ).all()
    assert "Payer Name must have a value" in message
    assert f"exception of payment {payment_id}" in run.stderr
    assert [(subject, json.loads(payload)["message"]) for subject, payload in events] == [
        (key, message)
    ]
    assert set(soap_host.exception_keys()) == confirmed
    assert confirmed

    # A rerun neither sends the refused exception again nor anything else.
    calls = soap_host.server.calls.count(create)
    again = arlink("run", "writeback")
    assert again.exit_code == 0, again.stderr
    assert soap_host.server.calls.count(create) == calls
    assert set(soap_host.exception_keys()) == confirmed

    # A clerk closes the refused item in arlink web: the host holds no exception to close,
    # so it refuses the decision too, once; the item stays resolved in arlink.
    config = load_config(tmp_path / "config.toml").config
    desk = ClerkDesk(
        engine, lambda name: build_books(config, name), tmp_path / "var", MatchPolicy(), "ann",
        lambda: datetime.now(UTC),
    )  # fmt: skip
    with engine.connect() as conn:
        ((item_id, amount_minor, currency),) = conn.execute(
            sa.text(
                "SELECT id, amount_minor, currency FROM exception_items WHERE idempotency_key = :k"
            ),
            {"k": key},
        ).all()
    closed = close_item(
        desk, item_id, "on_account", expected_open=str(Money(amount_minor, currency))
    )
    assert closed.writeback_error is None
    with engine.connect() as conn:
        ((status,),) = conn.execute(sa.text("SELECT status FROM bindings")).all()
        ((payload,),) = conn.execute(
            sa.text("SELECT payload FROM audit_log WHERE event = 'resolution_refused'")
        ).all()
    assert status == "refused"
    assert f"payment {payment_id}: no exception for it" in json.loads(payload)["message"]
    updates = soap_host.server.calls.count(soap_host.mapping.exceptions.update or "")
    assert arlink("run", "writeback").exit_code == 0
    assert soap_host.server.calls.count(soap_host.mapping.exceptions.update or "") == updates
    engine.dispose()
