"""Golden files: every OFX/QFX file of the corpus beside its expected JSON.

The expected output lives in `golden/ofx/<file name>.json`: the parsed file in
the `arlink parse --json` shape, or `{"error": {...}}` for a file that must be
rejected. Golden files are regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/bank_files`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import bank_golden
import pytest
from corpus import corpus_params, require_corpus
from golden_files import assert_golden

from cash_application.bank_files.detect import detect_format
from cash_application.bank_files.ofx import parse_ofx

GOLDEN = bank_golden.GOLDEN / "ofx"
outcome = partial(bank_golden.outcome, parse_ofx)
CORPUS = "bank/ofx"


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    assert_golden(outcome(path.read_bytes(), path.name), GOLDEN / f"{path.name}.json")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_every_stmttrn_is_one_transaction(path: Path | None) -> None:
    """No silent under-count: as many transactions as `<STMTTRN>` tags, or a rejected file."""
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    result = outcome(data, path.name)
    if "error" in result:
        return  # which files are rejected, and why, is `test_known_rejections`
    transactions = sum(len(statement["transactions"]) for statement in result["statements"])
    assert transactions == data.count(b"<STMTTRN>") - data.count(b"<!-- <STMTTRN>")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_detected_from_content(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    assert detect_format(path.read_bytes(), path.name) == "ofx"


@pytest.mark.corpus
def test_known_rejections() -> None:
    """The decisions the golden files record, stated where a reader finds them."""
    folder = require_corpus(CORPUS)
    expected = {
        # The bank says it could not produce the file: sign-on refused, server error.
        "csingley_ofxtools__tests_data_profrs.ofx": ("BankFileError", "STATUS"),
        "jseutter_ofxparse__tests_fixtures_signon_fail.ofx": ("BankFileError", "STATUS"),
        "jseutter_ofxparse__tests_fixtures_error_message.ofx": ("BankFileError", "STATUS"),
        # Brokerage cash lines in fractions of a cent (-8.4850 is -8.485 USD; 115.8331):
        # not representable as USD minor units, and never rounded.
        "jbms_beancount-import__testdata_source_ofx_investment_buy_sell_income.ofx": (
            "BankFileSyntaxError",
            "TRNAMT",
        ),
        "jseutter_ofxparse__tests_fixtures_fidelity-savings.ofx": ("BankFileSyntaxError", "TRNAMT"),
        # ofxparse's "fail nice" samples: a missing DTPOSTED; an amount written `$120`.
        "jseutter_ofxparse__tests_fixtures_fail_nice_date_missing.ofx": (
            "BankFileSyntaxError",
            "DTPOSTED",
        ),
        "jseutter_ofxparse__tests_fixtures_fail_nice_decimal_error.ofx": (
            "BankFileSyntaxError",
            "TRNAMT",
        ),
        # OCA's "wrong" samples: the account and currency are commented out.
        "oca_bank-statement-import__account_bank_statement_import_ofx_tests_test_ofx_file_"
        "test_ofx_wrong@10.0.ofx": ("BankFileSyntaxError", "ACCTID"),
        "oca_bank-statement-import__account_statement_import_ofx_by_acctid_tests_test_ofx_file_"
        "test_ofx_wrong@14.0.ofx": ("BankFileSyntaxError", "ACCTID"),
    }
    rejected = set()
    for path in sorted(folder.iterdir()):
        result = outcome(path.read_bytes(), path.name)
        if "error" in result:
            rejected.add(path.name)
            assert (result["error"]["type"], result["error"]["field"]) == expected[path.name]
    assert rejected == set(expected)
