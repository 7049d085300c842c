"""camt.052/053/054: one test per feature and per named quirk, on small built messages."""

from __future__ import annotations

import pytest

from cash_application.bank_files.camt import parse_camt
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.records import Direction
from cash_application.bank_files.to_json import parsed_file_to_json
from cash_application.bank_files.values import minor_units
from mappings.money import Money

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def message(
    body: str,
    *,
    namespace: str | None = NS,
    root: str = "BkToCstmrStmt",
    container: str = "Stmt",
    account: str = "<Acct><Id><IBAN>BE68793230773034</IBAN></Id><Ccy>EUR</Ccy></Acct>",
) -> bytes:
    xmlns = f' xmlns="{namespace}"' if namespace is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}>\n<{root}>\n'
        f"<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-02T06:00:00</CreDtTm></GrpHdr>\n"
        f"<{container}>\n<Id>S1</Id>\n<CreDtTm>2026-11-02T06:00:00</CreDtTm>\n{account}\n"
        f"{body}</{container}>\n</{root}>\n</Document>\n"
    ).encode()


def balance(code: str, amount: str, indicator: str | None = "CRDT", day: str = "2026-11-01") -> str:
    cdi = f"<CdtDbtInd>{indicator}</CdtDbtInd>" if indicator else ""
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{amount}</Amt>{cdi}<Dt><Dt>{day}</Dt></Dt></Bal>\n'
    )


def entry(
    amount: str,
    indicator: str = "CRDT",
    *,
    details: str = "",
    status: str | None = "<Sts>BOOK</Sts>",
    extra: str = "",
) -> str:
    dtls = f"<NtryDtls>{details}</NtryDtls>" if details else ""
    return (
        f'<Ntry>\n<Amt Ccy="EUR">{amount}</Amt>\n<CdtDbtInd>{indicator}</CdtDbtInd>\n'
        f"{extra}{status or ''}<BookgDt><Dt>2026-11-01</Dt></BookgDt>"
        f"<ValDt><DtTm>2026-11-02T10:00:00+01:00</DtTm></ValDt>"
        f"<AcctSvcrRef>BANKREF1</AcctSvcrRef>\n{dtls}</Ntry>\n"
    )


def detail(amount: str | None = None, *, inner: str = "") -> str:
    amt = f'<Amt Ccy="EUR">{amount}</Amt>' if amount is not None else ""
    return f"<TxDtls>\n{amt}{inner}</TxDtls>\n"


def only_transaction(data: bytes):  # type: ignore[no-untyped-def]
    parsed = parse_camt(data, "t.xml")
    [statement] = parsed.statements
    [txn] = statement.transactions
    return txn


def test_statement_account_balances_and_date() -> None:
    data = message(balance("OPBD", "100.00") + balance("CLBD", "150.00", day="2026-11-02")
                   + entry("50.00"))  # fmt: skip
    parsed = parse_camt(data, "t.xml")
    assert parsed.format == "camt.053"
    [statement] = parsed.statements
    assert statement.account == "BE68793230773034"
    assert statement.currency == "EUR"
    assert statement.opening_balance == Money(10000, "EUR")
    assert statement.closing_balance == Money(15000, "EUR")
    assert str(statement.date) == "2026-11-02"


def test_entry_fields() -> None:
    txn = only_transaction(message(entry("1500.5")))
    assert txn.amount == Money(150050, "EUR")
    assert txn.direction is Direction.CREDIT
    assert str(txn.entry_date) == "2026-11-01"
    assert str(txn.value_date) == "2026-11-02"  # DtTm read as the date written
    assert txn.bank_reference == "BANKREF1"
    assert txn.first_line == 9
    assert not txn.reversal


def test_previous_closing_is_the_opening_when_there_is_no_opbd() -> None:
    data = message(balance("PRCD", "10.00") + balance("CLBD", "5.00") + entry("5.00", "DBIT"))
    [statement] = parse_camt(data, "t.xml").statements
    assert statement.opening_balance == Money(1000, "EUR")


def test_balances_that_do_not_reconcile_are_an_integrity_error() -> None:
    data = message(balance("OPBD", "100.00") + balance("CLBD", "149.99") + entry("50.00"))
    with pytest.raises(BankFileIntegrityError) as caught:
        parse_camt(data, "t.xml")
    assert caught.value.field == "Bal/Amt"
    assert caught.value.line == 10  # the CLBD balance
    assert "150.00" in caught.value.message
    parse_camt(data, "t.xml", check_integrity=False)


def test_debit_balance_and_entries_count_with_their_sign() -> None:
    data = message(
        balance("OPBD", "10.00", "DBIT") + balance("CLBD", "15.00")
        + entry("30.00") + entry("5.00", "DBIT")
    )  # fmt: skip
    [statement] = parse_camt(data, "t.xml").statements
    assert statement.opening_balance == Money(-1000, "EUR")


def test_pending_entries_are_transactions_but_not_booked_movements() -> None:
    data = message(
        balance("OPBD", "10.00") + balance("CLBD", "10.00")
        + entry("99.00", status="<Sts>PDNG</Sts>")
        + entry("1.00", status="<Sts><Cd>INFO</Cd></Sts>")
    )  # fmt: skip
    [statement] = parse_camt(data, "t.xml").statements
    assert len(statement.transactions) == 2


def test_status_as_code_from_version_08() -> None:
    data = message(
        balance("OPBD", "10.00") + balance("CLBD", "10.00")
        + entry("5.00", status="<Sts><Cd>PDNG</Cd></Sts>"),
        namespace="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
    )  # fmt: skip
    parse_camt(data, "t.xml")  # PDNG is not a booked movement: balances agree


def test_quirk_entry_without_status_is_booked() -> None:
    data = message(balance("OPBD", "10.00") + balance("CLBD", "10.00") + entry("5.00", status=None))
    with pytest.raises(BankFileIntegrityError):
        parse_camt(data, "t.xml")


def test_quirk_balance_without_indicator_is_a_credit() -> None:
    data = message(balance("OPBD", "10.00", None) + balance("CLBD", "15.00", None) + entry("5.00"))
    [statement] = parse_camt(data, "t.xml").statements
    assert statement.closing_balance == Money(1500, "EUR")


def test_reversal_keeps_the_direction_the_bank_booked() -> None:
    # A credit with RvslInd true reverses an earlier debit: money came in.
    txn = only_transaction(message(entry("20.00", extra="<RvslInd>true</RvslInd>")))
    assert txn.reversal
    assert txn.direction is Direction.CREDIT


def test_batch_booking_becomes_one_transaction_per_detail() -> None:
    details = detail("10.00", inner="<Refs><EndToEndId>E1</EndToEndId></Refs>") + detail(
        "15.00", inner="<Refs><EndToEndId>E2</EndToEndId></Refs>"
    )
    data = message(entry("25.00", details=f"<Btch><NbOfTxs>2</NbOfTxs></Btch>{details}"))
    [statement] = parse_camt(data, "t.xml").statements
    assert [t.amount.minor for t in statement.transactions] == [1000, 1500]
    assert [t.end_to_end_id for t in statement.transactions] == ["E1", "E2"]
    assert [t.bank_reference for t in statement.transactions] == ["BANKREF1", "BANKREF1"]
    first, second = statement.transactions
    assert first.first_line < first.last_line < second.first_line <= second.last_line


def test_batch_details_in_version_02_carry_their_amount_in_amtdtls() -> None:
    def amount_details(value: str) -> str:
        return f'<AmtDtls><TxAmt><Amt Ccy="EUR">{value}</Amt></TxAmt></AmtDtls>'

    details = detail(inner=amount_details("1.00")) + detail(inner=amount_details("2.00"))
    [statement] = parse_camt(message(entry("3.00", details=details)), "t.xml").statements
    assert [t.amount.minor for t in statement.transactions] == [100, 200]


def test_batch_details_that_do_not_add_up_are_an_integrity_error() -> None:
    data = message(entry("26.00", details=detail("10.00") + detail("15.00")))
    with pytest.raises(BankFileIntegrityError) as caught:
        parse_camt(data, "t.xml")
    assert caught.value.field == "TxDtls/Amt"
    lenient = parse_camt(data, "t.xml", check_integrity=False)
    assert len(lenient.statements[0].transactions) == 2


def test_quirk_batch_details_without_amount_stay_one_transaction() -> None:
    def remit(text: str) -> str:
        return f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf>"

    data = message(
        entry("25.00", details=detail(inner=remit("INV-1")) + detail(inner=remit("INV-2")))
    )
    txn = only_transaction(data)
    assert txn.amount.minor == 2500
    assert txn.remittance == "INV-1 INV-2"


def test_single_detail_takes_the_entry_amount() -> None:
    # genkgo's .08 sample: a 0 SEK detail under an 8.85 EUR entry; the entry is what was booked.
    data = message(entry("8.85", details='<TxDtls><Amt Ccy="SEK">0</Amt></TxDtls>'))
    assert only_transaction(data).amount == Money(885, "EUR")


PARTIES = """<RltdPties>
<Dbtr><Nm>Globex Corporation</Nm></Dbtr>
<DbtrAcct><Id><IBAN>BE91516952884376</IBAN></Id></DbtrAcct>
<UltmtDbtr><Nm>Globex Subsidiary</Nm></UltmtDbtr>
<Cdtr><Nm>Us</Nm></Cdtr>
</RltdPties>"""

PARTIES_08 = """<RltdPties>
<Dbtr><Pty><Nm>Globex Corporation</Nm></Pty></Dbtr>
<DbtrAcct><Id><Othr><Id>0012345678</Id></Othr></Id></DbtrAcct>
</RltdPties>"""


def test_debtor_name_and_account_are_the_payer_of_a_credit() -> None:
    txn = only_transaction(message(entry("1.00", details=detail(inner=PARTIES))))
    assert (txn.payer_name, txn.payer_account) == ("Globex Corporation", "BE91516952884376")


def test_debtor_nested_under_pty_from_version_08() -> None:
    txn = only_transaction(message(entry("1.00", details=detail(inner=PARTIES_08))))
    assert (txn.payer_name, txn.payer_account) == ("Globex Corporation", "0012345678")


def test_ultimate_debtor_names_the_payer_when_the_debtor_has_no_name() -> None:
    inner = "<RltdPties><UltmtDbtr><Pty><Nm>Globex Subsidiary</Nm></Pty></UltmtDbtr></RltdPties>"
    txn = only_transaction(message(entry("1.00", details=detail(inner=inner))))
    assert txn.payer_name == "Globex Subsidiary"


def test_a_debit_has_no_payer() -> None:
    txn = only_transaction(message(entry("1.00", "DBIT", details=detail(inner=PARTIES))))
    assert txn.payer_name is None
    assert txn.ultimate_payer is None


def test_ultimate_debtor_is_kept_beside_the_debtor() -> None:
    txn = only_transaction(message(entry("1.00", details=detail(inner=PARTIES))))
    assert (txn.payer_name, txn.ultimate_payer) == ("Globex Corporation", "Globex Subsidiary")
    plain = only_transaction(message(entry("1.00", details=detail(inner=PARTIES_08))))
    assert plain.ultimate_payer is None


REMITTANCE = """<Refs><InstrId>NOTPROVIDED</InstrId><EndToEndId>NOTPROVIDED</EndToEndId>
<TxId>T1</TxId><ChqNb>000123</ChqNb></Refs>
<RmtInf>
<Ustrd>Invoices INV-1001</Ustrd><Ustrd>and INV-1002</Ustrd>
<Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>INV-1001</Nb></RfrdDocInf>
<RfrdDocAmt><RmtdAmt Ccy="EUR">10.00</RmtdAmt></RfrdDocAmt></Strd>
<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18539007547034</Ref>
</CdtrRefInf><AddtlRmtInf>thank you</AddtlRmtInf></Strd>
<Strd><RfrdDocInf><Nb>INV-1001</Nb></RfrdDocInf></Strd>
</RmtInf>"""


def test_remittance_unstructured_and_structured() -> None:
    txn = only_transaction(message(entry("1.00", details=detail(inner=REMITTANCE))))
    assert txn.remittance == "Invoices INV-1001 and INV-1002 thank you"
    assert txn.invoice_refs == ("INV-1001", "RF18539007547034")
    assert txn.end_to_end_id is None  # NOTPROVIDED
    assert txn.customer_reference == "000123"
    assert txn.bank_reference == "BANKREF1"
    # The remitted amount of the one document its `Strd` names; the second mention of
    # INV-1001 gives none, and the RF reference's `Strd` none either.
    assert txn.invoice_amounts == (("INV-1001", Money(1000, "EUR")),)


def test_referred_amount_due_when_nothing_remitted_and_none_for_several_documents() -> None:
    inner = """<RmtInf>
<Strd><RfrdDocInf><Nb>INV-1</Nb></RfrdDocInf>
<RfrdDocAmt><DuePyblAmt Ccy="EUR">5.50</DuePyblAmt></RfrdDocAmt></Strd>
<Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf>
<RfrdDocAmt><RmtdAmt Ccy="EUR">2.00</RmtdAmt><DuePyblAmt Ccy="EUR">3.00</DuePyblAmt>
</RfrdDocAmt></Strd>
<Strd><RfrdDocInf><Nb>INV-2</Nb></RfrdDocInf><RfrdDocInf><Nb>INV-3</Nb></RfrdDocInf>
<RfrdDocAmt><RmtdAmt Ccy="EUR">9.00</RmtdAmt></RfrdDocAmt></Strd>
</RmtInf>"""
    txn = only_transaction(message(entry("1.00", details=detail(inner=inner))))
    assert txn.invoice_refs == ("INV-1", "RF18539007547034", "INV-2", "INV-3")
    assert txn.invoice_amounts == (
        ("INV-1", Money(550, "EUR")),
        ("RF18539007547034", Money(200, "EUR")),
    )


def test_a_referred_amount_without_currency_names_its_field() -> None:
    inner = """<RmtInf><Strd><RfrdDocInf><Nb>INV-1</Nb></RfrdDocInf>
<RfrdDocAmt><RmtdAmt>5.50</RmtdAmt></RfrdDocAmt></Strd></RmtInf>"""
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(message(entry("1.00", details=detail(inner=inner))), "t.xml")
    assert caught.value.field == "RfrdDocAmt/RmtdAmt"
    assert caught.value.line is not None


def test_remittance_from_additional_entry_information_only() -> None:
    txn = only_transaction(message(entry("1.00", extra="<AddtlNtryInf>SEPA INV-7</AddtlNtryInf>")))
    assert txn.remittance == "SEPA INV-7"


def test_bank_transaction_code() -> None:
    code = "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>"
    domain = only_transaction(message(entry("1.00", extra=code + "</BkTxCd>")))
    assert domain.type_code == "PMNT/RCDT/ESCT"
    proprietary = "<BkTxCd><Prtry><Cd>NTRF+166</Cd><Issr>DK</Issr></Prtry></BkTxCd>"
    assert only_transaction(message(entry("1.00", extra=proprietary))).type_code == "NTRF+166"


@pytest.mark.parametrize(
    ("root", "container", "namespace", "expected"),
    [
        ("BkToCstmrAcctRpt", "Rpt", "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08", "camt.052"),
        ("BkToCstmrDbtCdtNtfctn", "Ntfctn", "urn:iso:std:iso:20022:tech:xsd:camt.054.001.13",
         "camt.054"),
        ("BkToCstmrStmt", "Stmt", "urn:iso:std:iso:20022:tech:xsd:camt.053.001.10", "camt.053"),
        ("BkToCstmrAcctRptV01", "Rpt", "urn:iso:std:iso:20022:tech:xsd:camt.052.001.01",
         "camt.052"),
    ],
)  # fmt: skip
def test_reports_and_notifications_are_not_silently_empty(
    root: str, container: str, namespace: str, expected: str
) -> None:
    data = message(entry("1.00"), root=root, container=container, namespace=namespace)
    parsed = parse_camt(data, "t.xml")
    assert parsed.format == expected
    assert len(parsed.statements[0].transactions) == 1


def test_quirk_unversioned_namespace_names_the_format_by_its_message() -> None:
    assert parse_camt(message(entry("1.00"), namespace=None), "t.xml").format == "camt.053"
    data = message(entry("1.00"), namespace="urn:iso:std:iso:20022:tech:xsd:camt.053")
    assert parse_camt(data, "t.xml").format == "camt.053"


def test_prefixed_namespace() -> None:
    data = message(entry("1.00")).replace(b"<", b"<c:").replace(b"<c:/", b"</c:")
    data = data.replace(b"<c:?xml", b"<?xml").replace(b'xmlns="', b'xmlns:c="')
    assert only_transaction(data).amount.minor == 100


def test_amount_with_trailing_zeros_beyond_the_currency_is_exact() -> None:
    assert only_transaction(message(entry("8.85000"))).amount.minor == 885


@pytest.mark.parametrize(
    ("amount", "field"),
    [("8.851", "Ntry/Amt"), ("-5.00", "Ntry/Amt"), ("1e3", "Ntry/Amt"), ("", "Ntry/Amt")],
)
def test_bad_amounts_are_syntax_errors(amount: str, field: str) -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(message(entry(amount)), "t.xml")
    assert (caught.value.field, caught.value.line) == (field, 10)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (message(entry("1.00", "UP")), "Ntry/CdtDbtInd"),
        (message(entry("1.00").replace('Ccy="EUR"', 'Ccy="EURO"')), "Ntry/Amt@Ccy"),
        (message(entry("1.00").replace("2026-11-01", "2026-13-01")), "Ntry/BookgDt"),
        (message(entry("1.00"), account="<Acct><Ccy>EUR</Ccy></Acct>"), "Acct/Id"),
        (message(entry("1.00"), account=""), "Acct"),
        (message("", namespace="urn:iso:std:iso:20022:tech:xsd:camt.053.001.99"), "xmlns"),
        (message("", namespace="urn:example:other"), "xmlns"),
        (
            message("", namespace="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"),
            "xmlns",
        ),
    ],
)
def test_invalid_content_names_its_field(data: bytes, field: str) -> None:
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(data, "t.xml")
    assert caught.value.field == field
    assert caught.value.file == "t.xml"


def test_not_xml_or_not_camt() -> None:
    for data in (b"", b"01,BAI2", b"<Document><Unknown/></Document>", b"<Other/>",
                 message(entry("1.00"))[:-30]):  # fmt: skip
        with pytest.raises(BankFileSyntaxError):
            parse_camt(data, "t.xml")


def test_truncated_file_reports_the_line() -> None:
    data = message(entry("1.00"))
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(data[: data.index(b"</Ntry>")], "t.xml")
    assert caught.value.line is not None


def test_entry_outside_a_statement_is_refused() -> None:
    data = message("").replace(b"<Stmt>", b"<Ntry><Amt Ccy='EUR'>1</Amt></Ntry><Stmt>")
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(data, "t.xml")
    assert caught.value.field == "Ntry"


@pytest.mark.parametrize(
    ("text", "exponent", "expected"),
    [
        ("-1234.56", 2, -123456), ("+7.25", 2, 725), ("-.56", 2, -56), ("0.5", 2, 50),
        ("12", 2, 1200), ("8.850", 2, 885), ("+.00", 2, 0), ("5442.09000", 2, 544209),
        ("1200", 0, 1200), ("1.000", 0, 1), ("1.5", 0, None), ("1.2345", 3, None),
        ("1.2.34", 2, None), ("--1.23", 2, None), ("1.234", 2, None), (".", 2, None),
        ("-", 2, None), ("", 2, None), ("1 .23", 2, None), ("\u0661.23", 2, None),
        ("1e3", 2, None), ("1,000.00", 2, None),
    ],
)  # fmt: skip
def test_minor_units_are_exact(text: str, exponent: int, expected: int | None) -> None:
    assert minor_units(text, exponent) == expected


def test_comments_and_processing_instructions_are_ignored() -> None:
    inner = "<!-- c --><?pi x?><RmtInf><!-- c --><Ustrd>INV-<!-- x -->1</Ustrd></RmtInf>"
    txn = only_transaction(message(entry("1.00", details=detail(inner=inner), extra="<!-- -->")))
    assert txn.remittance == "INV-1"


def test_a_document_nested_in_another_root_is_refused() -> None:
    with pytest.raises(BankFileSyntaxError):
        parse_camt(b"<Wrapper>" + message(entry("1.00")).split(b"?>", 1)[1] + b"</Wrapper>", "t")


def test_default_namespace_read_the_same_however_it_is_declared() -> None:
    # The root's default namespace is blanked out of the input for speed (`_LocalNames`):
    # quotes, attributes before it and its line must not change what is read.
    plain = message(entry("1.00", details=detail(inner=PARTIES)))
    variants = [
        plain.replace(f'xmlns="{NS}"'.encode(), f"xmlns = '{NS}'".encode()),
        plain.replace(
            b"<Document ",
            b'<Document xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
            b'  xsi:schemaLocation="camt.053.001.02.xsd" ',
        ),
    ]
    expected = parsed_file_to_json(parse_camt(plain, "t.xml"))
    assert parsed_file_to_json(parse_camt(variants[0], "t.xml")) == expected
    moved = parsed_file_to_json(parse_camt(variants[1], "t.xml"))
    [txn], [expected_txn] = (
        moved["statements"][0]["transactions"],
        expected["statements"][0]["transactions"],
    )
    assert txn.pop("first_line") == expected_txn.pop("first_line") + 1
    assert txn.pop("last_line") == expected_txn.pop("last_line") + 1
    assert txn == expected_txn


def test_elements_that_declare_the_namespace_again_are_read() -> None:
    inner = f'<c:RmtInf xmlns:c="{NS}"><c:Ustrd>INV-7</c:Ustrd></c:RmtInf>'
    txn = only_transaction(message(entry("1.00", details=detail(inner=inner))))
    assert txn.remittance == "INV-7"
    redeclared = f'<RmtInf xmlns="{NS}"><Ustrd>INV-8</Ustrd></RmtInf>'
    txn = only_transaction(message(entry("1.00", details=detail(inner=redeclared))))
    assert txn.remittance == "INV-8"


def test_elements_of_another_namespace_are_not_read_as_camt() -> None:
    inner = '<RmtInf xmlns="urn:example:other"><Ustrd>NOT-CAMT</Ustrd></RmtInf>'
    txn = only_transaction(message(entry("1.00", details=detail(inner=inner))))
    assert txn.remittance == ""


def test_a_currency_written_in_lower_case_is_read_as_its_code_every_time() -> None:
    entries = entry("1.00").replace('Ccy="EUR"', 'Ccy="eur"') * 2
    parsed = parse_camt(message(entries), "t.xml")
    assert [txn.currency for txn in parsed.statements[0].transactions] == ["EUR", "EUR"]
