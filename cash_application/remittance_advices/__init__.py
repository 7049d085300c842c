"""Remittance that arrives apart from the money: X12 820 and CSV advices, and their links.

Pure: bytes in, `RemittanceAdvice` records out (`parse_advice_file`), then advices paired
with the payments they announce (`linking.link_advices`). An intake calls `advice_format`
on each file before bank file detection: an advice file is never a bank file.
"""

from __future__ import annotations

from cash_application.bank_files.lockbox_csv import looks_like_lockbox_csv
from cash_application.remittance_advices.csv_layout import (
    DEFAULT_LAYOUT,
    CsvLayout,
    looks_like_csv_advice,
    parse_csv_advices,
)
from cash_application.remittance_advices.csv_layout import FORMAT as CSV_FORMAT
from cash_application.remittance_advices.errors import AdviceIntegrityError, AdviceSyntaxError
from cash_application.remittance_advices.linking import AdviceLink, Linking, link_advices
from cash_application.remittance_advices.x12_820 import FORMAT as X12_FORMAT
from cash_application.remittance_advices.x12_820 import looks_like_820, parse_820
from mappings.records import RemittanceAdvice

__all__ = [
    "CSV_FORMAT",
    "DEFAULT_LAYOUT",
    "X12_FORMAT",
    "AdviceIntegrityError",
    "AdviceLink",
    "AdviceSyntaxError",
    "CsvLayout",
    "Linking",
    "advice_format",
    "link_advices",
    "parse_advice_file",
]


def advice_format(data: bytes, layout: CsvLayout = DEFAULT_LAYOUT) -> str | None:
    """`X12_FORMAT` or `CSV_FORMAT` when `data` is a remittance advice file, else None."""
    head = data[:4096]
    if looks_like_820(head):
        return X12_FORMAT
    # A lockbox CSV export has payer and invoice columns too: a bank file, not an advice.
    if looks_like_lockbox_csv(head):
        return None
    if looks_like_csv_advice(head, layout):
        return CSV_FORMAT
    return None


def parse_advice_file(
    data: bytes,
    file_name: str,
    *,
    file_digest: str,
    layout: CsvLayout = DEFAULT_LAYOUT,
    currency: str = "USD",
) -> list[RemittanceAdvice]:
    """The advices of an 820 or CSV remittance file (`AdviceSyntaxError` when it is neither).
    `currency` is the 820's default when a set has no CUR segment."""
    found = advice_format(data, layout)
    if found == X12_FORMAT:
        return parse_820(data, file_name, file_digest=file_digest, currency=currency)
    if found == CSV_FORMAT:
        return parse_csv_advices(data, file_name, file_digest=file_digest, layout=layout)
    raise AdviceSyntaxError(
        "not a remittance advice (an X12 820 interchange or the CSV layout's header)",
        file=file_name,
        line=1,
        field=None,
    )
