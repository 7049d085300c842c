"""Golden files: every camt.052/053/054 file of the corpus beside its expected JSON.

The expected output lives in `golden/camt/<file name>.json`: the parsed file in
the `arlink parse --json` shape, or `{"error": {...}}` for a file that must be
rejected. A file rejected for its balances also has `<file name>.lenient.json`:
what the parser reads when integrity checks are off, so its records stay covered.

Golden files are regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/bank_files`.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import bank_golden
import pytest
from corpus import corpus_params, require_corpus
from lxml import etree

from cash_application.bank_files.camt import parse_camt
from cash_application.bank_files.detect import detect_format
from cash_application.bank_files.errors import BankFileError

GOLDEN = bank_golden.GOLDEN / "camt"
outcome = partial(bank_golden.outcome, parse_camt)
CORPUS = "bank/camt053"


def count_credits_and_debits(data: bytes) -> int:
    """Transactions the file reports, counted independently of the parser (lxml tree):
    one per `Ntry`, or one per `TxDtls` when an entry has several that carry amounts."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    count = 0
    for entry in root.iter("{*}Ntry"):
        details = list(entry.iter("{*}TxDtls"))
        with_amount = [d for d in details if d.find("{*}Amt") is not None or d.find("{*}AmtDtls")
                       is not None]  # fmt: skip
        count += len(details) if len(details) > 1 and len(with_amount) == len(details) else 1
    return count


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    bank_golden.check_file(parse_camt, path, GOLDEN, integrity_checked="balances")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_every_entry_and_detail_is_accounted_for(path: Path | None) -> None:
    """No silent under-count: every entry, and every detail of a batch, is a transaction."""
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    try:
        parsed = parse_camt(data, path.name, check_integrity=False)
    except BankFileError:
        assert "error" in json.loads((GOLDEN / f"{path.name}.json").read_text(encoding="utf-8"))
        return
    transactions = sum(len(statement.transactions) for statement in parsed.statements)
    assert transactions == count_credits_and_debits(data)
    credits = [t for s in parsed.statements for t in s.transactions if t.direction == "credit"]
    assert all(t.amount.minor >= 0 for t in credits)


@pytest.mark.corpus
def test_known_rejections() -> None:
    """The decisions the golden files record, stated where a reader finds them."""
    folder = require_corpus(CORPUS)
    synthetic_balances = ("BankFileIntegrityError", "Bal/Amt")
    expected = {
        # No `Stmt` at all: the schema requires one; genkgo's own test expects a failure.
        "genkgo_camt__test_data_camt053.v2.wrong.xml": ("BankFileSyntaxError", None, "Stmt"),
        # genkgo's synthetic statements: closing balance in SEK on a EUR account.
        "genkgo_camt__test_data_camt053.v2.minimal.xml": synthetic_balances,
        "genkgo_camt__test_data_camt053.v2.minimal.ultimate.xml": synthetic_balances,
        "genkgo_camt__test_data_camt053.v2.with-party-ids.xml": synthetic_balances,
        "genkgo_camt__test_data_camt053.v3.xml": synthetic_balances,
        "genkgo_camt__test_data_camt053.v4.xml": synthetic_balances,
        "genkgo_camt__test_data_camt053.v8.xml": synthetic_balances,
        # 1.01 + 8.85 is not the closing 4.04.
        "genkgo_camt__test_data_camt053.v2.all-balance-types.xml": synthetic_balances,
        # 18.150 + 8.850 is 27.00, not the closing 27.050.
        "genkgo_camt__test_data_camt053.v2.five.decimals.xml": synthetic_balances,
        # genkgo's synthetic batches: a SEK entry split into CHF details.
        "genkgo_camt__test_data_camt054.v4.xml": ("BankFileIntegrityError", "TxDtls/Amt"),
        "genkgo_camt__test_data_camt054.v8.xml": ("BankFileIntegrityError", "TxDtls/Amt"),
        # OCA's test statements: 15568.27 - 754.25 (- 664.05 + 1405.31) is not 15121.12.
        "oca_bank-statement-import__account_bank_statement_import_camt_oca_test_files_"
        "test-camt053-bookgdt-dttm@13.0": synthetic_balances,
        "oca_bank-statement-import__account_bank_statement_import_camt_test_files_"
        "test-camt053@8.0.xml": synthetic_balances,
        "oca_bank-statement-import__account_bank_statement_import_camt_test_files_"
        "test-camt053@9.0": synthetic_balances,
        "oca_bank-statement-import__account_bank_statement_import_camt_test_files_"
        "test-camt053@10.0": synthetic_balances,
    }
    rejected = set()
    for path in sorted(folder.iterdir()):
        result = outcome(path.read_bytes(), path.name)
        if "error" in result:
            rejected.add(path.name)
            kind, field = expected[path.name][0], expected[path.name][-1]
            assert (result["error"]["type"], result["error"]["field"]) == (kind, field), path.name
    assert rejected == set(expected)


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_detected_from_content_as_the_format_the_parser_names(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    detected = detect_format(data, path.name)
    result = outcome(data, path.name, check_integrity=False)
    assert detected == result.get("format", detected)
    assert detected.startswith("camt.05")
