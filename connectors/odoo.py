"""The `odoo` books host: customers and open invoices from Odoo 16/17/18 over XML-RPC,
applied cash as payments through the register-payment wizard, exceptions as To-Do
activities where the clerk works.

The connector takes its RPC client (STYLE.md 14): `XmlRpc` wraps the two stdlib
`ServerProxy`s of `/xmlrpc/2` with a Transport that sets a timeout (ServerProxy has
none of its own). XML-RPC is deprecated from Odoo 19, so the client is a small
protocol (`OdooRpc`); `JsonRpc` implements it over `/jsonrpc` (config `protocol`). Model and field
names come from the mapping file (`mappings/odoo.toml`).

Write-back is idempotent. Each application's key travels in the payment's memo
(`ref` up to 17, `memo` from 18), written as `<bank reference> <key>:<invoice> ...`.
Before any write the connector looks the keys up; a key found is `already_present`.
A write is never retried blindly: Odoo commits before it marshals its answer, so a
Fault 1 "cannot marshal None", a timeout or a dropped connection after the request
means "maybe done": the connector looks the key up again and reports what it finds,
or raises `RetryLaterError` so the next run looks again before writing.

For EDI, `pull_invoice_documents` reads an invoice's product lines, taxes and parties
(`[edi]` in the mapping) and `push_edi_status` puts each EDI status on the invoice: a To-Do
activity when the billing clerk must act, a chatter note otherwise, the key in the text.

Errors go through one table (`_translate`) into the groups of `connectors.errors`:

    ConnectorError
    ├── FixConfigError        Fault 3 (AccessDenied), Fault 4 (AccessError: a missing right),
    │   │                     HTTP 401/403/404, an answer that is not XML-RPC, unknown
    │   │                     database, a mapped field Odoo does not have (Fault 1 "Invalid field")
    │   ├── AuthError         credentials refused (authenticate False, Fault 3, HTTP 401/403)
    │   └── OdooRightsError   the integration user lacks a right on a model (Fault 4)
    ├── RetryLaterError       timeouts, refused or dropped connections, HTTP 429/5xx,
    │                         serialization failures and deadlocks inside Odoo
    ├── OdooRecordError       Fault 2 (UserError, ValidationError, MissingError) and data
    │                         that cannot be posted: on a write-back, that record comes back
    │                         refused (`WriteResult.refused`), the others go on
    └── OdooServerError       any other Fault 1: a bug or an unexpected state in Odoo; stop
"""

from __future__ import annotations

import contextlib
import html
import http.client
import itertools
import json
import re
import socket
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    RetryLaterError,
    RetryPolicy,
    retrying,
    server_hint,
)
from connectors.protocols import CheckResult
from mappings.invoice_document import InvoiceDocument
from mappings.money import Money
from mappings.odoo import (
    EdiRelated,
    OdooEdiMapping,
    OdooMapping,
    OdooRowError,
    customer_from,
    invoice_document_from,
    invoice_from,
    many2one_id,
    many2one_name,
    money_from_odoo,
    money_to_odoo,
    odoo_datetime,
    odoo_datetime_text,
    odoo_text,
)
from mappings.records import (
    EDI_EXCEPTION_STATUSES,
    Application,
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)

T = TypeVar("T")
KEY = re.compile(r"arl-[0-9a-f]{24}")
# The marker in an activity's summary: `[arlink <payment id> <key>]`.
MARKER = re.compile(r"\[arlink (\S+) (arl-[0-9a-f]{24})\]")
# What a clerk writes in the memo of a payment they register for an exception.
CLERK_MEMO = re.compile(r"arlink\s+(\S+)")
LOOKUP_CHUNK = 40  # keys per lookup: an OR domain of this many leaves stays small
NOT_OURS = ("not ours", "not our", "return")


class OdooRightsError(FixConfigError):
    """The integration user lacks a right Odoo requires (Fault 4 AccessError)."""


class OdooRecordError(ConnectorError):
    """Odoo refused this record (Fault 2 UserError) or it cannot be posted as it is:
    skip it into the exception queue; the rest of the batch goes on."""


class OdooServerError(ConnectorError):
    """Odoo failed in an unexpected way (Fault 1): stop and look at the server's log."""


class _MaybeDoneError(Exception):
    """A write whose outcome is unknown (marshal-None fault, timeout): verify by lookup."""

    def __init__(self, cause: ConnectorError | xmlrpc.client.Fault) -> None:
        self.cause = cause
        super().__init__(str(cause))


# ---------------------------------------------------------------------------------------
# The RPC client


class OdooRpc(Protocol):
    """Odoo's external API, whatever the transport."""

    def version(self) -> dict[str, Any]: ...

    def authenticate(self, database: str, login: str, password: str) -> int | bool: ...

    def execute_kw(
        self,
        database: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any: ...


class _ConnectionTimeout:
    """Gives each connection an XML-RPC transport makes a timeout (the stdlib's have none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection = super().make_connection(host)  # type: ignore[misc]
        connection.timeout = self.timeout
        return connection


class TimeoutTransport(_ConnectionTimeout, xmlrpc.client.Transport):
    """An XML-RPC transport whose connections time out (the stdlib's never do)."""


class SafeTimeoutTransport(_ConnectionTimeout, xmlrpc.client.SafeTransport):
    """`TimeoutTransport` over HTTPS."""


class XmlRpc:
    """`/xmlrpc/2/common` and `/xmlrpc/2/object` through two `ServerProxy`s."""

    def __init__(self, common: xmlrpc.client.ServerProxy, models: xmlrpc.client.ServerProxy):
        self.common = common
        self.models = models

    @classmethod
    def connect(cls, url: str, timeout: float) -> XmlRpc:
        """Proxies for an Odoo base URL (`https://erp.example.com`), with a timeout."""
        base = url.rstrip("/")
        secure = urlsplit(base).scheme == "https"

        def proxy(path: str) -> xmlrpc.client.ServerProxy:
            transport = SafeTimeoutTransport(timeout) if secure else TimeoutTransport(timeout)
            return xmlrpc.client.ServerProxy(f"{base}{path}", transport=transport)

        return cls(proxy("/xmlrpc/2/common"), proxy("/xmlrpc/2/object"))

    def version(self) -> dict[str, Any]:
        return self.common.version()

    def authenticate(self, database: str, login: str, password: str) -> int | bool:
        return self.common.authenticate(database, login, password, {})

    def execute_kw(
        self,
        database: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any:
        return self.models.execute_kw(database, uid, password, model, method, args, kwargs)


_JSON_FAULT_CODES = {
    "odoo.exceptions.UserError": 2,
    "odoo.exceptions.ValidationError": 2,
    "odoo.exceptions.AccessDenied": 3,
    "odoo.exceptions.AccessError": 4,
}


class JsonRpc:
    """Odoo's `/jsonrpc` endpoint (the `call` method with `service`/`method`/`args`).

    Errors come back as XML-RPC's would, so one table translates both: an Odoo exception
    becomes `xmlrpc.client.Fault` with the code `/xmlrpc/2` gives it (UserError 2,
    AccessDenied 3, AccessError 4, anything else 1 with the traceback), an HTTP error
    `xmlrpc.client.ProtocolError`, an answer that is not JSON-RPC `ResponseError`.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.endpoint = f"{url.rstrip('/')}/jsonrpc"
        self.timeout = timeout
        self._ids = itertools.count(1)

    def _call(self, service: str, method: str, args: list[Any]) -> Any:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"service": service, "method": method, "args": args},
                "id": next(self._ids),
            }
        ).encode("utf-8")
        request = urllib.request.Request(
            self.endpoint, body, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise xmlrpc.client.ProtocolError(
                self.endpoint, exc.code, exc.reason, dict(exc.headers)
            ) from None
        except urllib.error.URLError as exc:
            # The socket error inside tells "cannot resolve" from "refused" from "timed out".
            raise exc.reason if isinstance(exc.reason, OSError) else exc from None
        except json.JSONDecodeError:
            raise xmlrpc.client.ResponseError(f"{self.endpoint} did not answer JSON") from None
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise xmlrpc.client.ResponseError(f"{self.endpoint} did not answer JSON-RPC")
        if "error" in answer:
            data = answer["error"].get("data") or {}
            code = _JSON_FAULT_CODES.get(data.get("name", ""), 1)
            text = data.get("debug") if code == 1 else data.get("message")
            raise xmlrpc.client.Fault(code, text or answer["error"].get("message", ""))
        return answer["result"]

    def version(self) -> dict[str, Any]:
        return self._call("common", "version", [])

    def authenticate(self, database: str, login: str, password: str) -> int | bool:
        return self._call("common", "authenticate", [database, login, password, {}])

    def execute_kw(
        self,
        database: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any:
        return self._call(
            "object", "execute_kw", [database, uid, password, model, method, args, kwargs]
        )


TRANSPORTS: dict[str, Callable[[str, float], OdooRpc]] = {
    "xmlrpc": XmlRpc.connect,
    "jsonrpc": JsonRpc,
}


# ---------------------------------------------------------------------------------------
# Settings and the error table


@dataclass(frozen=True, slots=True)
class OdooSettings:
    """What the admin configures for one Odoo (`[books.<name>] kind = "odoo"`)."""

    url: str
    database: str
    username: str
    password: str = field(repr=False)  # the password or an API key; never shown
    version: int = 17
    exceptions_target: str = "invoice"  # "invoice" (the best suggestion) or "customer"
    exceptions_user_id: int | None = None  # who the To-Do is assigned to; default: arlink's user
    exceptions_partner_id: int | None = None  # where unplaceable exceptions go; default: company
    post_note: bool = False  # also post the exception as a note in the record's chatter
    payment_journal: str | None = None  # journal code; default: Odoo's first bank journal
    write_off_account: str | None = None  # account code for write-offs
    discount_account: str | None = None  # account code for discounts taken
    page_size: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def where(self) -> str:
        """Host and database for messages: no credentials, no path or query."""
        parts = urlsplit(self.url)
        return (
            f"{parts.hostname}{f':{parts.port}' if parts.port else ''} database `{self.database}`"
        )


_TRANSIENT = (
    "could not serialize access",
    "concurrent update",
    "deadlock detected",
    "connection pool is full",
    "lock not available",
)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:300]


def _translate(error: BaseException, settings: OdooSettings, doing: str) -> ConnectorError:
    """The one table from what the transport raised to what the caller should do."""
    where = settings.where
    if isinstance(error, xmlrpc.client.Fault):
        message = _last_line(str(error.faultString))
        if error.faultCode == 3:
            return AuthError(f"Odoo at {where} refused user `{settings.username}` ({doing})")
        if error.faultCode == 4:
            return OdooRightsError(
                f"user `{settings.username}` lacks a right ({doing}): {message}; "
                "give it the rights listed in the README"
            )
        if error.faultCode == 2:
            return OdooRecordError(f"Odoo refused {doing}: {message}")
        if "cannot marshal None" in message:
            return OdooServerError(f"{doing}: {message}")
        if any(marker in message.lower() for marker in _TRANSIENT):
            return RetryLaterError(f"Odoo at {where} was busy ({doing}): {message}")
        if "Invalid field" in message:
            return FixConfigError(f"{doing}: {message}; fix the mapping file")
        if "does not exist" in message and "database" in message:
            return FixConfigError(f"database `{settings.database}` not found at {where}")
        return OdooServerError(f"Odoo at {where} failed ({doing}): {message}")
    if isinstance(error, xmlrpc.client.ProtocolError):
        code = error.errcode
        if code in (401, 403):
            return AuthError(f"Odoo at {where} answered HTTP {code} ({doing})")
        if code == 404:
            return FixConfigError(f"no XML-RPC at {where} (HTTP 404): check `url`")
        if code == 429 or code >= 500:
            return RetryLaterError(
                f"Odoo at {where} answered HTTP {code} ({doing})", retry_after=server_hint(error)
            )
        return FixConfigError(f"Odoo at {where} answered HTTP {code} ({doing})")
    if isinstance(error, ExpatError | xmlrpc.client.ResponseError):
        return FixConfigError(f"{where} did not answer XML-RPC ({doing}): is `url` Odoo's?")
    if isinstance(error, socket.gaierror):
        return FixConfigError(f"cannot resolve the host of `url` ({where})")
    if isinstance(error, TimeoutError | socket.timeout):
        return RetryLaterError(f"Odoo at {where} did not answer in time ({doing})")
    if isinstance(error, OSError | http.client.HTTPException):
        return RetryLaterError(f"cannot reach Odoo at {where} ({doing}): {type(error).__name__}")
    raise error


def _domain_or(leaves: Sequence[list[Any]]) -> list[Any]:
    return ["|"] * (len(leaves) - 1) + list(leaves)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------
# The books host


@dataclass(frozen=True, slots=True)
class _Plan:
    """One wizard call: invoices of one customer and currency paid by one Odoo payment."""

    writes: tuple[ApplicationWrite, ...]
    amount: Money
    difference: Money  # written off (discount and/or write-off); zero leaves the rest open
    account: str | None  # write-off account code when difference is not zero
    label: str


class OdooBooks:
    """Books host over Odoo's external API (see the module docstring)."""

    incremental = True  # `since` returns what changed from then on, closed invoices too

    def __init__(
        self, name: str, rpc: OdooRpc, settings: OdooSettings, mapping: OdooMapping | None = None
    ) -> None:
        self.name = name
        self.rpc = rpc
        self.settings = settings
        self.mapping = mapping or OdooMapping.load()
        self.memo = self.mapping.memo_field(settings.version)
        self._uid: int | None = None
        self._ids: dict[tuple[str, str], int] = {}
        self._edi_mapping: OdooEdiMapping | None = None  # read when EDI first asks

    # -- calls ------------------------------------------------------------------------

    def _login(self) -> int:
        if self._uid is None:
            settings = self.settings
            try:
                uid = self.rpc.authenticate(settings.database, settings.username, settings.password)
            except Exception as exc:
                raise _translate(exc, settings, "authenticating") from None
            if not uid:
                raise AuthError(
                    f"Odoo at {settings.where} refused user `{settings.username}`: "
                    "check `username` and the password or API key"
                )
            self._uid = int(uid)
        return self._uid

    def _call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        uid = self._login()
        settings = self.settings
        try:
            return self.rpc.execute_kw(
                settings.database, uid, settings.password, model, method, list(args), kwargs
            )
        except Exception as exc:
            raise _translate(exc, settings, f"{method} on {model}") from None

    def _read(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A read: safe to retry, within the policy's bound."""
        return retrying(self.settings.retry, lambda: self._call(model, method, *args, **kwargs))

    def _write(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A write: never retried. Anything that may have been committed is `_MaybeDoneError`."""
        uid = self._login()
        settings = self.settings
        try:
            return self.rpc.execute_kw(
                settings.database, uid, settings.password, model, method, list(args), kwargs
            )
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == 1 and "cannot marshal None" in str(fault.faultString):
                raise _MaybeDoneError(fault) from None  # Odoo committed, then failed to answer
            raise _translate(fault, settings, f"{method} on {model}") from None
        except Exception as exc:
            translated = _translate(exc, settings, f"{method} on {model}")
            if isinstance(translated, RetryLaterError):
                raise _MaybeDoneError(translated) from None
            raise translated from None

    def _paged(self, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
        """Every row of a domain, a page at a time in id order. Pages follow the last id
        seen rather than an offset: an invoice paid between two pages would shift every
        later offset by one and silently skip an open invoice."""
        rows: list[dict[str, Any]] = []
        last = 0
        while True:
            page = self._read(
                model,
                "search_read",
                [*domain, ["id", ">", last]],
                fields=fields,
                limit=self.settings.page_size,
                order="id asc",
            )
            rows.extend(page)
            if len(page) < self.settings.page_size:
                break
            last = page[-1]["id"]
        return rows

    def _id_of(self, model: str, domain: list[Any], what: str) -> int:
        key = (model, repr(domain))
        if key not in self._ids:
            found = self._read(model, "search", domain, limit=1)
            if not found:
                raise FixConfigError(f"{what} not found in Odoo at {self.settings.where}")
            self._ids[key] = found[0]
        return self._ids[key]

    # -- check ------------------------------------------------------------------------

    def check(self) -> list[CheckResult]:
        """Reach, authenticate, mapped models and fields, rights, configured records."""
        target = f"books {self.name}"
        settings = self.settings
        try:
            version = self.rpc.version()
        except Exception as exc:
            return [CheckResult(target, False, str(_translate(exc, settings, "version")))]
        serie = str(version.get("server_serie") or version.get("server_version", "?"))
        major = serie.split(".")[0].removeprefix("saas~")
        if major != str(settings.version):
            return [
                CheckResult(
                    target,
                    False,
                    f"{settings.where} runs Odoo {serie}, configured `version = "
                    f"{settings.version}`: set `version = {major}`",
                )
            ]
        results = [CheckResult(target, True, f"reached Odoo {serie} at {settings.where}")]
        try:
            uid = self._login()
        except ConnectorError as exc:
            return [*results, CheckResult(target, False, str(exc))]
        results.append(
            CheckResult(target, True, f"authenticated as `{settings.username}` (uid {uid})")
        )
        for check in (self._check_mapping, self._check_rights, self._check_references):
            try:
                found = check()
            except ConnectorError as exc:
                found = [(False, str(exc))]
            results.extend(CheckResult(target, *line) for line in found)
        return results

    def _check_mapping(self) -> list[tuple[bool, str]]:
        missing = []
        wanted = self.mapping.fields_by_model(self.settings.version)
        for model, names in wanted.items():
            try:
                present = self._read(model, "fields_get", attributes=["type"])
            except OdooRecordError:  # "Object x doesn't exist" is a UserError
                missing.append(f"model `{model}`")
                continue
            lacking = sorted(names - set(present) - {"id"})
            if lacking:
                missing.append(f"`{model}` fields {', '.join(lacking)}")
        if missing:
            problem = f"mapping {self.mapping.source.name}: Odoo has no {'; '.join(missing)}"
            return [(False, problem)]
        count = sum(len(names) for names in wanted.values())
        return [(True, f"mapping valid: {len(wanted)} models, {count} fields")]

    def _check_rights(self) -> list[tuple[bool, str]]:
        """One line per access right the user lacks (`check_access_rights`, which answers
        False instead of raising), naming what arlink then cannot do and the group to ask for."""
        m = self.mapping
        billing = "Invoicing / Billing (account.group_account_invoice)"
        internal = "Internal User (base.group_user)"
        needed = [
            (m.customer_model, "read", "read customers", internal),
            (m.bank_model, "read", "read customers' bank accounts", billing),
            (m.invoice_model, "read", "read open invoices", billing),
            (m.invoice_model, "write", "reconcile invoices or post notes on them", billing),
            (m.payment_model, "read", "look payments up before writing", billing),
            (m.payment_model, "create", "record payments", billing),
            (m.payment_model, "write", "post and reconcile payments", billing),
            (m.wizard_model, "create", "register payments", billing),
            (m.wizard_model, "write", "register payments", billing),
            (m.activity_model, "create", "put exceptions in the clerk's activities", internal),
            (m.activity_model, "write", "mark exception activities done", internal),
            (m.message_model, "read", "read what clerks decided", internal),
        ]
        user = self.settings.username
        lacking = [
            (
                False,
                f"odoo: user `{user}` lacks {operation} on `{model}`: arlink cannot {purpose} "
                f"(ask for group {group})",
            )
            for model, operation, purpose, group in needed
            if not self._read(model, "check_access_rights", operation, raise_exception=False)
        ]
        return lacking or [
            (True, "rights: read customers and invoices, register payments, create activities")
        ]

    def _check_references(self) -> list[tuple[bool, str]]:
        found = [f"activity type {self.mapping.activity_type}"]
        self._activity_type()
        settings = self.settings
        if settings.payment_journal:
            self._journal()
            found.append(f"journal {settings.payment_journal}")
        for code in (settings.write_off_account, settings.discount_account):
            if code:
                self._account(code)
                found.append(f"account {code}")
        if settings.exceptions_user_id:
            self._id_of(
                "res.users",
                [["id", "=", settings.exceptions_user_id]],
                f"user id {settings.exceptions_user_id} (`exceptions_user_id`)",
            )
            found.append(f"user {settings.exceptions_user_id}")
        return [(True, "found " + ", ".join(found))]

    def _activity_type(self) -> int:
        module, _, name = self.mapping.activity_type.partition(".")
        key = ("ir.model.data", self.mapping.activity_type)
        if key not in self._ids:
            rows = self._read(
                "ir.model.data",
                "search_read",
                [["module", "=", module], ["name", "=", name]],
                fields=["res_id"],
            )
            if not rows:
                raise FixConfigError(
                    f"activity type `{self.mapping.activity_type}` not found "
                    f"(`exceptions.activity_type` in {self.mapping.source.name})"
                )
            self._ids[key] = rows[0]["res_id"]
        return self._ids[key]

    def _journal(self) -> int | None:
        code = self.settings.payment_journal
        if not code:
            return None
        return self._id_of(
            "account.journal", [["code", "=", code]], f"journal `{code}` (`payment_journal`)"
        )

    def _account(self, code: str) -> int:
        return self._id_of("account.account", [["code", "=", code]], f"account `{code}`")

    def _model_id(self, model: str) -> int:
        return self._id_of("ir.model", [["model", "=", model]], f"model `{model}`")

    # -- pulls ------------------------------------------------------------------------

    def _since(self, domain: list[Any], field_name: str, since: datetime | None) -> list[Any]:
        # Closed lower bound: a record changed in the cursor's own second is read again
        # (and deduplicated by id downstream) rather than missed.
        return domain if since is None else [*domain, [field_name, ">=", odoo_datetime_text(since)]]

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        """Companies and individuals without a parent (`customers.domain`), with their bank
        accounts; with `since`, those whose `write_date` is at or after it."""
        m = self.mapping
        domain = self._since(m.customer_domain, m.customer_fields["modified"], since)
        rows = self._paged(m.customer_model, domain, m.customer_read_fields())
        banks: dict[int, list[str]] = {}
        for chunk in _chunks([row["id"] for row in rows], self.settings.page_size):
            for bank in self._paged(
                m.bank_model, [[m.bank_partner, "in", list(chunk)]], [m.bank_number, m.bank_partner]
            ):
                partner = many2one_id(bank[m.bank_partner])
                number = odoo_text(bank[m.bank_number])
                if partner is not None and number:
                    banks.setdefault(partner, []).append(number)
        return [customer_from(row, m, banks.get(row["id"], ())) for row in rows]

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        """Open customer invoices (`invoices.open_domain`). With `since`: every posted
        customer invoice changed at or after it, closed ones included (their `status` is
        Odoo's payment state and their open amount zero), so the ledger sees them close."""
        m = self.mapping
        if since is None:
            domain = m.open_domain
        else:
            domain = self._since(m.changed_domain, m.invoice_fields["modified"], since)
        rows = self._paged(m.invoice_model, domain, m.invoice_read_fields())
        try:
            return [invoice_from(row, m) for row in rows]
        except OdooRowError as exc:
            raise OdooRecordError(str(exc)) from None

    # -- applications ---------------------------------------------------------------------

    def _payments_by_key(self, keys: Sequence[str]) -> dict[str, int]:
        """Which keys an Odoo payment's memo already carries (any state: a payment a clerk
        cancelled is not posted again behind their back)."""
        found: dict[str, int] = {}
        wanted = set(keys)
        for chunk in _chunks(sorted(wanted), LOOKUP_CHUNK):
            rows = self._read(
                self.mapping.payment_model,
                "search_read",
                _domain_or([[self.memo, "ilike", key] for key in chunk]),
                fields=[self.memo],
                order="id asc",
                context={"active_test": False},
            )
            for row in rows:
                for key in KEY.findall(str(row.get(self.memo) or "")):
                    if key in wanted:
                        found.setdefault(key, row["id"])
        return found

    def _external(self, model: str, record_id: int) -> str:
        return f"{model}/{record_id}"

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        """One Odoo payment per bank payment and customer, through the register-payment
        wizard; keys already in Odoo are reported `already_present` and not posted. An
        application Odoo will not take (see `_refusal`, `_register_or_refuse`) comes back
        refused with Odoo's message; the others are posted."""
        model = self.mapping.payment_model
        present = self._payments_by_key([w.idempotency_key for w in writes])
        results = {
            key: WriteResult(key, self._external(model, pid), True) for key, pid in present.items()
        }
        pending = [w for w in writes if w.idempotency_key not in present]
        invoices = self._invoices([int(w.application.invoice_id) for w in pending])
        by_payment: dict[str, list[ApplicationWrite]] = {}
        for write in pending:
            refused = self._refusal(write, invoices)
            if refused is None:
                by_payment.setdefault(write.payment.payment_id, []).append(write)
            else:
                results[write.idempotency_key] = WriteResult.refusal(write.idempotency_key, refused)
        for group in by_payment.values():
            for plan in self._plans(group, invoices):
                results.update(self._register_or_refuse(plan, invoices))
        return [results[w.idempotency_key] for w in writes]

    def _refusal(self, write: ApplicationWrite, invoices: dict[int, dict[str, Any]]) -> str | None:
        """Why Odoo cannot take `write` as it stands (None: try it): its invoice is gone, or
        holds less open than the application settles (paid meanwhile)."""
        f, app = self.mapping.invoice_fields, write.application
        row = invoices.get(int(app.invoice_id))
        if row is None:
            return f"invoice {app.invoice_id} not found in Odoo"
        residual = money_from_odoo(
            row[f["open_amount"]], app.amount.currency, f"invoice {app.invoice_id}"
        )
        reduction = _reduction(app)
        if reduction > residual:
            return (
                f"invoice {row[f['number']]} has {residual} open in Odoo, the application "
                f"would settle {reduction}: pull again before writing back"
            )
        return None

    def _register_or_refuse(
        self, plan: _Plan, invoices: dict[int, dict[str, Any]]
    ) -> dict[str, WriteResult]:
        """Register `plan`'s payment; a UserError (Fault 2: a locked, cancelled or blocked
        invoice, a validation error) refuses it. Odoo rolled the refused call back, so a
        refused payment of several invoices is tried again one invoice at a time: only the
        invoice Odoo refuses is refused."""
        model = self.mapping.payment_model
        try:
            registered = self._register(plan, invoices)
        except OdooRecordError as refused:
            if len(plan.writes) == 1:
                key = plan.writes[0].idempotency_key
                return {key: WriteResult.refusal(key, str(refused))}
            results: dict[str, WriteResult] = {}
            for write in plan.writes:
                results.update(self._register_or_refuse(self._plan([write]), invoices))
            return results
        return {
            key: WriteResult(key, self._external(model, pid), False)
            for key, pid in registered.items()
        }

    def _invoices(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        m = self.mapping
        f = m.invoice_fields
        rows = self._read(
            m.invoice_model,
            "read",
            sorted(set(ids)),
            [f["number"], f["customer"], f["currency"], f["open_amount"], f["status"], "state"],
        )
        return {row["id"]: row for row in rows}

    def _plans(
        self, group: Sequence[ApplicationWrite], invoices: dict[int, dict[str, Any]]
    ) -> list[_Plan]:
        """Split one bank payment's applications (each passed `_refusal`) into wizard calls.
        Odoo's wizard pays one customer and currency per payment and cannot say how a short
        payment splits over several invoices, so invoices are grouped only when each is
        settled exactly."""
        f = self.mapping.invoice_fields
        batches: dict[tuple[int | None, str | None], list[ApplicationWrite]] = {}
        for write in group:
            row = invoices[int(write.application.invoice_id)]
            key = (many2one_id(row[f["customer"]]), many2one_name(row[f["currency"]]))
            batches.setdefault(key, []).append(write)
        plans = []
        for batch in batches.values():
            settled, kinds = True, set()
            for write in batch:
                app = write.application
                row = invoices[int(app.invoice_id)]
                residual = money_from_odoo(
                    row[f["open_amount"]], app.amount.currency, f"invoice {app.invoice_id}"
                )
                settled = settled and _reduction(app) == residual
                kinds |= {
                    k for k, v in (("discount", app.discount), ("write-off", app.write_off)) if v
                }
            if len(batch) == 1 or (settled and len(kinds) <= 1):
                plans.append(self._plan(batch))
            else:
                plans.extend(self._plan([write]) for write in batch)
        return plans

    def _plan(self, writes: Sequence[ApplicationWrite]) -> _Plan:
        currency = writes[0].application.amount.currency
        zero = Money.zero(currency)
        amount, discount, write_off = zero, zero, zero
        for write in writes:
            amount += write.application.amount
            discount += write.application.discount or zero
            write_off += write.application.write_off or zero
        settings = self.settings
        account = None
        if write_off or discount:
            account = settings.write_off_account if write_off else settings.discount_account
            account = account or settings.write_off_account
            if not account:
                which = "write_off_account" if write_off else "discount_account"
                raise FixConfigError(
                    f"an application writes off or takes a discount: set `{which}` "
                    f"(an account code) in [books.{self.name}]"
                )
        label = " + ".join(
            part
            for part, value in (("discount taken", discount), ("write-off", write_off))
            if value
        )
        return _Plan(
            tuple(writes), amount, discount + write_off, account, f"arlink {label}".strip()
        )

    def _memo(self, plan: _Plan, invoices: dict[int, dict[str, Any]]) -> str:
        payment = plan.writes[0].payment
        number = self.mapping.invoice_fields["number"]
        pairs = " ".join(
            f"{w.idempotency_key}:{invoices[int(w.application.invoice_id)][number]}"
            for w in plan.writes
        )
        return f"{payment.bank_reference or payment.payment_id} {pairs}"

    def _register(self, plan: _Plan, invoices: dict[int, dict[str, Any]]) -> dict[str, int]:
        """Create the wizard and its payment; return the payment id per key, as found by
        looking the keys up afterwards (the wizard's answer does not name the payment)."""
        payment = plan.writes[0].payment
        move_ids = [int(w.application.invoice_id) for w in plan.writes]
        context = {
            "active_model": self.mapping.invoice_model,
            "active_ids": move_ids,
            "dont_redirect_to_payments": True,
        }
        values: dict[str, Any] = {
            "amount": money_to_odoo(plan.amount),
            "communication": self._memo(plan, invoices),
            "group_payment": True,
            "payment_difference_handling": "reconcile" if plan.difference else "open",
        }
        if payment.value_date:
            values["payment_date"] = payment.value_date.isoformat()
        journal = self._journal()
        if journal:
            values["journal_id"] = journal
        if plan.difference and plan.account:
            values["writeoff_account_id"] = self._account(plan.account)
            values["writeoff_label"] = plan.label
        keys = [w.idempotency_key for w in plan.writes]
        wizard = self.mapping.wizard_model
        try:
            wizard_id = self._write(wizard, "create", values, context=context)
            self._write(wizard, "action_create_payments", [wizard_id], context=context)
        except _MaybeDoneError as unsure:
            found = self._payments_by_key(keys)
            if len(found) == len(keys):
                return found
            raise RetryLaterError(
                f"payment for bank reference {payment.bank_reference or payment.payment_id}: "
                f"outcome unknown ({unsure}); the next run looks its keys up before writing"
            ) from None
        found = self._payments_by_key(keys)
        if len(found) != len(keys):
            raise OdooServerError(
                f"Odoo registered the payment for {payment.bank_reference or payment.payment_id} "
                f"but its `{self.memo}` does not carry arlink's keys: is a module rewriting it?"
            )
        return found

    # -- exceptions -------------------------------------------------------------------

    def _exceptions_by_key(self, keys: Sequence[str]) -> dict[str, str]:
        """Keys already in Odoo: in an open activity, or in the message left when a clerk
        marked one done (so a rerun never re-opens what the clerk closed)."""
        m = self.mapping
        found: dict[str, str] = {}
        # Messages are many: only those on the records exceptions are put on.
        on_targets = [["model", "in", [m.invoice_model, m.customer_model]]]
        for chunk in _chunks(sorted(set(keys)), LOOKUP_CHUNK):
            for model, text, scope in (
                (m.activity_model, "summary", []),
                (m.message_model, "body", on_targets),
            ):
                rows = self._read(
                    model,
                    "search_read",
                    [*scope, *_domain_or([[text, "ilike", key] for key in chunk])],
                    fields=[text],
                    order="id asc",
                    context={"active_test": False},
                )
                for row in rows:
                    for key in KEY.findall(str(row.get(text) or "")):
                        found.setdefault(key, self._external(model, row["id"]))
        return found

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        """A To-Do activity per exception, on the invoice or customer the clerk will look at."""
        present = self._exceptions_by_key([w.idempotency_key for w in writes])
        results = {key: WriteResult(key, external, True) for key, external in present.items()}
        for write in writes:
            if write.idempotency_key in results:
                continue
            results[write.idempotency_key] = self._create_activity(write)
        return [results[w.idempotency_key] for w in writes]

    def _exception_target(self, write: ExceptionWrite) -> tuple[str, int, dict[int, str]]:
        m = self.mapping
        f = m.invoice_fields
        suggested = [int(s.invoice_id) for s in write.item.suggestions if s.invoice_id.isdigit()]
        invoices = self._invoices(suggested) if suggested else {}
        numbers = {rid: str(row[f["number"]]) for rid, row in invoices.items()}
        if suggested and suggested[0] in invoices:
            if self.settings.exceptions_target == "invoice":
                return m.invoice_model, suggested[0], numbers
            customer = many2one_id(invoices[suggested[0]][f["customer"]])
            if customer:
                return m.customer_model, customer, numbers
        return m.customer_model, self._fallback_partner(), numbers

    def _fallback_partner(self) -> int:
        if self.settings.exceptions_partner_id:
            return self.settings.exceptions_partner_id
        key = ("res.company", "partner")
        if key not in self._ids:
            (user,) = self._read("res.users", "read", [self._login()], ["company_id"])
            (company,) = self._read(
                "res.company", "read", [many2one_id(user["company_id"])], ["partner_id"]
            )
            self._ids[key] = many2one_id(company["partner_id"]) or 0
        return self._ids[key]

    def _create_activity(self, write: ExceptionWrite) -> WriteResult:
        m = self.mapping
        model, record_id, numbers = self._exception_target(write)
        item, payment = write.item, write.payment
        payer = payment.payer_name or "an unknown payer"
        values = {
            "res_model_id": self._model_id(model),
            "res_id": record_id,
            "activity_type_id": self._activity_type(),
            "summary": f"Unapplied payment {item.amount} {item.amount.currency} from {payer} "
            f"({item.reason.value.replace('_', ' ')}) "
            f"[arlink {payment.payment_id} {write.idempotency_key}]",
            "note": _exception_note(write, numbers),
            "user_id": self.settings.exceptions_user_id or self._login(),
            "date_deadline": (payment.value_date or date.today()).isoformat(),
        }
        try:
            activity = self._write(m.activity_model, "create", values)
        except _MaybeDoneError as unsure:
            found = self._exceptions_by_key([write.idempotency_key])
            if write.idempotency_key in found:
                return WriteResult(write.idempotency_key, found[write.idempotency_key], False)
            raise RetryLaterError(
                f"exception for {payment.payment_id}: outcome unknown ({unsure}); "
                "the next run looks it up before writing"
            ) from None
        if self.settings.post_note:
            # The note is a courtesy copy in the chatter; the activity is the record.
            with contextlib.suppress(_MaybeDoneError):
                self._write(
                    model,
                    "message_post",
                    [record_id],
                    body=values["note"],
                    message_type="comment",
                    subtype_xmlid="mail.mt_note",
                )
        return WriteResult(write.idempotency_key, self._external(m.activity_model, activity), False)

    # -- clerks' decisions taken in arlink web ------------------------------------------

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Mark each payment's exception activity done with the decision as its feedback
        ("not ours ..." or "... on account ..."), as a clerk in Odoo would; the key rides
        in the feedback, so the done message is what a rerun finds."""
        wanted = {w.idempotency_key for w in writes}
        present = self._exceptions_by_key(sorted(wanted))
        results = {
            key: WriteResult(key, external, True)
            for key, external in present.items()
            if key in wanted
        }
        for write in writes:
            if write.idempotency_key not in results:
                results[write.idempotency_key] = self._mark_done(write)
        return [results[w.idempotency_key] for w in writes]

    def _mark_done(self, write: ResolutionWrite) -> WriteResult:
        m, key = self.mapping, write.idempotency_key
        marker = [["summary", "ilike", f"[arlink {write.payment_id} "]]
        activities = self._read(m.activity_model, "search", marker, order="id asc")
        if not activities:
            return self._closed_already(write)
        try:
            message = self._write(
                m.activity_model, "action_feedback", activities, feedback=f"{write.text}, {key}"
            )
        except _MaybeDoneError as unsure:
            found = self._exceptions_by_key([key])
            if key in found:
                return WriteResult(key, found[key], False)
            raise RetryLaterError(
                f"resolution of {write.payment_id}: outcome unknown ({unsure}); "
                "the next run looks it up before writing"
            ) from None
        return WriteResult(key, self._external(m.message_model, message), False)

    def _closed_already(self, write: ResolutionWrite) -> WriteResult:
        """No open activity: a clerk marked it done in Odoo first (their done message is the
        record, nothing more to write), or the exception never reached Odoo."""
        m = self.mapping
        done = self._read(
            m.message_model,
            "search",
            [
                ["model", "in", [m.invoice_model, m.customer_model]],
                ["mail_activity_type_id", "!=", False],
                ["body", "ilike", f"[arlink {write.payment_id} "],
            ],
            order="id asc",
            limit=1,
        )
        if not done:
            raise OdooRecordError(
                f"resolution of payment {write.payment_id}: no arlink activity for it in Odoo "
                f"at {self.settings.where} (its exception is not written back yet)"
            )
        return WriteResult(write.idempotency_key, self._external(m.message_model, done[0]), True)

    # -- EDI --------------------------------------------------------------------------

    def _edi(self) -> OdooEdiMapping:
        if self._edi_mapping is None:
            self._edi_mapping = OdooEdiMapping.load(self.mapping.source)
        return self._edi_mapping

    def _by_id(self, model: str, ids: Iterable[int], fields: list[str]) -> dict[int, Any]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        return {row["id"]: row for row in self._paged(model, [["id", "in", wanted]], fields)}

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]:
        """The EDI documents of invoices `ids`: product lines (`display_type` 'product'),
        their taxes, and the parties (`[edi]` in the mapping); an id not in Odoo is left out."""
        m, e = self.mapping, self._edi()
        f = e.line_fields
        moves = self._by_id(
            m.invoice_model,
            (int(i) for i in ids if i.isdigit()),
            e.invoice_read_fields(m.invoice_fields),
        )
        lines = (
            self._paged(
                e.line_model,
                [[e.line_invoice, "in", sorted(moves)], *e.line_domain],
                e.line_read_fields(),
            )
            if moves
            else []
        )
        related = EdiRelated(
            products=self._by_id(
                e.product_model,
                (pid for line in lines if (pid := many2one_id(line.get(f["product"])))),
                ["default_code", "barcode"],
            ),
            taxes=self._by_id(
                e.tax_model,
                (tax for line in lines for tax in line.get(f["taxes"]) or []),
                ["amount", "amount_type"],
            ),
            partners=self._by_id(
                e.party_model,
                (
                    pid
                    for move in moves.values()
                    for name in e.parties.values()
                    if (pid := many2one_id(move.get(name)))
                ),
                ["name", e.party_ref],
            ),
        )
        by_move: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            by_move.setdefault(many2one_id(line[e.line_invoice]) or 0, []).append(line)
        try:
            return {
                str(rid): invoice_document_from(
                    move, by_move.get(rid, []), related, m.invoice_fields, e
                )
                for rid, move in moves.items()
            }
        except OdooRowError as exc:
            raise OdooRecordError(str(exc)) from None

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]:
        """Each EDI status on its invoice: a To-Do activity when the clerk must act (invalid,
        rejected, overdue), a note in the chatter otherwise. The key is in the text."""
        present = self._exceptions_by_key([w.idempotency_key for w in writes])
        results = {key: WriteResult(key, external, True) for key, external in present.items()}
        for write in writes:
            if write.idempotency_key not in results:
                results[write.idempotency_key] = self._write_edi_status(write)
        return [results[w.idempotency_key] for w in writes]

    def _write_edi_status(self, write: EdiStatusWrite) -> WriteResult:
        m = self.mapping
        status = write.status.replace("_", " ")
        # Not the `[arlink <payment> <key>]` marker of cash exceptions: a clerk closing this
        # activity is not a resolution of an unapplied payment.
        marker = f"[arlink-edi {write.idempotency_key}]"
        text = f"EDI invoice {write.invoice_number} to {write.partner}: {status}"
        try:
            if write.status in EDI_EXCEPTION_STATUSES:
                created = self._write(
                    m.activity_model,
                    "create",
                    {
                        "res_model_id": self._model_id(m.invoice_model),
                        "res_id": int(write.invoice_id),
                        "activity_type_id": self._activity_type(),
                        "summary": f"{text} {marker}",
                        "note": f"<p>{html.escape(write.message)}</p>",
                        "user_id": self.settings.exceptions_user_id or self._login(),
                        "date_deadline": write.at.date().isoformat(),
                    },
                )
                return WriteResult(
                    write.idempotency_key, self._external(m.activity_model, created), False
                )
            posted = self._write(
                m.invoice_model,
                "message_post",
                [int(write.invoice_id)],
                body=f"<p>{html.escape(f'{text}. {write.message}')} {marker}</p>",
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        except _MaybeDoneError as unsure:
            found = self._exceptions_by_key([write.idempotency_key])
            if write.idempotency_key in found:
                return WriteResult(write.idempotency_key, found[write.idempotency_key], False)
            raise RetryLaterError(
                f"EDI status of invoice {write.invoice_number}: outcome unknown ({unsure}); "
                "the next run looks it up before writing"
            ) from None
        return WriteResult(write.idempotency_key, self._external(m.message_model, posted), False)

    # -- resolutions ------------------------------------------------------------------

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        """What clerks did: a payment they registered with memo `arlink <payment id>` is an
        "apply" to its invoice; an exception activity marked done without one is "not_ours"
        when the feedback says so, else "on_account"."""
        m = self.mapping
        resolutions: dict[str, Resolution] = {}
        messages = self._paged(
            m.message_model,
            self._since(
                [
                    ["model", "in", [m.invoice_model, m.customer_model]],
                    ["mail_activity_type_id", "!=", False],
                    ["body", "ilike", "[arlink "],
                ],
                "date",
                since,
            ),
            ["body", "date"],
        )
        for message in messages:
            body = str(message.get("body") or "")
            marker = MARKER.search(html.unescape(body))
            if marker is None:
                continue
            feedback = _feedback(body)
            action = (
                "not_ours" if any(word in feedback.lower() for word in NOT_OURS) else "on_account"
            )
            resolutions[marker.group(1)] = Resolution(
                marker.group(1), action, None, None, feedback, odoo_datetime(message.get("date"))
            )
        payments = self._paged(
            m.payment_model,
            self._since([[self.memo, "ilike", "arlink "]], m.payment_modified, since),
            [
                self.memo,
                m.payment_invoices,
                m.payment_amount,
                m.payment_currency,
                m.payment_modified,
            ],
        )
        for row in payments:
            memo = str(row.get(self.memo) or "")
            clerk = CLERK_MEMO.search(memo)
            if clerk is None:
                continue
            currency = many2one_name(row[m.payment_currency]) or ""
            invoices = row.get(m.payment_invoices) or []
            resolutions[clerk.group(1)] = Resolution(
                clerk.group(1),
                "apply",
                str(invoices[0]) if invoices else None,
                money_from_odoo(row[m.payment_amount], currency, f"payment {row['id']}"),
                memo,
                odoo_datetime(row.get(m.payment_modified)),
            )
        return list(resolutions.values())


def _reduction(app: Application) -> Money:
    """What an application takes off its invoice's residual: cash, discount and write-off."""
    zero = Money.zero(app.amount.currency)
    return app.amount + (app.discount or zero) + (app.write_off or zero)


def _feedback(body: str) -> str:
    """The clerk's feedback in a done-activity message: the text after "Feedback:"."""
    _, found, after = body.rpartition("Feedback:")
    text = re.sub(r"<[^>]+>", " ", after) if found else ""
    return " ".join(html.unescape(text).split())


def _exception_note(write: ExceptionWrite, numbers: dict[int, str]) -> str:
    """The activity's note (HTML): the payment, why it was not applied, the ranked
    suggestions with their reasons, and what to do. Every value is escaped: payer
    names and remittance text come from bank files."""
    item, payment = write.item, write.payment
    e = html.escape
    lines = [
        f"<p>Payment of <b>{e(str(item.amount))} {e(item.amount.currency)}</b>"
        f" received {e(str(payment.value_date or 'on an unknown date'))}"
        f" from {e(payment.payer_name or 'an unknown payer')}"
        f" (bank reference {e(payment.bank_reference or '-')}).</p>",
        f"<p>Not applied: {e(item.reason.value.replace('_', ' '))}."
        + "".join(f" {e(reason.text)}." for reason in item.reasons)
        + "</p>",
    ]
    if payment.remittance:
        lines.append(f"<p>Remittance: {e(payment.remittance)}</p>")
    if item.suggestions:
        lines.append("<p>Suggestions, best first:</p><ol>")
        for suggestion in item.suggestions:
            number = (
                numbers.get(int(suggestion.invoice_id), suggestion.invoice_id)
                if (suggestion.invoice_id.isdigit())
                else suggestion.invoice_id
            )
            why = "; ".join(reason.text for reason in suggestion.reasons)
            lines.append(
                f"<li>{e(number)} (score {suggestion.score:.2f}){': ' + e(why) if why else ''}</li>"
            )
        lines.append("</ol>")
    lines.append(
        f"<p>To apply it: register the payment on the right invoice with the memo "
        f"<code>arlink {e(payment.payment_id)}</code>, then mark this activity done. "
        'If the money is not a customer\'s, mark it done with the feedback "not ours"; '
        "marked done otherwise, it stays on account.</p>"
    )
    return "".join(lines)
