"""The web pages over plain HTTP (the ASGI test client): the queue and its filters, the
clerk's actions writing back to the `files` host and the ledger, the trace and its audit
status, the dashboard's numbers, the auditor export, and sign-in and CSRF off loopback."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from servers.ports import free_port
from typer.testing import CliRunner
from web_day import API_TOKEN, PASSWORD, Day, csrf_of, run_day
from workspace import DEMO_CONFIG, make_workspace

from cash_application.payer import PayerIndex
from mappings.money import Money
from sync_jobs import clerk_actions, store
from sync_jobs.cli import app as cli
from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.schema import (
    applications,
    audit_log,
    bank_files,
    bindings,
    customers,
    decisions,
    exception_items,
    invoices,
    payments,
)
from sync_jobs.web.app import create_app
from sync_jobs.web.auth import hash_password, verify_password
from sync_jobs.wiring import ledger_url


def client(day: Day, *, require_login: bool = False, days_later: int = 0) -> TestClient:
    now = datetime.now(UTC) + timedelta(days=days_later)
    app = create_app(day.loaded, require_login=require_login, engine=day.engine, now=lambda: now)
    return TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-payment="([0-9a-f]+)">', html)


def journal(day: Day, name: str) -> list[dict[str, str]]:
    with (day.books / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def source_of(day: Day, payment_id: str) -> sa.Row:
    """A payment with the name of its bank file."""
    with day.engine.connect() as conn:
        return conn.execute(
            sa.select(payments, bank_files.c.name)
            .join(bank_files, bank_files.c.digest == payments.c.file_digest)
            .where(payments.c.payment_id == payment_id)
        ).one()


def apply(web: TestClient, item: sa.Row, invoice_id: str, **fields: str):
    page = web.get(f"/items/{item.id}")
    expected = str(Money(item.amount_minor, item.currency))
    form = {"csrf": csrf_of(page.text), "invoice_id": invoice_id, "expected_open": expected}
    return web.post(f"/items/{item.id}/apply", data={**form, **fields})


def test_queue_lists_the_generated_days_exceptions(day: Day) -> None:
    items = day.open_items()
    assert len(items) >= 5
    html = client(day).get("/queue").text
    assert sorted(listed(html)) == sorted(row.payment_id for row in items)
    assert f"({len(items)} open)" in html


def test_queue_filters_by_reason_amount_customer_and_age(day: Day) -> None:
    items = day.open_items()
    web = client(day)
    reason = items[0].reason
    by_reason = listed(web.get("/queue", params={"reason": reason}).text)
    assert sorted(by_reason) == sorted(r.payment_id for r in items if r.reason == reason)
    low = sorted(r.amount_minor for r in items)[len(items) // 2]
    by_amount = listed(web.get("/queue", params={"min_amount": str(Money(low, "USD"))}).text)
    assert sorted(by_amount) == sorted(r.payment_id for r in items if r.amount_minor >= low)
    named = next(r for r in items if r.suggestions)
    with day.engine.connect() as conn:
        customer = conn.scalar(
            sa.select(invoices.c.customer_id).where(
                invoices.c.invoice_id == named.suggestions[0]["invoice_id"]
            )
        )
        name = conn.scalar(sa.select(customers.c.name).where(customers.c.customer_id == customer))
    assert named.payment_id in listed(web.get("/queue", params={"customer": customer}).text)
    by_name = listed(web.get("/queue", params={"customer": name.lower()}).text)
    assert named.payment_id in by_name
    assert listed(web.get("/queue", params={"customer": "no such customer"}).text) == []
    assert listed(web.get("/queue", params={"min_age_days": "1"}).text) == []
    later = client(day, days_later=3)
    assert len(listed(later.get("/queue", params={"min_age_days": "2"}).text)) == len(items)


def test_an_item_shows_its_payment_and_ranked_suggestions_with_reasons(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    html = client(day).get(f"/items/{item.id}").text
    payment = source_of(day, item.payment_id)
    assert f"{payment.name}</a>, lines {payment.first_line}-{payment.last_line}" in html
    assert f"<dt>Bank reference</dt><dd>{payment.bank_reference}</dd>" in html
    assert f'<dd class="payer">{payment.payer_name or "-"}' in html
    suggestion = item.suggestions[0]
    assert f'<tr data-invoice="{suggestion["invoice_id"]}">' in html
    assert suggestion["reasons"][0]["text"].replace("'", "&#39;") in html


def test_applying_a_suggestion_writes_back_and_leaves_the_queue(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    invoice_id = item.suggestions[0]["invoice_id"]
    web = client(day)
    response = apply(web, item, invoice_id)
    assert response.status_code == 303
    assert item.payment_id not in listed(web.get(response.headers["location"]).text)
    # The files host's journal holds the application, with the ledger's idempotency key.
    rows = [r for r in journal(day, "applications.csv") if r["payment_id"] == item.payment_id]
    assert [(r["invoice_id"], r["amount_applied"]) for r in rows] == [
        (invoice_id, str(Money(item.amount_minor, item.currency)))
    ]
    with day.engine.connect() as conn:
        app_row = conn.execute(
            sa.select(applications).where(applications.c.payment_id == item.payment_id)
        ).one()
        closed = conn.execute(
            sa.select(exception_items).where(exception_items.c.id == item.id)
        ).one()
        events = conn.execute(
            sa.select(audit_log.c.event, audit_log.c.actor).where(
                audit_log.c.subject.in_([item.payment_id, app_row.idempotency_key])
            )
        ).all()
        assert verify_chain(conn).ok
    assert app_row.writeback_status == "confirmed"
    assert app_row.idempotency_key == rows[0]["idempotency_key"]
    assert app_row.external_id.startswith("applications.csv:")
    assert closed.status == "resolved"
    assert closed.resolution["action"] == "apply"
    assert closed.resolution["invoice_id"] == invoice_id
    assert closed.resolution["by"] == "web:local"
    assert ("clerk_applied", "web:local") in events
    assert ("exception_resolved", "web:local") in events
    assert ("application_confirmed", "web:local") in events
    # The next pull sees the invoice settled, as if the clerk had worked in the host.
    result = CliRunner().invoke(cli, ["--config", str(day.folder / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    with day.engine.connect() as conn:
        status = conn.scalar(
            sa.select(invoices.c.status).where(invoices.c.invoice_id == invoice_id)
        )
    assert status == "closed"


def test_a_failed_write_back_stays_pending_and_the_next_run_posts_it_once(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    journal_file = day.books / "applications.csv"
    saved = journal_file.read_bytes()
    journal_file.unlink()
    journal_file.mkdir()  # the host cannot be written: reading its journal fails
    web = client(day)
    response = apply(web, item, item.suggestions[0]["invoice_id"])
    assert response.status_code == 303
    page = web.get(response.headers["location"]).text
    assert "write-back failed, the next run retries it (IsADirectoryError" in page
    with day.engine.connect() as conn:
        status = conn.scalar(
            sa.select(applications.c.writeback_status).where(
                applications.c.payment_id == item.payment_id
            )
        )
    assert status == "written"
    journal_file.rmdir()
    journal_file.write_bytes(saved)
    result = CliRunner().invoke(cli, ["--config", str(day.folder / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    rows = [r for r in journal(day, "applications.csv") if r["payment_id"] == item.payment_id]
    assert len(rows) == 1


def test_a_partial_application_leaves_the_remainder_in_the_queue(day: Day) -> None:
    item = next(row for row in day.open_items() if row.amount_minor > 20_000)
    with day.engine.connect() as conn:
        invoice = conn.execute(
            sa.select(invoices)
            .where(invoices.c.status == "open", invoices.c.open_minor > 10_000)
            .order_by(invoices.c.invoice_id.desc())
        ).first()
    web = client(day)
    found = web.get(f"/items/{item.id}", params={"q": invoice.number}).text
    assert f'<tr data-invoice="{invoice.invoice_id}">' in found
    response = apply(web, item, invoice.invoice_id, amount="100.00", note="customer called")
    assert response.status_code == 303
    remainder = Money(item.amount_minor - 10_000, item.currency)
    page = web.get(response.headers["location"]).text
    assert f"{remainder.currency} {remainder} remains open" in page
    assert f'id="open-amount">{remainder.currency} {remainder}<' in page
    assert item.payment_id in listed(web.get("/queue").text)
    rows = [r for r in journal(day, "applications.csv") if r["payment_id"] == item.payment_id]
    assert [(r["invoice_id"], r["amount_applied"]) for r in rows] == [
        (invoice.invoice_id, "100.00")
    ]
    # The form still shows the old amount: submitting it again is refused, not applied twice.
    again = web.post(
        f"/items/{item.id}/apply",
        data={
            "csrf": csrf_of(page),
            "invoice_id": invoice.invoice_id,
            "expected_open": str(Money(item.amount_minor, item.currency)),
            "amount": "100.00",
        },
    )
    assert again.status_code == 409
    assert "changed since the page was shown" in again.text
    with day.engine.connect() as conn:
        count = conn.scalar(
            sa.select(sa.func.count()).where(applications.c.payment_id == item.payment_id)
        )
    assert count == 1


def test_an_invoice_paid_since_the_last_pull_is_not_offered_again(day: Day) -> None:
    # A second payment of an invoice another payment settled in the same run: the
    # snapshot still shows it open, the confirmed write-back says otherwise.
    item = next(row for row in day.open_items() if row.reason == "duplicate")
    invoice_id = item.suggestions[0]["invoice_id"]
    web = client(day)
    row = web.get(f"/items/{item.id}").text.split(f'<tr data-invoice="{invoice_id}">')[1]
    assert ">closed</td>" in row.split("</tr>")[0]
    response = apply(web, item, invoice_id)
    assert response.status_code == 409
    assert f"invoice &#39;{invoice_id}&#39; is not open in main" in response.text
    assert all(r["payment_id"] != item.payment_id for r in journal(day, "applications.csv"))


def test_clerk_actions_on_a_postgresql_ledger(tmp_path: Path, postgres_server) -> None:
    url = postgres_server.new_database()
    day = run_day(tmp_path, f'[ledger]\nurl = "{url}"\n')
    try:
        exact = day.item_with_exact_suggestion()
        web = client(day)
        assert apply(web, exact, exact.suggestions[0]["invoice_id"]).status_code == 303
        again = next(row for row in day.open_items() if row.amount_minor > 20_000)
        with day.engine.connect() as conn:
            invoice_id = conn.scalar(
                sa.select(invoices.c.invoice_id)
                .where(invoices.c.status == "open", invoices.c.open_minor > 10_000)
                .order_by(invoices.c.invoice_id.desc())
            )
        assert apply(web, again, invoice_id, amount="100.00").status_code == 303
        queue = listed(web.get("/queue").text)
        assert exact.payment_id not in queue
        assert again.payment_id in queue
        trace = web.get("/trace", params={"id": exact.payment_id}).text
        assert 'class="chain-ok" id="chain"' in trace
        assert "Ledger rows of this payment agree with their audit events." in trace
    finally:
        day.engine.dispose()


def test_a_write_off_beyond_the_policy_is_refused(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    invoice_id = item.suggestions[0]["invoice_id"]
    response = apply(client(day), item, invoice_id, amount="10.00", write_off="60.00")
    assert response.status_code == 409
    assert "write_off: USD 60.00 is outside the policy&#39;s write-off limit" in response.text
    assert all(r["payment_id"] != item.payment_id for r in journal(day, "applications.csv"))


def test_a_write_off_within_the_policy_settles_the_invoice(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    invoice_id = item.suggestions[0]["invoice_id"]
    short = Money(item.amount_minor - 1_000, item.currency)
    response = apply(client(day), item, invoice_id, amount=str(short), write_off="10.00")
    assert response.status_code == 303
    rows = [r for r in journal(day, "applications.csv") if r["payment_id"] == item.payment_id]
    assert [(r["amount_applied"], r["write_off"]) for r in rows] == [(str(short), "10.00")]
    with day.engine.connect() as conn:
        left = conn.execute(
            sa.select(exception_items.c.status, exception_items.c.amount_minor).where(
                exception_items.c.id == item.id
            )
        ).one()
        still_open = clerk_actions.open_invoices(conn, "main", [invoice_id])
    assert tuple(left) == ("open", 1_000)  # the 10.00 the payment still holds
    assert still_open == {}


def test_the_matcher_learns_the_payer_a_clerk_applied(tmp_path: Path) -> None:
    make_workspace(tmp_path, DEMO_CONFIG)  # the demo: TYRELL CORP pays, nobody knows them
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    loaded = load_config(tmp_path / "config.toml")
    day = Day(tmp_path, loaded, open_ledger(ledger_url(loaded.config)))
    try:
        item = next(
            row for row in day.open_items() if source_of(day, row.payment_id).payer_name
            and row.reason == "unknown_payer"
        )  # fmt: skip
        payer = source_of(day, item.payment_id)
        assert apply(client(day), item, "5043").status_code == 303  # C001's INV-10043
        with day.engine.connect() as conn:
            history = clerk_actions.learned_history(conn, "main")
            known = store.load_customers(conn, "main")
    finally:
        day.engine.dispose()
    assert history.resolutions == ((payer.payer_name, payer.payer_account or "", "C001"),)
    before = PayerIndex.build(known, None).identify(payer.payer_name, None)
    after = PayerIndex.build(known, history).identify(payer.payer_name, None)
    assert before.evidence == "none"
    assert (after.evidence, after.customers) == ("learned_alias", frozenset({"C001"}))


def test_on_account_and_not_ours_close_the_item(day: Day) -> None:
    first, second = day.open_items()[:2]
    web = client(day)
    for item, action in ((first, "on_account"), (second, "not_ours")):
        page = web.get(f"/items/{item.id}").text
        response = web.post(
            f"/items/{item.id}/close",
            data={
                "csrf": csrf_of(page),
                "action": action,
                "expected_open": str(Money(item.amount_minor, item.currency)),
                "note": "refund requested" if action == "not_ours" else "",
            },
        )
        assert response.status_code == 303
    remaining = listed(web.get("/queue").text)
    assert first.payment_id not in remaining
    assert second.payment_id not in remaining
    with day.engine.connect() as conn:
        resolutions = dict(
            conn.execute(
                sa.select(exception_items.c.payment_id, exception_items.c.resolution).where(
                    exception_items.c.id.in_([first.id, second.id])
                )
            ).all()
        )
    assert resolutions[first.payment_id]["action"] == "on_account"
    assert resolutions[second.payment_id]["note"] == "refund requested"


def test_not_ours_closes_the_item_in_the_files_host_once(day: Day) -> None:
    item = day.open_items()[0]
    assert item.payment_id in {row["payment_id"] for row in journal(day, "exceptions.csv")}
    web = client(day)
    page = web.get(f"/items/{item.id}").text
    form = {"csrf": csrf_of(page), "action": "not_ours", "note": "refund to sender"}
    expected = {"expected_open": str(Money(item.amount_minor, item.currency))}
    response = web.post(f"/items/{item.id}/close", data={**form, **expected})
    assert response.status_code == 303
    assert "write-back failed" not in response.headers["location"]
    # The host's exception is closed where a clerk closes it: a `resolutions.csv` row.
    (row,) = [r for r in journal(day, "resolutions.csv") if r["payment_id"] == item.payment_id]
    assert (row["action"], row["invoice_id"]) == ("not_ours", "")
    assert row["note"] == "refund to sender (not ours by web:local in arlink web)"
    with day.engine.connect() as conn:
        closed = conn.execute(
            sa.select(exception_items).where(exception_items.c.id == item.id)
        ).one()
        binding = conn.execute(
            sa.select(bindings).where(bindings.c.local_id == row["idempotency_key"])
        ).one()
        confirmed = conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_log)
            .where(
                audit_log.c.event == "resolution_confirmed",
                audit_log.c.subject == row["idempotency_key"],
            )
        )
    assert closed.resolution["idempotency_key"] == row["idempotency_key"]
    assert (binding.entity, binding.status, binding.external_id) == (
        "resolution",
        "confirmed",
        f"resolutions.csv:{len(journal(day, 'resolutions.csv')) + 1}",
    )
    assert confirmed == 1
    # The next run pulls it back as the resolution it is: nothing reopened or written twice.
    result = CliRunner().invoke(cli, ["--config", str(day.folder / "config.toml"), "run", "daily"])
    assert result.exit_code == 0, result.stderr
    rows = [r for r in journal(day, "resolutions.csv") if r["payment_id"] == item.payment_id]
    assert len(rows) == 1
    with day.engine.connect() as conn:
        after = conn.execute(
            sa.select(exception_items).where(exception_items.c.id == item.id)
        ).one()
    assert after.status == "resolved"
    assert after.resolution == closed.resolution


def test_the_trace_of_an_applied_payment_shows_its_file_line_and_reasons(day: Day) -> None:
    with day.engine.connect() as conn:
        decision = conn.execute(
            sa.select(decisions).where(decisions.c.outcome == "applied").limit(1)
        ).one()
    payment = source_of(day, decision.payment_id)
    html = client(day).get("/trace", params={"id": decision.payment_id}).text
    assert f"{payment.name}</a>, lines {payment.first_line}-{payment.last_line}" in html
    raw = (day.folder / "day" / "bank" / payment.name).read_text().splitlines()
    assert raw[payment.first_line - 1] in html
    for reason in decision.reasons:
        assert reason["text"].replace("'", "&#39;") in html
    assert 'class="chain-ok"' in html


def test_an_edited_ledger_row_turns_the_audit_status_red(day: Day) -> None:
    with day.engine.begin() as conn:
        seq, payment_id = conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.subject)
            .where(audit_log.c.event == "decision_recorded")
            .limit(1)
        ).one()
        conn.execute(
            sa.update(audit_log)
            .where(audit_log.c.seq == seq)
            .values(payload={"outcome": "applied", "edited": True})
        )
    html = client(day).get("/trace", params={"id": payment_id}).text
    assert 'class="chain-broken"' in html
    assert f"event {seq}: `hash` does not match its content" in html


def test_the_dashboard_charts_carry_their_numbers(day: Day) -> None:
    with day.engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(decisions.c.outcome, sa.func.count()).group_by(decisions.c.outcome)
            ).all()
        )
        applied = conn.scalar(sa.select(sa.func.sum(applications.c.amount_minor)))
        waiting = conn.scalar(
            sa.select(sa.func.sum(exception_items.c.amount_minor)).where(
                exception_items.c.status == "open"
            )
        )
    html = client(day).get("/dashboard").text
    total = sum(counts.values())
    rate = f"{100 * counts['applied'] / total:.1f}%"
    per_run = html.split('id="rate-per-run"')[1].split("</table>")[0]
    assert f'<td class="num">{total}</td><td class="num">{counts["applied"]}</td>' in per_run
    assert rate in per_run
    assert html.count("<svg") == 5
    assert f">{rate}</text>" in html  # the bar's label in the chart
    assert f"USD {Money(applied, 'USD')}" in html.split('id="cash"')[1]
    assert f"USD {Money(waiting, 'USD')}" in html.split('id="cash"')[1]


def test_the_auditor_export_lists_every_application_with_lineage(day: Day) -> None:
    today = datetime.now(UTC).date()
    args = ["--from", f"{today - timedelta(days=1)}", "--to", f"{today}"]
    config = ["--config", str(day.folder / "config.toml")]
    result = CliRunner().invoke(cli, [*config, "audit", "export", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    exported = json.loads(result.stdout)
    with day.engine.connect() as conn:
        keys = set(conn.scalars(sa.select(applications.c.idempotency_key)))
    assert {row["idempotency_key"] for row in exported["applications"]} == keys
    assert exported["chain"]["ok"] is True
    row = exported["applications"][0]
    assert row["file_name"].endswith(".bai2")
    assert row["first_line"] > 0
    assert row["reasons"]
    download = client(day).get(
        "/audit/export", params={"from": args[1], "to": args[3], "format": "csv"}
    )
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == len(keys)
    assert {r["chain_ok"] for r in rows} == {"yes"}
    # Outside the period: nothing; a tampered chain: the export says so and exits 1.
    before = ["--from", "2020-01-01", "--to", "2020-01-31"]
    empty = CliRunner().invoke(cli, [*config, "audit", "export", *before, "--format", "json"])
    assert json.loads(empty.stdout)["applications"] == []
    with day.engine.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3).values(actor="someone"))
    output = day.folder / "export.csv"
    broken = CliRunner().invoke(cli, [*config, "audit", "export", *args, "--output", str(output)])
    assert broken.exit_code == 1
    assert "audit chain broken" in broken.stderr
    assert {r["chain_ok"] for r in csv.DictReader(output.open())} == {"NO"}


def test_an_edited_application_row_disagrees_with_its_audit_event(day: Day) -> None:
    with day.engine.begin() as conn:
        app_id, payment_id, invoice_id, amount = conn.execute(
            sa.select(
                applications.c.id,
                applications.c.payment_id,
                applications.c.invoice_id,
                applications.c.amount_minor,
            ).limit(1)
        ).one()
        conn.execute(
            sa.update(applications)
            .where(applications.c.id == app_id)
            .values(amount_minor=amount + 100)
        )
    html = client(day).get("/trace", params={"id": payment_id}).text
    assert 'class="chain-ok" id="chain"' in html  # the events themselves are intact
    said = f"its audit event says {Money(amount, 'USD')} to invoice {invoice_id}"
    assert said in html.split('class="chain-broken records"')[1]


def test_clerk_rows_agree_with_their_audit_events(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    web = client(day)
    assert apply(web, item, item.suggestions[0]["invoice_id"]).status_code == 303
    html = web.get("/trace", params={"id": item.payment_id}).text
    assert "Ledger rows of this payment agree with their audit events." in html
    assert 'class="chain-broken' not in html


def test_arlink_web_serves_the_pages_on_loopback(day: Day) -> None:
    port = free_port()
    arlink = str(Path(sys.executable).parent / "arlink")
    command = [arlink, "--config", str(day.folder / "config.toml")]
    server = subprocess.Popen(
        [*command, "web", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/queue", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.1)
        else:
            raise AssertionError(f"arlink web did not answer on port {port}")
        assert response.status_code == 200
        assert sorted(listed(response.text)) == sorted(r.payment_id for r in day.open_items())
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- off loopback: sign-in, CSRF, API token ---------------------------------------------


def test_off_loopback_every_page_needs_a_sign_in(day: Day) -> None:
    web = client(day, require_login=True)
    for path in ("/queue", "/dashboard", "/trace", "/audit/export?from=2026-01-01&to=2026-01-02"):
        response = web.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    login = web.get("/login").text
    wrong = web.post(
        "/login", data={"csrf": csrf_of(login), "username": "alice", "password": "guess"}
    )
    assert wrong.status_code == 401
    assert web.get("/queue").status_code == 303
    right = web.post(
        "/login", data={"csrf": csrf_of(login), "username": "alice", "password": PASSWORD}
    )
    assert right.status_code == 303
    assert web.get("/queue").status_code == 200


def test_a_forged_post_is_refused_off_loopback(day: Day) -> None:
    item = day.item_with_exact_suggestion()
    form = {
        "invoice_id": item.suggestions[0]["invoice_id"],
        "expected_open": str(Money(item.amount_minor, item.currency)),
    }
    web = client(day, require_login=True)
    # No session at all (another site's form, where SameSite keeps the cookie back).
    assert web.post(f"/items/{item.id}/apply", data=form).status_code == 403
    login = web.get("/login").text
    # A login form without the token is refused too.
    no_token = web.post("/login", data={"username": "alice", "password": PASSWORD})
    assert no_token.status_code == 403
    web.post("/login", data={"csrf": csrf_of(login), "username": "alice", "password": PASSWORD})
    # Signed in, but without the form's token, or with another session's.
    assert web.post(f"/items/{item.id}/apply", data=form).status_code == 403
    other = client(day, require_login=True).get("/login").text
    forged = web.post(f"/items/{item.id}/apply", data={**form, "csrf": csrf_of(other)})
    assert forged.status_code == 403
    assert all(r["payment_id"] != item.payment_id for r in journal(day, "applications.csv"))
    # With its own token the same post goes through, and the audit chain names alice.
    page = web.get(f"/items/{item.id}").text
    done = web.post(f"/items/{item.id}/apply", data={**form, "csrf": csrf_of(page)})
    assert done.status_code == 303
    with day.engine.connect() as conn:
        actors = set(
            conn.scalars(sa.select(audit_log.c.actor).where(audit_log.c.event == "clerk_applied"))
        )
    assert actors == {"web:alice"}


def test_the_api_token_works_without_a_session_and_a_wrong_one_does_not(day: Day) -> None:
    item = day.open_items()[0]
    form = {"action": "on_account", "expected_open": str(Money(item.amount_minor, item.currency))}
    web = client(day, require_login=True)
    wrong = web.post(f"/items/{item.id}/close", data=form, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = web.post(
        f"/items/{item.id}/close", data=form, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert right.status_code == 303
    with day.engine.connect() as conn:
        resolution = conn.scalar(
            sa.select(exception_items.c.resolution).where(exception_items.c.id == item.id)
        )
    assert resolution["by"] == "web:api"


def test_trace_of_a_file_and_of_an_invoice(day: Day) -> None:
    with day.engine.connect() as conn:
        payment_id, invoice_id = conn.execute(
            sa.select(applications.c.payment_id, applications.c.invoice_id).limit(1)
        ).one()
    source = source_of(day, payment_id)
    web = client(day)
    by_file = web.get("/trace", params={"id": source.name}).text
    assert f'<td class="num">{source.first_line}</td><td><a href="/trace?id={payment_id}">' in (
        by_file
    )
    by_invoice = web.get("/trace", params={"id": invoice_id}).text
    assert f"{source.name}</a>, lines {source.first_line}-{source.last_line}" in by_invoice
    assert web.get("/trace", params={"id": "nothing-like-this"}).status_code == 404


def test_on_loopback_other_host_names_and_framing_are_refused(day: Day) -> None:
    app = create_app(day.loaded, require_login=False, engine=day.engine)
    rebound = TestClient(app, base_url="http://attacker.example:8000")
    assert rebound.get("/queue").status_code == 400
    page = client(day).get("/queue")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_a_plain_password_in_the_config_is_refused_without_showing_it(tmp_path: Path) -> None:
    text = 'var_dir = "var"\n[web.users.bob]\npassword_hash = "hunter2"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file=tmp_path / "config.toml")
    assert [p.path for p in caught.value.problems] == ["web.users.bob.password_hash"]
    assert "hunter2" not in str(caught.value)


def test_password_hashes_verify_only_their_password() -> None:
    stored = hash_password("s3cret")
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret ", stored)
    assert not verify_password("s3cret", "scrypt$not$a$hash")
    assert stored != hash_password("s3cret")  # salted


def test_arlink_web_hash_password_prints_a_hash_the_config_accepts(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('var_dir = "var"\n')
    config = ["--config", str(tmp_path / "config.toml")]
    result = CliRunner().invoke(cli, [*config, "web", "hash-password"], input="pa55\npa55\n")
    assert result.exit_code == 0, result.stderr
    stored = result.stdout.strip().splitlines()[-1]
    assert verify_password("pa55", stored)
    text = f'var_dir = "var"\n[web.users.bob]\npassword_hash = "{stored}"\n'
    loaded = parse_config(text, file=tmp_path / "config.toml")
    assert loaded.config.web.users["bob"].password_hash == stored


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_arlink_web_refuses_to_listen_off_loopback_without_users(tmp_path, host: str) -> None:
    (tmp_path / "config.toml").write_text('var_dir = "var"\n')
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.toml"), "web", "--host", host]
    )
    assert result.exit_code == 2
    assert "is not loopback" in result.stderr
