"""Differential test: arlink's camt parser against two PyPI parsers, file by file.

The oracles are `pycamt` (one row per transaction detail) and `camt053` (entries
with their details). Where they disagree with us, the disagreement must be one of
the explained kinds below, checked against the file itself; anything else fails.

Explained disagreements:
- pycamt raises `Camt053ParseError` on every camt.054 (it looks only for `Stmt`
  and `Rpt`), and on a message without statements; we read the notifications.
- pycamt reports a single-detail entry with the detail's own `Amt`/`CdtDbtInd`;
  we report the entry's booked amount and direction, the ones the balances add up
  (genkgo's samples put a 0 SEK detail under an 8.85 EUR entry; OCA's a 564.05
  detail under a 594.05 entry, charges included).
- camt053 does not know the .01 container `BkToCstmrAcctRptV01`.
- camt053 counts every `TxDtls`; where a batch's details carry no amount we keep
  the entry as one transaction (quirk batch-details-without-amount).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from corpus import corpus_params, require_corpus
from lxml import etree

from cash_application.bank_files.camt import parse_camt
from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.records import ParsedFile

pycamt_parser = pytest.importorskip("pycamt.parser")
camt053 = pytest.importorskip("camt053")

CORPUS = "bank/camt053"


def _ours(data: bytes, name: str) -> ParsedFile | None:
    try:
        return parse_camt(data, name, check_integrity=False)
    except BankFileError:
        return None


def _entries(data: bytes) -> list[Any]:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return list(root.iter("{*}Ntry"))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_pycamt_agrees_or_the_disagreement_is_explained(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    ours = _ours(data, path.name)
    try:
        rows = pycamt_parser.Camt053Parser(data).get_transactions()
    except pycamt_parser.Camt053ParseError:
        assert ours is None or ours.format == "camt.054"
        return
    assert ours is not None
    transactions = [t for s in ours.statements for t in s.transactions]
    assert len(rows) == len(transactions)
    entries = _entries(data)
    for row, txn in zip(rows, transactions, strict=True):
        direction = "credit" if row["CreditDebitIndicator"] == "CRDT" else "debit"
        if Decimal(row["Amount"]) == txn.amount.to_decimal() and direction == txn.direction:
            continue
        # A single-detail entry: the transaction starts at the entry.
        [entry] = [e for e in entries if e.sourceline == txn.first_line]
        assert len(list(entry.iter("{*}TxDtls"))) == 1
        assert Decimal(entry.findtext("{*}Amt")) == txn.amount.to_decimal()
        assert entry.findtext("{*}CdtDbtInd") == ("CRDT" if txn.direction == "credit" else "DBIT")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_camt053_agrees_or_the_disagreement_is_explained(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    ours = _ours(data, path.name)
    try:
        document = camt053.parse_document(data.decode("utf-8"))
    except camt053.StatementParseError:
        assert b"BkToCstmrAcctRptV01" in data
        assert ours is not None
        assert ours.format == "camt.052"
        return
    if ours is None:  # a message without statements: camt053 returns none, we refuse it
        assert not document.statements
        return
    assert len(ours.statements) == len(document.statements)
    entries = iter(_entries(data))
    for statement, theirs in zip(ours.statements, document.statements, strict=True):
        transactions = iter(statement.transactions)
        for entry in theirs.entries:
            element = next(entries)
            details = list(element.iter("{*}TxDtls"))
            assert len(entry.details) == len(details)
            if len(details) > 1 and all(_has_amount(detail) for detail in details):
                for _ in details:  # a batch split into its details: one each
                    next(transactions)
                continue
            # one transaction for the entry, with the entry's booked amount
            txn = next(transactions)
            assert txn.amount.to_decimal() == Decimal(entry.amount)
            assert txn.direction == (
                "credit" if entry.credit_debit_indicator == "CRDT" else "debit"
            )
        assert next(transactions, None) is None


def _has_amount(detail: Any) -> bool:
    return detail.find("{*}Amt") is not None or detail.find("{*}AmtDtls") is not None
