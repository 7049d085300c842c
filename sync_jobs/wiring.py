"""Build connectors from the config: a plain dict from `kind` to a factory (STYLE.md 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.files import FilesBooks
from connectors.folder import FolderTransport
from connectors.protocols import BooksHost, FileTransport
from sync_jobs.config import Config
from sync_jobs.ledger import default_url

BOOKS_KINDS: dict[str, Callable[[str, Any], BooksHost]] = {
    "files": lambda name, spec: FilesBooks(name, spec.path),
}
SOURCE_KINDS: dict[str, Callable[[str, Any], FileTransport]] = {
    "folder": lambda name, spec: FolderTransport(name, spec.path, spec.pattern, spec.processed),
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
