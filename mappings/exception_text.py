"""The words a clerk reads about an exception, whatever host shows them (plain text)."""

from __future__ import annotations

from collections.abc import Mapping

from mappings.records import ExceptionWrite


def exception_lines(write: ExceptionWrite, numbers: Mapping[str, str]) -> list[str]:
    """The payment, why it was not applied, the remittance and the ranked suggestions with
    their reasons, one line each; `numbers` turns a suggested invoice id into its number.
    Each host adds how to resolve the item where it shows it."""
    item, payment = write.item, write.payment
    lines = [
        f"Payment of {item.amount} {item.amount.currency} received "
        f"{payment.value_date or 'on an unknown date'} from "
        f"{payment.payer_name or 'an unknown payer'} "
        f"(bank reference {payment.bank_reference or '-'}).",
        f"Not applied: {item.reason.value.replace('_', ' ')}."
        + "".join(f" {reason.text}." for reason in item.reasons),
    ]
    if payment.remittance:
        lines.append(f"Remittance: {payment.remittance}")
    if item.suggestions:
        lines.append("Suggestions, best first:")
        for rank, suggestion in enumerate(item.suggestions, 1):
            why = "; ".join(reason.text for reason in suggestion.reasons)
            number = numbers.get(suggestion.invoice_id, suggestion.invoice_id)
            because = f": {why}" if why else ""
            lines.append(f"{rank}. invoice {number} (score {suggestion.score:.2f}){because}")
    return lines
