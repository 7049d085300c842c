"""BAI lockbox parser: overflows, totals in integer cents, syntax errors, layouts from TOML."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cash_application.bank_files.detect import detect_format
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.lockbox import (
    DEFAULT_LAYOUT,
    LockboxLayout,
    LockboxLayoutError,
    parse_lockbox,
)
from mappings.money import Money

HEADER = [
    "100ABCDEFGHIJ00999999912611021800",
    "2ABCDEFGHIJ0099999991000000000040008000801",
    "50000000022222261102ABCDEFGHIJ0099999991",
]


def detail(
    item: int, cents: int, check: str = "0000000180", remitter: str = "GLOBEX", batch: int = 1
) -> str:
    """A record 6 in the default layout, not padded."""
    return f"6{batch:03d}{item:03d}{cents:010d}0550027070012345555{check}110226{remitter:<30}"


def batch_total(batch: int, count: int, cents: int) -> str:
    """A record 7 in the default layout."""
    return f"7{batch:03d}0000022222261102{count:03d}{cents:010d}"


def overflow(item: int, sequence: int, last: bool, text: str) -> str:
    return f"4001{item:03d}6{sequence:02d}{9 if last else 0}{text}"


def lockbox_file(body: list[str], *, count: int, cents: int, records: int | None = None) -> bytes:
    lines = [
        *HEADER,
        *body,
        f"7001000002222226110{2:1d}{count:03d}{cents:010d}",
        f"80000000022222261102{count:04d}{cents:010d}",
    ]
    lines.append(f"9{(records or len(lines) + 1):06d}")
    return ("\r\n".join(lines) + "\r\n").encode()


def test_overflow_records_become_invoice_refs_and_remittance_text() -> None:
    data = lockbox_file(
        [
            detail(1, 128456, remitter="GLOBEX CORP"),
            overflow(1, 1, False, "INV123 1,234.56"),
            overflow(1, 2, True, "INV124 50.00"),
            detail(2, 5000, check="0000000000", remitter=""),
        ],
        count=2,
        cents=133456,
    )
    [statement] = parse_lockbox(data, "box.bai").statements
    first, second = statement.transactions
    assert first.amount.minor == 128456
    assert first.invoice_refs == ("INV123", "INV124")
    assert first.remittance == "INV123 1,234.56; INV124 50.00"
    assert (first.first_line, first.last_line) == (4, 6)
    assert (first.payer_name, first.payer_account) == ("GLOBEX CORP", "055002707/0012345555")
    assert first.bank_reference == "180"
    # No check number: the item sequence; no remitter: no payer name.
    assert (second.bank_reference, second.payer_name, second.invoice_refs) == ("001/002", None, ())


def test_cents_are_summed_exactly() -> None:
    """Ten checks of 0.10 make 1.00 (as floats they make 0.9999999999999999)."""
    data = lockbox_file([detail(i, 10) for i in range(1, 11)], count=10, cents=100)
    [statement] = parse_lockbox(data, "box.bai").statements
    assert sum(t.amount.to_decimal() for t in statement.transactions) == Decimal("1.00")


@pytest.mark.parametrize(
    ("count", "cents", "records", "line", "field"),
    [
        (1, 1235, None, 5, "total"),  # batch total one cent over
        (2, 1234, None, 5, "count"),
        (1, 1234, 8, 7, "records"),
    ],
)
def test_totals_and_counts_disagreeing_are_integrity_errors(
    count: int, cents: int, records: int | None, line: int, field: str
) -> None:
    data = lockbox_file([detail(1, 1234)], count=count, cents=cents, records=records)
    with pytest.raises(BankFileIntegrityError) as raised:
        parse_lockbox(data, "box.bai")
    assert (raised.value.file, raised.value.line, raised.value.field) == ("box.bai", line, field)
    parse_lockbox(data, "box.bai", check_integrity=False)  # the records themselves are fine


def batches_file(*lines: str) -> bytes:
    """A lockbox of checks of 1.00 in `lines` (details and batch totals), with its totals."""
    checks = sum(line.startswith("6") for line in lines)
    records = [*HEADER, *lines, f"80000000022222261102{checks:04d}{checks * 100:010d}"]
    records.append(f"9{len(records) + 1:06d}")
    return ("\r\n".join(records) + "\r\n").encode()


def test_batches_in_ascending_order_parse() -> None:
    data = batches_file(
        detail(1, 100, batch=1), detail(2, 100, batch=1), batch_total(1, 2, 200),
        detail(1, 100, batch=7), batch_total(7, 1, 100),
    )  # fmt: skip
    [statement] = parse_lockbox(data, "box.bai").statements
    assert [t.bank_reference for t in statement.transactions] == ["180"] * 3


@pytest.mark.parametrize(
    ("lines", "line", "says"),
    [
        # Batch 2 then batch 1: out of order.
        ([detail(1, 100, batch=2), batch_total(2, 1, 100), detail(1, 100, batch=1),
          batch_total(1, 1, 100)], 6, "batch 001 follows batch 002 (line 4)"),
        # Batch 1 twice.
        ([detail(1, 100), batch_total(1, 1, 100), detail(2, 100), batch_total(1, 1, 100)],
         6, "batch numbers must ascend"),
        # A check of batch 2 before batch 1 is closed.
        ([detail(1, 100), detail(2, 100, batch=2), batch_total(2, 2, 200)],
         5, "a check of batch 002 inside batch 001 (opened at line 4"),
        # An empty batch (a total right after the lockbox header) counts as a batch.
        ([batch_total(5, 0, 0), detail(1, 100, batch=5), batch_total(5, 1, 100)],
         5, "batch 005 follows batch 005 (line 4)"),
        # The total names another batch than its checks'.
        ([detail(1, 100), batch_total(3, 1, 100)], 5, "for batch 003, its checks are of batch 001"),
    ],
)  # fmt: skip
def test_batch_numbers_that_do_not_ascend_or_tie_are_integrity_errors(
    lines: list[str], line: int, says: str
) -> None:
    data = batches_file(*lines)
    with pytest.raises(BankFileIntegrityError) as raised:
        parse_lockbox(data, "box.bai")
    assert (raised.value.file, raised.value.line, raised.value.field) == ("box.bai", line, "batch")
    assert says in str(raised.value)
    parse_lockbox(data, "box.bai", check_integrity=False)  # the records themselves are fine


def test_lockbox_total_one_cent_off_names_its_line() -> None:
    lines = lockbox_file([detail(1, 1234)], count=1, cents=1234).decode().split("\r\n")
    lines[5] = lines[5][:-1] + "5"  # the 8 record: 12.35
    with pytest.raises(BankFileIntegrityError) as raised:
        parse_lockbox("\r\n".join(lines).encode(), "box.bai")
    assert (raised.value.line, raised.value.field) == (6, "total")
    assert "12.35" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ([detail(1, 1234).replace("0000001234", "00000012X4")], 4, "amount"),
        ([detail(1, 1234)[:12]], 4, "amount"),  # cut short inside the amount
        ([detail(1, 1234), overflow(2, 1, True, "INV1")], 5, "item"),  # ties to no check
        ([detail(1, 1234), overflow(1, 2, True, "INV1")], 5, "sequence"),
        ([detail(1, 1234), overflow(1, 1, False, "INV1")], 6, "indicator"),  # more promised
        ([detail(1, 1234), overflow(1, 1, True, "A"), overflow(1, 2, True, "B")], 6, "indicator"),
        ([detail(1, 1234).replace("110226", "113226")], 4, "check_date"),
        (["X garbage"], 4, "record_type"),
    ],
)
def test_bad_records_are_syntax_errors(body: list[str], line: int, field: str) -> None:
    data = lockbox_file(body, count=1, cents=1234)
    with pytest.raises(BankFileSyntaxError) as raised:
        parse_lockbox(data, "box.bai", check_integrity=False)
    assert (raised.value.file, raised.value.line, raised.value.field) == ("box.bai", line, field)


@pytest.mark.parametrize(
    "data", [b"", b"hello world\n", b"01,BAI2\n", "\n".join(HEADER).encode(), b"\xff\x00\x01"]
)
def test_garbage_and_truncated_files_are_syntax_errors(data: bytes) -> None:
    with pytest.raises(BankFileSyntaxError) as raised:
        parse_lockbox(data, "junk.bai")
    assert raised.value.line is not None
    assert raised.value.field == "record_type"


def test_layout_from_toml(tmp_path: Path) -> None:
    """A bank with other positions and one invoice with its amount per overflow record."""
    layout_file = tmp_path / "bank.toml"
    layout_file.write_text(
        """
currency = "USD"
date_format = "YYYYMMDD"
[record.1]
[record.2]
[record.5]
lockbox = [1, 8]
deposit_date = [8, 16]
[record.6]
batch = [1, 4]
item = [4, 7]
amount = [7, 17]
check_number = [17, 23]
remitter = [23, 43]
[record.4]
batch = [1, 4]
item = [4, 7]
invoice = [7, 22]
invoice_amount = [22, 32]
[record.7]
count = [1, 4]
total = [4, 14]
[record.8]
count = [1, 5]
total = [5, 15]
[record.9]
records = [1, 7]
""",
        encoding="utf-8",
    )
    layout = LockboxLayout.load(layout_file)
    data = b"\n".join(
        [
            b"1 bank",
            b"5123456720261102",
            b"60010010000015000000077ACME LTD",
            b"4001001INV-9          0000010000",
            b"4001001INV-10         0000005000",
            b"70010000015000",
            b"800010000015000",
            b"9000008",
        ]
    )
    [statement] = parse_lockbox(data, "bank.txt", layout=layout).statements
    [txn] = statement.transactions
    assert (statement.account, str(statement.date)) == ("1234567", "2026-11-02")
    assert (str(txn.amount), txn.bank_reference, txn.payer_name) == ("150.00", "77", "ACME LTD")
    assert txn.invoice_refs == ("INV-9", "INV-10")
    assert txn.remittance == "INV-9 100.00; INV-10 50.00"
    assert txn.invoice_amounts == (("INV-9", Money(10000, "USD")), ("INV-10", Money(5000, "USD")))
    assert txn.payer_account is None
    with pytest.raises(BankFileSyntaxError):
        parse_lockbox(data, "bank.txt")  # the default layout does not read it


def test_layout_problems_are_reported_at_once(tmp_path: Path) -> None:
    layout_file = tmp_path / "bad.toml"
    layout_file.write_text(
        'currency = "US"\n[record.6]\nbatch = [1, 4]\nfoo = [4, 7]\namount = [9, 3]\n',
        encoding="utf-8",
    )
    with pytest.raises(LockboxLayoutError) as raised:
        LockboxLayout.load(layout_file)
    message = str(raised.value)
    for part in ("currency", "record.6.foo", "record.6.amount", "record.6.item: missing"):
        assert part in message
    with pytest.raises(LockboxLayoutError, match="cannot read"):
        LockboxLayout.load(tmp_path / "missing.toml")


def test_default_layout_is_the_shipped_file() -> None:
    assert LockboxLayout.load() == DEFAULT_LAYOUT
    assert DEFAULT_LAYOUT.records["6"]["amount"] == (7, 17)


def test_detection_keeps_other_formats_apart() -> None:
    assert detect_format(lockbox_file([detail(1, 1)], count=1, cents=1), "x") == "lockbox"
    assert detect_format(b"01,BANK,CUST,261102,1800,1,,,2/\n02,x/\n", "x") == "bai2"
    with pytest.raises(BankFileSyntaxError):
        detect_format(b"1 first line\n3 second line\n", "x")
