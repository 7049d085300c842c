"""The web pages in a real browser: Playwright driving Debian's Chromium against the app
served by uvicorn on a free loopback port. Each test writes screenshots of the pages it
visits under its temp folder; with ARLINK_SCREENSHOTS=DIR they are also copied to DIR
(`make screenshots` regenerates docs/screenshots/ for the README that way)."""

from __future__ import annotations

import csv
import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from servers.ports import free_port
from web_day import PASSWORD, Day

from mappings.money import Money
from sync_jobs.ledger.schema import audit_log, decisions
from sync_jobs.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (make system-deps)"
)


@contextmanager
def serving(day: Day, *, require_login: bool) -> Iterator[str]:
    """The app under uvicorn in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    app = create_app(day.loaded, require_login=require_login, engine=day.engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


@contextmanager
def browser(profile: Path) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile; never downloads a browser."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Callable[[Page, str], Path]]:
    """`shot(page, name)`: a full-page screenshot under the test's temp folder (and
    ARLINK_SCREENSHOTS, when set)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    wanted = os.environ.get("ARLINK_SCREENSHOTS")

    def shot(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if wanted:
            Path(wanted).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(wanted) / path.name)
        return path

    yield shot
    assert any(folder.iterdir()), "the test took no screenshot"


def journal(day: Day) -> list[dict[str, str]]:
    with (day.books / "applications.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_clerk_applies_a_suggestion_and_traces_the_payment(
    day: Day, tmp_path: Path, shots
) -> None:
    item = day.item_with_exact_suggestion()
    invoice_id = item.suggestions[0]["invoice_id"]
    with serving(day, require_login=False) as base, browser(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/queue")
        expect(page.locator("#queue tbody tr[data-payment]")).to_have_count(len(day.open_items()))
        shots(page, "queue")
        page.locator(f'tr[data-payment="{item.payment_id}"] a').click()
        expect(page.locator("#suggestions")).to_contain_text(
            item.suggestions[0]["reasons"][0]["text"]
        )
        shots(page, "item")
        page.locator(f'#suggestions tr[data-invoice="{invoice_id}"] button').click()
        expect(page.locator(".message")).to_contain_text(f"applied to invoice {invoice_id}")
        expect(page.locator(f'tr[data-payment="{item.payment_id}"]')).to_have_count(0)
        assert [r["invoice_id"] for r in journal(day) if r["payment_id"] == item.payment_id] == [
            invoice_id
        ]
        page.goto(f"{base}/trace?id={item.payment_id}")
        expect(page.locator(".payment .file")).to_contain_text(
            f"lines {_lines(day, item.payment_id)}"
        )
        expect(page.locator(".applications")).to_contain_text("confirmed")
        expect(page.locator("#chain")).to_have_class("chain-ok")
        shots(page, "trace")


def _lines(day: Day, payment_id: str) -> str:
    with day.engine.connect() as conn:
        first, last = conn.execute(
            sa.text("SELECT first_line, last_line FROM payments WHERE payment_id = :id"),
            {"id": payment_id},
        ).one()
    return f"{first}-{last}"


def test_a_partial_application_from_a_search_leaves_the_rest(
    day: Day, tmp_path: Path, shots
) -> None:
    item = next(row for row in day.open_items() if row.amount_minor > 20_000)
    with serving(day, require_login=False) as base, browser(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/items/{item.id}")
        page.get_by_label("Invoice number, id or customer id").fill("INV-500")
        page.get_by_role("button", name="Search").click()
        first = page.locator("#search-results tbody tr[data-invoice]").first
        invoice_id = first.get_attribute("data-invoice")
        first.get_by_label("Amount").fill("100.00")
        first.get_by_label("Note").fill("customer called: rest next week")
        first.get_by_role("button", name="Apply").click()
        remainder = str(Money(item.amount_minor - 10_000, item.currency))
        expect(page.locator(".message")).to_contain_text(f"USD {remainder} remains open")
        expect(page.locator("#open-amount")).to_have_text(f"USD {remainder}")
        shots(page, "item-partial")
        page.goto(f"{base}/queue")
        expect(page.locator(f'tr[data-payment="{item.payment_id}"]')).to_contain_text(remainder)
    rows = [r for r in journal(day) if r["payment_id"] == item.payment_id]
    assert [(r["invoice_id"], r["amount_applied"]) for r in rows] == [(invoice_id, "100.00")]


def test_the_dashboard_draws_its_charts_beside_their_numbers(
    day: Day, tmp_path: Path, shots
) -> None:
    with day.engine.connect() as conn:
        total = conn.scalar(sa.select(sa.func.count()).select_from(decisions))
        applied = conn.scalar(sa.select(sa.func.count()).where(decisions.c.outcome == "applied"))
    rate = f"{100 * applied / total:.1f}%"
    with serving(day, require_login=False) as base, browser(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/dashboard")
        expect(page.locator("svg.chart")).to_have_count(5)
        expect(page.locator("#rate-per-run tbody tr").first).to_contain_text(rate)
        expect(page.locator("svg.chart").first).to_contain_text(rate)
        bar = page.locator("svg.chart").first.locator("rect").first.bounding_box()
        assert bar is not None
        assert bar["width"] > 50  # drawn, not an empty frame
        shots(page, "dashboard")
        page.goto(f"{base}/audit")
        shots(page, "audit-export")


def test_an_edited_ledger_row_shows_the_audit_status_red(day: Day, tmp_path: Path, shots) -> None:
    with day.engine.begin() as conn:
        seq, payment_id = conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.subject)
            .where(audit_log.c.event == "decision_recorded")
            .limit(1)
        ).one()
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == seq).values(actor="mallory"))
    with serving(day, require_login=False) as base, browser(tmp_path / "profile") as context:
        page = context.new_page()
        page.goto(f"{base}/trace?id={payment_id}")
        chain = page.locator("#chain")
        expect(chain).to_have_class("chain-broken")
        expect(chain).to_contain_text(f"event {seq}")
        expect(chain).to_have_css("background-color", "rgb(253, 232, 232)")
        shots(page, "trace-broken")


def test_off_loopback_sign_in_is_required_and_a_forged_post_is_refused(
    day: Day, tmp_path: Path, shots
) -> None:
    item = day.item_with_exact_suggestion()
    # Another site on the same machine: same-site for the browser (ports do not count),
    # so the session cookie travels with its post; only the missing CSRF token stops it.
    evil = tmp_path / "evil"
    evil.mkdir()
    with serving(day, require_login=True) as base, browser(tmp_path / "profile") as context:
        (evil / "index.html").write_text(
            f'<form method="post" action="{base}/items/{item.id}/apply">'
            f'<input name="invoice_id" value="{item.suggestions[0]["invoice_id"]}">'
            f'<input name="expected_open" value="{Money(item.amount_minor, item.currency)}">'
            '<button id="go">win a prize</button></form>'
        )
        with _static_site(evil) as evil_url:
            page = context.new_page()
            page.goto(f"{base}/queue")
            expect(page).to_have_url(f"{base}/login")
            shots(page, "login")
            page.get_by_label("User").fill("alice")
            page.get_by_label("Password").fill("wrong")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator(".error")).to_contain_text("wrong user name or password")
            page.get_by_label("User").fill("alice")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{base}/queue")
            expect(page.locator("header .who")).to_contain_text("alice")
            page.goto(evil_url)
            with page.expect_response(f"{base}/items/{item.id}/apply") as posted:
                page.locator("#go").click()
            assert posted.value.status == 403
            expect(page.locator("body")).to_contain_text("CSRF token is missing or wrong")
    assert all(r["payment_id"] != item.payment_id for r in journal(day))


@contextmanager
def _static_site(folder: Path) -> Iterator[str]:
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
