"""Golden files: every BAI lockbox file of the corpus beside its expected JSON.

The expected output lives in `golden/lockbox/<file name>.json`: the parsed file in
the `arlink parse --json` shape, or `{"error": {...}}` for a file that must be
rejected. Golden files are regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/bank_files`.

The empty lockbox (`test_empty_lockbox.bai`: a lockbox header, a batch total and a
lockbox total of zero checks, record count 6) parses to one statement with no
transactions: a day on which a lockbox received nothing is a valid report, and
rejecting it would quarantine every quiet day; its zero totals are still checked.
"""

from __future__ import annotations

from pathlib import Path

import bank_golden
import pytest
from corpus import corpus_params, require_corpus

from cash_application.bank_files.detect import detect_format
from cash_application.bank_files.lockbox import parse_lockbox

GOLDEN = bank_golden.GOLDEN / "lockbox"
CORPUS = "bank/lockbox"


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    bank_golden.check_file(parse_lockbox, path, GOLDEN, integrity_checked="totals and counts")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_every_detail_record_is_one_transaction(path: Path | None) -> None:
    """No silent under-count: as many transactions as lines starting `6`."""
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    parsed = parse_lockbox(data, path.name)
    transactions = sum(len(statement.transactions) for statement in parsed.statements)
    assert transactions == sum(line.startswith(b"6") for line in data.splitlines())


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_detected_from_content(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    assert detect_format(path.read_bytes(), path.name) == "lockbox"


@pytest.mark.corpus
def test_empty_lockbox_is_one_statement_without_checks() -> None:
    folder = require_corpus(CORPUS)
    name = "fundersclub_bai-lockbox__lockbox_tests_test_empty_lockbox.bai"
    [statement] = parse_lockbox((folder / name).read_bytes(), name).statements
    assert (statement.account, statement.transactions) == ("0022222", ())
