"""The two connector roles (DESIGN.md, "Connectors"): books hosts and file transports.

Each host or transport is one module implementing the role's verbs; sync_jobs picks
the class from a plain dict keyed by the config's `kind` (STYLE.md 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from mappings.invoice_document import InvoiceDocument
from mappings.records import (
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of `arlink check`: what was checked, whether it is fine, what to do if not."""

    target: str
    ok: bool
    detail: str


class BooksHost(Protocol):
    """An ERP/CRM holding customers and open invoices; receives applied cash and exceptions."""

    name: str
    # True: a pull `since` a time returns what changed from then on (closed invoices too)
    # and the records carry `modified`; False: every pull returns everything.
    incremental: bool

    def check(self) -> list[CheckResult]: ...

    def pull_customers(self, since: datetime | None) -> list[Customer]: ...

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]: ...

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]: ...

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]: ...

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]: ...

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Close the host's exception item for each payment as a clerk there would
        (on account, not ours), so the next pull reads it back as that resolution."""
        ...


@runtime_checkable
class EdiBooksHost(Protocol):
    """The optional books-host verbs EDI needs: invoice documents in, EDI statuses out."""

    name: str

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]: ...

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]: ...


class FileTransport(Protocol):
    """Where bank files arrive (a local folder, an SFTP inbox)."""

    name: str

    def check(self) -> list[CheckResult]: ...

    def list(self) -> list[str]: ...

    def fetch(self, name: str) -> bytes: ...

    def archive(self, name: str) -> None:
        """Move a recorded file that parsed out of the inbox, into the processed folder."""
        ...

    def quarantine(self, name: str) -> None:
        """Move a recorded file that did not parse out of the inbox, into quarantine."""
        ...

    def put(self, name: str, data: bytes) -> None: ...

    def close(self) -> None:
        """Release the connection, if the transport holds one; safe to call twice."""
        ...
