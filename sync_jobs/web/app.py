"""The FastAPI app: server-rendered pages over the ledger, and the clerk's actions.

Pages read the ledger; actions go through `sync_jobs.clerk_actions`, which records them
and runs the ordinary write-back step. Every POST needs the session's CSRF token (or the
API token), and off loopback every page needs a signed-in user (`auth.Gate`).
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from connectors.protocols import BooksHost
from mappings.money import Money
from sync_jobs import audit_export, clerk_actions
from sync_jobs import trace as tracing
from sync_jobs.config import LoadedConfig
from sync_jobs.ledger import open_ledger
from sync_jobs.web import LOOPBACK_HOSTS, queries
from sync_jobs.web.auth import (
    ANONYMOUS,
    API_USER,
    LOCAL_USER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Gate,
)
from sync_jobs.web.charts import Bar, bar_chart
from sync_jobs.wiring import build_books, ledger_url

TEMPLATES = Path(__file__).parent / "templates"
_PUBLIC = frozenset({"/login"})
# Pages are never framed (clickjacking) and load nothing from elsewhere.
_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def gate_for(loaded: LoadedConfig, *, require_login: bool) -> Gate:
    """The sign-in policy from `[web]`: its users, API token and session secret."""
    web = loaded.config.web
    secret = web.session_secret.reveal().encode() if web.session_secret else None
    return Gate(
        require_login=require_login,
        users={name: user.password_hash for name, user in web.users.items()},
        api_token=web.api_token.reveal() if web.api_token else None,
        secret=secret or secrets.token_bytes(32),
    )


def _money(value: Money) -> str:
    return f"{value.currency} {value}"


def _decimal(field: str, text: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise HTTPException(422, f"{field}: not a number: {text!r}") from None


def _payment_traces(found: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The payment traces inside a trace (a payment's own; an invoice's payments)."""
    if found is None or found["kind"] == "file":
        return []
    return [found] if found["kind"] == "payment" else found["payments"]


def create_app(
    loaded: LoadedConfig,
    *,
    require_login: bool,
    engine: sa.Engine | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The web app for this config; `require_login` when bound off loopback."""
    config = loaded.config
    gate = gate_for(loaded, require_login=require_login)
    ledger = engine or open_ledger(ledger_url(config))
    var_dir = Path(config.var_dir)
    policy = config.matching.policy()
    templates = Jinja2Templates(
        env=jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    )
    templates.env.filters["money"] = _money
    templates.env.filters["minor"] = lambda minor, currency: _money(Money(minor, currency))
    app = FastAPI(title="arlink", docs_url=None, redoc_url=None, openapi_url=None)

    @functools.cache
    def books(name: str) -> BooksHost:
        return build_books(config, name)

    # One clerk action at a time in this process: the books host lock serialises
    # processes on PostgreSQL only, and a host connector is not written for threads.
    acting = threading.Lock()

    @app.middleware("http")
    async def identify(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cookie = None
        if gate.bearer_ok(request.headers.get("authorization")):
            request.state.session, request.state.user = None, API_USER
        else:
            session = gate.read(request.cookies.get(SESSION_COOKIE))
            if session is None or (not require_login and session.user == ANONYMOUS):
                session, cookie = gate.issue(ANONYMOUS if require_login else LOCAL_USER)
            request.state.session, request.state.user = session, session.user
        if request.state.user == ANONYMOUS and request.url.path not in _PUBLIC:
            if request.method in ("GET", "HEAD"):
                response: Response = RedirectResponse("/login", status_code=303)
            else:
                response = PlainTextResponse("sign in first", status_code=403)
        else:
            response = await call_next(request)
        if cookie is not None:
            _set_cookie(response, cookie)
        response.headers.update(_SECURITY_HEADERS)
        return response

    if not require_login:
        # No sign-in on loopback: refuse other Host names, so a site that rebinds its DNS
        # name to 127.0.0.1 cannot read the pages through a visitor's browser.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=sorted(LOOPBACK_HOSTS))

    def _set_cookie(response: Response, value: str) -> None:
        response.set_cookie(
            SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="strict"
        )

    def require_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
        """Refuse a POST that lacks this session's CSRF token (API-token calls carry none)."""
        if request.state.user == API_USER:
            return
        if not gate.csrf_ok(request.state.session, csrf):
            raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        session = request.state.session
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": request.state.user,
                "csrf": gate.csrf_token(session) if session else "",
                "require_login": require_login,
                **context,
            },
            status_code=status_code,
        )

    def desk(request: Request) -> clerk_actions.ClerkDesk:
        return clerk_actions.ClerkDesk(
            ledger, books, var_dir, policy, f"web:{request.state.user}", now
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return page(request, "login.html", error="")

    @app.post("/login", dependencies=[Depends(require_csrf)])
    def login(
        request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        if not require_login:
            return RedirectResponse("/queue", status_code=303)
        if not gate.sign_in(username, password):
            return page(request, "login.html", 401, error="wrong user name or password")
        response = RedirectResponse("/queue", status_code=303)
        _set_cookie(response, gate.issue(username)[1])
        return response

    @app.post("/logout", dependencies=[Depends(require_csrf)])
    def logout() -> Response:
        response = RedirectResponse("/login" if require_login else "/queue", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(
        request: Request,
        reason: str = "",
        min_age_days: str = "",
        min_amount: str = "",
        max_amount: str = "",
        customer: str = "",
        message: str = "",
    ) -> Response:
        age = _decimal("min_age_days", min_age_days)
        wanted = queries.QueueFilter(
            reason=reason,
            min_age_days=int(age) if age is not None else None,
            min_amount=_decimal("min_amount", min_amount),
            max_amount=_decimal("max_amount", max_amount),
            customer=customer,
        )
        with ledger.connect() as conn:
            rows = queries.queue(conn, wanted, now())
            reasons = queries.reasons_in_queue(conn)
        return page(
            request, "queue.html", rows=rows, reasons=reasons, wanted=wanted, message=message
        )

    def item_page(
        request: Request, item_id: int, q: str, status_code: int = 200, **extra: Any
    ) -> Response:
        with ledger.connect() as conn:
            found = queries.item(conn, item_id, var_dir)
            if found is None:
                raise HTTPException(404, f"no exception item {item_id}")
            host = found["row"].host
            searched = clerk_actions.search_invoices(conn, host, q) if q else []
            found["customer_names"].update(
                queries.customer_names(conn, ((host, i.customer_id) for i in searched))
            )
        context = {"error": "", "message": "", **extra}
        return page(
            request, "item.html", status_code, item=found, q=q, searched=searched, **context
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item_get(request: Request, item_id: int, q: str = "", message: str = "") -> Response:
        return item_page(request, item_id, q, message=message)

    @app.post("/items/{item_id}/apply", dependencies=[Depends(require_csrf)])
    def item_apply(
        request: Request,
        item_id: int,
        invoice_id: Annotated[str, Form()],
        expected_open: Annotated[str, Form()],
        amount: Annotated[str, Form()] = "",
        write_off: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
    ) -> Response:
        try:
            with acting:
                result = clerk_actions.apply_to_invoice(
                    desk(request),
                    item_id,
                    invoice_id=invoice_id,
                    amount=amount.strip() or None,
                    write_off=write_off.strip() or None,
                    expected_open=expected_open,
                    note=note,
                )
        except clerk_actions.ActionRefusedError as exc:
            return item_page(request, item_id, "", 409, error=str(exc))
        return _after_action(item_id, result, f"applied to invoice {invoice_id}")

    @app.post("/items/{item_id}/close", dependencies=[Depends(require_csrf)])
    def item_close(
        request: Request,
        item_id: int,
        action: Annotated[str, Form()],
        expected_open: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        if action not in clerk_actions.CLOSE_ACTIONS:
            raise HTTPException(422, f"action: expected one of {clerk_actions.CLOSE_ACTIONS}")
        try:
            with acting:
                result = clerk_actions.close_item(
                    desk(request), item_id, action, expected_open=expected_open, note=note
                )
        except clerk_actions.ActionRefusedError as exc:
            return item_page(request, item_id, "", 409, error=str(exc))
        return _after_action(item_id, result, action.replace("_", " "))

    def _after_action(item_id: int, result: clerk_actions.ActionResult, what: str) -> Response:
        text = f"payment {result.payment_id}: {what}"
        if result.writeback_error:
            text += f"; write-back failed, the next run retries it ({result.writeback_error})"
        if result.resolved:
            return RedirectResponse(f"/queue?{urlencode({'message': text})}", status_code=303)
        text += f"; {result.remaining.currency} {result.remaining} remains open"
        return RedirectResponse(f"/items/{item_id}?{urlencode({'message': text})}", status_code=303)

    @app.get("/trace", response_class=HTMLResponse)
    def trace_page(request: Request, id: str = "") -> Response:
        found = None
        if id:
            with ledger.connect() as conn:
                found = tracing.trace(conn, id.strip(), var_dir)
            for payment in _payment_traces(found):
                payment["disagreements"] = queries.disagreements(payment)
        status = 404 if id and found is None else 200
        return page(request, "trace.html", status, id=id, found=found)

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        with ledger.connect() as conn:
            per_run = queries.rates_per_run(conn)
            per_day = queries.rates_per_day(conn)
            cash = queries.cash_split(conn)
            reasons = queries.open_by_reason(conn)
            ages = queries.aging(conn, now())
            edi = queries.edi_acceptance(conn)

        def rate_bars(rates: list[queries.Rate]) -> list[Bar]:
            return [Bar(r.label, r.percent, f"{r.percent:.1f}%") for r in rates]

        charts = {
            "per_run": bar_chart("auto-apply rate per run", rate_bars(per_run), full=100),
            "per_day": bar_chart("auto-apply rate per day", rate_bars(per_day), full=100),
            "cash": bar_chart(
                "cash applied vs left in exceptions",
                [Bar(label, m.minor, _money(m)) for label, m in cash],
            ),
            "reasons": bar_chart(
                "open exceptions by reason", [Bar(r, n, str(n)) for r, n, _ in reasons]
            ),
            "aging": bar_chart(
                "open exceptions by age", [Bar(label, n, str(n)) for label, n in ages]
            ),
            "edi": bar_chart(
                "EDI documents by partner and status",
                [Bar(f"{partner} {status}", n, str(n)) for partner, status, n in edi],
            ),
        }
        return page(
            request,
            "dashboard.html",
            charts=charts,
            per_run=per_run,
            per_day=per_day,
            cash=cash,
            reasons=reasons,
            ages=ages,
            edi=edi,
        )

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        today = now().date()
        return page(request, "audit.html", start=today.replace(day=1), end=today)

    @app.get("/audit/export")
    def audit_download(
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
        fmt: Annotated[str, Query(alias="format")] = "csv",
    ) -> Response:
        if fmt not in audit_export.FORMATS:
            raise HTTPException(422, f"format: expected one of {audit_export.FORMATS}")
        with ledger.connect() as conn:
            try:
                export = audit_export.export_rows(conn, start, end)
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None
        media = "text/csv" if fmt == "csv" else "application/json"
        name = f"arlink-audit-{start}-{end}.{fmt}"
        return Response(
            audit_export.render(export, fmt),
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return app
