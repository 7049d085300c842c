"""The BAI2 type code table and the direction a detail record takes from its code."""

from __future__ import annotations

import pytest

from cash_application.bank_files.bai2_codes import (
    TYPE_CODES,
    TypeCodeError,
    describe,
    detail_direction,
)
from cash_application.bank_files.records import Direction


def test_table_entries_are_consistent() -> None:
    assert len(TYPE_CODES) > 300
    for code, entry in TYPE_CODES.items():
        assert code == entry.code
        assert len(code) == 3
        assert code.isdigit()
        assert entry.level in ("status", "summary", "detail")
        assert entry.description
        number = int(code)
        if 100 <= number <= 399:
            assert entry.direction == "credit", code
        elif 400 <= number <= 699:
            assert entry.direction == "debit", code
        elif number < 100:
            assert (entry.direction, entry.level) == (None, "status"), code


def test_describe() -> None:
    assert describe("195") == "Incoming Money Transfer"
    assert describe("010") == "Opening Ledger"
    assert describe("475") == "Check Paid"
    assert describe("299") is None
    assert describe("890") == "Contains Non-monetary Information"


@pytest.mark.parametrize(
    ("code", "direction", "level", "description"),
    [("900", None, "status", "Customized Status Code (bank-defined)"),
     ("919", None, "status", "Customized Status Code (bank-defined)"),
     ("920", "credit", "detail", "Customized Credit Code (bank-defined)"),
     ("959", "credit", "detail", "Customized Credit Code (bank-defined)"),
     ("960", "debit", "detail", "Customized Debit Code (bank-defined)"),
     ("999", "debit", "detail", "Customized Debit Code (bank-defined)"),
     ("890", None, "detail", "Contains Non-monetary Information")],
)  # fmt: skip
def test_890_and_every_custom_code_are_in_the_table(
    code: str, direction: str | None, level: str, description: str
) -> None:
    entry = TYPE_CODES[code]
    assert (entry.direction, entry.level, entry.description) == (direction, level, description)
    assert describe(code) == description


def test_the_custom_range_is_listed_whole() -> None:
    assert [c for c in TYPE_CODES if c >= "900"] == [f"{n}" for n in range(900, 1000)]


@pytest.mark.parametrize(
    ("code", "direction"),
    [("100", Direction.CREDIT), ("142", Direction.CREDIT), ("299", Direction.CREDIT),
     ("400", Direction.DEBIT), ("698", Direction.DEBIT), ("721", Direction.CREDIT),
     ("760", Direction.DEBIT), ("920", Direction.CREDIT), ("959", Direction.CREDIT),
     ("960", Direction.DEBIT), ("999", Direction.DEBIT)],
)  # fmt: skip
def test_detail_direction(code: str, direction: Direction) -> None:
    assert detail_direction(code) is direction


@pytest.mark.parametrize(
    ("code", "why"),
    [("000", "not a credit or debit"), ("045", "balance"), ("705", "balance"), ("910", "balance"),
     ("890", "non-monetary"), ("750", "not a credit or debit"), ("850", "not a credit or debit"),
     ("19", "three digits"), ("1a5", "three digits"), ("１９５", "three digits")],
)  # fmt: skip
def test_codes_without_direction(code: str, why: str) -> None:
    with pytest.raises(TypeCodeError, match=why):
        detail_direction(code)
