"""Errors the ledger raises when its state does not allow what was asked."""

from __future__ import annotations


class LedgerError(Exception):
    """The ledger's state forbids the operation (unknown run, finished run, missing audit head).

    A caller should stop the step: this is never a transient condition to retry.
    """
