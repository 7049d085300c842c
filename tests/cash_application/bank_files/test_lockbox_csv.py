"""CSV / Excel-export lockbox files: layouts as data, Excel quirks, checks from rows,
integrity errors naming line and field, and the same checks as the BAI lockbox.

The sample files in `lockbox_csv/` are ours (no bank publishes one); see its README.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_lockbox_fuzz import BUILT_IN_SAMPLE

from cash_application.bank_files.detect import detect_format, iter_bank_file, parse_bank_file
from cash_application.bank_files.errors import (
    BankFileError,
    BankFileIntegrityError,
    BankFileSyntaxError,
)
from cash_application.bank_files.lockbox import LockboxLayout, parse_lockbox
from cash_application.bank_files.lockbox_csv import (
    CsvLockboxLayout,
    LockboxCsvLayoutError,
    load_layout,
    parse_lockbox_csv,
    parse_lockbox_with_layout,
)
from cash_application.bank_files.records import Transaction
from cash_application.remittance_advices import advice_format
from mappings.money import Money

SAMPLES = Path(__file__).parent / "lockbox_csv"
US = (SAMPLES / "excel_us.csv").read_bytes()
HEADER = [
    "Lockbox", "Deposit Date", "Batch", "Item", "Check Number", "Check Amount",
    "Routing Number", "Account Number", "Remitter", "Invoice Number", "Invoice Amount",
    "Discount",
]  # fmt: skip


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode()


def row(item: int, amount: str, invoice: str = "", paid: str = "", batch: int = 1) -> list[str]:
    return [
        "0022222", "11/02/2026", f"{batch:03d}", f"{item:03d}", f"{item:06d}", amount,
        "055002707", "0012345555", "GLOBEX", invoice, paid, "",
    ]  # fmt: skip


def test_excel_export_with_its_quirks() -> None:
    parsed = parse_bank_file(US, "excel_us.csv")
    assert parsed.format == "lockbox.csv"
    first, second = parsed.statements
    assert (first.account, str(first.date), second.account) == ("0022222", "2026-11-02", "0033333")
    check, no_invoices, discounted = first.transactions
    assert (check.amount, check.bank_reference) == (Money(128456, "USD"), "180")
    assert (check.first_line, check.last_line) == (2, 3)  # the BOM'd header is line 1
    assert check.payer_account == "055002707/0012345555"
    assert check.invoice_refs == ("INV123", "INV124")
    assert check.invoice_amounts == (
        ("INV123", Money(123456, "USD")),
        ("INV124", Money(5000, "USD")),
    )
    assert check.remittance == "INV123 1234.56; INV124 50.00"
    assert (no_invoices.bank_reference, no_invoices.payer_name, no_invoices.remittance) == (
        "001/002", None, "",
    )  # fmt: skip
    assert discounted.payer_name == "Initech, Inc."
    assert discounted.remittance == "INV-9 1000.00 discount 20.00; INV-10 900.00"
    # A short pay is no error: the amounts say it (1900.00 of invoices, 2000.00 check).
    [short] = second.transactions
    assert short.amount == Money(7550, "USD")


def test_sep_line_decimal_comma_and_cp1252() -> None:
    layout = load_layout(str(SAMPLES / "de_layout.toml"))
    data = (SAMPLES / "excel_de_sep.csv").read_bytes()
    [statement] = parse_lockbox_csv(data, "de.csv", layout=layout).statements
    first, second = statement.transactions
    assert (statement.currency, first.amount, first.payer_name) == (
        "EUR", Money(123456, "EUR"), "Müller GmbH",
    )  # fmt: skip
    assert (first.first_line, first.last_line, second.first_line) == (3, 4, 5)
    assert first.invoice_refs == ("RE-1", "RE-2")
    with pytest.raises(BankFileSyntaxError):
        parse_lockbox_csv(data, "de.csv")  # no shipped layout has these headers


def test_streamed_equals_held() -> None:
    held = parse_bank_file(US, "x.csv")
    streamed = [s for _, s in iter_bank_file(io.BufferedReader(io.BytesIO(US)), "x.csv")]
    assert tuple(streamed) == held.statements


def test_a_lockbox_csv_is_not_a_remittance_advice() -> None:
    assert advice_format(US) is None  # an intake asks this before bank file detection


def test_detection_keeps_csv_kinds_apart() -> None:
    assert detect_format(US, "x") == "lockbox.csv"
    advice = (
        b"Payment ID,Payer,Payment Date,Payment Amount,Invoice,Amount Paid\r\n"
        b"1,A,2026-11-02,5,I,5\r\n"
    )
    assert advice_format(advice) is not None
    with pytest.raises(BankFileSyntaxError):
        detect_format(advice, "x")
    # A lockbox-like sheet without the layout's batch and item columns is not detected.
    with pytest.raises(BankFileSyntaxError):
        detect_format(csv_bytes([], [h for h in HEADER if h not in ("Batch", "Item")]), "x")


def test_check_amount_disagreeing_names_line_and_field() -> None:
    data = csv_bytes([row(1, "10.00", "A", "5.00"), row(1, "10.01", "B", "5.00")])
    with pytest.raises(BankFileIntegrityError) as raised:
        parse_lockbox_csv(data, "box.csv")
    assert (raised.value.file, raised.value.line, raised.value.field) == (
        "box.csv", 3, "check_amount",
    )  # fmt: skip
    assert "10.01 differs from 10.00, the check amount on its first row (line 2)" in str(
        raised.value
    )
    [statement] = parse_lockbox_csv(data, "box.csv", check_integrity=False).statements
    assert statement.transactions[0].invoice_refs == ("A", "B")


def test_rows_of_a_check_apart_are_an_integrity_error() -> None:
    data = csv_bytes([row(1, "10.00", "A"), row(2, "1.00"), row(1, "10.00", "B")])
    with pytest.raises(BankFileIntegrityError) as raised:
        parse_lockbox_csv(data, "box.csv")
    assert (raised.value.line, raised.value.field) == (4, "item")


@pytest.mark.parametrize(
    ("cell", "value", "field"),
    [
        (5, "12,34.5x", "check_amount"),
        (5, "", "check_amount"),
        (5, "-1.00", "check_amount"),
        (5, "1.001", "check_amount"),  # more decimals than USD has
        (10, "abc", "invoice_amount"),
        (1, "2026-11-02", "deposit_date"),
    ],
)
def test_bad_cells_are_syntax_errors(cell: int, value: str, field: str) -> None:
    bad = row(2, "1.00", "B", "1.00")
    bad[cell] = value
    with pytest.raises(BankFileSyntaxError) as raised:
        parse_lockbox_csv(csv_bytes([row(1, "1.00"), bad]), "box.csv")
    assert (raised.value.line, raised.value.field) == (3, field)


def test_headerless_layout_by_column_numbers() -> None:
    layout = CsvLockboxLayout.from_dict(
        {
            "header": False,
            "delimiter": "|",
            "group_by": "check",
            "columns": {"check_number": 1, "check_amount": 2, "invoice": 3},
        }
    )
    data = b"77|10.00|A\n77|10.00|B\n78|1.00|\n"
    [statement] = parse_lockbox_csv(data, "p.txt", layout=layout).statements
    assert [(t.bank_reference, t.invoice_refs) for t in statement.transactions] == [
        ("77", ("A", "B")),
        ("78", ()),
    ]


def test_layout_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'delimiter = ";;"\ndecimal_separator = ","\nthousands_separator = ","\ncolour = 1\n'
        '[columns]\nbatch = "Batch"\nfoo = "Foo"\n',
        encoding="utf-8",
    )
    with pytest.raises(LockboxCsvLayoutError) as raised:
        load_layout(str(path))
    message = str(raised.value)
    for part in ("delimiter", "thousands_separator", "colour", "columns.foo", "check_amount"):
        assert part in message
    assert load_layout("csv_default") == CsvLockboxLayout.load()


_ANY_ROW = st.lists(st.sampled_from(["", "x", "1", "1.00", "-", "01/02/2026", '="0"']))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=st.integers(min_value=2, max_value=7),
    cell=st.integers(min_value=0, max_value=11),
    value=st.sampled_from(["", "x", "9,99", "1e3", "-5", "13/45/2026", "00", "1.00"]),
)
def test_mutated_cells_raise_typed_errors_naming_line_and_field(
    line: int, cell: int, value: str
) -> None:
    lines = US.decode("utf-8-sig").split("\r\n")
    cells = next(csv.reader([lines[line - 1]]))
    cells[cell] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    lines[line - 1] = out.getvalue()
    data = "\r\n".join(lines).encode()
    problem: BankFileError | None = None
    try:
        parse_lockbox_csv(data, "m.csv")
    except BankFileError as error:  # anything else fails the test
        problem = error
    if problem is not None:
        # The changed row, or a later row of its check that no longer agrees with it.
        assert problem.file == "m.csv"
        assert problem.line is not None
        assert line <= problem.line < len(lines)
        assert problem.field is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.lists(_ANY_ROW, max_size=5).map(csv_bytes))
def test_random_input_raises_only_bank_file_errors(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_lockbox_csv, data, "r.csv", line_required=True)


# ---- the same checks as CSV and as a BAI lockbox transmission -----------------------

BAI_LAYOUT = LockboxLayout.from_dict(
    {
        "record": {
            "1": {}, "2": {}, "5": {"lockbox": [1, 8], "deposit_date": [8, 14]},
            "6": {
                "batch": [1, 4], "item": [4, 7], "amount": [7, 17], "routing": [17, 26],
                "account": [26, 36], "check_number": [36, 46], "remitter": [46, 76],
            },
            "4": {"batch": [1, 4], "item": [4, 7], "invoice": [7, 22], "invoice_amount": [22, 32]},
            "7": {"count": [1, 4], "total": [4, 14]},
            "8": {"count": [1, 5], "total": [5, 15]},
            "9": {"records": [1, 7]},
        }
    }
)  # fmt: skip
_CHECK = st.tuples(
    st.integers(min_value=1, max_value=10**9),  # check amount in cents
    st.integers(min_value=0, max_value=999999),  # check number (0: none)
    st.sampled_from(["GLOBEX", "INITECH INC", ""]),
    st.lists(
        st.tuples(st.from_regex(r"INV-[0-9]{1,6}", fullmatch=True), st.integers(1, 10**8)),
        max_size=3,
    ),
)


def _as_bai(checks: list[tuple[int, int, str, list[tuple[str, int]]]]) -> bytes:
    lines = ["1 bank", "50022222261102"]  # lockbox 0022222, deposited 2026-11-02
    for item, (amount, number, payer, invoices) in enumerate(checks, 1):
        lines.append(f"6001{item:03d}{amount:010d}0550027070012345555{number:010d}{payer:<30}")
        lines += [f"4001{item:03d}{inv:<15}{paid:010d}" for inv, paid in invoices]
    total = sum(check[0] for check in checks)
    lines += [f"7{len(checks):03d}{total:010d}", f"8{len(checks):04d}{total:010d}"]
    lines.append(f"9{len(lines) + 1:06d}")
    return "\n".join(lines).encode()


def _as_csv(checks: list[tuple[int, int, str, list[tuple[str, int]]]]) -> bytes:
    rows = []
    for item, (amount, number, payer, invoices) in enumerate(checks, 1):
        money = f"{amount // 100:,}.{amount % 100:02d}"
        check = [
            "0022222", "11/02/2026", "001", f"{item:03d}", f"{number:010d}", money,
            "055002707", "0012345555", payer,
        ]  # fmt: skip
        rows += [[*check, inv, f"{paid // 100}.{paid % 100:02d}", ""] for inv, paid in invoices]
        rows += [[*check, "", "", ""]] if not invoices else []
    return csv_bytes(rows)


def _without_lines(transaction: Transaction) -> tuple[object, ...]:
    return (
        transaction.amount, transaction.bank_reference, transaction.payer_name,
        transaction.payer_account, transaction.remittance, transaction.invoice_refs,
        transaction.invoice_amounts, transaction.value_date, transaction.direction,
    )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(_CHECK, min_size=1, max_size=6))
def test_same_checks_as_csv_and_bai_give_the_same_transactions(
    checks: list[tuple[int, int, str, list[tuple[str, int]]]],
) -> None:
    [bai] = parse_lockbox(_as_bai(checks), "x.bai", layout=BAI_LAYOUT).statements
    [sheet] = parse_lockbox_csv(_as_csv(checks), "x.csv").statements
    assert (bai.account, bai.date) == (sheet.account, sheet.date)
    assert [_without_lines(t) for t in bai.transactions] == [
        _without_lines(t) for t in sheet.transactions
    ]


def test_the_layout_a_user_names_picks_the_parser() -> None:
    de = str(SAMPLES / "de_layout.toml")
    parsed = parse_lockbox_with_layout((SAMPLES / "excel_de_sep.csv").read_bytes(), "de.csv", de)
    assert parsed.format == "lockbox.csv"
    fixed = parse_lockbox_with_layout(BUILT_IN_SAMPLE, "x.bai", "default")  # the BAI layout
    assert (fixed.format, len(fixed.statements[0].transactions)) == ("lockbox", 2)
    assert parse_lockbox_with_layout(US, "us.csv", "csv_default").format == "lockbox.csv"
    with pytest.raises(LockboxCsvLayoutError, match="cannot read"):
        parse_lockbox_with_layout(US, "us.csv", "no_such_layout")
