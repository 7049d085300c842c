"""Golden files: every real BAI2 file of the corpus and every demo file, beside its expected JSON.

The expected output lives in `golden/<file name>.json`: the parsed file in the
`arlink parse --json` shape, or `{"error": {...}}` for a file that must be
rejected. A file rejected for its control totals also has `<file name>.lenient.json`:
what the parser reads when integrity checks are off, so its records stay covered.

Golden files are regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/bank_files`.
"""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import bank_golden
import pytest
from corpus import REPO, corpus_params, require_corpus

from cash_application.bank_files.bai2 import parse_bai2
from cash_application.bank_files.errors import BankFileError

GOLDEN = bank_golden.GOLDEN
outcome = partial(bank_golden.outcome, parse_bai2)
DEMO_FILES = sorted((REPO / "examples" / "bank").glob("*.bai2"))

# A 16 record starts a line, or follows another record's `/` on the same line.
_DETAIL_RECORD = re.compile(r"(?:^|/[ \t]+)16,", re.MULTILINE)


def count_detail_records(data: bytes) -> int:
    return len(_DETAIL_RECORD.findall(data.decode("latin-1")))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params("bank/bai2"))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus("bank/bai2")
        return
    bank_golden.check_file(parse_bai2, path, GOLDEN, integrity_checked="control totals")


@pytest.mark.parametrize("path", DEMO_FILES, ids=[path.name for path in DEMO_FILES])
def test_demo_file_matches_its_golden_file(path: Path) -> None:
    bank_golden.check_file(parse_bai2, path, GOLDEN, integrity_checked="control totals")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params("bank/bai2"))
def test_every_detail_record_becomes_one_transaction(path: Path | None) -> None:
    """No silent under-count: as many transactions as 16 records, or a rejected file."""
    if path is None:
        require_corpus("bank/bai2")
        return
    data = path.read_bytes()
    try:
        parsed = parse_bai2(data, path.name, check_integrity=False)
    except BankFileError:
        # Rejected outright is allowed only where the golden file says so.
        assert "error" in json.loads((GOLDEN / f"{path.name}.json").read_text(encoding="utf-8"))
        return
    transactions = sum(len(statement.transactions) for statement in parsed.statements)
    assert transactions == count_detail_records(data)


@pytest.mark.parametrize("path", DEMO_FILES, ids=[path.name for path in DEMO_FILES])
def test_demo_file_has_every_detail_and_correct_totals(path: Path) -> None:
    parsed = parse_bai2(path.read_bytes(), path.name)  # control totals checked
    transactions = sum(len(statement.transactions) for statement in parsed.statements)
    assert transactions == count_detail_records(path.read_bytes())


def test_demo_files_exist() -> None:
    assert [path.name for path in DEMO_FILES] == [
        "2026-11-02-operating.bai2",
        "2026-11-03-operating.bai2",
    ]


@pytest.mark.corpus
def test_known_rejections() -> None:
    """The decisions the golden files record, stated where a reader finds them."""
    folder = require_corpus("bank/bai2")
    expected = {
        # One cent off by design.
        "venturehacks_bai2__test_data_invalid_checksum_eod.bai2": (
            "BankFileIntegrityError",
            15,
            "account_control_total",
        ),
        # Record code 00 where the 01 header must be: not BAI2, rejected at line 1.
        "moov-io_bai2__test_testdata_errors_sample-parseError.txt": (
            "BankFileSyntaxError",
            1,
            "record_code",
        ),
        # Synthetic test data whose second account trailer (49,-1260161341762,26/)
        # matches no reading of the records (7999960 and 18 records).
        "moov-io_bai2__test_testdata_sample4-continuations-newline-delimited.txt": (
            "BankFileIntegrityError",
            22,
            "account_control_total",
        ),
        "moov-io_bai2__test_testdata_sample5-issue113.txt": (
            "BankFileIntegrityError",
            22,
            "account_control_total",
        ),
    }
    for name, (kind, line, field) in expected.items():
        result = outcome((folder / name).read_bytes(), name)
        assert result == {"error": {"type": kind, "line": line, "field": field}}, name
