"""Typed errors of bank file parsing, grouped by what the caller should do.

    BankFileError                 the file is quarantined; other files go on
    ├── BankFileSyntaxError       bytes that are not the format (bad record, field, date)
    └── BankFileIntegrityError    well-formed, but control totals or counts disagree

Both carry the file name, the 1-based line and the field, so a clerk or an IT
admin can open the file at the right place.
"""

from __future__ import annotations


class BankFileError(Exception):
    """A bank file that cannot be used as it is."""

    def __init__(self, message: str, *, file: str, line: int | None, field: str | None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        where = file if line is None else f"{file}:{line}"
        what = f" field `{field}`:" if field else ""
        super().__init__(f"{where}:{what} {message}")


class BankFileSyntaxError(BankFileError):
    """The bytes do not follow the format."""


class BankFileIntegrityError(BankFileError):
    """Control totals, record counts or balances do not reconcile."""
