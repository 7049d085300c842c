"""What one received file holds: the payments of a bank file, or the remittance advices
of an advice file. The one reader the job's parse step, `arlink run --dry-run` and
`arlink match` share, so a file means the same thing to each."""

from __future__ import annotations

from dataclasses import dataclass, field

from cash_application.bank_files.detect import parse_bank_file
from cash_application.bank_files.lockbox_csv import parse_lockbox_with_layout
from cash_application.bank_files.payments import payments_from
from cash_application.remittance_advices import (
    DEFAULT_LAYOUT,
    CsvLayout,
    advice_format,
    parse_advice_file,
)
from mappings.records import Payment, RemittanceAdvice


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A parsed file: its format and what it brought (one of the two lists is empty)."""

    format: str
    payments: list[Payment] = field(default_factory=list)
    advices: list[RemittanceAdvice] = field(default_factory=list)


def read_received_file(
    data: bytes,
    file_name: str,
    *,
    file_digest: str,
    layout: CsvLayout = DEFAULT_LAYOUT,
    lockbox_layout: str | None = None,
) -> ReceivedFile:
    """Parse a received file; raise `BankFileError` (advice errors included) naming the
    file, line and field when it cannot be read. A source with a `lockbox_layout` (its
    bank's CSV or fixed-width lockbox layout) sends lockbox files in that layout only."""
    # An advice file is never a bank file: detected first, by content.
    advice = advice_format(data, layout)
    if advice is not None:
        advices = parse_advice_file(data, file_name, file_digest=file_digest, layout=layout)
        return ReceivedFile(advice, advices=advices)
    if lockbox_layout is not None:
        parsed = parse_lockbox_with_layout(data, file_name, lockbox_layout)
    else:
        parsed = parse_bank_file(data, file_name)
    payments = payments_from(parsed, file_digest=file_digest, file_name=file_name)
    return ReceivedFile(parsed.format, payments=payments)
