"""The BAI2 parser on small hand-written files: each field shape, each check, each quirk.

Control totals in these files are computed by hand from the amounts written in
each test, so the parser's arithmetic is checked against an independent oracle.
"""

from __future__ import annotations

import gc
from datetime import date

import pytest

from cash_application.bank_files.bai2 import parse_bai2
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.records import Direction, ParsedFile, Transaction
from mappings.money import Money

HEADER = "01,SENDER,RECEIVER,261103,0600,1,,,2/"


def bai2(
    *account: str,
    total: int | str,
    count: int | None = None,
    group_currency: str = "USD",
    as_of: str = "261102",
) -> bytes:
    """A one-group, one-account file around `account` (its 03, 16 and 88 lines).

    `total` and `count` are what the 49 states (computed by hand in each test);
    the 98 and 99 restate them with the group's and the file's extra records.
    """
    count = len(account) + 1 if count is None else count
    lines = [
        HEADER,
        f"02,RECEIVER,SENDER,1,{as_of},2400,{group_currency},2/",
        *account,
        f"49,{total},{count}/",
        f"98,{total},1,{count + 2}/",
        f"99,{total},1,{count + 4}/",
    ]
    return ("\n".join(lines) + "\n").encode()


def parse(data: bytes, *, check_integrity: bool = True) -> ParsedFile:
    return parse_bai2(data, "test.bai2", check_integrity=check_integrity)


def only_transactions(data: bytes) -> list[Transaction]:
    (statement,) = parse(data).statements
    return list(statement.transactions)


# ---- detail records: funds types and field positions -----------------------------------


def test_each_funds_type_puts_the_references_and_text_in_place() -> None:
    data = bai2(
        "03,111,USD/",
        "16,175,1000,0,BR0,CR0,ZERO DAY/",
        "16,175,1000,1,BR1,CR1,ONE DAY/",
        "16,175,1000,2,BR2,CR2,TWO DAY/",
        "16,175,1000,Z,BRZ,CRZ,UNKNOWN/",
        "16,175,1000,,BRB,CRB,BLANK/",
        "16,115,6000,S,1000,2000,3000,BRS,CRS,DISTRIBUTED/",
        "16,195,7000,V,261101,1230,BRV,CRV,VALUE DATED/",
        "16,195,7000,V,261031,,BRV2,CRV2,NO TIME/",
        "16,115,9000,D,2,0,4000,1,5000,BRD,CRD,DISTRIBUTED IN DAYS/",
        total=34000,  # 5 x 1000 + 6000 + 7000 + 7000 + 9000; availability amounts excluded
    )
    found = [
        (t.bank_reference, t.customer_reference, t.remittance, t.amount.minor, t.value_date)
        for t in only_transactions(data)
    ]
    as_of = date(2026, 11, 2)
    assert found == [
        ("BR0", "CR0", "ZERO DAY", 1000, as_of),
        ("BR1", "CR1", "ONE DAY", 1000, as_of),
        ("BR2", "CR2", "TWO DAY", 1000, as_of),
        ("BRZ", "CRZ", "UNKNOWN", 1000, as_of),
        ("BRB", "CRB", "BLANK", 1000, as_of),
        ("BRS", "CRS", "DISTRIBUTED", 6000, as_of),
        ("BRV", "CRV", "VALUE DATED", 7000, date(2026, 11, 1)),
        ("BRV2", "CRV2", "NO TIME", 7000, date(2026, 10, 31)),
        ("BRD", "CRD", "DISTRIBUTED IN DAYS", 9000, as_of),
    ]


def test_transaction_fields_and_line_range() -> None:
    data = bai2(
        "03,111,USD,010,100000,,,015,150000,,/",
        "16,195,150000,0,FW123,INV-1,WIRE IN/",
        "88,FROM ACME CORP/",
        "16,698,2500,0,,,FEE/",
        total=402500,  # 100000 + 150000 + 150000 + 2500
    )
    (statement,) = parse(data).statements
    assert statement.account == "111"
    assert statement.currency == "USD"
    assert statement.date == date(2026, 11, 2)
    assert statement.opening_balance == Money(100000, "USD")
    assert statement.closing_balance == Money(150000, "USD")
    wire, fee = statement.transactions
    assert wire == Transaction(
        amount=Money(150000, "USD"),
        direction=Direction.CREDIT,
        first_line=4,
        last_line=5,
        value_date=date(2026, 11, 2),
        entry_date=date(2026, 11, 2),
        type_code="195",
        bank_reference="FW123",
        customer_reference="INV-1",
        remittance="WIRE IN FROM ACME CORP",
    )
    assert (fee.direction, fee.first_line, fee.last_line, fee.bank_reference) == (
        Direction.DEBIT, 6, 6, None,
    )  # fmt: skip


def test_continuation_carries_the_fields_a_detail_left_out() -> None:
    # The spec's own example: the 88 continues with the bank and customer references.
    data = bai2(
        "03,111,USD/",
        "16,115,10000000,S,5000000,4000000,1000000/",
        "88,AX13612,B096132,AMALGAMATED CORP. LOCKBOX",
        "88,DEPOSIT-MISC. RECEIVABLES",
        total=10000000,
    )
    (lockbox,) = only_transactions(data)
    assert lockbox.bank_reference == "AX13612"
    assert lockbox.customer_reference == "B096132"
    assert lockbox.remittance == "AMALGAMATED CORP. LOCKBOX DEPOSIT-MISC. RECEIVABLES"
    assert (lockbox.first_line, lockbox.last_line) == (4, 6)


def test_continuation_after_a_blank_customer_reference_is_text() -> None:
    # NatWest and SVB: `16,699,971,,,/` then the text alone in the 88.
    data = bai2("03,111,GBP/", "16,699,971,,,/", "88,RELAY TFR", total=971)
    (transfer,) = only_transactions(data)
    assert (transfer.customer_reference, transfer.remittance) == (None, "RELAY TFR")


def test_text_keeps_commas_and_slashes() -> None:
    data = bai2(
        "03,111,USD/",
        "16,195,150000,0,FW1,,PMT 1/2, INV-1001, ACCT A/B/C/",
        "88,ORG ADDRESS:=2/AV MAIN 2/AVENUE",
        "88,/MEXICO ;",
        total=150000,
    )
    (wire,) = only_transactions(data)
    assert (
        wire.remittance == "PMT 1/2, INV-1001, ACCT A/B/C ORG ADDRESS:=2/AV MAIN 2/AVENUE /MEXICO ;"
    )


def test_record_ending_with_comma_slash_or_at_the_newline() -> None:
    data = bai2(
        "03,111,USD/",
        "16,174,25001,Z,,50848,/",
        "88,SAMPLE CONTINUATION TEXT,/",
        "16,195,100,,,,FED NO: 123",
        "88,OBI:=INVOICE 123456",
        total=25101,
    )
    first, second = only_transactions(data)
    assert (first.customer_reference, first.remittance) == ("50848", "SAMPLE CONTINUATION TEXT")
    assert second.remittance == "INVOICE 123456"


# ---- account records: summaries, continuations, signs, currencies ---------------------


def test_funds_types_inside_account_summaries_are_not_totalled() -> None:
    data = bai2(
        "03,111,USD,100,6000,3,S,1000,2000,3000,400,700,1,V,261101,,190,900,2,D,1,0,900/",
        total=7600,  # 6000 + 700 + 900: the S and D amounts and the item counts excluded
    )
    (statement,) = parse(data).statements
    assert statement.transactions == ()


def test_continuation_splits_the_account_field_list() -> None:
    data = bai2(
        "03,222,,010,-500000,,,100,1000000,,,400,2000000,,,190/",
        "88,500000,,,110,1000000,,,072,500000,,,074,500000,,,040/",
        "88,-1500000,,/",
        "16,115,500000,S,,200000,300000,,,LOCK BOX NO.68751/",
        total=4000000,
    )
    (statement,) = parse(data).statements
    assert statement.opening_balance == Money(-500000, "USD")
    assert statement.transactions[0].remittance == "LOCK BOX NO.68751"


def test_account_record_ending_with_comma_slash_before_a_continuation() -> None:
    # SVB: the 03 ends `,,,/` and the 88 starts a new summary.
    data = bai2(
        "03,333,USD,010,34726979,,,015,35217175,,,/",
        "88,040,32742537,,,045,35217175,,,/",
        "88,100,490196,1,,400,000,0,/",
        total=138394062,
    )
    (statement,) = parse(data).statements
    assert statement.closing_balance == Money(35217175, "USD")


def test_signed_zero_padded_amounts() -> None:
    data = bai2(
        "03,444,USD,010,+00000004060801,,,015,-00000000012345,,/",
        total="+00000000004048456",  # 4060801 - 12345
    )
    (statement,) = parse(data).statements
    assert statement.opening_balance == Money(4060801, "USD")
    assert str(statement.closing_balance) == "-123.45"


def test_blank_summaries_and_blank_currency() -> None:
    data = bai2("03,107049924,,,,,,060,13053325440,,,100,000,0,,400,000,0,/", total=13053325440)
    (statement,) = parse(data).statements
    assert statement.currency == "USD"
    assert statement.opening_balance is None


def test_currency_comes_from_the_account_then_the_group_then_usd() -> None:
    assert parse(bai2("03,1,JPY/", total=0, group_currency="EUR")).statements[0].currency == "JPY"
    assert parse(bai2("03,1,/", total=0, group_currency="EUR")).statements[0].currency == "EUR"
    assert parse(bai2("03,1,/", total=0, group_currency="")).statements[0].currency == "USD"


def test_yen_amounts_have_no_decimals() -> None:
    data = bai2("03,555,JPY,010,1200000,,/", "16,195,150000,0,,,FURIKOMI/", total=1350000)
    (statement,) = parse(data).statements
    assert str(statement.opening_balance) == "1200000"
    (wire,) = statement.transactions
    assert wire.amount == Money(150000, "JPY")
    assert str(wire.amount) == "150000"


def test_several_groups_and_accounts() -> None:
    lines = [
        HEADER,
        "02,R,S,1,261102,,USD,2/",
        "03,1,USD/",
        "16,195,100,0,,,A/",
        "49,100,3/",
        "03,2,USD/",
        "16,475,50,0,,,B/",
        "49,50,3/",
        "98,150,2,8/",
        "02,R,S,1,261103,,CAD,2/",
        "03,3,/",
        "16,195,7,0,,,C/",
        "49,7,3/",
        "98,7,1,5/",
        "99,157,2,15/",
    ]
    parsed = parse(("\n".join(lines) + "\n").encode())
    assert [(s.account, s.currency, s.date) for s in parsed.statements] == [
        ("1", "USD", date(2026, 11, 2)),
        ("2", "USD", date(2026, 11, 2)),
        ("3", "CAD", date(2026, 11, 3)),
    ]
    assert parsed.format == "bai2"


# ---- control totals and record counts ----------------------------------------------------


def test_blank_trailer_amounts_and_counts_are_not_checked() -> None:
    lines = [
        HEADER,
        "02,R,S,1,261102,,USD,2/",
        "03,1,USD,010,500,,/",
        "49,,/",
        "98,,1,/",
        "99,,1,/",
    ]
    (statement,) = parse(("\n".join(lines)).encode()).statements
    assert statement.opening_balance == Money(500, "USD")


@pytest.mark.parametrize(
    ("trailers", "line", "field", "expected", "found"),
    [
        (("49,1001,3/", "98,1000,1,5/", "99,1000,1,7/"), 5, "account_control_total", 1000, 1001),
        (("49,1000,3/", "98,999,1,5/", "99,1000,1,7/"), 6, "group_control_total", 1000, 999),
        (("49,1000,3/", "98,1000,1,5/", "99,1001,1,7/"), 7, "file_control_total", 1000, 1001),
        (("49,1000,4/", "98,1000,1,5/", "99,1000,1,7/"), 5, "account_record_count", 3, 4),
        (("49,1000,3/", "98,1000,1,6/", "99,1000,1,7/"), 6, "group_record_count", 5, 6),
        (("49,1000,3/", "98,1000,2,5/", "99,1000,1,7/"), 6, "group_account_count", 1, 2),
        (("49,1000,3/", "98,1000,1,5/", "99,1000,1,8/"), 7, "file_record_count", 7, 8),
        (("49,1000,3/", "98,1000,1,5/", "99,1000,2,7/"), 7, "file_group_count", 1, 2),
    ],
)
def test_a_trailer_that_disagrees_is_an_integrity_error(
    trailers: tuple[str, str, str], line: int, field: str, expected: int, found: int
) -> None:
    lines = [HEADER, "02,R,S,1,261102,,USD,2/", "03,1,USD/", "16,195,1000,0,,,ONE CENT/", *trailers]
    data = ("\n".join(lines) + "\n").encode()
    with pytest.raises(BankFileIntegrityError) as caught:
        parse(data)
    assert (caught.value.file, caught.value.line, caught.value.field) == ("test.bai2", line, field)
    assert f"expected {expected}" in caught.value.message
    assert f"found {found}" in caught.value.message
    # Integrity checks off: the same file parses.
    assert len(parse(data, check_integrity=False).statements[0].transactions) == 1


def test_record_counts_include_continuations_and_every_record() -> None:
    lines = [
        HEADER,
        "88,CONTINUED HEADER/",  # unusual, but an 88 may continue any record
        "02,R,S,1,261102,,USD,2/",
        "03,1,USD/",
        "16,195,1000,0,,,A/",
        "88,B/",
        "88,C/",
        "49,1000,5/",
        "98,1000,1,7/",
        "99,1000,1,10/",
    ]
    (statement,) = parse(("\n".join(lines) + "\n").encode()).statements
    assert statement.transactions[0].remittance == "A B C"


# ---- what is not BAI2 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "field"),
    [
        (b"", 1, "record_code"),
        (b"\n\n   \n", 1, "record_code"),
        (b"this is not a bank file\n", 1, "record_code"),
        (b"\x00\xff\xfe binary \x89PNG", 1, "record_code"),
        (b"00,0004,1/2/345,06/0321,0829,001,80,1,2/", 1, "record_code"),
        (b"01,SENDER,RECEIVER\nthis is not BAI2\n", 2, "record_code"),
        (b"88,ORPHAN/\n", 1, "record_code"),
        (b"16,195,100,0,,,X/\n", 1, "record_code"),
    ],
)
def test_garbage_is_a_syntax_error_naming_the_line(data: bytes, line: int, field: str) -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(data)
    assert (caught.value.line, caught.value.field) == (line, field)


def test_truncated_files_are_syntax_errors_at_their_last_line() -> None:
    whole = bai2("03,1,USD/", "16,195,100,0,,,A/", total=100).decode().splitlines()
    for keep in range(1, len(whole)):  # every proper prefix, the 99 missing at least
        with pytest.raises(BankFileSyntaxError) as caught:
            parse("\n".join(whole[:keep]).encode())
        assert caught.value.line == keep
        assert "ends early" in caught.value.message


def test_record_out_of_place() -> None:
    lines = [HEADER, "02,R,S,1,261102,,USD,2/", "16,195,100,0,,,NO ACCOUNT/"]
    with pytest.raises(BankFileSyntaxError) as caught:
        parse("\n".join(lines).encode())
    assert (caught.value.line, caught.value.field) == (3, "record_code")
    data = bai2("03,1,USD/", total=0) + b"16,195,100,0,,,AFTER THE END/\n"
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(data)
    assert (caught.value.line, caught.value.field) == (7, "record_code")


@pytest.mark.parametrize(
    ("account", "field", "message"),
    [
        (("03,1,USD/", "16,195,x12,0,,,A/"), "amount", "must be digits, found 'x12'"),
        (("03,1,USD/", "16,195,-12,0,,,A/"), "amount", "must be unsigned"),
        (("03,1,USD/", "16,195,,0,,,A/"), "amount", "needs an amount"),
        (("03,1,USD/", "16,195,12,X,,,A/"), "funds_type", "found 'X'"),
        (("03,1,USD/", "16,195,12,V,261340,,,,A/"), "value_date", "found '261340'"),
        (("03,1,USD/", "16,195,12,D,x,,,A/"), "distribution_count", "found 'x'"),
        (("03,1,USD/", "16,19,12,0,,,A/"), "type_code", "three digits"),
        (("03,1,US1/",), "currency", "found 'US1'"),
        (("03,1,USD,010,12a,,/",), "amount", "found '12a'"),
        (("03,1,USD,010,12,x,/",), "item_count", "found 'x'"),
        (("03,1,USD,01,12,,/",), "type_code", "three digits"),
        (("03,,USD/",), "account", "needs an account number"),
    ],
)
def test_bad_fields_are_syntax_errors_naming_the_field(
    account: tuple[str, ...], field: str, message: str
) -> None:
    line = 2 + len(account)  # the last record given: 03 on line 3, 16 on line 4
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(bai2(*account, total=12))
    assert (caught.value.field, caught.value.line) == (field, line)
    assert message in caught.value.message
    assert f"test.bai2:{line}: field `{field}`:" in str(caught.value)


def test_bad_header_fields() -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(bai2("03,1,USD/", total=0, as_of="261340"))
    assert (caught.value.line, caught.value.field) == (2, "as_of_date")
    data = bai2("03,1,USD/", total=0).replace(b",,,2/", b",,,3/", 1)
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(data)
    assert (caught.value.line, caught.value.field) == (1, "version")


# ---- type codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_code", "direction"),
    [
        ("108", Direction.CREDIT),
        ("299", Direction.CREDIT),  # not in the table, but a credit by its range
        ("399", Direction.CREDIT),
        ("409", Direction.DEBIT),
        ("699", Direction.DEBIT),
        ("722", Direction.CREDIT),  # loan: amount applied to principal
        ("760", Direction.DEBIT),  # loan disbursement
        ("950", Direction.CREDIT),  # customised credit range 920-959
        ("975", Direction.DEBIT),  # customised debit range 960-999
    ],
)
def test_direction_follows_the_type_code(type_code: str, direction: Direction) -> None:
    (txn,) = only_transactions(bai2("03,1,USD/", f"16,{type_code},100,0,,,X/", total=100))
    assert (txn.direction, txn.type_code) == (direction, type_code)


@pytest.mark.parametrize("type_code", ["010", "015", "701", "800", "890", "905"])
def test_type_codes_without_a_direction_are_rejected(type_code: str) -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(bai2("03,1,USD/", f"16,{type_code},100,0,,,X/", total=100))
    assert (caught.value.line, caught.value.field) == (4, "type_code")
    assert type_code in caught.value.message


# ---- named quirks ------------------------------------------------------------------------


def test_quirk_continuation_colon() -> None:
    data = bai2("03,1,USD/", "16,255,931,,SC1,,Check Return,-", "88:EREF: 07370568132", total=931)
    (txn,) = only_transactions(data)
    assert txn.end_to_end_id == "07370568132"
    assert txn.last_line == 5


def test_quirk_several_records_per_line() -> None:
    lines = [
        f"{HEADER}   02,R,S,1,261102,2400,USD,2/",
        "03,1,USD,010,-3500,,/",
        "16,142,2500,Z,,,TRANSFER PAYPAL PPD/ 16,142,500,Z,,,TRANSFER MSPBNA PPD/",
        "88,      1111111111/         49,-500,5/  98,-500,1,7/",
        "99,-500,1,9/",
    ]
    (statement,) = parse("\n".join(lines).encode()).statements
    paypal, mspbna = statement.transactions
    assert (paypal.remittance, paypal.first_line, paypal.last_line) == ("TRANSFER PAYPAL PPD", 3, 3)
    assert (mspbna.remittance, mspbna.first_line, mspbna.last_line) == (
        "TRANSFER MSPBNA PPD 1111111111", 3, 4,
    )  # fmt: skip


def test_a_slash_and_a_record_code_inside_text_that_cannot_follow_stays_text() -> None:
    data = bai2("03,1,USD/", "16,195,100,0,,,SPLIT 1/ 02,PARTS/", total=100)
    (txn,) = only_transactions(data)
    assert txn.remittance == "SPLIT 1/ 02,PARTS"


def test_quirk_wrapped_text_line() -> None:
    data = bai2(
        "03,1,USD/",
        "16,142,2500,Z,,,111111     ACH_SETL           1111111111",
        "111111111111111        /",
        "88,       1111111111/",
        total=2500,
        count=4,  # the wrapped line is not a record
    )
    (txn,) = only_transactions(data)
    assert txn.remittance == "111111     ACH_SETL           1111111111 111111111111111 1111111111"
    assert (txn.first_line, txn.last_line) == (4, 6)


def test_a_line_without_record_code_after_a_closed_record_is_an_error() -> None:
    data = bai2("03,1,USD/", "16,142,2500,Z,,,CLOSED/", "STRAY TEXT/", total=2500)
    with pytest.raises(BankFileSyntaxError) as caught:
        parse(data)
    assert (caught.value.line, caught.value.field) == (5, "record_code")


def test_line_ends_padding_and_encodings_do_not_change_the_result() -> None:
    plain = bai2("03,1,USD/", "16,195,100,0,,,CAFE/", total=100)
    expected = parse(plain)
    assert parse(plain.replace(b"\n", b"\r\n")) == expected
    assert parse(plain.replace(b"\n", b"\r")) == expected
    assert parse(b"\xef\xbb\xbf" + plain) == expected
    padded = b"\n".join(line.ljust(80) for line in plain.split(b"\n"))
    assert parse(padded) == expected
    assert parse(plain.rstrip(b"\n") + b"\x1a") == expected


def test_text_in_windows_1252_or_utf8() -> None:
    text = "CAFÉ “NOIR”"
    data = bai2("03,1,USD/", f"16,195,100,0,,,{text}/", total=100)
    assert only_transactions(data)[0].remittance == text
    windows = data.decode("utf-8").encode("cp1252")
    assert only_transactions(windows)[0].remittance == text
    # A byte that Windows-1252 leaves undefined falls back to Latin-1 instead of failing.
    assert only_transactions(windows.replace(b"\xc9", b"\x81"))[0].remittance == "CAF\x81 “NOIR”"


def test_blank_lines_keep_physical_line_numbers() -> None:
    data = bai2("03,1,USD/", "", "16,195,100,0,,,X/", "88,Y/", count=4, total=100)
    (txn,) = only_transactions(data)
    assert (txn.first_line, txn.last_line) == (5, 6)


# ---- a large file --------------------------------------------------------------------------


def test_large_file_parses_and_the_cycle_collector_is_restored() -> None:
    details = [f"16,165,{n},0,ACH{n},,ORIG CO NAME:ACME MFG ORIG ID:1/" for n in range(1, 20001)]
    total = sum(range(1, 20001))
    data = bai2("03,1,USD/", *details, total=total)
    assert len(data) > 1_000_000
    assert gc.isenabled()
    (statement,) = parse(data).statements
    assert len(statement.transactions) == 20000
    assert statement.transactions[-1].payer_name == "ACME MFG"
    assert gc.isenabled()
    with pytest.raises(BankFileIntegrityError):
        parse(data.replace(b"16,165,1,0", b"16,165,2,0", 1))
    assert gc.isenabled()
