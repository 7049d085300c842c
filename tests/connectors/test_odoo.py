"""What is particular to the `odoo` books host, beyond the contract suite: the test
server's own Odoo semantics (domains, orders, faults, the payment wizard), paging,
incremental pulls, Odoo 17 against 18, and writes whose answer is lost after Odoo
committed. A whole `arlink run` over Odoo, replayed after a lost confirmation, is in the
contract suite (`test_books_contract.py`), the SIGKILL harness over Odoo in
`tests/sync_jobs/test_crash_safety_odoo.py`."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from odoo_harness import OdooAdmin, odoo_settings
from servers.odoo import OdooServer
from servers.ports import free_port

from connectors.errors import AuthError, RetriesExhaustedError, RetryLaterError
from connectors.odoo import TRANSPORTS, OdooBooks, OdooRecordError, OdooRightsError, XmlRpc
from mappings.money import Money
from mappings.odoo import OdooMapping, money_from_odoo
from mappings.records import (
    Application,
    ApplicationWrite,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Payment,
    Reason,
    SourceRef,
    Suggestion,
    idempotency_key,
)
from sync_jobs.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture(params=[17, 18])
def server(request: pytest.FixtureRequest) -> Iterator[OdooServer]:
    started = OdooServer(version=request.param)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def odoo17() -> Iterator[OdooServer]:
    started = OdooServer(version=17)
    started.start()
    yield started
    started.stop()


@pytest.fixture
def admin(server: OdooServer) -> OdooAdmin:
    return OdooAdmin(server)


def books(
    server: OdooServer, rpc: Any = None, protocol: str = "xmlrpc", **overrides: Any
) -> OdooBooks:
    settings = odoo_settings(server, **overrides)
    return OdooBooks("odoo", rpc or TRANSPORTS[protocol](settings.url, 5.0), settings)


def payment(pid: str, amount: str, **kw: Any) -> Payment:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 7, 8)
    values = {"payer_name": "ACME MFG", "bank_reference": f"REF-{pid}", **kw}
    return Payment(pid, "4021558830", date(2026, 11, 2), usd(amount), source, **values)


def write(pid: str, paid: str, move: int, amount: str, **kw: Money) -> ApplicationWrite:
    return ApplicationWrite(
        idempotency_key(pid, str(move)),
        payment(pid, paid),
        Application(str(move), usd(amount), **kw),
        1.0,
        (Reason("invoice_ref_found", "invoice number found in remittance"),),
    )


def memo_field(server: OdooServer) -> str:
    return "memo" if server.version >= 18 else "ref"


def fault(call: Any) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------------------------------
# The test server behaves like Odoo


def test_domains_follow_odoo_semantics(admin: OdooAdmin) -> None:
    acme = admin.add_customer("Acme", ref="A1")
    globex = admin.add_customer("Globex")
    john = admin.add_customer("John", parent=acme)
    paid = admin.add_invoice(acme, usd("100.00"), "INV-1")
    admin.pay([paid], usd("100.00"), "full")
    open_ = admin.add_invoice(globex, usd("50.00"), "inv-2")

    def ids(model: str, domain: list[Any]) -> set[int]:
        return set(admin(model, "search", domain))

    # False is NULL: a zero residual is not "unset" (0.0 == False in Python, not in SQL).
    assert ids("account.move", [["amount_residual", "=", False]]) == set()
    assert ids("account.move", [["amount_residual", "=", 0.0]]) == {paid}
    # `!=` and `not in` include NULLs; `in` with False matches them.
    assert {globex, john} <= ids("res.partner", [["ref", "!=", "A1"]])
    assert acme not in ids("res.partner", [["ref", "not in", ["A1"]]])
    assert ids("res.partner", [["ref", "in", ["A1", False]]]) >= {acme, globex}
    assert ids("res.partner", [["parent_id", "=", False], ["name", "in", ["Acme", "John"]]]) == {
        acme
    }
    # Prefix operators, implicit "&", negation.
    assert ids("res.partner", ["|", ["name", "=", "Acme"], ["name", "=", "Globex"]]) == {
        acme,
        globex,
    }
    assert acme not in ids("res.partner", ["!", ["name", "=", "Acme"]])
    # like wraps in %, ilike ignores case, =like takes the pattern as is; =? with False is no-op.
    assert ids("account.move", [["name", "like", "INV"]]) == {paid}
    assert ids("account.move", [["name", "ilike", "inv"]]) == {paid, open_}
    assert ids("account.move", [["name", "=like", "inv-_"]]) == {open_}
    assert ids("account.move", [["ref", "=?", False]]) == {paid, open_}
    # One level of dotted path; a many2one compared with a name.
    assert ids("account.move", [["partner_id.name", "ilike", "glob"]]) == {open_}
    assert ids("account.move", [["partner_id", "=", "Acme"]]) == {paid}
    assert ids("account.move", [["amount_total", ">", 60], ["amount_total", "<=", 100]]) == {paid}


def test_reads_default_orders_and_wire_shapes(admin: OdooAdmin, server: OdooServer) -> None:
    acme = admin.add_customer("Acme")
    zeta = admin.add_customer("Zeta")
    admin.add_customer("Bob", parent=acme)
    older = admin.add_invoice(zeta, usd("10.00"), "INV-A", invoice_date="2026-10-01")
    newer = admin.add_invoice(acme, usd("20.00"), "INV-B", invoice_date="2026-10-02")
    assert admin("account.move", "search", [["id", "in", [older, newer]]]) == [newer, older]
    names = [
        row["complete_name"]
        for row in admin(
            "res.partner", "search_read", [["id", ">=", acme]], fields=["complete_name"]
        )
    ]
    assert names == ["Acme", "Acme, Bob", "Zeta"]
    (row,) = admin("account.move", "read", [newer], ["partner_id", "amount_total", "write_date"])
    assert row["partner_id"] == [acme, "Acme"]
    assert row["amount_total"] == 20.0
    datetime.strptime(row["write_date"], "%Y-%m-%d %H:%M:%S")
    assert admin("account.move", "search_count", [["id", "in", [older, newer]]]) == 2
    page = admin(
        "account.move", "search_read", [], fields=["name"], order="id asc", limit=1, offset=1
    )
    assert [p["name"] for p in page] == ["INV-B"]


def test_faults_carry_odoo_codes_and_roll_back(admin: OdooAdmin, server: OdooServer) -> None:
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    bad_login = fault(
        lambda: models.execute_kw(server.database, 2, "nope", "res.partner", "search", [[]], {})
    )
    assert bad_login.faultCode == 3
    server.denied.add(("account.move", "read"))
    assert fault(lambda: admin("account.move", "search", [])).faultCode == 4
    server.denied.clear()
    draft = admin(
        "account.move",
        "create",
        {"move_type": "out_invoice", "partner_id": admin.add_customer("A")},
    )
    context = {"active_model": "account.move", "active_ids": [draft]}
    user_error = fault(lambda: admin("account.payment.register", "create", {}, context=context))
    assert user_error.faultCode == 2
    assert "posted" in user_error.faultString
    invalid = fault(lambda: admin("res.partner", "search", [["nope", "=", 1]]))
    assert invalid.faultCode == 1
    assert "Invalid field 'nope'" in invalid.faultString
    iso = fault(
        lambda: admin("res.partner", "search", [["write_date", ">=", "2026-01-01T00:00:00"]])
    )
    assert iso.faultCode == 1
    before = admin("res.partner", "search_count", [])
    failing = [{"name": "Kept?"}, {"name": "Bad", "parent_id": 999}]
    assert fault(lambda: admin("res.partner", "create", failing)).faultCode == 2
    assert admin("res.partner", "search_count", []) == before  # the whole call rolled back


def test_a_method_returning_none_commits_then_faults(admin: OdooAdmin, server: OdooServer) -> None:
    payment_id = admin("account.payment", "create", {"amount": 10.0, "state": "draft"})
    none = fault(lambda: admin("account.payment", "action_post", [payment_id]))
    assert none.faultCode == 1
    assert "cannot marshal None" in none.faultString
    (row,) = admin("account.payment", "read", [payment_id], ["state"])
    assert row["state"] == ("posted" if server.version < 18 else "in_process")


def test_wizard_ignores_amount_and_memo_of_several_invoices_unless_grouped(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    first = admin.add_invoice(acme, usd("100.00"), "INV-1")
    second = admin.add_invoice(acme, usd("50.00"), "INV-2")
    context = {"active_model": "account.move", "active_ids": [first, second]}
    wizard = admin(
        "account.payment.register",
        "create",
        {"amount": 30.0, "communication": "mine"},
        context=context,
    )
    answer = admin("account.payment.register", "action_create_payments", [wizard], context=context)
    assert answer["res_model"] == "account.payment"  # no dont_redirect_to_payments: an action
    memo = memo_field(server)
    rows = admin("account.payment", "search_read", [], fields=["amount", memo], order="id asc")
    assert [(r["amount"], r[memo]) for r in rows] == [(100.0, "INV-1"), (50.0, "INV-2")]
    states = admin("account.move", "read", [first, second], ["payment_state", "amount_residual"])
    paid = "paid" if server.version < 18 else "in_payment"
    assert [(s["payment_state"], s["amount_residual"]) for s in states] == [(paid, 0.0)] * 2


# ---------------------------------------------------------------------------------------
# Pulls


def test_pull_groups_contacts_under_their_company_and_skips_closed(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    admin("res.partner.bank", "create", {"acc_number": "021000021-1", "partner_id": acme})
    john = admin.add_customer("John Doe", parent=acme)
    solo = admin.add_customer("Jane Solo", is_company=False)
    to_contact = admin.add_invoice(john, usd("100.00"), "INV-1")
    part = admin.add_invoice(solo, usd("80.00"), "INV-2", open_amount=usd("30.00"))
    paid = admin.add_invoice(acme, usd("10.00"), "INV-3", open_amount=usd("0.00"))
    blocked_or_paying = admin.add_invoice(acme, usd("20.00"), "INV-4")
    if server.version >= 18:
        admin("account.move", "write", [blocked_or_paying], {"payment_state": "blocked"})
    else:
        server.enterprise = True
        admin.pay([blocked_or_paying], usd("20.00"), "in the bank's hands")
    host = books(server)
    customers = {c.customer_id: c for c in host.pull_customers(None)}
    assert set(customers) == {str(acme), str(solo)}  # not the contact, not our own company
    assert customers[str(acme)].bank_accounts == ("021000021-1",)
    invoices = {i.invoice_id: i for i in host.pull_open_invoices(None)}
    assert set(invoices) == {str(to_contact), str(part)}
    assert invoices[str(to_contact)].customer_id == str(acme)
    assert invoices[str(part)].open_amount == usd("30.00")
    assert invoices[str(part)].total == usd("80.00")
    assert paid not in {int(i) for i in invoices}


def test_paging_does_not_skip_an_invoice_paid_between_pages(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    moves = [admin.add_invoice(acme, usd(f"{n}0.00"), f"INV-{n}") for n in range(1, 8)]
    real = XmlRpc.connect(server.url, 5.0)

    class PayAfterFirstPage:
        """Delegates to the real client; a clerk pays the first invoice after page one."""

        pages = 0

        def version(self) -> dict[str, Any]:
            return real.version()

        def authenticate(self, *args: Any) -> Any:
            return real.authenticate(*args)

        def execute_kw(self, *args: Any) -> Any:
            answer = real.execute_kw(*args)
            if args[3] == "account.move" and args[4] == "search_read":
                PayAfterFirstPage.pages += 1
                if PayAfterFirstPage.pages == 1:
                    admin.pay([moves[0]], usd("10.00"), "clerk")
            return answer

    pulled = books(server, rpc=PayAfterFirstPage(), page_size=2).pull_open_invoices(None)
    assert PayAfterFirstPage.pages == 4  # 7 rows in pages of 2
    assert sorted(int(i.invoice_id) for i in pulled) == moves  # none skipped


def test_incremental_pull_uses_a_closed_lower_bound_and_reports_closures(
    admin: OdooAdmin, server: OdooServer
) -> None:
    start = datetime(2026, 11, 2, 8, 0, 0, tzinfo=UTC)
    server.clock = lambda: start
    acme = admin.add_customer("Acme")
    first = admin.add_invoice(acme, usd("100.00"), "INV-1")
    second = admin.add_invoice(acme, usd("50.00"), "INV-2")
    later = start + timedelta(hours=1)
    server.clock = lambda: later
    admin.pay([second], usd("50.00"), "paid by the clerk")
    host = books(server)
    assert {i.invoice_id for i in host.pull_open_invoices(None)} == {str(first)}
    changed = host.pull_open_invoices(later)  # the cursor's own second is included
    assert [(i.invoice_id, i.status, i.open_amount) for i in changed] == [
        (str(second), "paid" if server.version < 18 else "in_payment", usd("0.00"))
    ]
    assert host.pull_open_invoices(later + timedelta(seconds=1)) == []
    assert [c.customer_id for c in host.pull_customers(start)] == [str(acme)]
    assert host.pull_customers(later) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        host.pull_open_invoices(datetime(2026, 11, 2))


def test_money_is_read_exactly_in_each_currency(admin: OdooAdmin, server: OdooServer) -> None:
    acme = admin.add_customer("Acme")
    admin.add_invoice(acme, Money.parse("1200", "JPY"), "INV-JPY")
    admin.add_invoice(acme, Money.parse("12.345", "KWD"), "INV-KWD")
    admin.add_invoice(acme, usd("0.30"), "INV-USD", open_amount=usd("0.10"))
    pulled = {i.number: i.open_amount for i in books(server).pull_open_invoices(None)}
    assert pulled == {
        "INV-JPY": Money(1200, "JPY"),
        "INV-KWD": Money(12345, "KWD"),
        "INV-USD": Money(10, "USD"),
    }
    assert money_from_odoo(0.1 + 0.2, "USD", "x") == usd("0.30")
    with pytest.raises(ValueError, match="more decimals"):
        money_from_odoo(0.305, "USD", "x")


# ---------------------------------------------------------------------------------------
# Applications


def held_payments(admin: OdooAdmin, server: OdooServer) -> list[dict[str, Any]]:
    memo = memo_field(server)
    return admin(
        "account.payment",
        "search_read",
        [[memo, "ilike", "arl-"]],
        fields=[memo, "amount", "reconciled_invoice_ids", "state"],
        order="id asc",
    )


def test_key_travels_in_the_versions_memo_field(admin: OdooAdmin, server: OdooServer) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("100.00"), "INV-1")
    (result,) = books(server).push_applications([write("p1", "100.00", move, "100.00")])
    (held,) = held_payments(admin, server)
    assert held[memo_field(server)] == f"REF-p1 {idempotency_key('p1', str(move))}:INV-1"
    assert result.external_id == f"account.payment/{held['id']}"
    assert held["state"] == ("posted" if server.version < 18 else "in_process")


def test_one_bank_payment_becomes_as_few_odoo_payments_as_odoo_allows(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme, globex = admin.add_customer("Acme"), admin.add_customer("Globex")
    a1 = admin.add_invoice(acme, usd("100.00"), "INV-1")
    a2 = admin.add_invoice(acme, usd("50.00"), "INV-2")
    a3 = admin.add_invoice(acme, usd("70.00"), "INV-3")
    g1 = admin.add_invoice(globex, usd("30.00"), "INV-4")
    host = books(server)
    # Settled exactly: one payment for both of Acme's invoices; Globex's is another payment.
    host.push_applications(
        [
            write("p1", "180.00", a1, "100.00"),
            write("p1", "180.00", a2, "50.00"),
            write("p1", "180.00", g1, "30.00"),
        ]
    )
    assert [sorted(p["reconciled_invoice_ids"]) for p in held_payments(admin, server)] == [
        sorted([a1, a2]),
        [g1],
    ]
    # A short pay among several: one payment per invoice, so each gets what was decided.
    a4 = admin.add_invoice(acme, usd("40.00"), "INV-5")
    host.push_applications([write("p2", "80.00", a3, "40.00"), write("p2", "80.00", a4, "40.00")])
    rows = admin("account.move", "read", [a3, a4], ["amount_residual"])
    assert [r["amount_residual"] for r in rows] == [30.0, 0.0]
    assert len(held_payments(admin, server)) == 4


def test_write_off_and_discount_use_their_accounts(admin: OdooAdmin, server: OdooServer) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("100.00"), "INV-1")
    books(server).push_applications([write("p1", "98.00", move, "98.00", discount=usd("2.00"))])
    (row,) = admin("account.move", "read", [move], ["amount_residual"])
    assert row["amount_residual"] == 0.0
    other = admin.add_invoice(acme, usd("10.00"), "INV-2")
    with pytest.raises(Exception, match="write_off_account"):
        books(server, write_off_account=None).push_applications(
            [write("p2", "9.99", other, "9.99", write_off=usd("0.01"))]
        )
    assert len(held_payments(admin, server)) == 1


def test_marshal_none_after_commit_is_verified_not_posted_again(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("100.00"), "INV-1")
    server.return_none_after_commit.add(("account.payment.register", "action_create_payments"))
    host = books(server)
    writes = [write("p1", "100.00", move, "100.00")]
    (first,) = host.push_applications(writes)
    assert not first.already_present
    (again,) = host.push_applications(writes)
    assert again.already_present
    assert again.external_id == first.external_id
    assert server.calls.count(("account.payment.register", "action_create_payments")) == 1
    assert len(held_payments(admin, server)) == 1


def test_a_timeout_after_commit_is_verified_and_an_unknown_outcome_waits(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("100.00"), "INV-1")
    other = admin.add_invoice(acme, usd("50.00"), "INV-2")
    server.delay_after_commit[("account.payment.register", "action_create_payments")] = 1.0
    host = books(server, rpc=XmlRpc.connect(server.url, 0.3))
    (done,) = host.push_applications([write("p1", "100.00", move, "100.00")])
    assert not done.already_present
    # The wizard committed but arlink never heard back, and no payment exists yet:
    # arlink must not guess. It says "retry later"; the next run looks before writing.
    server.delay_after_commit.clear()
    server.delay_after_commit[("account.payment.register", "create")] = 1.0
    with pytest.raises(RetryLaterError, match="outcome unknown"):
        host.push_applications([write("p2", "50.00", other, "50.00")])
    server.delay_after_commit.clear()
    (later,) = books(server).push_applications([write("p2", "50.00", other, "50.00")])
    assert not later.already_present
    assert server.calls.count(("account.payment.register", "action_create_payments")) == 2
    assert len(held_payments(admin, server)) == 2


def test_an_invoice_paid_meanwhile_is_refused_not_overpaid(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("100.00"), "INV-1")
    admin.pay([move], usd("60.00"), "clerk was faster")
    (result,) = books(server).push_applications([write("p1", "100.00", move, "100.00")])
    assert "pull again" in (result.refused or ""), result
    assert held_payments(admin, server) == []


# ---------------------------------------------------------------------------------------
# Exceptions and resolutions


def exception(pid: str, suggestions: tuple[Suggestion, ...] = (), **kw: Any) -> ExceptionWrite:
    item = ExceptionItem(pid, ExceptionReason.AMBIGUOUS, usd("75.00"), suggestions)
    return ExceptionWrite(idempotency_key(pid, "exception"), payment(pid, "75.00", **kw), item)


def activities(admin: OdooAdmin) -> list[dict[str, Any]]:
    return admin(
        "mail.activity",
        "search_read",
        [],
        fields=["res_model", "res_id", "summary", "note", "user_id"],
        order="id asc",
    )


def test_exception_activity_lands_on_the_invoice_or_customer(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("75.00"), "INV-7")
    reasons = (Reason("amount_equal", "amount equals open amount"),)
    hostile = exception("p1", (Suggestion(str(move), 0.8, reasons),), payer_name="<b>ACME</b>")
    books(server).push_exceptions([hostile])
    books(server, exceptions_target="customer").push_exceptions(
        [exception("p2", (Suggestion(str(move), 0.8),))]
    )
    books(server).push_exceptions([exception("p3")])
    rows = activities(admin)
    assert [(r["res_model"], r["res_id"]) for r in rows] == [
        ("account.move", move),
        ("res.partner", acme),
        ("res.partner", 1),  # nothing to hang it on: the company's partner
    ]
    note = rows[0]["note"]
    assert "&lt;b&gt;ACME&lt;/b&gt;" in note
    assert "<b>ACME" not in note
    assert "INV-7 (score 0.80): amount equals open amount" in note
    assert "arlink p1" in note
    assert rows[0]["user_id"][0] == 2


def test_a_done_exception_is_not_reopened_and_resolutions_come_back(
    admin: OdooAdmin, server: OdooServer
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("75.00"), "INV-7")
    host = books(server)
    writes = [exception("p1"), exception("p2"), exception("p3")]
    host.push_exceptions(writes)
    ids = {row["summary"].split()[-2]: row["id"] for row in activities(admin)}
    admin("mail.activity", "action_feedback", [ids["p1"]], feedback="Not ours: a refund")
    admin("mail.activity", "action_feedback", [ids["p2"]], feedback="keep it")
    admin.pay([move], usd("75.00"), "arlink p3")
    again = host.push_exceptions(writes)
    assert [r.already_present for r in again] == [True, True, True]
    assert len(activities(admin)) == 1  # only p3's is still open
    found = {r.payment_id: r for r in host.pull_resolutions(None)}
    assert (found["p1"].action, found["p2"].action) == ("not_ours", "on_account")
    assert (found["p3"].action, found["p3"].invoice_id, found["p3"].amount) == (
        "apply",
        str(move),
        usd("75.00"),
    )


# ---------------------------------------------------------------------------------------
# check() and the error table


def test_check_gives_one_actionable_line_each(
    admin: OdooAdmin, server: OdooServer, tmp_path: Path
) -> None:
    lines = books(server).check()
    assert all(line.ok for line in lines), lines
    (wrong,) = books(server, version=16 if server.version != 16 else 17).check()
    assert not wrong.ok
    assert f"set `version = {server.version}`" in wrong.detail
    refused = books(server, password="wrong").check()
    assert not refused[-1].ok
    assert "refused user `admin`" in refused[-1].detail
    assert "wrong" not in refused[-1].detail
    no_database = books(server, database="nope").check()
    assert no_database[-1].detail.startswith("database `nope` not found")
    (unreachable,) = books(server, url=f"http://127.0.0.1:{free_port()}").check()
    assert not unreachable.ok
    assert "cannot reach" in unreachable.detail
    custom = tmp_path / "odoo.toml"
    text = (ROOT / "mappings" / "odoo.toml").read_text()
    custom.write_text(text.replace('po_number = "ref"', 'po_number = "x_studio_po"'))
    mapped = OdooBooks(
        "odoo", XmlRpc.connect(server.url, 5.0), odoo_settings(server), OdooMapping.load(custom)
    )
    problem = next(line for line in mapped.check() if not line.ok)
    assert "`account.move` fields x_studio_po" in problem.detail
    server.denied.add(("mail.activity", "create"))
    problem = next(line for line in books(server).check() if not line.ok)
    assert "lacks create on `mail.activity`" in problem.detail


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_errors_are_grouped_by_what_to_do(
    admin: OdooAdmin, server: OdooServer, protocol: str
) -> None:
    acme = admin.add_customer("Acme")
    move = admin.add_invoice(acme, usd("10.00"), "INV-1")
    server.denied.add(("account.payment.register", "write"))
    with pytest.raises(OdooRightsError, match="lacks a right"):
        books(server, protocol=protocol).push_applications([write("p1", "10.00", move, "10.00")])
    with pytest.raises(AuthError):
        books(server, protocol=protocol, password="wrong").pull_customers(None)
    with pytest.raises(OdooRecordError, match="already posted"):
        books(server, protocol=protocol)._call("account.move", "action_post", [move])
    # Reads are retried within the policy's bound (2 attempts here), then the step fails.
    with pytest.raises(RetriesExhaustedError) as exhausted:
        books(server, protocol=protocol, url=f"http://127.0.0.1:{free_port()}").pull_customers(None)
    assert exhausted.value.attempts == 2
    assert isinstance(exhausted.value, RetryLaterError)


# ---------------------------------------------------------------------------------------
# Config


def odoo_config(books_table: str) -> str:
    return f'[books.erp]\nkind = "odoo"\n{books_table}\n'


def test_odoo_config_is_validated_with_key_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODOO_KEY", "s3cret")
    good = odoo_config(
        'url = "https://erp.example.com"\ndatabase = "prod"\nusername = "arlink"\n'
        'api_key = { env = "ODOO_KEY" }\nversion = 18\nwrite_off_account = "650000"'
    )
    loaded = parse_config(good, file=tmp_path / "config.toml").config.books["erp"]
    assert loaded.credential.reveal() == "s3cret"
    assert "s3cret" not in repr(loaded)
    bad = odoo_config(
        'url = "https://arlink:pw@erp.example.com"\ndatabase = "prod"\nusername = "arlink"\n'
        'password = "plain"\nversion = 19\nmapping = "missing.toml"'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, file=tmp_path / "config.toml")
    found = {problem.path for problem in caught.value.problems}
    assert {
        "books.erp.url",
        "books.erp.password",
        "books.erp.version",
        "books.erp.mapping",
    } <= found
