"""The `salesforce` books host: customers and open invoices from a Salesforce org through
simple-salesforce, applied cash as payments and allocations upserted on an External ID,
exceptions as a Task (or Case) where the clerk works.

The connector takes its client (STYLE.md 14): `SalesforceClient` logs in with the
OAuth 2.0 client-credentials flow of a connected app and hands out simple-salesforce's
`Salesforce` built from the token, so the connector can rebuild it when Salesforce
answers INVALID_SESSION_ID (`SalesforceExpiredSession`). Its `requests.Session` has a
timeout on every request and an adapter that retries nothing: retry is policy here, in
one place, and a POST create is never repeated by the transport. Objects and fields come
from the mapping file (`mappings/salesforce/billing.toml` by default).

Pulls read with `query_all_iter` (pages chained by `nextRecordsUrl`) and switch to a
Bulk API 2.0 query job when `SELECT COUNT()` finds more rows than `bulk_threshold`.
Incremental pulls filter on the mapped modification stamp (`SystemModstamp`), a closed
lower bound truncated to the second: a row changed in the cursor's own second is read
again and deduplicated by id downstream, never missed. A daily API usage
(`Sforce-Limit-Info`) at or above `api_usage_stop` stops the pull for the next run.

Write-back is idempotent by construction: a bank payment is one payment record upserted
on its key (the payment id), each application one allocation upserted on its
idempotency key, a write-off one record upserted on the same key; the keys are looked up
first and those found are `already_present`. Upserts are safe to retry; the Task or Case
of an exception is created (activities carry no External ID), so a create whose answer
was lost is looked up again, never re-sent blindly.

Writes go in sObject Collections of up to 200 records a call (`allOrNone: false`):
upserts on the External ID (`PATCH composite/sobjects/<object>/<key field>`), creates
(`POST composite/sobjects`) and updates by Id. Each record has its own result. A record
the org refuses for itself (a validation rule, a trigger, a deleted or locked record:
`_RECORD_CODES`) comes back as `WriteResult.refusal` with the org's message, and the rest
of the batch goes on; a row lock (UNABLE_TO_LOCK_ROW) sends that record again within the
retry bound; any other per-record error (a field or right missing) stops the write.

Errors go through one table (`_translate`) into the groups of `connectors.errors`:

    ConnectorError
    ├── FixConfigError            a missing object or field (INVALID_FIELD, INVALID_TYPE,
    │   │                         NOT_FOUND), no token endpoint at `login_url`, a bad CA
    │   ├── AuthError             client credentials refused (invalid_grant, invalid_client),
    │   │                         a session refused again right after a fresh login
    │   └── SalesforceRightsError the integration user lacks a right (403, INSUFFICIENT_ACCESS)
    ├── RetryLaterError           timeouts, dropped connections, 5xx, SERVER_UNAVAILABLE,
    │                             REQUEST_LIMIT_EXCEEDED, the daily API budget near its end
    ├── SalesforceRecordError     Salesforce refused a single-record call (an invoice row
    │                             arlink cannot read, a resolution with no exception):
    │                             skip it to the clerk (in collections: a refused result)
    └── SalesforceServerError     anything else Salesforce answered: stop, read its message
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)
from simple_salesforce.format import format_soql
from urllib3.util.retry import Retry

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    RetryLaterError,
    RetryPolicy,
    retrying,
)
from connectors.protocols import CheckResult
from mappings.exception_text import exception_lines
from mappings.invoice_document import InvoiceDocument, edi_exception_details
from mappings.money import Money
from mappings.records import (
    EDI_EXCEPTION_STATUSES,
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)
from mappings.salesforce import (
    InvoiceLinesMap,
    ObjectMap,
    SalesforceMapping,
    SalesforceRowError,
    customer_from,
    document_from,
    invoice_from,
    money_from_sf,
    money_to_sf,
    sf_datetime,
    sf_text,
    soql_datetime,
)

T = TypeVar("T")
LOOKUP_CHUNK = 200  # keys per `IN (...)`: keeps a lookup's SOQL well under its 100k limit
_CONFIG_CODES = {
    "INVALID_FIELD",
    "INVALID_TYPE",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "MALFORMED_QUERY",
}
_TRANSIENT_CODES = {"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"}
COLLECTION_SIZE = 200  # records per sObject Collections call: Salesforce's cap
# Per-record errors of a collection that concern that record alone: the org refused it
# (a validation rule, a trigger, a deleted or locked invoice); it goes to the clerk.
_RECORD_CODES = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "INVALID_CROSS_REFERENCE_KEY",
    "ENTITY_IS_DELETED",
    "DUPLICATE_VALUE",
    "REQUIRED_FIELD_MISSING",
    "FIELD_INTEGRITY_EXCEPTION",
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
}
_RIGHTS_CODES = {"INSUFFICIENT_ACCESS_OR_READONLY", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"}


class SalesforceRightsError(FixConfigError):
    """The integration user lacks a right on an object or field (HTTP 403)."""


class SalesforceRecordError(ConnectorError):
    """Salesforce refused this record: skip it into the exception queue; the batch goes on."""


class SalesforceServerError(ConnectorError):
    """Salesforce failed in a way arlink does not know: stop and read the message."""


class _MaybeDoneError(Exception):
    """A create whose answer was lost (timeout, dropped connection): verify by lookup."""


# ---------------------------------------------------------------------------------------
# Settings and the client


@dataclass(frozen=True, slots=True)
class SalesforceSettings:
    """What the admin configures for one org (`[books.<name>] kind = "salesforce"`)."""

    login_url: str  # My Domain (`https://acme.my.salesforce.com`) or login.salesforce.com
    client_id: str  # the connected app's consumer key
    client_secret: str = field(repr=False)  # its consumer secret; never shown
    api_version: str = "62.0"
    currency: str = "USD"  # the org's currency when the mapping names no currency field
    page_size: int = 2000  # REST query batch size (Salesforce allows 200..2000)
    bulk_threshold: int = 50_000  # pulls above this many rows use Bulk API 2.0; 0: never
    bulk_poll_seconds: float = 5.0
    api_usage_stop: float = 0.9  # stop pulling when this share of the daily API budget is used
    timeout: float = 60.0
    ca_file: str | None = None  # a private CA bundle (a TLS-inspecting proxy, tests)
    exceptions_owner_id: str | None = None  # User or Queue Id; default: the integration user
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def where(self) -> str:
        """The login host for messages: no credentials, no path or query."""
        parts = urlsplit(self.login_url)
        return f"{parts.hostname}{f':{parts.port}' if parts.port else ''}"


class _TimeoutAdapter(HTTPAdapter):
    """Every request gets a timeout (requests has none), and the transport retries
    nothing: a POST that reached Salesforce must not be sent twice behind our back."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=Retry(total=0, read=False, redirect=False))
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def http_session(settings: SalesforceSettings) -> requests.Session:
    """A `requests.Session` with a timeout and no transport retries. With `ca_file` the
    session ignores the environment: REQUESTS_CA_BUNDLE would otherwise override it."""
    session = requests.Session()
    adapter = _TimeoutAdapter(settings.timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if settings.ca_file:
        session.trust_env = False
        session.verify = settings.ca_file
    return session


class SalesforceClient:
    """An OAuth client-credentials login and the simple-salesforce client it makes.
    Nothing goes over the network until `sf` is first used."""

    def __init__(self, settings: SalesforceSettings, session: requests.Session) -> None:
        self.settings = settings
        self.session = session
        self._sf: Salesforce | None = None
        self.logins = 0

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._login()
        return self._sf

    def rebuild(self) -> Salesforce:
        """Log in again (the session expired or was revoked) and build a new client."""
        self._sf = None
        return self.sf

    def _login(self) -> Salesforce:
        settings = self.settings
        url = settings.login_url.rstrip("/") + "/services/oauth2/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }
        try:
            answer = self.session.post(url, data=form)
        except requests.RequestException as exc:
            raise _translate(exc, settings, "logging in") from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code == 200 and isinstance(body, dict) and "access_token" in body:
            self.logins += 1
            return Salesforce(
                instance_url=body["instance_url"],
                session_id=body["access_token"],
                session=self.session,
                version=settings.api_version,
            )
        if answer.status_code >= 500 or answer.status_code == 429:
            raise RetryLaterError(
                f"Salesforce at {settings.where} answered HTTP {answer.status_code} to the login"
            )
        if isinstance(body, dict) and "error" in body:
            raise AuthError(
                f"Salesforce at {settings.where} refused the connected app's client "
                f"credentials ({body['error']}: {body.get('error_description', '')}): check "
                "`client_id`, the secret, and that the app's client-credentials flow has a "
                "run-as user"
            )
        raise FixConfigError(
            f"no OAuth token endpoint at {settings.where} (HTTP {answer.status_code}): "
            "check `login_url`"
        )


def connect(
    name: str, settings: SalesforceSettings, mapping: Path | str | None = None
) -> SalesforceBooks:
    """The books host for one org, from its settings and a mapping (a path or a shipped
    name: `billing`, the default, or `invoice_custom`). Nothing is sent until first use."""
    client = SalesforceClient(settings, http_session(settings))
    return SalesforceBooks(name, client, settings, SalesforceMapping.load(mapping))


# ---------------------------------------------------------------------------------------
# The error table


def _errors(content: Any) -> tuple[set[str], str]:
    """Salesforce's `[{"errorCode", "message"}]` as codes and one message line."""
    items = content if isinstance(content, list) else [content]
    codes = {str(i.get("errorCode")) for i in items if isinstance(i, dict)}
    messages = [str(i.get("message", "")) for i in items if isinstance(i, dict)]
    return codes, "; ".join(m for m in messages if m)[:300] or str(content)[:300]


def _translate(error: BaseException, settings: SalesforceSettings, doing: str) -> ConnectorError:
    """The one table from what simple-salesforce or requests raised to what to do."""
    where = settings.where
    if isinstance(error, SalesforceError):
        codes, message = _errors(error.content)
        status = error.status
        if codes & _TRANSIENT_CODES or status in (429, 500, 502, 503, 504):
            return RetryLaterError(f"Salesforce was busy ({doing}): {message}")
        if status == 401:
            return AuthError(f"Salesforce refused the session ({doing}): {message}")
        if codes & _CONFIG_CODES or (status == 404 and "NOT_FOUND" in codes):
            return FixConfigError(f"{doing}: {message}; fix the mapping file")
        if status == 403:
            return SalesforceRightsError(
                f"the integration user lacks a right ({doing}): {message}; "
                "give it the permission set listed in the README"
            )
        if status == 400:
            return SalesforceRecordError(f"Salesforce refused {doing}: {message}")
        return SalesforceServerError(f"Salesforce failed ({doing}): HTTP {status} {message}")
    if isinstance(error, SalesforceOperationError):
        return SalesforceServerError(f"Salesforce bulk job failed ({doing}): {error}")
    if isinstance(error, requests.exceptions.SSLError):
        return FixConfigError(
            f"TLS to Salesforce failed ({doing}): the certificate is not trusted; "
            "check `ca_file` or the proxy"
        )
    if isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return FixConfigError(f"`login_url` is not a URL ({where})")
    if isinstance(error, requests.RequestException):
        return RetryLaterError(
            f"cannot reach Salesforce at {where} ({doing}): {type(error).__name__}"
        )
    raise error


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_field(obj: ObjectMap) -> str:
    """The field holding arlink's key (the mapping loader requires it on these objects)."""
    if obj.key is None:
        raise FixConfigError(f"`{obj.name}` has no `key` field in the mapping")
    return obj.key


def _since(field_name: str, since: datetime | None) -> str:
    return "" if since is None else f"{field_name} >= {soql_datetime(since)}"


@dataclass(frozen=True, slots=True)
class _Saved:
    """What a collection did with one record: its Id and whether it was created, or the
    org's message refusing it."""

    record_id: str
    created: bool
    refused: str | None = None


def _collection_record(how: str, obj: ObjectMap, key: str, values: dict[str, Any]) -> dict:
    """One record of a collection body: its type, the key (or the Id of an update), the
    mapping's constant values and then the record's own."""
    record: dict[str, Any] = {"attributes": {"type": obj.name}}
    if how == "update":
        return {**record, **values, "Id": key}
    return {**record, **dict(obj.values), **values, _key_field(obj): key}


def _outcomes(doing: str, keys: Sequence[str], answer: Any, saved: dict[str, _Saved]) -> list[str]:
    """Read a collection's per-record results (in the order sent) into `saved`; return
    the keys to send again (a row lock, a limit: transient). An error that is not the
    record's own (a field missing, a right lacking) stops the write for all."""
    if not isinstance(answer, list) or len(answer) != len(keys):
        raise SalesforceServerError(
            f"{doing}: Salesforce answered {len(answer or [])} results for {len(keys)} records"
        )
    again = []
    for key, result in zip(keys, answer, strict=True):
        if result.get("success"):
            saved[key] = _Saved(str(result["id"]), bool(result.get("created", True)))
            continue
        errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
        codes = {str(e.get("statusCode")) for e in errors}
        message = "; ".join(f"{e.get('statusCode')}: {e.get('message', '')}" for e in errors)
        where = f"{doing}, record {key}: {message[:300]}"
        if codes & _TRANSIENT_CODES:
            again.append(key)
        elif codes and codes <= _RECORD_CODES:
            saved[key] = _Saved("", False, message[:1000])
        elif codes & _CONFIG_CODES:
            raise FixConfigError(f"{where}; fix the mapping file")
        elif codes & _RIGHTS_CODES:
            raise SalesforceRightsError(
                f"the integration user lacks a right ({where}); give it the permission set "
                "listed in the README"
            )
        else:
            raise SalesforceServerError(f"Salesforce failed ({where})")
    return again


# ---------------------------------------------------------------------------------------
# The books host


class SalesforceBooks:
    """Books host over a Salesforce org (see the module docstring)."""

    incremental = True  # `since` returns what changed from then on, closed invoices too

    def __init__(
        self,
        name: str,
        client: SalesforceClient,
        settings: SalesforceSettings,
        mapping: SalesforceMapping | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.mapping = mapping or SalesforceMapping.load()
        self._payments: dict[str, str] = {}  # payment key -> Id

    # -- calls ------------------------------------------------------------------------

    def _once(self, doing: str, operation: Callable[[Salesforce], T]) -> T:
        """One call; an expired session is rebuilt and the call made once more (a 401
        means Salesforce did nothing, so even a create is safe to repeat then)."""
        try:
            try:
                return operation(self.client.sf)
            except SalesforceExpiredSession:
                return operation(self.client.rebuild())
        except ConnectorError:
            raise
        except Exception as exc:
            raise _translate(exc, self.settings, doing) from None

    def _read(self, doing: str, operation: Callable[[Salesforce], T]) -> T:
        """A read or an upsert: idempotent, so retried within the policy's bound."""
        return retrying(self.settings.retry, lambda: self._once(doing, operation))

    def _budget(self) -> None:
        """Stop before the org's daily API budget runs out for its other integrations."""
        usage = self.client.sf.api_usage.get("api-usage")
        used, total = (getattr(usage, "used", 0), getattr(usage, "total", 0))
        if total and used >= total * self.settings.api_usage_stop:
            raise RetryLaterError(
                f"Salesforce daily API requests at {used} of {total}: arlink stops at "
                f"{self.settings.api_usage_stop:.0%} (`api_usage_stop`) and resumes next run"
            )

    def _rows(self, obj: str, names: Iterable[str], conditions: Sequence[str]) -> list[dict]:
        """Every row matching the conditions, through REST pages or a Bulk 2.0 job."""
        where = " AND ".join(f"({c})" for c in conditions if c)
        tail = f" WHERE {where}" if where else ""
        soql = f"SELECT {', '.join(sorted(set(names) | {'Id'}))} FROM {obj}{tail}"
        doing = f"querying {obj}"
        settings = self.settings
        if settings.bulk_threshold:
            count = self._read(doing, lambda sf: sf.query(f"SELECT COUNT() FROM {obj}{tail}"))
            if count["totalSize"] > settings.bulk_threshold:
                rows = self._read(doing, lambda sf: self._bulk(sf, obj, soql))
                self._budget()
                return rows
        options = {"Sforce-Query-Options": f"batchSize={settings.page_size}"}

        def pages(sf: Salesforce) -> list[dict]:
            rows = []
            for record in sf.query_all_iter(soql, headers=options):
                record.pop("attributes", None)
                rows.append(record)
            return rows

        rows = self._read(doing, pages)
        self._budget()
        return rows

    def _bulk(self, sf: Salesforce, obj: str, soql: str) -> list[dict]:
        job = getattr(sf.bulk2, obj)
        rows: list[dict] = []
        for page in job.query(
            soql, max_records=self.settings.page_size, wait=self.settings.bulk_poll_seconds
        ):
            rows.extend(csv.DictReader(io.StringIO(str(page))))
        return rows

    def _keys(self, obj: ObjectMap, keys: Sequence[str]) -> dict[str, str]:
        """Which keys `obj` already holds, as key -> record Id."""
        found: dict[str, str] = {}
        key = _key_field(obj)
        for chunk in _chunks(sorted(set(keys)), LOOKUP_CHUNK):
            condition = format_soql(f"{key} IN {{keys}}", keys=list(chunk))
            for row in self._rows_rest(obj.name, [key], condition):
                found[row[key]] = row["Id"]
        return found

    def _rows_rest(self, obj: str, names: Sequence[str], condition: str) -> list[dict]:
        """A small lookup: REST only (never worth a COUNT() or a Bulk job)."""
        soql = f"SELECT {', '.join(sorted(set(names) | {'Id'}))} FROM {obj} WHERE {condition}"
        return self._read(f"looking up {obj}", lambda sf: list(sf.query_all_iter(soql)))

    # -- check ------------------------------------------------------------------------

    def check(self) -> list[CheckResult]:
        """Reach and log in, API budget, mapped objects and fields, External ID keys, and
        the integration user's rights on what arlink writes (one line per missing right)."""
        target = f"books {self.name}"
        settings = self.settings
        try:
            limits = self._read("reading limits", lambda sf: sf.limits())
        except ConnectorError as exc:
            return [CheckResult(target, False, str(exc))]
        results = [
            CheckResult(
                target,
                True,
                f"reached Salesforce at {settings.where}, logged in as the connected app "
                f"(API v{settings.api_version})",
            )
        ]
        daily = limits.get("DailyApiRequests", {})
        if daily.get("Max"):
            used = daily["Max"] - daily["Remaining"]
            ok = used < daily["Max"] * settings.api_usage_stop
            results.append(
                CheckResult(
                    target,
                    ok,
                    f"daily API requests: {used} of {daily['Max']} used"
                    + ("" if ok else "; pulls stop until the budget resets (`api_usage_stop`)"),
                )
            )
        try:
            described = self._describe_all()
            results.append(CheckResult(target, *self._check_mapping(described)))
            lacking = self._check_rights(described)
        except ConnectorError as exc:
            return [*results, CheckResult(target, False, str(exc))]
        results.extend(CheckResult(target, False, line) for line in lacking)
        if not lacking:
            results.append(
                CheckResult(
                    target,
                    True,
                    "rights: create and edit payments, allocations, write-offs and "
                    f"{self.mapping.exceptions.name} records with their mapped fields",
                )
            )
        return results

    def _describe_all(self) -> dict[str, dict[str, dict[str, Any]] | None]:
        """Each mapped object's describe: its own rights under `""`, then its fields by
        name; None for an object the org lacks (or hides from the integration user)."""
        described: dict[str, dict[str, dict[str, Any]] | None] = {}
        for obj in self.mapping.objects():
            try:
                answer = self._read(
                    f"describing {obj}", lambda sf, o=obj: getattr(sf, o).describe()
                )
            except FixConfigError:
                described[obj] = None
                continue
            fields = {f["name"]: f for f in answer.get("fields", [])}
            described[obj] = {"": answer, **fields}
        return described

    def _check_mapping(
        self, described: dict[str, dict[str, dict[str, Any]] | None]
    ) -> tuple[bool, str]:
        m = self.mapping
        missing: list[str] = []
        not_keys: list[str] = []
        wanted = m.objects()
        for obj, names in wanted.items():
            fields = described.get(obj)
            if fields is None:
                missing.append(f"object `{obj}`")
                continue
            lacking = sorted(names - set(fields) - {""})
            if lacking:
                missing.append(f"`{obj}` fields {', '.join(lacking)}")
            for keyed in m.keyed():
                key = fields.get(keyed.key or "") if keyed.name == obj else None
                # An upsert addresses the record by this field: it must be an External ID,
                # which Salesforce also makes usable as a lookup (idLookup).
                if key is not None and not (key.get("externalId") and key.get("idLookup")):
                    not_keys.append(f"`{obj}.{keyed.key}`")
        problems = []
        if not missing:
            problems.extend(self._check_conditions())
        if missing:
            problems.append(f"the org has no {'; '.join(missing)}")
        if not_keys:
            problems.append(f"mark {', '.join(not_keys)} External ID and Unique")
        if problems:
            return False, f"mapping {m.source.name}: {'; '.join(problems)} (README, Salesforce)"
        count = sum(len(names) for names in wanted.values())
        return True, f"mapping {m.source.name} valid: {len(wanted)} objects, {count} fields"

    def _check_rights(self, described: dict[str, dict[str, dict[str, Any]] | None]) -> list[str]:
        """One line per right the integration user lacks on what arlink writes: the
        object's Create or Edit permission, or a written field's field-level security."""
        lines = []
        for obj, right, names in self.mapping.written():
            fields = described.get(obj)
            if fields is None:
                continue  # the mapping line names the missing object
            verb = "create" if right == "createable" else "edit"
            if not fields[""].get(right):
                lines.append(
                    f"salesforce: the integration user cannot {verb} {obj} records (give "
                    f"arlink's permission set the object permission {verb.title()} on {obj})"
                )
                continue
            denied = sorted(n for n in names if n in fields and not fields[n].get(right))
            if denied:
                lines.append(
                    f"salesforce: the integration user cannot {verb} {obj} fields "
                    f"{', '.join(denied)} (give arlink's permission set Edit access to them "
                    "in field-level security; a formula or roll-up field cannot be written: "
                    "map another)"
                )
        return lines

    def _check_conditions(self) -> list[str]:
        """The mapping's SOQL conditions, run once as a COUNT() each."""
        m = self.mapping
        invalid = []
        for key, obj, condition in (
            ("customers.where", m.customers.name, m.customer_where),
            ("invoices.open_where", m.invoices.name, m.open_where),
            ("invoices.changed_where", m.invoices.name, m.changed_where),
        ):
            if condition:
                soql = f"SELECT COUNT() FROM {obj} WHERE {condition}"
                try:
                    self._read(f"checking `{key}`", lambda sf, q=soql: sf.query(q))
                except FixConfigError as exc:
                    invalid.append(f"`{key}` is not valid SOQL ({exc})")
        return invalid

    # -- pulls ------------------------------------------------------------------------

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        """Accounts matching `customers.where`; with `since`, those changed at or after it."""
        m = self.mapping
        obj = m.customers
        rows = self._rows(
            obj.name, obj.fields.values(), [m.customer_where, _since(obj.fields["modified"], since)]
        )
        return [customer_from(row, m) for row in rows]

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        """Open invoices (`invoices.open_where`). With `since`: every invoice matching
        `changed_where` changed at or after it, closed ones included (open amount zero),
        so the ledger sees them close."""
        m = self.mapping
        obj = m.invoices
        if since is None:
            conditions = [m.open_where]
        else:
            conditions = [m.changed_where, _since(obj.fields["modified"], since)]
        rows = self._rows(obj.name, obj.fields.values(), conditions)
        try:
            return [invoice_from(row, m, self.settings.currency) for row in rows]
        except SalesforceRowError as exc:
            raise SalesforceRecordError(str(exc)) from None

    def _invoices(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted({i for i in ids if i})
        inv = self.mapping.invoices
        rows: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(wanted, LOOKUP_CHUNK):
            condition = format_soql("Id IN {ids}", ids=list(chunk))
            for row in self._rows_rest(inv.name, list(inv.fields.values()), condition):
                rows[row["Id"]] = row
        return rows

    # -- writes in collections ----------------------------------------------------------

    def _save(
        self, how: str, obj: ObjectMap, records: dict[str, dict[str, Any]]
    ) -> dict[str, _Saved]:
        """Write `records` (key -> field values) through sObject Collections, at most
        `COLLECTION_SIZE` a call, `allOrNone` false: `how` is "upsert" (on `obj.key`),
        "create" (records carrying `obj.key`) or "update" (keys are record Ids). A record
        Salesforce refuses for itself is a refused `_Saved`; one it could not lock is sent
        again within the retry bound. Upserts and updates are retried whole on a transient
        failure; a create never is: its keys are looked up instead."""
        saved: dict[str, _Saved] = {}
        path = "composite/sobjects" + (f"/{obj.name}/{_key_field(obj)}" if how == "upsert" else "")
        method = "POST" if how == "create" else "PATCH"
        for chunk in _chunks(list(records), COLLECTION_SIZE):
            pending = list(chunk)
            doing = f"{how.rstrip('e')}ing {len(chunk)} {obj.name} records"

            def attempt(pending: list[str] = pending, doing: str = doing) -> None:
                body = {
                    "allOrNone": False,
                    "records": [_collection_record(how, obj, k, records[k]) for k in pending],
                }
                try:
                    answer = self._once(
                        doing, lambda sf: sf.restful(path, method=method, json=body)
                    )
                except RetryLaterError:
                    if how == "create":
                        raise _MaybeDoneError(doing) from None
                    raise
                pending[:] = _outcomes(doing, pending, answer, saved)
                if pending:
                    raise RetryLaterError(f"{doing}: {len(pending)} records were locked")

            try:
                retrying(self.settings.retry, attempt)
            except _MaybeDoneError:
                found = self._keys(obj, pending)
                saved.update({key: _Saved(found[key], False) for key in pending if key in found})
                if any(key not in found for key in pending):
                    raise RetryLaterError(
                        f"{doing}: outcome unknown; the next run looks it up before writing"
                    ) from None
        return saved

    # -- applications -----------------------------------------------------------------

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        """Per bank payment and account one payment record, per application one
        allocation (and a write-off record for a write-off or discount), each upserted
        on its key in collections of up to 200: all payment records first, then the
        write-offs, then the allocations, whose key marks an application done (a crash
        in between redoes only upserts). Keys already held are `already_present`; an
        application the org refuses (or that arlink sees it would refuse: an invoice no
        longer there, more than its balance) is refused, the others go on."""
        allocations = self.mapping.allocations
        present = self._keys(allocations, [w.idempotency_key for w in writes])
        results = {key: WriteResult(key, rid, True) for key, rid in present.items()}
        invoices = self._invoices(w.application.invoice_id for w in writes)
        customer = self.mapping.invoices.fields["customer"]
        groups: dict[tuple[str, str], list[ApplicationWrite]] = {}
        for write in writes:
            if write.idempotency_key in results:
                continue
            row = invoices.get(write.application.invoice_id)
            refusal = self._guard(write, row)
            if refusal is not None or row is None:
                results[write.idempotency_key] = WriteResult.refusal(
                    write.idempotency_key, refusal or ""
                )
                continue
            groups.setdefault((write.payment.payment_id, row[customer]), []).append(write)
        accounts_per_payment: dict[str, int] = {}
        for payment_id, _ in groups:
            accounts_per_payment[payment_id] = accounts_per_payment.get(payment_id, 0) + 1
        payment_keys: dict[tuple[str, str], str] = {}
        payment_records: dict[str, dict[str, Any]] = {}
        for (payment_id, account), group in groups.items():
            split = accounts_per_payment[payment_id] > 1
            key = f"{payment_id}-{account}" if split else payment_id
            payment_keys[payment_id, account] = key
            if key not in self._payments:
                payment_records[key] = self._payment_values(group, account, split)
        for key, saved in self._save("upsert", self.mapping.payments, payment_records).items():
            if saved.refused is None:
                self._payments[key] = saved.record_id
            else:
                for group_key, payment_key in payment_keys.items():
                    if payment_key == key:
                        for write in groups.pop(group_key):
                            results[write.idempotency_key] = WriteResult.refusal(
                                write.idempotency_key, saved.refused
                            )
        pending = [(w, account) for (_, account), group in groups.items() for w in group]
        write_offs = {
            write.idempotency_key: values
            for write, account in pending
            if (values := self._write_off_values(write, account)) is not None
        }
        for key, saved in self._save("upsert", self.mapping.write_offs, write_offs).items():
            if saved.refused is not None:
                results[key] = WriteResult.refusal(key, saved.refused)
        allocated = self._save(
            "upsert",
            allocations,
            {
                write.idempotency_key: self._allocation_values(
                    write, self._payments[payment_keys[write.payment.payment_id, account]]
                )
                for write, account in pending
                if write.idempotency_key not in results
            },
        )
        for key, saved in allocated.items():
            results[key] = (
                WriteResult(key, saved.record_id, not saved.created)
                if saved.refused is None
                else WriteResult.refusal(key, saved.refused)
            )
        return [results[w.idempotency_key] for w in writes]

    def _guard(self, write: ApplicationWrite, row: dict[str, Any] | None) -> str | None:
        """What the org would refuse, said before writing: an invoice no longer in the org,
        or more than its open balance (None: nothing to refuse)."""
        app = write.application
        if row is None:
            return f"invoice {app.invoice_id} not found in Salesforce (deleted or not visible)"
        inv = self.mapping.invoices.fields
        currency = sf_text(row.get(inv.get("currency", ""))) or self.settings.currency
        where = f"invoice {row.get(inv['number']) or app.invoice_id}"
        balance = money_from_sf(row.get(inv["open_amount"]), currency, where)
        zero = Money.zero(app.amount.currency)
        reduction = app.amount + (app.discount or zero) + (app.write_off or zero)
        if reduction.currency != balance.currency or reduction > balance:
            return (
                f"{where} has {balance} {balance.currency} open in Salesforce, the application "
                f"would settle {reduction} {reduction.currency}: pull again before writing back"
            )
        return None

    def _payment_values(
        self, group: Sequence[ApplicationWrite], account: str, split: bool
    ) -> dict[str, Any]:
        payment = group[0].payment
        amount = payment.amount
        if split:  # the part of the bank payment that went to this account's invoices
            amount = Money.zero(payment.amount.currency)
            for write in group:
                amount += write.application.amount
        f = self.mapping.payments.fields
        values: dict[str, Any] = {f["account"]: account, f["amount"]: money_to_sf(amount)}
        if "date" in f and payment.value_date:
            values[f["date"]] = payment.value_date.isoformat()
        if "reference" in f:
            values[f["reference"]] = payment.bank_reference or payment.payment_id
        return values

    def _write_off_values(self, write: ApplicationWrite, account: str) -> dict[str, Any] | None:
        """The write-off record of an application with a write-off or discount taken."""
        app = write.application
        zero = Money.zero(app.amount.currency)
        reduction = (app.write_off or zero) + (app.discount or zero)
        if not reduction:
            return None
        f = self.mapping.write_offs.fields
        values: dict[str, Any] = {f["invoice"]: app.invoice_id, f["amount"]: money_to_sf(reduction)}
        if "account" in f:
            values[f["account"]] = account
        if "date" in f and write.payment.value_date:
            values[f["date"]] = write.payment.value_date.isoformat()
        if "reason" in f:
            kinds = [
                k for k, v in (("discount taken", app.discount), ("write-off", app.write_off)) if v
            ]
            reference = write.payment.bank_reference or write.payment.payment_id
            values[f["reason"]] = f"arlink {' + '.join(kinds)} on payment {reference}" + (
                f" ({app.reason_code})" if app.reason_code else ""
            )
        return values

    def _allocation_values(self, write: ApplicationWrite, payment_id: str) -> dict[str, Any]:
        f = self.mapping.allocations.fields
        return {
            f["payment"]: payment_id,
            f["invoice"]: write.application.invoice_id,
            f["amount"]: money_to_sf(write.application.amount),
        }

    # -- exceptions -------------------------------------------------------------------

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        """A Task (or Case) per exception, linked to the invoice suggested first or its
        account, created in collections of up to 200; keys already in Salesforce (open or
        completed) are not created again."""
        present = self._keys(self.mapping.exceptions, [w.idempotency_key for w in writes])
        results = {key: WriteResult(key, rid, True) for key, rid in present.items()}
        suggested = [s.invoice_id for w in writes for s in w.item.suggestions]
        invoices = self._invoices(i for i in suggested if _looks_like_id(i))
        records = {
            w.idempotency_key: self._exception_values(w, invoices)
            for w in writes
            if w.idempotency_key not in results
        }
        results.update(self._created(records))
        return [results[w.idempotency_key] for w in writes]

    def _created(self, records: dict[str, dict[str, Any]]) -> dict[str, WriteResult]:
        """Create exception-object records (each carrying its key) and say what became
        of each: a create whose answer was lost is settled by looking its key up."""
        return {
            key: (
                WriteResult(key, saved.record_id, False)
                if saved.refused is None
                else WriteResult.refusal(key, saved.refused)
            )
            for key, saved in self._save("create", self.mapping.exceptions, records).items()
        }

    def _exception_values(
        self, write: ExceptionWrite, invoices: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        m = self.mapping
        ex = m.exceptions
        f = ex.fields
        item, payment = write.item, write.payment
        numbers = {
            rid: str(row.get(m.invoices.fields["number"]) or rid) for rid, row in invoices.items()
        }
        best = next((s.invoice_id for s in item.suggestions if s.invoice_id in invoices), None)
        link = None
        if best is not None:
            link = (
                best
                if m.exception_link == "invoice"
                else invoices[best].get(m.invoices.fields["customer"])
            )
        payer = payment.payer_name or "an unknown payer"
        values: dict[str, Any] = {
            f["payment"]: payment.payment_id,
            f["subject"]: (
                f"Unapplied payment {item.amount} {item.amount.currency} from {payer} "
                f"({item.reason.value.replace('_', ' ')})"
            )[:255],
            f["description"]: _description(write, numbers, m)[:32000],
        }
        if link:
            values[f["link"]] = link
        if "due_date" in f:
            values[f["due_date"]] = (payment.value_date or date.today()).isoformat()
        if "owner" in f and self.settings.exceptions_owner_id:
            values[f["owner"]] = self.settings.exceptions_owner_id
        return values

    # -- resolutions ------------------------------------------------------------------

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        """Exceptions a clerk closed (status `done_status`): the resolution field says
        what they did (`exceptions.resolutions`; empty means left on account), the
        resolved-invoice field which invoice the cash went to."""
        m = self.mapping
        ex = m.exceptions
        f = ex.fields
        names = [f["payment"], f["resolution"], f["status"], f["modified"], _key_field(ex)]
        if "resolved_invoice" in f:
            names.append(f["resolved_invoice"])
        conditions = [
            format_soql(f"{f['status']} = {{status}}", status=m.done_status),
            f"{_key_field(ex)} != null",
            _since(f["modified"], since),
        ]
        resolutions: dict[str, Resolution] = {}
        for row in self._rows(ex.name, names, conditions):
            payment_id = sf_text(row.get(f["payment"]))
            if payment_id is None:
                continue
            choice = sf_text(row.get(f["resolution"])) or ""
            invoice = (
                sf_text(row.get(f.get("resolved_invoice", ""))) if "resolved_invoice" in f else None
            )
            resolutions[payment_id] = Resolution(
                payment_id,
                m.resolutions.get(choice, "on_account"),
                invoice,
                None,
                choice,
                sf_datetime(row.get(f["modified"]), f"{ex.name} {row.get('Id')}"),
            )
        return list(resolutions.values())

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Complete each payment's exception Task (or close its Case) with the resolution
        picklist value, as a clerk would, updated in collections of up to 200. One already
        done is `already_present`: a rerun finds the state the update left (Tasks cannot
        carry a second key)."""
        m = self.mapping
        ex = m.exceptions
        f = ex.fields
        choices = {action: value for value, action in m.resolutions.items()}
        held: dict[str, list[dict[str, Any]]] = {}
        for chunk in _chunks(sorted({w.payment_id for w in writes}), LOOKUP_CHUNK):
            condition = format_soql(
                f"{f['payment']} IN {{payments}} AND {_key_field(ex)} != null",
                payments=list(chunk),
            )
            for row in self._rows_rest(ex.name, [f["payment"], f["status"]], condition):
                held.setdefault(row[f["payment"]], []).append(row)
        results: dict[str, WriteResult] = {}
        updates: dict[str, dict[str, Any]] = {}
        targets: dict[str, str] = {}  # idempotency key -> the record it completes
        for write in writes:
            rows = sorted(held.get(write.payment_id, []), key=lambda row: str(row["Id"]))
            if not rows:
                raise SalesforceRecordError(
                    f"resolution of payment {write.payment_id}: no arlink {ex.name} for it in "
                    f"{self.settings.where} (its exception is not written back yet)"
                )
            done = [row["Id"] for row in rows if row.get(f["status"]) == m.done_status]
            if done:
                results[write.idempotency_key] = WriteResult(write.idempotency_key, done[0], True)
                continue
            targets[write.idempotency_key] = rows[0]["Id"]
            updates[rows[0]["Id"]] = {
                f["status"]: m.done_status,
                f["resolution"]: choices[write.action],
            }
        # Setting the same values twice is harmless: updates are retried like reads.
        saved = self._save("update", ex, updates)
        for key, record_id in targets.items():
            refused = saved[record_id].refused
            results[key] = (
                WriteResult(key, record_id, False)
                if refused is None
                else WriteResult.refusal(key, refused)
            )
        return [results[w.idempotency_key] for w in writes]

    # -- EDI --------------------------------------------------------------------------

    def _edi(self) -> InvoiceLinesMap:
        edi = self.mapping.invoice_lines
        if edi is None:
            raise FixConfigError(
                f"mapping {self.mapping.source.name} has no `[invoice_lines]`: EDI invoice "
                "documents are not available from this org (see "
                "mappings/salesforce/billing.toml for the section to add)"
            )
        return edi

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]:
        """The EDI documents of invoices `ids`: the invoice, its lines (`invoice_lines`),
        and its account as the bill-to party. An id not in the org is left out; every
        invoice with a bad row is named at once."""
        m, edi = self.mapping, self._edi()
        f = edi.lines.fields
        invoices = self._invoices(i for i in ids if _looks_like_id(i))
        lines: dict[str, list[dict[str, Any]]] = {}
        for chunk in _chunks(sorted(invoices), LOOKUP_CHUNK):
            condition = format_soql(f"{f['invoice']} IN {{ids}}", ids=list(chunk))
            for row in self._rows(edi.lines.name, edi.line_fields(), [condition]):
                lines.setdefault(row[f["invoice"]], []).append(row)
        customer = m.invoices.fields["customer"]
        accounts: dict[str, dict[str, Any]] = {}
        account_ids = sorted({str(r[customer]) for r in invoices.values() if r.get(customer)})
        for chunk in _chunks(account_ids if edi.party_fields() else [], LOOKUP_CHUNK):
            condition = format_soql("Id IN {ids}", ids=list(chunk))
            for row in self._rows_rest(m.customers.name, edi.party_fields(), condition):
                accounts[row["Id"]] = row
        documents, problems = {}, []
        for invoice_id, row in invoices.items():
            try:
                invoice = invoice_from(row, m, self.settings.currency)
                documents[invoice_id] = document_from(
                    invoice, lines.get(invoice_id, []), accounts.get(row.get(customer)), m
                )
            except SalesforceRowError as exc:
                problems.append(str(exc))
        if problems:
            raise SalesforceRecordError("; ".join(problems))
        return documents

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]:
        """Each status a Task (or Case) on the invoice, carrying its key: completed at once
        as a note, or left open for the clerk when the invoice must be acted on (invalid,
        rejected, overdue). Keys already in Salesforce are `already_present`."""
        self._edi()
        m = self.mapping
        ex = m.exceptions
        f = ex.fields
        present = self._keys(ex, [w.idempotency_key for w in writes])
        results = {key: WriteResult(key, rid, True) for key, rid in present.items()}
        invoices = self._invoices(w.invoice_id for w in writes if _looks_like_id(w.invoice_id))
        records: dict[str, dict[str, Any]] = {}
        for write in writes:
            key = write.idempotency_key
            if key in results:
                continue
            act = write.status in EDI_EXCEPTION_STATUSES
            values: dict[str, Any] = {
                f["subject"]: _edi_subject(write),
                f["description"]: (edi_exception_details(write) if act else write.message)[:32000],
            }
            if not act:
                values[f["status"]] = m.done_status  # a note: nothing for the clerk to do
            invoice = invoices.get(write.invoice_id)
            if invoice is not None:
                values[f["link"]] = (
                    write.invoice_id
                    if m.exception_link == "invoice"
                    else invoice.get(m.invoices.fields["customer"])
                )
            records[key] = values
        results.update(self._created(records))
        return [results[w.idempotency_key] for w in writes]


def _edi_subject(write: EdiStatusWrite) -> str:
    return f"EDI invoice {write.invoice_number} to {write.partner}: {write.status}"[:255]


def _looks_like_id(value: str) -> bool:
    """A Salesforce record Id (15 or 18 alphanumerics): worth looking up."""
    return len(value) in (15, 18) and value.isalnum()


def _description(write: ExceptionWrite, numbers: dict[str, str], m: SalesforceMapping) -> str:
    """The Task's or Case's text: the payment, why it was not applied, the ranked
    suggestions with their reasons, and what to do."""
    lines = exception_lines(write, numbers)
    ex = m.exceptions.fields
    choices = ", ".join(f'"{value}"' for value in m.resolutions)
    lines.append(
        f"To resolve: set {ex['resolution']} to one of {choices}"
        + (
            f", fill {ex['resolved_invoice']} with the invoice you applied the cash to"
            if "resolved_invoice" in ex
            else ""
        )
        + f", and set {ex['status']} to {m.done_status}."
    )
    lines.append(f"arlink payment {write.payment.payment_id}, key {write.idempotency_key}")
    return "\n".join(lines)
