"""From a parsed bank file to canonical `Payment`s: every credit is money received."""

from __future__ import annotations

from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.records import Direction, ParsedFile, Transaction
from mappings.records import Payment, RemittanceLine, SourceRef, payment_id_for


def payments_from(parsed: ParsedFile, *, file_digest: str, file_name: str) -> list[Payment]:
    """One `Payment` per credit transaction, with a stable id from the file digest and the
    transaction's position, so the same file parsed twice yields the same ids.

    A file the bank marked as a test is refused (`BankFileError`): its credits are not cash.
    """
    if parsed.test_only:
        raise BankFileError(
            "the bank marked this file as a test (group status 4): not applied as cash",
            file=file_name,
            line=None,
            field="group_status",
        )
    payments = []
    position = 0
    for statement in parsed.statements:
        for transaction in statement.transactions:
            position += 1
            # Only money the bank has booked is cash to apply; a pending or informational
            # entry (camt PDNG/INFO) is shown by `arlink parse` but never applied.
            if transaction.direction is not Direction.CREDIT or not transaction.booked:
                continue
            payments.append(
                Payment(
                    payment_id=payment_id_for(file_digest, position),
                    bank_account=statement.account,
                    value_date=transaction.value_date or statement.date,
                    amount=transaction.amount,
                    source=SourceRef(
                        file_digest=file_digest,
                        file_name=file_name,
                        format=parsed.format,
                        first_line=transaction.first_line,
                        last_line=transaction.last_line,
                    ),
                    payer_name=transaction.payer_name,
                    payer_account=transaction.payer_account,
                    bank_reference=transaction.bank_reference,
                    end_to_end_id=transaction.end_to_end_id,
                    remittance=transaction.remittance,
                    remittance_lines=_lines(transaction),
                )
            )
    return payments


def _lines(transaction: Transaction) -> tuple[RemittanceLine, ...]:
    """The remittance's invoice references, each with the amount the file gives for it."""
    amounts = dict(transaction.invoice_amounts)
    return tuple(RemittanceLine(ref, amounts.get(ref)) for ref in transaction.invoice_refs)
