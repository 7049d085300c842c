"""Golden files: every MT940/MT942 file of the corpus beside its expected JSON.

The expected output lives in `golden/mt940/<file name>.json`: the parsed file in
the `arlink parse --json` shape, or `{"error": {...}}` for a file that must be
rejected. A file rejected for its balances or totals also has
`<file name>.lenient.json`: what the parser reads with integrity checks off, so
its records stay covered. Many corpus files are other projects' hand-made test
fixtures whose balances were never made to add up; they are rejected by default,
which is what a real file that does not reconcile must be.

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
from corpus import corpus_dir, corpus_params, require_corpus

from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.mt940 import parse_mt940

GOLDEN = bank_golden.GOLDEN / "mt940"
outcome = partial(bank_golden.outcome, parse_mt940)
SUBDIR = "bank/mt940"

# A statement line starts a line (`:61:`); `:\n61:` does not occur in the corpus.
_STATEMENT_LINE = re.compile(rb"^:61:", re.MULTILINE)


def manifest_notes() -> dict[str, str]:
    """The MANIFEST.tsv notes column of each MT940 corpus file, by file name."""
    notes: dict[str, str] = {}
    manifest = corpus_dir() / "bank" / "MANIFEST.tsv"
    for row in manifest.read_text(encoding="utf-8").splitlines()[1:]:
        fields = row.split("\t")
        if fields[0].startswith("mt940/"):
            notes[fields[0].removeprefix("mt940/")] = fields[4]
    return notes


def count_statement_lines(data: bytes) -> int:
    return len(_STATEMENT_LINE.findall(data))


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(SUBDIR))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus(SUBDIR)
        return
    bank_golden.check_file(parse_mt940, path, GOLDEN, integrity_checked="balances")


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(SUBDIR))
def test_every_statement_line_becomes_one_transaction(path: Path | None) -> None:
    """No silent under-count: as many transactions as `:61:` lines, or a rejected file."""
    if path is None:
        require_corpus(SUBDIR)
        return
    data = path.read_bytes()
    try:
        parsed = parse_mt940(data, path.name, check_integrity=False)
    except BankFileError:
        # Rejected outright is allowed only where the golden file says so.
        golden = json.loads((GOLDEN / f"{path.name}.json").read_text(encoding="utf-8"))
        assert golden["error"]["type"] == "BankFileSyntaxError"
        return
    transactions = sum(len(statement.transactions) for statement in parsed.statements)
    assert transactions == count_statement_lines(data)


# Regular statements (not fragments) that are rejected, and why. Every other file
# the manifest does not call a fragment parses (with integrity checks off).
KNOWN_SYNTAX_REJECTIONS = {
    # Impossible calendar dates are reported, never guessed (issue 8).
    "railslove_cmxl__spec_fixtures_mt940-deutsche_bank.txt": (44, "closing_balance.date"),  # 021131
    "railslove_cmxl__spec_fixtures_mt940-iso8859-1.txt": (15, "closing_balance.date"),  # 021131
    "railslove_cmxl__spec_fixtures_mt940.txt": (45, "closing_balance.date"),  # 021131
    "railslove_cmxl__spec_fixtures_mt940-headers.txt": (8, "value_date"),  # 362268: month 22
    "wolph_mt940__mt940_tests_self-provided_february_30.sta": (6, "value_date"),  # 160230
    "wolph_mt940__mt940_tests_self-provided_transaction_details_wrapped.sta": (6, "value_date"),
    "wolph_mt940__mt940_tests_self-provided_wrapped_timestamp.sta": (5, "value_date"),
    # Truncated by the test suites they come from: the last statement has no
    # closing balance (or is a lone `:20:`).
    "oca_bank-statement-import__account_bank_statement_import_mt940_base_test_files_"
    "test-sns@10.0.940": (77, "closing_balance"),
    "oca_bank-statement-import__account_bank_statement_import_mt940_base_test_files_"
    "test-sns@11.0.940": (77, "closing_balance"),
    "fruitl00p_php-mt940__test_Parser_Banking_Mt940_Engine_Rabo_sample2": (7, "account"),
    # OCA's "wrong file" for its Rabobank importer: `:9401:` is no header we know.
    "oca_bank-statement-import__account_bank_statement_import_mt940_base_test_files_"
    "test-wrong-file@10.0.940": (1, "tag"),
    # Opening balance in RON, closing balance in EUR (an edited fixture).
    "oca_l10n-romania__l10n_ro_account_bank_statement_import_mt940_brd_test_files_"
    "test_brd_940@14.0.txt": (14, "closing_balance.currency"),
}


@pytest.mark.corpus
def test_known_rejections() -> None:
    """Fragments and the regular files above are rejected with a syntax error; all else parses."""
    folder = require_corpus(SUBDIR)
    notes = manifest_notes()
    for path in sorted(folder.iterdir()):
        result = outcome(path.read_bytes(), path.name, check_integrity=False)
        if path.name in KNOWN_SYNTAX_REJECTIONS:
            line, field = KNOWN_SYNTAX_REJECTIONS[path.name]
            expected = {"type": "BankFileSyntaxError", "line": line, "field": field}
            assert result == {"error": expected}, path.name
        elif "fragment" in notes[path.name]:
            assert result["error"]["type"] == "BankFileSyntaxError", path.name
        else:
            assert "error" not in result, (path.name, result)


@pytest.mark.corpus
def test_mt942_files_are_named_so() -> None:
    folder = require_corpus(SUBDIR)
    for name in (
        "railslove_cmxl__spec_fixtures_mt942.txt",
        "wolph_mt940__mt940_tests_mBank_mt942.sta",
    ):
        parsed = parse_mt940((folder / name).read_bytes(), name, check_integrity=False)
        assert parsed.format == "mt942", name
