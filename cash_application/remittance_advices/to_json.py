"""Advices as plain JSON (Decimal strings for money, ISO dates): for golden files and
`--json` output."""

from __future__ import annotations

from typing import Any

from mappings.money import Money
from mappings.records import RemittanceAdvice


def _money(amount: Money | None) -> str | None:
    return None if amount is None else str(amount)


def advice_to_json(advice: RemittanceAdvice) -> dict[str, Any]:
    """One advice as a JSON object; its lines in file order."""
    return {
        "advice_id": advice.advice_id,
        "document": advice.document,
        "amount": str(advice.amount),
        "currency": advice.amount.currency,
        "payment_date": advice.payment_date.isoformat() if advice.payment_date else None,
        "trace": advice.trace,
        "payer_name": advice.payer_name,
        "payer_id": advice.payer_id,
        "payer_account": advice.payer_account,
        "source": {
            "format": advice.source.format,
            "first_line": advice.source.first_line,
            "last_line": advice.source.last_line,
        },
        "lines": [
            {
                "invoice_ref": line.invoice_ref,
                "amount_paid": _money(line.amount_paid),
                "discount": _money(line.discount),
                "reason_code": line.reason_code,
            }
            for line in advice.lines
        ],
    }
