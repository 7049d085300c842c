"""Typed errors of remittance advice parsing, the bank files' tree extended.

    BankFileError                    the file is quarantined; other files go on
    ├── BankFileSyntaxError
    │   └── AdviceSyntaxError        bytes that are not an 820 or the CSV layout
    └── BankFileIntegrityError
        └── AdviceIntegrityError     control counts or the advice's total disagree

They subclass the bank file errors so the intake that quarantines a bad bank file
quarantines a bad advice file the same way, with file, line (segment or row) and field.
"""

from __future__ import annotations

from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError


class AdviceSyntaxError(BankFileSyntaxError):
    """The bytes do not follow the advice format."""


class AdviceIntegrityError(BankFileIntegrityError):
    """Well-formed, but counts or totals do not reconcile."""
