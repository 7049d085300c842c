"""A parsed bank file as plain JSON data, the same shape for every format.

Used by `arlink parse --json` and by the golden-file tests, so the shape is a
contract: amounts are decimal strings (never floats; transaction amounts
unsigned, balances signed), dates ISO 8601, an absent value null.
"""

from __future__ import annotations

from typing import Any

from cash_application.bank_files.records import ParsedFile, Statement, Transaction
from mappings.money import Money


def parsed_file_to_json(parsed: ParsedFile) -> dict[str, Any]:
    """The file, its statements and their transactions as JSON-ready dicts and lists."""
    return {
        "format": parsed.format,
        "statements": [_statement(statement) for statement in parsed.statements],
    }


def _statement(statement: Statement) -> dict[str, Any]:
    return {
        "account": statement.account,
        "currency": statement.currency,
        "date": statement.date.isoformat() if statement.date else None,
        "opening_balance": _money(statement.opening_balance),
        "closing_balance": _money(statement.closing_balance),
        "transactions": [_transaction(txn) for txn in statement.transactions],
    }


def _transaction(txn: Transaction) -> dict[str, Any]:
    return {
        "amount": str(txn.amount),
        "direction": txn.direction.value,
        "currency": txn.currency,
        "value_date": txn.value_date.isoformat() if txn.value_date else None,
        "entry_date": txn.entry_date.isoformat() if txn.entry_date else None,
        "type_code": txn.type_code,
        "bank_reference": txn.bank_reference,
        "customer_reference": txn.customer_reference,
        "end_to_end_id": txn.end_to_end_id,
        "payer_name": txn.payer_name,
        "payer_account": txn.payer_account,
        "remittance": txn.remittance,
        "invoice_refs": list(txn.invoice_refs),
        "reversal": txn.reversal,
        "booked": txn.booked,
        "ultimate_payer": txn.ultimate_payer,
        "invoice_amounts": {ref: str(amount) for ref, amount in txn.invoice_amounts},
        "first_line": txn.first_line,
        "last_line": txn.last_line,
    }


def _money(amount: Money | None) -> str | None:
    return None if amount is None else str(amount)
