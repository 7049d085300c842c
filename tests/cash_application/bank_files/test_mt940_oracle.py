"""Differential test: arlink's MT940 parser against WoLpH's `mt-940` on the whole corpus.

`mt-940` is not our parser (it raises on 14 of the reference's 180 real files and
reads 1.9 MB/s, see `cash_application/bank_files/mt940.py`), but it knows many
banks, so every file both parsers read must give the same transactions: signed
amount, value date, entry date and bank reference, in order. Every file where they
disagree is listed below with the reason; a new disagreement fails the test.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from corpus import corpus_params, require_corpus
from test_mt940_golden import KNOWN_SYNTAX_REJECTIONS, manifest_notes

from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.mt940 import parse_mt940

mt940 = pytest.importorskip("mt940", reason="the oracle: pip install mt-940")

SUBDIR = "bank/mt940"
Row = tuple[Decimal, date | None, date | None, str | None]

# Files the oracle cannot read, and why we can.
ORACLE_RAISES = {
    # ASN puts the counterparty IBAN (18 characters) in the customer reference,
    # beyond the 16 of the spec; mt-940's :61: pattern stops at 16 (wolph/mt940#111).
    "wolph_mt940__mt940_tests_ASNB_0708271685_09022020_164516.940.txt",
    "fruitl00p_php-mt940__test_Parser_Banking_Mt940_Engine_Asn_sample",
    "gpaulissen_ofxstatement-mt940__tests_samples_mt940_ASN.txt",
    # `:28C:/1` (ZETB): we do not interpret the statement number, so nothing to reject.
    "fruitl00p_php-mt940__test_Parser_Banking_Mt940_Engine_Zetb_sample",
    # `:28C:0000` wrapped onto a second line `0` (OCA ING): continuation lines join.
    "oca_bank-statement-import__account_bank_statement_import_mt940_base_test_files_"
    "test-ing@10.0.940",
    "oca_bank-statement-import__account_bank_statement_import_mt940_nl_ing_test_files_"
    "test-ing-old@8.0.940",
    "oca_bank-statement-import__account_bank_statement_import_mt940_nl_ing_test_files_"
    "test-ing@8.0.940",
}

# Files both read, with different transactions.
DISAGREEMENTS = {
    # RC is a reversal of a credit, so money leaves the account: a debit (SWIFT field
    # 61 subfield 3; issue 8). mt-940 signs RC and RD by their last letter, RC positive.
    "betterplace_mt940_parser__test_fixtures_sepa_mt9401.txt": "reversal RC is a debit",
    "wolph_mt940__mt940_tests_betterplace_sepa_mt9401.sta": "reversal RC is a debit",
    "sandermarechal_jejik-mt940__tests_Jejik_Tests_MT940_Fixture_document_sparkasse3.txt": (
        "reversal RC is a debit"
    ),
    # Rabobank's old export writes `000000000300.00` (quirk rabobank-dot-decimal): mt-940
    # matches no :61: in it and returns 1 transaction of 39 without an error.
    "fruitl00p_php-mt940__test_Parser_Banking_Mt940_Engine_Rabo_sample": "oracle under-counts",
}


def ours(data: bytes, name: str) -> list[Row]:
    parsed = parse_mt940(data, name, check_integrity=False)
    return [
        (
            txn.amount.to_decimal() * (1 if txn.direction.value == "credit" else -1),
            txn.value_date,
            txn.entry_date,
            txn.bank_reference,
        )
        for statement in parsed.statements
        for txn in statement.transactions
    ]


def theirs(data: bytes) -> list[Row]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            transactions = mt940.parse(data)
        finally:
            logging.disable(logging.NOTSET)
    return [
        (
            txn.data["amount"].amount,
            _plain(txn.data["date"]),
            _plain(txn.data.get("entry_date")),
            txn.data.get("bank_reference"),
        )
        for txn in transactions
    ]


def _plain(value: date | None) -> date | None:
    return None if value is None else date(value.year, value.month, value.day)


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(SUBDIR))
def test_same_transactions_as_the_oracle(path: Path | None) -> None:
    if path is None:
        require_corpus(SUBDIR)
        return
    data = path.read_bytes()
    try:
        expected = ours(data, path.name)
    except BankFileError:
        # Ours rejects only fragments and the files the golden test lists, whatever the
        # oracle makes of them (it returns transactions for lone :61: fragments and for
        # impossible dates, which it does not report).
        assert path.name in KNOWN_SYNTAX_REJECTIONS or "fragment" in manifest_notes()[path.name]
        return
    try:
        actual = theirs(data)
    except Exception:  # the oracle raises whatever it raises
        assert path.name in ORACLE_RAISES, f"the oracle now fails on {path.name}"
        return
    assert path.name not in ORACLE_RAISES, f"the oracle reads {path.name} now: update the list"
    if path.name in DISAGREEMENTS:
        assert expected != actual, f"no longer a disagreement: {path.name}"
        return
    assert expected == actual
