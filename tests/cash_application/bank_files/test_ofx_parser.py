"""OFX 1.x and 2.x: one test per feature and per named quirk, on small built files."""

from __future__ import annotations

import pytest

from cash_application.bank_files.errors import BankFileError, BankFileSyntaxError
from cash_application.bank_files.ofx import looks_like_ofx, parse_ofx
from cash_application.bank_files.records import Direction
from mappings.money import Money

HEADER_1 = (
    "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
    "CHARSET:{charset}\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
)
HEADER_2 = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
)
SIGNON = (
    "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
    "<DTSERVER>20261102<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>\n"
)


def sgml(
    transactions: str,
    *,
    charset: str = "1252",
    currency: str = "USD",
    bank_id: str = "121000248",
    ledger: str = "<LEDGERBAL><BALAMT>1500.00<DTASOF>20261102</LEDGERBAL>\n",
) -> str:
    return (
        HEADER_1.format(charset=charset) + "<OFX>\n" + SIGNON + "<BANKMSGSRSV1><STMTTRNRS>"
        "<TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n<STMTRS>\n"
        f"<CURDEF>{currency}\n<BANKACCTFROM><BANKID>{bank_id}<ACCTID>9000000001"
        "<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        f"<BANKTRANLIST><DTSTART>20261101<DTEND>20261102\n{transactions}</BANKTRANLIST>\n"
        f"{ledger}</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n"
    )


def stmttrn(amount: str = "1500.00", **fields: str) -> str:
    values = {"TRNTYPE": "CREDIT", "DTPOSTED": "20261101120000.000[-5:EST]", "TRNAMT": amount,
              "FITID": "F1", "NAME": "GLOBEX CORP", "MEMO": "INV-1001 INV-1002"}  # fmt: skip
    values.update(fields)
    body = "".join(f"<{name}>{value}\n" for name, value in values.items() if value is not None)
    return f"<STMTTRN>\n{body}</STMTTRN>\n"


def only(text: str | bytes):  # type: ignore[no-untyped-def]
    data = text.encode("cp1252") if isinstance(text, str) else text
    [statement] = parse_ofx(data, "t.ofx").statements
    [txn] = statement.transactions
    return txn


def test_statement_and_transaction_fields() -> None:
    parsed = parse_ofx(sgml(stmttrn()).encode(), "t.ofx")
    assert parsed.format == "ofx"
    [statement] = parsed.statements
    assert (statement.account, statement.currency) == ("9000000001", "USD")
    assert statement.closing_balance == Money(150000, "USD")
    assert statement.opening_balance is None
    assert str(statement.date) == "2026-11-02"
    [txn] = statement.transactions
    assert txn.amount == Money(150000, "USD")
    assert txn.direction is Direction.CREDIT
    assert str(txn.entry_date) == str(txn.value_date) == "2026-11-01"  # the date written
    assert (txn.bank_reference, txn.type_code) == ("F1", "CREDIT")
    assert (txn.payer_name, txn.remittance) == ("GLOBEX CORP", "INV-1001 INV-1002")
    assert (txn.first_line, txn.last_line) == (18, 25)


def test_negative_amount_is_a_debit_without_payer() -> None:
    txn = only(sgml(stmttrn("-80.25", TRNTYPE="DEBIT")))
    assert (txn.direction, txn.amount.minor, txn.payer_name) == (Direction.DEBIT, 8025, None)


def test_zero_amount_takes_its_direction_from_the_type() -> None:
    assert only(sgml(stmttrn("0.00", TRNTYPE="FEE"))).direction is Direction.DEBIT
    assert only(sgml(stmttrn("0", TRNTYPE="INT"))).direction is Direction.CREDIT


def test_check_number_and_available_date() -> None:
    txn = only(sgml(stmttrn(CHECKNUM="1001", DTAVAIL="20261103")))
    assert (txn.customer_reference, str(txn.value_date)) == ("1001", "2026-11-03")


def test_payee_aggregate_name_and_transaction_currency() -> None:
    txn = only(sgml(stmttrn(NAME=None) .replace("<MEMO>", "<PAYEE><NAME>ACME<ADDR1>1 Main"
                "</PAYEE><CURRENCY><CURRATE>1.1<CURSYM>EUR</CURRENCY><MEMO>")))  # fmt: skip
    assert (txn.payer_name, txn.currency) == ("ACME", "EUR")


def test_ofx_2_xml_with_closing_tags_and_entities() -> None:
    xml = (
        HEADER_2 + "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF>"
        "<BANKACCTFROM><BANKID>1</BANKID><ACCTID>DE02</ACCTID></BANKACCTFROM><BANKTRANLIST>"
        "<STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20261101</DTPOSTED><TRNAMT>12.50</TRNAMT>"
        "<FITID>X</FITID><NAME>M&amp;S &#252;ber</NAME></STMTTRN></BANKTRANLIST>"
        "<LEDGERBAL><BALAMT>-1.00</BALAMT><DTASOF>20261102</DTASOF></LEDGERBAL>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )
    [statement] = parse_ofx(xml.encode(), "t.ofx").statements
    assert statement.closing_balance == Money(-100, "EUR")
    assert statement.transactions[0].payer_name == "M&S über"


def test_credit_card_and_several_statements() -> None:
    card = sgml(stmttrn()).replace("STMTRS>", "CCSTMTRS>").replace("BANKACCTFROM", "CCACCTFROM")
    bank = sgml(stmttrn("-1.00", FITID="F2"))
    both = card.replace("</OFX>", "") + bank[bank.index("<OFX>") + len("<OFX>") :]
    statements = parse_ofx(both.encode(), "t.ofx").statements
    assert [len(s.transactions) for s in statements] == [1, 1]


def test_fitid_is_kept_for_deduplication_even_when_repeated() -> None:
    [statement] = parse_ofx(sgml(stmttrn() + stmttrn()).encode(), "t.ofx").statements
    assert [t.bank_reference for t in statement.transactions] == ["F1", "F1"]


def test_bankid_longer_than_nine_characters_is_read() -> None:
    assert only(sgml(stmttrn(), bank_id="5472369148123")).amount.minor == 150000


def test_quirk_missing_ledgerbal() -> None:
    [statement] = parse_ofx(sgml(stmttrn(), ledger="").encode(), "t.ofx").statements
    assert statement.closing_balance is None
    assert str(statement.date) == "2026-11-02"  # DTEND


@pytest.mark.parametrize("ledger", ["<LEDGERBAL><BALAMT/><DTASOF/></LEDGERBAL>",
                                    "<LEDGERBAL><BALAMT> </BALAMT></LEDGERBAL>"])  # fmt: skip
def test_quirk_empty_ledgerbal(ledger: str) -> None:
    [statement] = parse_ofx(sgml(stmttrn(), ledger=ledger).encode(), "t.ofx").statements
    assert statement.closing_balance is None


def test_quirk_empty_curdef_takes_the_transactions_currency() -> None:
    text = sgml(stmttrn().replace("<MEMO>", "<CURRENCY><CURRATE>1<CURSYM>AUD</CURRENCY><MEMO>"),
                currency="", ledger="")  # fmt: skip
    assert parse_ofx(text.encode(), "t.ofx").statements[0].currency == "AUD"
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_ofx(sgml(stmttrn(), currency="").encode(), "t.ofx")
    assert caught.value.field == "CURDEF"


def test_quirk_decimal_comma() -> None:
    assert only(sgml(stmttrn("-12,50"))).amount.minor == 1250


def test_quirk_no_header_and_no_newlines() -> None:
    text = sgml(stmttrn())
    body = text[text.index("<OFX>") :].replace("\r", "").replace("\n", "")
    txn = only(body)
    assert (txn.first_line, txn.amount.minor) == (1, 150000)


def test_quirk_comments_are_ignored_and_lines_kept() -> None:
    text = sgml("<!-- <STMTTRN><TRNAMT>9</STMTTRN>\n -->\n" + stmttrn())
    assert only(text).first_line == 20


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("1252", "CAFÉ €".encode("cp1252"), "CAFÉ €"),
        ("NONE", "CAF\xc9".encode("cp1252"), "CAFÉ"),
        ("8859-1", b"CAF\xc9 \x80", "CAFÉ \x80"),
        ("1252", "CAFÉ Łódź".encode(), "CAFÉ Łódź"),  # quirk mislabelled-charset: UTF-8 body
    ],
)
def test_encodings(charset: str, body: bytes, expected: str) -> None:
    text = sgml(stmttrn(NAME="@@"), charset=charset).encode("ascii")
    assert only(text.replace(b"@@", body)).payer_name == expected


def test_status_error_is_refused_not_read_as_empty() -> None:
    failed = sgml(stmttrn()).replace("<CODE>0<SEVERITY>INFO", "<CODE>15500<SEVERITY>ERROR"
                                     "<MESSAGE>Signon invalid", 1)  # fmt: skip
    with pytest.raises(BankFileError) as caught:
        parse_ofx(failed.encode(), "t.ofx")
    assert caught.value.field == "STATUS"
    assert "15500" in caught.value.message


@pytest.mark.parametrize(
    ("transaction", "field"),
    [
        (stmttrn("$120"), "TRNAMT"),
        (stmttrn("1.005"), "TRNAMT"),
        (stmttrn(None), "TRNAMT"),
        (stmttrn(DTPOSTED="20120231"), "DTPOSTED"),
        (stmttrn(DTPOSTED=""), "DTPOSTED"),
        (stmttrn().replace("</STMTTRN>", ""), "STMTTRN"),
    ],
)
def test_invalid_transactions_name_field_and_line(transaction: str, field: str) -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_ofx(sgml(transaction).encode(), "t.ofx")
    assert caught.value.field == field
    assert caught.value.line is not None
    assert caught.value.line >= 18


def test_transaction_outside_a_statement_is_not_dropped() -> None:
    text = sgml("").replace("<BANKMSGSRSV1>", "<BANKMSGSRSV1>" + stmttrn())
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_ofx(text.encode(), "t.ofx")
    assert caught.value.field == "STMTTRN"


def test_not_ofx() -> None:
    for data in (b"", b"01,BAI2/", b"<Document/>"):
        with pytest.raises(BankFileSyntaxError):
            parse_ofx(data, "t.ofx")


def test_detection() -> None:
    assert looks_like_ofx(b"OFXHEADER:100\r\n")
    assert looks_like_ofx(b'<?xml version="1.0"?><?OFX OFXHEADER="200"?>')
    assert looks_like_ofx(b"\n  <ofx>")
    assert not looks_like_ofx(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">')


def test_ofx_2_entities_declared_in_a_dtd_are_never_expanded() -> None:
    # OFX is tokenized, never handed to an XML parser: only the five XML entities
    # and character references are read; a declared entity stays literal text.
    evil = '<!DOCTYPE OFX [<!ENTITY lol "lol"><!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    body = sgml(stmttrn(NAME="&x;&lol;"))
    text = HEADER_2 + evil + body[body.index("<OFX>") :]
    assert only(text).payer_name == "&x;&lol;"


def test_an_unclosed_transaction_before_another_names_its_own_line() -> None:
    text = sgml(stmttrn(FITID="F1").replace("</STMTTRN>", "") + stmttrn(FITID="F2"))
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_ofx(text.encode(), "t.ofx")
    assert caught.value.field == "STMTTRN"
    assert caught.value.line == text.count("\n", 0, text.index("<STMTTRN>")) + 1


def test_transactions_outside_a_statement_are_counted_with_the_others() -> None:
    text = sgml(stmttrn()).replace("<BANKMSGSRSV1>", "<BANKMSGSRSV1>" + stmttrn(FITID="F0"))
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_ofx(text.encode(), "t.ofx")
    assert "1 of 2 transactions" in caught.value.message


def test_bank_card_and_investment_statements_are_read_in_file_order() -> None:
    bank = sgml(stmttrn(FITID="B1"))
    card = (
        "<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>2<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        "<CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4111</CCACCTFROM><BANKTRANLIST>\n"
        + stmttrn(FITID="C1")
        + "</BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>\n"
    )
    invest = (
        "<INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>3<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        "<INVSTMTRS><CURDEF>USD<INVACCTFROM><BROKERID>b.com<ACCTID>77</INVACCTFROM>"
        "<INVTRANLIST><INVBANKTRAN>\n"
        + stmttrn(FITID="I1")
        + "<SUBACCTFUND>CASH</INVBANKTRAN></INVTRANLIST></INVSTMTRS></INVSTMTTRNRS>"
        "</INVSTMTMSGSRSV1>\n"
    )
    text = bank.replace("</OFX>", card + invest + "</OFX>")
    statements = parse_ofx(text.encode(), "t.ofx").statements
    assert [s.account for s in statements] == ["9000000001", "4111", "77"]
    assert [s.transactions[0].bank_reference for s in statements] == ["B1", "C1", "I1"]


def test_transaction_types_and_dates_as_written_are_read_alike() -> None:
    text = sgml(
        stmttrn(TRNTYPE="credit", DTPOSTED="20261101")
        + stmttrn(TRNTYPE=" CREDIT ", DTPOSTED="20261101 ")
    )
    [statement] = parse_ofx(text.encode(), "t.ofx").statements
    assert {(t.type_code, str(t.entry_date)) for t in statement.transactions} == {
        ("CREDIT", "2026-11-01")
    }
