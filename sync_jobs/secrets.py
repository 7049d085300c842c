"""Secrets: values that come only from the environment or from files, and never print.

A `Secret` masks itself in `repr` and `str`, so it cannot reach a log line or an
error message by accident; `reveal()` is the one explicit way to read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential read from `env` or `file`, masked everywhere it could be printed."""

    _value: str
    origin: str  # e.g. "env ODOO_PASSWORD" or "file /run/secrets/odoo": safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<masked>, from {self.origin})"

    __str__ = __repr__


class SecretSourceError(ValueError):
    """A secret's environment variable or file is missing or empty (its value is never shown)."""


def read_secret(*, env: str | None, file: str | None, base_dir: Path) -> Secret:
    """Resolve a secret from exactly one of an environment variable or a file."""
    if (env is None) == (file is None):
        raise SecretSourceError("give exactly one of `env` or `file`")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise SecretSourceError(f"environment variable {env} is not set or empty")
        return Secret(value, f"env {env}")
    path = Path(file).expanduser()  # type: ignore[arg-type]
    if not path.is_absolute():
        path = base_dir / path
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretSourceError(f"cannot read secret file {path}: {exc.strerror}") from None
    if not value:
        raise SecretSourceError(f"secret file {path} is empty")
    return Secret(value, f"file {path}")
