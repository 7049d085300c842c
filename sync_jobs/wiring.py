"""Build connectors from the config: a plain dict from `kind` to a factory (STYLE.md 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors import salesforce, soap
from connectors.errors import RetryPolicy
from connectors.files import FilesBooks
from connectors.folder import FolderTransport
from connectors.odbc import OdbcSettings, connect_books
from connectors.odoo import TRANSPORTS, OdooBooks, OdooSettings
from connectors.protocols import BooksHost, FileTransport
from connectors.sftp import SftpAccount, SftpTimeouts, SftpTransport, open_sftp
from connectors.soap import SoapSettings
from mappings.odoo import OdooMapping
from mappings.soap import SoapMapping
from sync_jobs.config import (
    Config,
    OdbcBooksConfig,
    OdooBooksConfig,
    RemoteBooksConfig,
    SalesforceBooksConfig,
    SftpSourceConfig,
    SoapBooksConfig,
)
from sync_jobs.ledger import default_url


def _retry_policy(spec: RemoteBooksConfig | SftpSourceConfig) -> RetryPolicy:
    """The retries a host or source is configured for (`retry_attempts`, `retry_wait`)."""
    return RetryPolicy(attempts=spec.retry_attempts, initial_wait=spec.retry_wait)


def _odoo_books(name: str, spec: OdooBooksConfig) -> OdooBooks:
    """An Odoo books host over XML-RPC or JSON-RPC; the secret is revealed here, into settings that
    keep it out of repr."""
    settings = OdooSettings(
        url=spec.url,
        database=spec.database,
        username=spec.username,
        password=spec.credential.reveal(),
        version=spec.version,
        exceptions_target=spec.exceptions_target,
        exceptions_user_id=spec.exceptions_user_id,
        exceptions_partner_id=spec.exceptions_partner_id,
        post_note=spec.post_note,
        payment_journal=spec.payment_journal,
        write_off_account=spec.write_off_account,
        discount_account=spec.discount_account,
        page_size=spec.page_size,
        retry=_retry_policy(spec),
    )
    rpc = TRANSPORTS[spec.protocol](spec.url, spec.timeout)
    return OdooBooks(name, rpc, settings, OdooMapping.load(spec.mapping))


def _odbc_books(name: str, spec: OdbcBooksConfig) -> BooksHost:
    """A SQL database's AR tables through pyodbc; the password is revealed here, into
    settings that keep it out of repr."""
    settings = OdbcSettings(
        connection_string=spec.connection_string,
        password=spec.password.reveal() if spec.password else None,
        mapping=spec.mapping,
        connect_timeout=spec.connect_timeout,
        statement_timeout=spec.statement_timeout,
        page_size=spec.page_size,
        retry=_retry_policy(spec),
    )
    return connect_books(name, settings)


def _soap_books(name: str, spec: SoapBooksConfig) -> BooksHost:
    """A SOAP ERP through zeep; the password or token is revealed here, into settings
    that keep it out of repr."""
    secret = spec.password if spec.password is not None else spec.token
    assert secret is not None  # the config requires exactly one
    settings = SoapSettings(
        url=spec.url,
        username=spec.username,
        secret=secret.reveal(),
        auth="basic" if spec.password is not None else "token",
        local_currency=spec.local_currency,
        timeout=spec.timeout,
        operation_timeout=spec.operation_timeout,
        page_size=spec.page_size,
        retry=_retry_policy(spec),
    )
    return soap.connect(name, settings, SoapMapping.load(spec.mapping))


def _salesforce_books(name: str, spec: SalesforceBooksConfig) -> BooksHost:
    """A Salesforce org; the client secret is revealed here, into settings that keep it
    out of repr."""
    settings = salesforce.SalesforceSettings(
        login_url=spec.login_url,
        client_id=spec.client_id,
        client_secret=spec.client_secret.reveal(),
        api_version=spec.api_version,
        currency=spec.currency,
        page_size=spec.page_size,
        bulk_threshold=spec.bulk_threshold,
        api_usage_stop=spec.api_usage_stop,
        timeout=spec.timeout,
        ca_file=str(spec.ca_file) if spec.ca_file else None,
        exceptions_owner_id=spec.exceptions_owner_id,
        retry=_retry_policy(spec),
    )
    return salesforce.connect(name, settings, spec.mapping)


def _sftp_source(name: str, spec: SftpSourceConfig) -> SftpTransport:
    """An SFTP source; secrets are revealed here, into a record that keeps them out of repr."""
    account = SftpAccount(
        host=spec.host,
        port=spec.port,
        username=spec.username,
        known_hosts=spec.known_hosts,
        private_key=spec.private_key.reveal() if spec.private_key else None,
        password=spec.password.reveal() if spec.password else None,
    )
    timeouts = SftpTimeouts(
        connect=spec.connect_timeout,
        banner=spec.banner_timeout,
        auth=spec.auth_timeout,
        channel=spec.channel_timeout,
    )
    return SftpTransport(
        name,
        lambda: open_sftp(account, timeouts),
        where=account.where,
        inbox=spec.inbox,
        pattern=spec.pattern,
        processed=spec.processed,
        quarantine=spec.quarantine,
        retry=_retry_policy(spec),
    )


BOOKS_KINDS: dict[str, Callable[[str, Any], BooksHost]] = {
    "files": lambda name, spec: FilesBooks(name, spec.path),
    "odoo": _odoo_books,
    "odbc": _odbc_books,
    "soap": _soap_books,
    "salesforce": _salesforce_books,
}
SOURCE_KINDS: dict[str, Callable[[str, Any], FileTransport]] = {
    "folder": lambda name, spec: FolderTransport(
        name, spec.path, spec.pattern, spec.processed, spec.quarantine
    ),
    "sftp": _sftp_source,
}


def build_books(config: Config, name: str) -> BooksHost:
    spec = config.books[name]
    return BOOKS_KINDS[spec.kind](name, spec)


def build_source(config: Config, name: str) -> FileTransport:
    spec = config.sources[name]
    return SOURCE_KINDS[spec.kind](name, spec)


def ledger_url(config: Config) -> sa.URL:
    """The configured ledger URL, or the default SQLite file under `var_dir`, with the
    password from its secret (SQLAlchemy masks it when a URL is shown)."""
    url = sa.make_url(config.ledger.url or default_url(Path(config.var_dir)))
    if config.ledger.password is not None:
        url = url.set(password=config.ledger.password.reveal())
    return url
