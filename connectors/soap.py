"""The `soap` books host: customers and open invoices from a SOAP ERP through zeep,
applied cash as payment records, exceptions as records in the host's exception queue.

The connector is driven by the WSDL and the mapping file (`mappings/soap/*.toml`):
which WSDL holds each service, which operation reads customers and invoices, which
creates an application and an exception record, the filters and paging the service
understands, and the field names. It takes its client (STYLE.md 14): `SoapClient`
loads each WSDL once through one zeep `Transport` (`timeout` covers the WSDL load,
`operation_timeout` the calls: zeep's `timeout` alone covers only the load) whose
requests session carries Basic or Bearer auth. zeep runs strict, without huge trees,
and with its defaults that refuse external references and entities in the XML.

Write-back is idempotent. Each application and exception carries its idempotency key
in a field the service can filter on (BC: the journal line's External Document No.),
and the keys are looked up before any write; a key found is `already_present`. A write
is never retried: a timeout, a dropped connection or an HTTP 5xx after the request was
sent means "maybe done", so the connector looks the key up and reports what it finds,
or raises `RetryLaterError` so the next run looks again before writing.

Errors go through one table (`_translate`) into the groups of `connectors.errors`:

    ConnectorError
    ├── FixConfigError       a SOAP Fault on a read (a mapped field, filter or parameter
    │   │                    the service refuses), HTTP 404 and other 4xx, a WSDL that does
    │   │                    not load or lacks a mapped service/port/operation, an answer
    │   │                    that does not match the WSDL, XML with a DTD or entities
    │   └── AuthError        HTTP 401/403: the credentials or token were refused
    ├── RetryLaterError      timeouts, refused or dropped connections, HTTP 429/5xx, a
    │                        Fault saying the host is busy (locked, deadlock)
    ├── SoapRecordError      a SOAP Fault on a write: the host refused this record (it comes
    │                        back refused, `WriteResult.refused`; the others go on)
    └── SoapServerError      the host answered in a way the connector cannot trust (paging
                             that does not advance, a written key it cannot find): stop
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from zeep.proxy import ServiceProxy
from zeep.transports import Transport

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    RetryLaterError,
    RetryPolicy,
    retrying,
)
from connectors.protocols import CheckResult
from mappings.invoice_document import InvoiceDocument
from mappings.money import Money
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
from mappings.soap import (
    Query,
    Service,
    SoapMapping,
    SoapRowError,
    Write,
    application_record,
    customer_from,
    dig,
    documents_from,
    edi_case_record,
    edi_status_record,
    exception_record,
    host_text,
    invoice_from,
    resolution_from,
)

LOOKUP_CHUNK = 20  # values per "any of" filter: a BC criteria string stays short
# What each write sets on the host record (canonical names); the rest are read back.
APPLICATION_WRITTEN = frozenset(
    {
        "key",
        "invoice_id",
        "invoice_number",
        "customer",
        "currency",
        "amount",
        "write_off",
        "discount",
        "date",
        "bank_reference",
        "memo",
    }
)
EXCEPTION_WRITTEN = frozenset(
    {
        "key",
        "payment_id",
        "bank_reference",
        "payer",
        "value_date",
        "amount",
        "currency",
        "reason",
        "details",
        "customer",
        "invoice_number",
    }
)
_TRANSIENT = ("deadlock", "locked by another user", "try again", "timeout", "temporarily")
_XML_REFUSED = (
    zeep.exceptions.DTDForbidden,
    zeep.exceptions.EntitiesForbidden,
    zeep.exceptions.ExternalReferenceForbidden,
)
_NOT_THE_WSDL = (
    zeep.exceptions.XMLSyntaxError,
    zeep.exceptions.XMLParseError,
    zeep.exceptions.WsdlSyntaxError,
    zeep.exceptions.ValidationError,
    zeep.exceptions.LookupError,
    etree.XMLSyntaxError,
)


class SoapRecordError(ConnectorError):
    """The host refused this record (a SOAP Fault on a write), or it cannot be written as
    it is: skip it into the exception queue; the rest of the batch goes on."""


class SoapServerError(ConnectorError):
    """The host answered in a way the connector cannot trust: stop and look at the host."""


# ---------------------------------------------------------------------------------------
# Settings, the client and the error table


@dataclass(frozen=True, slots=True)
class SoapSettings:
    """What the admin configures for one SOAP ERP (`[books.<name>] kind = "soap"`)."""

    url: str  # the base the mapping's `wsdl` paths are relative to
    username: str = ""
    secret: str = field(default="", repr=False)  # the password (basic) or the token; never shown
    auth: str = "basic"  # "basic" (username + password) or "token" (Authorization: Bearer)
    local_currency: str = "USD"  # what a blank currency code means (BC's LCY)
    timeout: float = 30.0  # connecting and loading a WSDL
    operation_timeout: float = 60.0  # one operation call
    page_size: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.auth not in ("basic", "token"):
            raise ValueError(f'`auth` must be "basic" or "token", found {self.auth!r}')

    @property
    def where(self) -> str:
        """Host and path for messages: no credentials, no query."""
        return _where(self.url)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class _BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` on each request; the token stays out of repr."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(token=***)"


class SoapClient:
    """zeep clients for a host's WSDLs, loaded on first use, sharing one Transport."""

    def __init__(self, base_url: str, transport: Transport, settings: zeep.Settings) -> None:
        self.base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self.transport = transport
        self.settings = settings
        self._clients: dict[str, zeep.Client] = {}

    @classmethod
    def connect(cls, settings: SoapSettings, session: requests.Session | None = None) -> SoapClient:
        """A client for the settings' URL and credentials; `session` to tune TLS or proxies."""
        session = session or requests.Session()
        if settings.auth == "token":
            session.auth = _BearerAuth(settings.secret)
        else:
            session.auth = requests.auth.HTTPBasicAuth(settings.username, settings.secret)
        transport = Transport(
            session=session, timeout=settings.timeout, operation_timeout=settings.operation_timeout
        )
        # forbid_dtd/forbid_entities/forbid_external keep zeep's safe defaults.
        zeep_settings = zeep.Settings(strict=True, xml_huge_tree=False)
        return cls(settings.url, transport, zeep_settings)

    def wsdl_url(self, service: Service) -> str:
        return urljoin(self.base_url, service.wsdl)

    def client(self, service: Service) -> zeep.Client:
        """The zeep client of a service's WSDL (loaded over the transport once)."""
        url = self.wsdl_url(service)
        if url not in self._clients:
            self._clients[url] = zeep.Client(url, transport=self.transport, settings=self.settings)
        return self._clients[url]

    def bind(self, service: Service) -> ServiceProxy:
        """The mapped service and port (the WSDL's first when the mapping names none)."""
        proxy = self.client(service).bind(service.service, service.port)
        if proxy is None:
            raise FixConfigError(f"the WSDL at {_where(self.wsdl_url(service))} has no service")
        return proxy

    def operation(self, service: Service, name: str) -> Any:
        """The bound port's operation `name`, for type introspection (`check()`); a
        ValueError when the binding has no such operation."""
        services = self.client(service).wsdl.services
        try:
            bound = services[service.service] if service.service else next(iter(services.values()))
            port = bound.ports[service.port] if service.port else next(iter(bound.ports.values()))
        except (KeyError, StopIteration):
            raise ValueError(f"no service `{service.service}` port `{service.port}`") from None
        return port.binding.get(name)


def _status(error: BaseException) -> int | None:
    if isinstance(error, zeep.exceptions.TransportError):
        return error.status_code
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code
    return None


def _translate(
    error: BaseException, settings: SoapSettings, doing: str, write: bool = False
) -> ConnectorError:
    """The one table from what zeep or requests raised to what the caller should do.
    Messages carry the host and path only: never a request body or a credential."""
    where = settings.where
    if isinstance(error, ConnectorError):
        return error
    if isinstance(error, zeep.exceptions.Fault):
        message = " ".join(str(error.message or "").split())[:300]
        if any(marker in message.lower() for marker in _TRANSIENT):
            return RetryLaterError(f"{where} was busy ({doing}): {message}")
        if write:
            return SoapRecordError(f"{where} refused {doing}: {message}")
        return FixConfigError(
            f"{where} refused {doing}: {message}; check the mapping file and the user's rights"
        )
    status = _status(error)
    if status is not None:
        if status in (401, 403):
            return AuthError(
                f"{where} answered HTTP {status} ({doing}): check `username` and the "
                f"{'token' if settings.auth == 'token' else 'password'}, and the user's rights"
            )
        if status == 404:
            return FixConfigError(
                f"no service at {where} (HTTP 404, {doing}): check `url` and the mapping's "
                "`wsdl` paths (is the page published as a web service?)"
            )
        if status == 429 or status >= 500:
            return RetryLaterError(f"{where} answered HTTP {status} ({doing})")
        return FixConfigError(f"{where} answered HTTP {status} ({doing})")
    if isinstance(error, requests.Timeout):
        return RetryLaterError(f"{where} did not answer in time ({doing})")
    if isinstance(error, requests.ConnectionError):
        return RetryLaterError(f"cannot reach {where} ({doing}): {type(error).__name__}")
    if isinstance(error, _XML_REFUSED):
        return FixConfigError(
            f"{where} sent XML with a DTD, entities or external references ({doing}): refused"
        )
    if isinstance(error, _NOT_THE_WSDL):
        return FixConfigError(
            f"{where}: the answer does not match the WSDL ({doing}): {type(error).__name__}; "
            "is `url` the service's?"
        )
    if isinstance(error, AttributeError | TypeError | ValueError):
        # zeep: no such operation, an unknown parameter, no such service or port.
        return FixConfigError(f"{doing}: {error}; fix the mapping file")
    raise error


def _refusal(app: Application, invoice: Invoice) -> str | None:
    """Why the host cannot take `app` on `invoice` as it stands (None: send it)."""
    if invoice.currency != app.amount.currency:
        return (
            f"invoice {invoice.number} is in {invoice.currency}, the application in "
            f"{app.amount.currency}"
        )
    zero = Money.zero(app.amount.currency)
    reduction = app.amount + (app.write_off or zero) + (app.discount or zero)
    if reduction > invoice.open_amount:
        return (
            f"invoice {invoice.number} has {invoice.open_amount} open, the application "
            f"would settle {reduction}: pull again before writing back"
        )
    return None


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _as_rows(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _criteria_text(value: str) -> str:
    """A literal in BC's filter syntax: quoted, so `|&()<>=.*@` in it mean nothing."""
    return "'" + value.replace("'", "''") + "'"


def _element_names(kind: Any, depth: int = 0) -> set[str]:
    """Every element name under a zeep type, a few levels deep (records sit inside lists
    inside result wrappers)."""
    names: set[str] = set()
    if depth > 5:
        return names
    for name, element in getattr(kind, "elements", ()):
        names.add(name)
        names |= _element_names(getattr(element, "type", None), depth + 1)
    return names


# ---------------------------------------------------------------------------------------
# The books host


class SoapBooks:
    """Books host over a SOAP ERP (see the module docstring)."""

    incremental = True  # `since` returns what changed from then on, closed invoices too

    def __init__(
        self, name: str, client: SoapClient, settings: SoapSettings, mapping: SoapMapping
    ) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.mapping = mapping
        self._proxies: dict[str, ServiceProxy] = {}
        # What a blank currency code means, for mappings whose host leaves it blank.
        self._local = settings.local_currency if mapping.blank_currency_is_local else None

    # -- calls ------------------------------------------------------------------------

    def _proxy(self, service: str) -> ServiceProxy:
        if service not in self._proxies:
            try:
                self._proxies[service] = self.client.bind(self.mapping.services[service])
            except Exception as exc:
                raise _translate(exc, self.settings, f"loading the WSDL of `{service}`") from None
        return self._proxies[service]

    def _call(self, service: str, operation: str, doing: str, write: bool, **args: Any) -> Any:
        proxy = self._proxy(service)
        try:
            return zeep.helpers.serialize_object(proxy[operation](**args), dict)
        except Exception as exc:
            raise _translate(exc, self.settings, doing, write) from None

    def _read(self, query: Query, doing: str, **args: Any) -> Any:
        """A read: safe to retry, within the policy's bound."""
        return retrying(
            self.settings.retry,
            lambda: self._call(query.service, query.operation, doing, False, **args),
        )

    def _filters(
        self, query: Query, since: datetime | None, role: str | None, values: Sequence[str]
    ) -> list[tuple[str, Any]]:
        """(host field or parameter, value) pairs: "any of" values, the lower bound."""
        terms: list[tuple[str, Any]] = []
        page_style = self.mapping.paging.style == "page"
        if role is not None:
            name = query.filters[role]
            if page_style:
                terms.append((name, "|".join(_criteria_text(v) for v in values)))
            else:
                terms.append((name, list(values)))
        if since is not None:
            if since.tzinfo is None:
                raise ValueError(f"a cursor must be timezone-aware, found {since.isoformat()}")
            moment = since.astimezone(UTC)
            # Closed lower bound: a record changed in the cursor's own second is read again
            # (and deduplicated by id downstream) rather than missed.
            value = f">={moment:%Y-%m-%dT%H:%M:%SZ}" if page_style else moment
            terms.append((query.filters["since"], value))
        return terms

    def _rows(
        self,
        query: Query,
        *,
        since: datetime | None = None,
        where: str | None = None,
        role: str | None = None,
        values: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Every row a query returns, a page at a time; "any of" values in chunks."""
        chunks: Iterable[Sequence[str]] = [()]
        if role is not None:
            wanted = sorted(set(values))
            if not wanted:
                return []
            chunks = _chunks(wanted, LOOKUP_CHUNK)
        constant = list(query.where[where].items()) if where else []
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            rows.extend(self._pages(query, [*constant, *self._filters(query, since, role, chunk)]))
        return rows

    def _pages(self, query: Query, terms: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        p = self.mapping.paging
        size = self.settings.page_size
        doing = f"{query.operation} ({query.section})"
        rows: list[dict[str, Any]] = []
        position: str | None = None
        while True:
            if p.style == "page":
                args: dict[str, Any] = {
                    p.filter_param: [{"Field": f, "Criteria": c} for f, c in terms],
                    p.size_param: size,
                }
                if position:
                    args[p.bookmark_param] = position
            else:
                args = dict(terms)
                args[p.size_param] = size
                if position:
                    args[p.token_param] = position
            answer = self._read(query, doing, **args)
            page = _as_rows(dig(answer, query.rows))
            rows.extend(page)
            if p.style == "page":
                following = page[-1].get(p.bookmark_field) if len(page) >= size else None
            else:
                following = host_text(dig(answer, p.next_token))
            if not following:
                return rows
            if following == position:
                raise SoapServerError(
                    f"{self.settings.where} handed back the same page position twice ({doing})"
                )
            position = str(following)

    def _external(self, write: Write, row: dict[str, Any]) -> str:
        return f"{write.record}/{row.get(write.query.fields['id'])}"

    def _keys(self, write: Write, keys: Iterable[str]) -> dict[str, str]:
        """Which idempotency keys the host already holds, and the record holding each."""
        field_name = write.query.fields["key"]
        found: dict[str, str] = {}
        for row in self._rows(write.query, role="keys", values=keys):
            key = host_text(row.get(field_name))
            if key:
                found.setdefault(key, self._external(write, row))
        return found

    def _create(self, write: Write, record: dict[str, Any], key: str, doing: str) -> WriteResult:
        """One create, never retried; a "maybe done" failure is settled by looking up."""
        try:
            self._call(write.query.service, write.operation, doing, True, **{write.record: record})
        except RetryLaterError as unsure:
            found = self._keys(write, [key])
            if key in found:
                return WriteResult(key, found[key], False)
            raise RetryLaterError(
                f"{doing}: outcome unknown ({unsure}); the next run looks its key up first"
            ) from None
        found = self._keys(write, [key])
        if key not in found:
            raise SoapServerError(
                f"{self.settings.where} accepted {doing}, but looking up "
                f"`{write.query.filters['keys']}` does not find it: does the service keep it?"
            )
        return WriteResult(key, found[key], False)

    # -- check ------------------------------------------------------------------------

    def check(self) -> list[CheckResult]:
        """WSDLs load, mapped services/ports/operations exist, auth works (a cheap read),
        mapped fields exist in the operations' types. One actionable line each."""
        target = f"books {self.name}"
        results: list[CheckResult] = []
        for name, service in self.mapping.services.items():
            doing = f"loading the WSDL of `{name}`"
            try:
                self.client.bind(service)
            except Exception as exc:
                results.append(
                    CheckResult(target, False, str(_translate(exc, self.settings, doing)))
                )
                continue
            results.append(
                CheckResult(
                    target,
                    True,
                    f"WSDL of `{name}` loaded from {_where(self.client.wsdl_url(service))}",
                )
            )
        if not all(result.ok for result in results):
            return results
        source = self.mapping.source.name
        try:
            problems = self._check_types()
        except ConnectorError as exc:
            problems = [str(exc)]
        if problems:
            results.append(CheckResult(target, False, f"mapping {source}: " + "; ".join(problems)))
        else:
            results.append(CheckResult(target, True, f"mapping {source} matches the WSDLs"))
        who = f"user `{self.settings.username}`" if self.settings.username else "the token"
        try:
            lacking = self._check_writes()
        except ConnectorError as exc:
            lacking = [str(exc)]
        if lacking:
            # One line: the writes share one cause, the service's publication for this user.
            results.append(
                CheckResult(
                    target,
                    False,
                    f"soap: {who} cannot write through the WSDLs: {'; '.join(lacking)} (a "
                    "service publishes only what its user may call: on Business Central a "
                    "page offers Create/Update when it allows inserts/modifies and the "
                    "user's permission set has Insert/Modify on its table; else fix the "
                    f"operation names in {source})",
                )
            )
        else:
            results.append(CheckResult(target, True, f"rights: {who} may call every write"))
        q = self.mapping.customers
        try:
            self._call(q.service, q.operation, "a one-record read", False, **self._probe())
        except ConnectorError as exc:
            results.append(CheckResult(target, False, str(exc)))
        else:
            who = self.settings.username or "the token"
            results.append(CheckResult(target, True, f"authenticated as {who}: reads work"))
        return results

    def _probe(self) -> dict[str, Any]:
        p = self.mapping.paging
        return {p.filter_param: [], p.size_param: 1} if p.style == "page" else {p.size_param: 1}

    def _operation_types(self, service: str, operation: str) -> tuple[set[str], set[str]] | str:
        try:
            op = self.client.operation(self.mapping.services[service], operation)
        except ValueError:
            return f"service `{service}` has no operation `{operation}`"
        except Exception as exc:
            raise _translate(exc, self.settings, f"reading the WSDL of `{service}`") from None
        return _element_names(op.input.body.type), _element_names(op.output.body.type)

    def _check_types(self) -> list[str]:
        """What the mapping names that the WSDL's types do not have."""
        p = self.mapping.paging
        problems: list[str] = []
        for query in self.mapping.queries():
            types = self._operation_types(query.service, query.operation)
            if isinstance(types, str):
                problems.append(types)
                continue
            inputs, outputs = types
            fields = set(query.fields.values())
            if p.style == "page":
                fields |= {p.bookmark_field} | set(query.filters.values())
                fields |= {f for terms in query.where.values() for f in terms}
                params = {p.filter_param, p.size_param, p.bookmark_param}
            else:
                params = {p.size_param, p.token_param} | set(query.filters.values())
                params |= {f for terms in query.where.values() for f in terms}
            lacking = sorted(fields - outputs)
            if lacking:
                problems.append(
                    f"`{query.operation}` ({query.section}) returns no field {', '.join(lacking)}"
                )
            lacking = sorted(params - inputs)
            if lacking:
                problems.append(
                    f"`{query.operation}` ({query.section}) takes no parameter {', '.join(lacking)}"
                )
        return problems

    def _check_writes(self) -> list[str]:
        """What the WSDLs do not offer of the mapping's writes: an operation (a service
        publishes only what its user may call) or a field a create takes."""
        m = self.mapping
        writes = [
            (m.applications, m.applications.operation, APPLICATION_WRITTEN, "post applications"),
            (m.exceptions, m.exceptions.operation, EXCEPTION_WRITTEN, "create exceptions"),
        ]
        if m.exceptions.update:
            writes.append((m.exceptions, m.exceptions.update, frozenset(), "close exceptions"))
        if m.edi_status is not None:
            writes.append(
                (m.edi_status, m.edi_status.operation, frozenset(), "report EDI statuses")
            )
        problems: list[str] = []
        for write, operation, written, purpose in writes:
            types = self._operation_types(write.query.service, operation)
            if isinstance(types, str):
                problems.append(f"{purpose}: {types}")
                continue
            inputs, _ = types
            names = {v for k, v in write.query.fields.items() if k in written}
            constants = set(write.constants) if operation == write.operation else set()
            lacking = sorted(({write.record} | names | constants) - inputs)
            if lacking:
                problems.append(
                    f"`{operation}` ({write.query.section}) takes no {', '.join(lacking)}"
                )
        return problems

    # -- pulls ------------------------------------------------------------------------

    def _convert(self, rows: list[dict[str, Any]], convert: Callable[[dict[str, Any]], Any]) -> Any:
        try:
            return [convert(row) for row in rows]
        except SoapRowError as exc:
            raise SoapRecordError(str(exc)) from None

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        """Every customer; with `since`, those modified at or after it."""
        rows = self._rows(self.mapping.customers, since=since)
        return self._convert(rows, lambda row: customer_from(row, self.mapping))

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        """Open invoices (`invoices.where.open`). With `since`: every invoice modified at
        or after it, closed ones included (open amount zero), so the ledger sees them close."""
        query = self.mapping.invoices
        rows = self._rows(query, since=since, where=None if since else "open")
        return self._invoices(rows)

    def _invoices(self, rows: list[dict[str, Any]]) -> list[Invoice]:
        local = self._local
        return self._convert(rows, lambda row: invoice_from(row, self.mapping, local))

    def _invoices_by(self, role: str, values: Iterable[str]) -> list[Invoice]:
        return self._invoices(self._rows(self.mapping.invoices, role=role, values=values))

    # -- applications -------------------------------------------------------------------

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        """One host record per application (`applications.create`); keys already in the
        host are reported `already_present` and not written again."""
        w = self.mapping.applications
        present = self._keys(w, [write.idempotency_key for write in writes])
        results = {key: WriteResult(key, external, True) for key, external in present.items()}
        pending = [write for write in writes if write.idempotency_key not in results]
        invoices = {
            invoice.invoice_id: invoice
            for invoice in self._invoices_by("ids", [w.application.invoice_id for w in pending])
        }
        for write in pending:
            key, app = write.idempotency_key, write.application
            if key in results:
                continue
            invoice = invoices.get(app.invoice_id)
            if invoice is None:
                missing = f"invoice `{app.invoice_id}` not found at {self.settings.where}"
                results[key] = WriteResult.refusal(key, missing)
                continue
            refused = _refusal(app, invoice)
            if refused is not None:
                results[key] = WriteResult.refusal(key, refused)
                continue
            record = application_record(write, invoice, self.mapping, self._local)
            doing = f"{w.operation} application {key} to invoice {invoice.number}"
            results[key] = self._create_or_refuse(w, record, key, doing)
        return [results[write.idempotency_key] for write in writes]

    def _create_or_refuse(
        self, write: Write, record: dict[str, Any], key: str, doing: str
    ) -> WriteResult:
        """`_create`, with a Fault answering this record's call (`SoapRecordError`) as the
        host's refusal of it: nothing was written, the others go on."""
        try:
            return self._create(write, record, key, doing)
        except SoapRecordError as refused:
            return WriteResult.refusal(key, str(refused))

    # -- exceptions ---------------------------------------------------------------------

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        """One record per exception in the host's queue (`exceptions.create`), with the
        payment, the reason and the ranked suggestions in words."""
        w = self.mapping.exceptions
        present = self._keys(w, [write.idempotency_key for write in writes])
        results = {key: WriteResult(key, external, True) for key, external in present.items()}
        pending = [write for write in writes if write.idempotency_key not in results]
        suggested = {s.invoice_id for write in pending for s in write.item.suggestions}
        invoices = {i.invoice_id: i for i in self._invoices_by("ids", suggested)}
        numbers = {invoice_id: invoice.number for invoice_id, invoice in invoices.items()}
        for write in pending:
            key = write.idempotency_key
            if key in results:
                continue
            best = write.item.suggestions[0].invoice_id if write.item.suggestions else None
            record = exception_record(
                write, self.mapping, self._local, invoices.get(best or ""), numbers
            )
            doing = f"{w.operation} exception {key} for payment {write.payment.payment_id}"
            results[key] = self._create_or_refuse(w, record, key, doing)
        return [results[write.idempotency_key] for write in writes]

    # -- resolutions ------------------------------------------------------------------

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        """Exceptions a clerk resolved (`exceptions.where.resolved`), modified at or after
        `since`; the invoice number they entered comes back as the invoice's id."""
        q = self.mapping.exceptions.query
        rows = self._rows(q, since=since, where="resolved")
        number_field = q.fields.get("resolved_invoice_number")
        numbers = {host_text(row.get(number_field)) for row in rows} if number_field else set()
        invoice_ids = {
            invoice.number: invoice.invoice_id
            for invoice in self._invoices_by("numbers", [n for n in numbers if n])
        }
        local = self._local
        resolutions: dict[str, Resolution] = {}
        for resolution in self._convert(
            rows, lambda row: resolution_from(row, self.mapping, local, invoice_ids)
        ):
            if resolution is not None:
                resolutions[resolution.payment_id] = resolution
        return list(resolutions.values())

    # -- clerks' decisions taken in arlink web ------------------------------------------

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Set each payment's exception record to resolved with the decision's resolution
        value and note (`exceptions.update`), as a clerk on the host's page would; a record
        resolved already is `already_present` (the state a rerun finds; the key is in
        the note). One with no exception record to close, or whose update the host answers
        with a Fault, comes back refused."""
        w = self.mapping.exceptions
        q, f = w.query, w.query.fields
        if w.update is None or "payments" not in q.filters:
            raise FixConfigError(
                f"mapping {self.mapping.source.name} has no `exceptions.update` or "
                "`exceptions.filters.payments`: decisions taken in arlink web cannot close "
                "exceptions in this host (see mappings/soap/*.toml)"
            )
        by_payment: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows(q, role="payments", values=[x.payment_id for x in writes]):
            by_payment.setdefault(host_text(row.get(f["payment_id"])) or "", []).append(row)
        return [self._resolve(write, by_payment.get(write.payment_id, [])) for write in writes]

    def _resolved(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        terms = self.mapping.exceptions.query.where["resolved"].items()
        done = (r for r in rows if all(host_text(r.get(k)) == v for k, v in terms))
        return next(done, None)

    def _resolve(self, write: ResolutionWrite, rows: list[dict[str, Any]]) -> WriteResult:
        w = self.mapping.exceptions
        q, f, key = w.query, w.query.fields, write.idempotency_key
        if not rows:
            # Exceptions are written back before decisions: none here is one the host
            # refused (or a clerk deleted), and a retry would find none either.
            return WriteResult.refusal(
                key,
                f"resolution of payment {write.payment_id}: no exception for it at "
                f"{self.settings.where}",
            )
        done = self._resolved(rows)
        if done is not None:
            return WriteResult(key, self._external(w, done), True)
        row = rows[0]
        choices = {action: value for value, action in self.mapping.actions.items()}
        record = {f["id"]: row[f["id"]], **q.where["resolved"], f["action"]: choices[write.action]}
        if "version" in f:
            record[f["version"]] = row.get(f["version"])
        if "note" in f:
            record[f["note"]] = f"{write.text}, {key}"
        doing = f"{w.update} exception of payment {write.payment_id} ({write.action})"
        try:
            self._call(q.service, w.update, doing, True, **{w.record: record})
        except SoapRecordError as refused:
            return WriteResult.refusal(key, str(refused))
        except RetryLaterError as unsure:
            done = self._resolved(self._rows(q, role="payments", values=[write.payment_id]))
            if done is None:
                raise RetryLaterError(
                    f"{doing}: outcome unknown ({unsure}); the next run looks it up first"
                ) from None
        return WriteResult(key, self._external(w, row), False)

    # -- EDI --------------------------------------------------------------------------

    def _edi(self) -> tuple[Query, Write]:
        documents, status = self.mapping.documents, self.mapping.edi_status
        if documents is None or status is None:
            raise FixConfigError(
                f"mapping {self.mapping.source.name} has no `[documents]` and `[edi_status]`: "
                "EDI documents are not available from this host; see "
                "mappings/soap/generic_invoice_service.toml"
            )
        return documents, status

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]:
        """The EDI documents of invoices `ids`: the header from `invoices`, the lines,
        allowances, charges, taxes, parties and terms from `documents`. An id not in the
        host is left out; every invoice with a bad record is named at once."""
        query, _ = self._edi()
        invoices = {i.invoice_id: i for i in self._invoices_by("ids", ids)}
        rows = self._rows(query, role="ids", values=list(invoices))
        documents, problems = documents_from(rows, query, invoices)
        if problems:
            raise SoapRecordError("; ".join(problems))
        return documents

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]:
        """Journal each status (`edi_status.create`); one the clerk must act on (invalid,
        rejected, overdue) is first a case in the exception queue, so a journaled status
        always has its case. Keys already journaled are `already_present`."""
        _, w = self._edi()
        present = self._keys(w, [write.idempotency_key for write in writes])
        results = {key: WriteResult(key, external, True) for key, external in present.items()}
        pending = [write for write in writes if write.idempotency_key not in results]
        to_act_on = [write for write in pending if write.status in EDI_EXCEPTION_STATUSES]
        cases = self.mapping.exceptions
        opened = self._keys(cases, [write.idempotency_key for write in to_act_on])
        invoices = {
            i.invoice_id: i for i in self._invoices_by("ids", [x.invoice_id for x in to_act_on])
        }
        for write in pending:
            key = write.idempotency_key
            if key in results:
                continue
            doing = f"{w.operation} EDI status {write.status} of invoice {write.invoice_number}"
            if write.status in EDI_EXCEPTION_STATUSES and key not in opened:
                record = edi_case_record(
                    write, invoices.get(write.invoice_id), self.mapping, self._local
                )
                opened[key] = self._create(
                    cases, record, key, f"{cases.operation} for {doing}"
                ).external_id
            results[key] = self._create(w, edi_status_record(write, self.mapping), key, doing)
        return [results[write.idempotency_key] for write in writes]


def connect(
    name: str,
    settings: SoapSettings,
    mapping: SoapMapping,
    session: requests.Session | None = None,
) -> SoapBooks:
    """The books host for `[books.<name>] kind = "soap"`: a real client built from the
    settings (WSDLs load on first use, so `check()` can report a WSDL that does not)."""
    return SoapBooks(name, SoapClient.connect(settings, session), settings, mapping)
