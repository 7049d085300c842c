"""MT940/MT942 parser: the core rules, each named quirk with its sample, and the `:86:` readers.

Samples are cut from the corpus file each quirk comes from (named beside it), so
the tests run without the corpus; the golden tests cover the whole files.
"""

from __future__ import annotations

from datetime import date

import pytest

from cash_application.bank_files.detect import detect_format, parse_bank_file
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.mt940 import (
    BALANCE_QUIRKS,
    HEADER_QUIRKS,
    STATEMENT_LINE_QUIRKS,
    parse_mt940,
)
from cash_application.bank_files.mt940_details import DETAIL_READERS, read_details
from cash_application.bank_files.records import Direction, ParsedFile, Transaction
from mappings.money import Money


def statement(
    body: str, *, opening: str = "C200101EUR100,00", closing: str = "C200101EUR100,00"
) -> bytes:
    """A whole statement around `body` (its :61:/:86: lines), balances as given."""
    return (
        f":20:REF\n:25:NL81ASNB9999999999\n:28C:1/1\n:60F:{opening}\n{body}\n:62F:{closing}\n-\n"
    ).encode("latin-1")


def only_transaction(parsed: ParsedFile) -> Transaction:
    (stmt,) = parsed.statements
    (txn,) = stmt.transactions
    return txn


# ---- core ---------------------------------------------------------------------------


def test_a_statement_with_balances_and_a_credit() -> None:
    data = statement(
        ":61:2001050105C1000,00NTRFNONREF//B4E07XM00J000023\n:86:INVOICE 1043",
        closing="C200105EUR1100,00",
    )
    parsed = parse_mt940(data, "one.sta")
    assert parsed.format == "mt940"
    (stmt,) = parsed.statements
    assert stmt.account == "NL81ASNB9999999999"
    assert stmt.currency == "EUR"
    assert stmt.date == date(2020, 1, 5)
    assert stmt.opening_balance == Money(10000, "EUR")
    assert stmt.closing_balance == Money(110000, "EUR")
    txn = only_transaction(parsed)
    assert txn.amount == Money(100000, "EUR")
    assert txn.direction is Direction.CREDIT
    assert txn.value_date == date(2020, 1, 5)
    assert txn.entry_date == date(2020, 1, 5)
    assert txn.type_code == "NTRF"
    assert txn.customer_reference is None  # NONREF
    assert txn.bank_reference == "B4E07XM00J000023"
    assert txn.remittance == "INVOICE 1043"
    assert (txn.first_line, txn.last_line) == (5, 6)


def test_rmr_amounts_in_the_details_are_the_invoices_amounts() -> None:
    data = statement(
        ":61:2001050105C30,00NTRFNONREF\n:86:RMR*IV*INV-1*10.00\\RMR*IV*INV-2*20,5\\",
        closing="C200105EUR130,00",
    )
    txn = only_transaction(parse_mt940(data, "rmr.sta"))
    assert txn.invoice_refs == ("INV-1", "INV-2")
    # "20,5" is no X12 decimal: the reference stays, without an amount.
    assert txn.invoice_amounts == (("INV-1", Money(1000, "EUR")),)


def test_each_statement_keeps_its_own_balances() -> None:
    first = statement(":61:200101C5,NTRFNONREF", closing="C200101EUR105,00")
    second = statement("", opening="C200102EUR105,00", closing="C200102EUR105,00")
    parsed = parse_mt940(first + second.replace(b":25:NL81", b":25:NL99"), "two.sta")
    assert [s.account[:4] for s in parsed.statements] == ["NL81", "NL99"]
    assert [str(s.closing_balance) for s in parsed.statements] == ["105.00", "105.00"]
    assert [len(s.transactions) for s in parsed.statements] == [1, 0]


def test_entry_date_across_the_year_end() -> None:
    """Valued 29 Dec 2014, booked 02 Jan: the entry date is in 2015 (knab year-end sample)."""
    data = statement(":61:1412290102C1,62NTRFNONREF", opening="C141229EUR0,00",
                     closing="C150102EUR1,62")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "year-end.sta"))
    assert txn.value_date == date(2014, 12, 29)
    assert txn.entry_date == date(2015, 1, 2)
    booked_before = statement(":61:1501021229C1,62NTRFNONREF", opening="C141229EUR0,00",
                              closing="C150102EUR1,62")  # fmt: skip
    assert only_transaction(parse_mt940(booked_before, "x.sta")).entry_date == date(2014, 12, 29)


@pytest.mark.parametrize(
    ("mark", "direction", "closing"),
    [("RD", Direction.CREDIT, "C200101EUR101,62"), ("RC", Direction.DEBIT, "C200101EUR98,38")],
)
def test_reversal_runs_against_the_original_movement(
    mark: str, direction: Direction, closing: str
) -> None:
    """RD reverses a debit: money comes back, a credit (sparkasse2/3 samples)."""
    data = statement(f":61:2001010101{mark}R1,62N068NONREF", closing=closing)
    txn = only_transaction(parse_mt940(data, "reversal.sta"))
    assert txn.direction is direction
    assert txn.reversal is True
    assert str(txn.amount) == "1.62"


def test_funds_code_is_not_part_of_the_amount() -> None:
    """`DR583,92`: the R is the funds code (the currency's third letter)."""
    data = statement(":61:2001010101DR583,92NTRFNONREF", closing="D200101EUR483,92")
    txn = only_transaction(parse_mt940(data, "funds.sta"))
    assert (txn.direction, str(txn.amount)) == (Direction.DEBIT, "583.92")


def test_impossible_value_date_is_reported_not_guessed() -> None:
    """`160230` (30 Feb 2016) in wrapped_timestamp.sta and february_30.sta."""
    data = statement(":61:1602300301DR6,00N024NONREF", opening="C160229EUR6,00",
                     closing="C160301EUR0,00")  # fmt: skip
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_mt940(data, "february_30.sta")
    assert (caught.value.file, caught.value.line, caught.value.field) == (
        "february_30.sta", 5, "value_date",
    )  # fmt: skip


def test_impossible_balance_and_entry_dates_are_reported() -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_mt940(statement("", closing="C021131EUR100,00"), "nov31.sta")
    assert (caught.value.line, caught.value.field) == (6, "closing_balance.date")
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_mt940(statement(":61:2001011331C1,NTRFNONREF"), "entry.sta")
    assert (caught.value.line, caught.value.field) == (5, "entry_date")


def test_balance_mismatch_is_an_integrity_error_with_line_and_field() -> None:
    data = statement(":61:200101C5,NTRFNONREF", closing="C200101EUR105,01")
    with pytest.raises(BankFileIntegrityError) as caught:
        parse_mt940(data, "off-by-a-cent.sta")
    assert (caught.value.line, caught.value.field) == (6, "closing_balance")
    assert "105.00" in caught.value.message
    lenient = parse_mt940(data, "off-by-a-cent.sta", check_integrity=False)
    assert str(only_transaction(lenient).amount) == "5.00"


def test_a_syntax_error_later_in_the_file_wins_over_an_integrity_error() -> None:
    data = statement("", closing="C200101EUR1,00") + b":20:TRUNCATED\n"
    with pytest.raises(BankFileSyntaxError):
        parse_mt940(data, "truncated.sta")


def test_latin1_and_cp1252_bytes_are_text_and_no_line_break() -> None:
    """0x85 and 0x1c are not line ends; 0xA0 (raiffeisen-cmi.sta) is a character."""
    data = statement(":61:200101C5,NTRFNONREF\n:86:M\xfcller \x85 \x1c GmbH\xa0",
                     closing="C200101EUR105,00")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "latin1.sta"))
    assert txn.remittance.startswith("Müller …")
    assert txn.last_line == 6


def test_amount_with_more_decimals_than_the_currency_allows() -> None:
    data = statement(":61:200101C5,123NTRFNONREF", closing="C200101EUR105,12")
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_mt940(data, "decimals.sta")
    assert caught.value.field == "amount"


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"1\n2\n3\n", b":61:200101C5,NTRFNONREF\n", b":20:X\n:25:A\n:61:200101C5,N\n"],
    ids=["empty", "blank", "numbers", "fragment", "no-currency"],
)
def test_not_a_statement_is_a_syntax_error(data: bytes) -> None:
    with pytest.raises(BankFileSyntaxError):
        parse_mt940(data, "bad.sta")


# ---- MT942 --------------------------------------------------------------------------

MT942 = b""":20:131110
:25:45050050/76198810
:28C:13/37
:34F:EURD12345,67
:13D:1901091733+0100
:61:190109C9792,00FTRFNONREF
:86:008?00DAUERAUFTRAG?100599?20Miete Dezember?3010020030?31234567?32MUELLER?34339
:90D:0EUR0,00
:90C:1EUR9792,00
-
"""  # railslove_cmxl__spec_fixtures_mt942.txt


def test_mt942_interim_report() -> None:
    parsed = parse_mt940(MT942, "mt942.txt")
    assert parsed.format == "mt942"
    (stmt,) = parsed.statements
    assert stmt.date == date(2019, 1, 9)
    assert (stmt.opening_balance, stmt.closing_balance) == (None, None)
    txn = only_transaction(parsed)
    assert (txn.payer_name, txn.payer_account, txn.remittance) == (
        "MUELLER", "234567", "Miete Dezember",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        (MT942.replace(b":90C:1EUR", b":90C:2EUR"), "credit_entries.count"),
        (MT942.replace(b":90C:1EUR9792,00", b":90C:1EUR9792,01"), "credit_entries.amount"),
        (MT942.replace(b":90D:0EUR0,00", b":90D:0EUR1,00"), "debit_entries.amount"),
    ],
)
def test_mt942_counts_and_sums_are_checked(broken: bytes, field: str) -> None:
    with pytest.raises(BankFileIntegrityError) as caught:
        parse_mt940(broken, "mt942.txt")
    assert (caught.value.line, caught.value.field) == (9 if "credit" in field else 8, field)


# ---- header and framing quirks ----------------------------------------------------------

BODY = ":20:REF\n:25:NL81ASNB9999999999\n:28C:1/1\n:60F:C200101EUR1,00\n:62F:C200101EUR1,00\n"


@pytest.mark.parametrize(
    ("quirk", "data"),
    [
        # ASNB_0708271685_09022020_164516.940.txt
        ("swift-blocks", "{1:F01ASNBNL21XXXX0000000000}{2:O940ASNBNL21XXXXN}{3:}{4:\n"
         + BODY + "-}{5:}\n"),
        # jejik postfinance: blocks with a nested {108:..}, the next message on the end line
        ("swift-blocks", "\x01{1:F01POFICHBEAXXX0000000000}{2:I940XXXXXXXXXXXXN}{3:{108:1}}{4:\n"
         + BODY + "-}\x03\x01{1:F01POFICHBEAXXX0000000000}{2:I940XXXXXXXXXXXXN}{4:\n"
         + BODY + "-}{5:{MAC:00000000}{CHK:000000000000}}\x03\n"),
        ("transmission-control", "\x01\n" + BODY + "-\x03\n"),  # mBank_mt940.sta
        ("ing-header", "0000 01INGBNL2AXXXX00001\n0000 01INGBNL2AXXXX00001\n940 00\n"
         + BODY + "-XXX\n"),  # jejik_ing.sta, also ing-xxx-trailer
        ("bic-940-header", "ABNANL2A\n940\nABNANL2A\n" + BODY + "-\n"),  # Abn_sample
        ("rabobank-940-tag", ":940:\n" + BODY + "\n"),  # jejik_rabobank.sta
        ("handelsbanken-iso646", "ä4:\n" + BODY + "-å\n"),  # mt940-handelsbank.txt
    ],
)  # fmt: skip
def test_header_quirk(quirk: str, data: str) -> None:
    assert quirk in HEADER_QUIRKS
    parsed = parse_mt940(data.encode("utf-8"), f"{quirk}.sta")
    assert all(s.account == "NL81ASNB9999999999" for s in parsed.statements)
    assert detect_format(data.encode("utf-8"), "x") == "mt940"


def test_statement_number_28_and_non_swift_tags() -> None:
    """`:28:` (Abn_sample) and `:NS:`/`:NSF:` bank fields (sberbank, railslove mt940.txt)."""
    data = statement(":61:2001010101C5,NTRFNONREF\n:NS:01526715\n:86:X",
                     closing="C200101EUR105,00").replace(b":28C:", b":28:")  # fmt: skip
    data = data.replace(b":60F:", b":NSF:HelloWorld\n:60F:")
    assert only_transaction(parse_mt940(data, "28.sta")).remittance == "X"


def test_dash_line_inside_86_is_text() -> None:
    """dash-line-in-86: OCA test-ing@10.0.940 wraps `MND-EV01` as `MND` / `-` / `EV01`."""
    data = statement(":61:1402200220C1,14NDDTEREF//00000000001009\n"
                     ":86:/EREF/EV123//MARF/MND\n-\nEV01//CSID/NL32ZZZ9999999\n"
                     "91234//CNTP/NL32INGB0000012345/INGBNL2A/ING Bank N.V. inzake WeB/\n"
                     "//REMI/USTD//EV123REP123412T1234/", closing="C200101EUR101,14")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "dash.sta"))
    assert txn.remittance == "EV123REP123412T1234"
    assert txn.payer_name == "ING Bank N.V. inzake WeB"


def test_spaced_tag() -> None:
    """`:86 :` (fruitl00p example_test.mta)."""
    data = statement("", closing="C200101EUR100,00").replace(b"-\n", b":86 :D000001C000002\n-\n")
    assert parse_mt940(data, "spaced.mta").statements[0].transactions == ()


def test_sparkasse_split_tag_and_split_statement_line() -> None:
    """self-provided_sparkassen.sta: `:61:..CR` / `30,00N062NONREF` and `:` / `86:..`."""
    data = statement(":61:1811261126CR\n30,00N062NONREF\n:\n86:166?00GUTSCHR. UEBERWEISUNG"
                     "?081542?20SVWZ+Test", closing="C200101EUR130,00")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "sparkassen.sta"))
    assert (str(txn.amount), txn.type_code, txn.remittance) == ("30.00", "N062", "Test")
    assert (txn.first_line, txn.last_line) == (5, 8)


@pytest.mark.parametrize(
    ("quirk", "line", "amount", "type_code"),
    [
        ("padded-type-code", "100722D25,03NOV NONREF", "25.03", "NOV"),  # jejik_ing.sta
        ("padded-type-code", "1710111011DF2402,00S   X", "2402.00", "S"),  # sberbank
        ("zetb-no-type-code", "2011301130DN43000,00//19239810200", "43000.00", None),  # Zetb
        ("knab-amount-without-comma", "1407290729D500NTRF29-07-2014 10:05//B4G", "500.00", "NTRF"),
        ("rabobank-dot-decimal", "030109D000000000300.00NMSC170059286", "300.00", "NMSC"),
    ],
)  # fmt: skip
def test_statement_line_quirk(quirk: str, line: str, amount: str, type_code: str | None) -> None:
    assert quirk in STATEMENT_LINE_QUIRKS
    data = statement(f":61:{line}", opening=f"C200101EUR{amount.replace('.', ',')}",
                     closing="C200101EUR0,00")  # fmt: skip
    txn = only_transaction(parse_mt940(data, f"{quirk}.sta"))
    assert (str(txn.amount), txn.type_code) == (amount, type_code)


def test_spaced_statement_line() -> None:
    """spaced-61: `D12,35 NRTIKREF+//...` (jejik deutschebank.txt)."""
    data = statement(":61:2006080608D12,35 NRTIKREF+//2016021783252833",
                     opening="C200101EUR12,35", closing="C200101EUR0,00")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "db.txt"))
    assert (txn.type_code, txn.customer_reference, txn.bank_reference) == (
        "NRTI", "KREF+", "2016021783252833",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("quirk", "opening", "closing"),
    [("rabobank-dot-decimal", "C030106EUR000000000000.00", "C030107EUR000000000000.00"),
     ("balance-without-currency", "C020315DEM0,00", "C020315105000,00")],  # raphaelm.sta
)  # fmt: skip
def test_balance_quirk(quirk: str, opening: str, closing: str) -> None:
    assert quirk in BALANCE_QUIRKS
    parsed = parse_mt940(statement("", opening=opening, closing=closing), f"{quirk}.sta",
                         check_integrity=False)  # fmt: skip
    assert parsed.statements[0].closing_balance is not None


def test_counterparty_account_in_61() -> None:
    """Rabobank (dovadi rabobank_sepa.txt): the payer's account on the line after :61:."""
    data = statement(":61:130403C000000000169,90N122NONREF\n0663616476\n"
                     ":86:/ORDP//NAME/Bedrijf B.V./REMI/NR.201303-111/11.3.2013",
                     closing="C200101EUR269,90")  # fmt: skip
    txn = only_transaction(parse_mt940(data, "rabo.txt"))
    assert (txn.payer_name, txn.payer_account) == ("Bedrijf B.V.", "0663616476")
    assert txn.remittance == "NR.201303-111/11.3.2013"


DANSKE_SAMPLE = """:61:1310011001CR583,92NMSC1110030403010139//1234
:86:Indbetaling
:86:FAKTURA 10434
:86:ACME A/S"""  # the shape of Danske Bank's MT940 guide: one :86: per 65-character line


def test_repeated_86_tags_belong_to_one_statement_line() -> None:
    """repeated-86: Danske Bank (DANSKE_SAMPLE) and old Rabobank (jejik_rabobank.sta)."""
    data = statement(DANSKE_SAMPLE, closing="C200101EUR683,92")
    txn = only_transaction(parse_mt940(data, "danske.sta"))
    assert txn.remittance == "Indbetaling FAKTURA 10434 ACME A/S"
    assert txn.bank_reference == "1234"
    assert (txn.first_line, txn.last_line) == (5, 8)


def test_statement_level_86_is_not_a_transaction() -> None:
    """ING writes a summary :86: after :62F: (jejik_ing.sta)."""
    data = statement(":61:200101C5,NTRFNONREF\n:86:A", closing="C200101EUR105,00")
    data = data.replace(b"-\n", b":86:D000004C000002D25,24C28,71\n-\n")
    assert only_transaction(parse_mt940(data, "ing.sta")).remittance == "A"


# ---- :86: readers -----------------------------------------------------------------------


def test_german_gvc_with_sepa_keywords() -> None:
    """jejik deutschebank.txt: SEPA keywords wrapped across lines and ?2x subfields."""
    lines = [
        "109?00SEPA-LASTSCHR. RETOURE CORE?109075/629?20EREF+A1.200080779.",
        "400143254?21.4961336 KREF+SEPA-DA202006?2201221740-34972000-P1 MR",
        "EF+2?230852HW2723821 CRED+DE41EON0?240000129793 OAMT+11,85 SVWZ+?",
        "25SONSTIGE GRUENDE ENDABRECHN?26UNG NR. 500106875 ZU VERTRA?2740",
        "0143254, KUNDENNUM MER 2?2802227779?30CSDBDE71XXX?31DE50712345600",
        "200691329?32TESTER?33EL",
    ]
    name, account, remittance, refs, e2e = read_details(lines, True)
    assert (name, account) == ("TESTEREL", "DE50712345600200691329")
    assert e2e == "A1.200080779.400143254.4961336"
    assert remittance.startswith("SONSTIGE GRUENDE ENDABRECHNUNG NR. 500106875")
    assert refs == ()
    assert read_details(lines, False)[:2] == (None, None)  # a debit names the payee


def test_german_gvc_short_subfields_end_words() -> None:
    """jejik sparkasse.txt: `SVWZ+Apple Pay` is shorter than 27: a word ends there."""
    lines = ["177?00ONLINE-UEBERWEISUNG?109310?20SVWZ+Apple Pay?21DATUM 19.",
             "02.2019, 13.24 UHR?221.TAN 002153?30NTSBDEB1XXX?31DE1234567890123",
             "4567890?32Max Mustermann?34997"]  # fmt: skip
    # `?21` is exactly 27 characters, so `UHR` and `1.TAN` are read as one cut word.
    assert read_details(lines, True)[2] == "Apple Pay DATUM 19.02.2019, 13.24 UHR1.TAN 002153"


def test_triodos_and_brd_gvc_separators() -> None:
    assert {"triodos-gvc", "brd-plus-gvc"} <= DETAIL_READERS.keys()
    triodos = ["000>100555555555", ">20TENAAMSTELLING TEGENREKENIN>21G EN ADRES", ">310666666666"]
    assert read_details(triodos, True)[1:3] == (
        "0666666666", "TENAAMSTELLING TEGENREKENING EN ADRES",
    )  # fmt: skip
    brd = ["000+20Plata           +30302410000+31RO89RZBR0000060003480121",
           "+32RUSSMEDIA PRESS SRL+33/", "+23PLATA FACT 4603309"]  # fmt: skip
    name, account, remittance, _, _ = read_details(brd, True)
    assert (name, account, remittance) == (
        "RUSSMEDIA PRESS SRL/", "RO89RZBR0000060003480121", "Plata PLATA FACT 4603309",
    )  # fmt: skip


def test_romanian_gvc_separators() -> None:
    """Raiffeisen RO (`^`, oca test_rffsn_940@14.0.txt) and ING RO (`~`, test_ing_940@14.0.txt)."""
    assert {"raiffeisen-ro-caret-gvc", "ing-ro-tilde-gvc"} <= DETAIL_READERS.keys()
    raiffeisen = [
        "000^20F.2059628^24Ref.Doc 2268/OPMC^30RAIFFEIS",
        "EN BANK S.A.^31RO05RZBR0000060003144073^32QUEHENBE",
        "RGER LOGISTICS ROU",
    ]
    assert read_details(raiffeisen, True)[:3] == (
        "QUEHENBERGER LOGISTICS ROU",
        "RO05RZBR0000060003144073",
        "F.2059628 Ref.Doc 2268/OPMC",
    )
    ing = ["035~20AMT RCD RON 1000,00 ~21 ~32NEXTERP ROMANIA SRL ~33RO2",
           "5INGB0014000031948911 ~25CVF 2020/0060 ~61 ~"]  # fmt: skip
    assert read_details(ing, True)[:3] == (
        "NEXTERP ROMANIA SRL", "RO25INGB0014000031948911", "AMT RCD RON 1000,00 CVF 2020/0060",
    )  # fmt: skip


def test_dutch_slash_abn_amro() -> None:
    """ABN AMRO /TRTP/ (railslove mt940-abnamro.txt shape)."""
    lines = ["/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/BIC/ABNANL2A/NAME/H",
             "R A VAN DER BERG/REMI/FACTUUR 2014-0042 RMR*IV*INV-0042*10.00\\/EREF/",
             "E2E-0042"]  # fmt: skip
    name, account, remittance, refs, e2e = read_details(lines, True)
    assert (name, account, e2e) == ("HR A VAN DER BERG", "NL46ABNA0499998748", "E2E-0042")
    assert remittance.startswith("FACTUUR 2014-0042")
    assert refs == ("INV-0042",)


def test_dutch_slash_ing_structured_reference() -> None:
    """ING /REMI/STRD/CUR/: a structured payment reference is the invoice reference."""
    lines = ["/CNTP/NL08ABNA0499999999/ABNANL2A/ACME BV/AMSTERDAM/",
             "/REMI/STRD/CUR/1234567890123456/"]  # fmt: skip
    name, account, remittance, refs, _ = read_details(lines, True)
    assert (name, account, refs) == ("ACME BV", "NL08ABNA0499999999", ("1234567890123456",))
    assert remittance == "1234567890123456"


def test_mbank_semicolon() -> None:
    """mBank_mt942.sta."""
    lines = ["911 TRANSAKCJA COLLECT; ID IPH: XX000000000001; Z RACH.: ",
             "56114010810000267002001001; OD: JAN NOWAK  ",
             "UL. NIJAKA 1 M 2 31-234 KRAKOW; TYT.: PRZELEW SRODKOW   ; ",
             "TNR: 179171073864111.010001"]  # fmt: skip
    name, account, remittance, _, _ = read_details(lines, True)
    assert account == "56114010810000267002001001"
    assert name == "JAN NOWAK UL. NIJAKA 1 M 2 31-234 KRAKOW"  # the address comes with it
    assert remittance == "PRZELEW SRODKOW"


def test_free_text_joins_full_width_lines_without_a_gap() -> None:
    """ASN pads :86: to 65 columns and cuts words (`Betaling aan I` / `CS 999`)."""
    lines = ["NL08ABNA9999999999 international card services ".ljust(65),
             "000 0000 Betaling aan I".rjust(65), "CS 99999999999 ICS"]  # fmt: skip
    remittance = read_details(lines, True)[2]
    assert "Betaling aan ICS 99999999999 ICS" in remittance


def test_parse_bank_file_detects_mt940() -> None:
    parsed = parse_bank_file(statement(""), "x.sta")
    assert parsed.format == "mt940"
    assert parse_bank_file(MT942, "x", "mt942").format == "mt942"
