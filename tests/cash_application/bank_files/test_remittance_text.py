"""Payer, remittance and invoice references read from the free text banks write."""

from __future__ import annotations

import pytest

from cash_application.bank_files.remittance_text import (
    RemittanceFields,
    RmrLine,
    ach_fields,
    detail_values,
    extract_remittance,
    invoice_refs_from_rmr,
    parse_rmr,
    remittance_values,
    rmr_amounts,
    rmr_values,
    wire_tags,
)
from mappings.money import Money

ACH = (
    "ORIG CO NAME:ACME MFG         ORIG ID:1366043251 DESC DATE:261102 "
    "CO ENTRY DESCR:PAYMENT    SEC:CCD"
)
ACH_ENTRY = "TRACE#:021000021104412 EED:261102 IND ID:C001            IND NAME:ARLINK DEMO CO"


def test_ach_credit_payer_is_the_originator_not_the_receiver() -> None:
    fields = extract_remittance(ACH, [ACH_ENTRY, "ADDENDA:RMR*IV*INV-1001*1500.00\\"])
    assert fields.payer_name == "ACME MFG"
    assert fields.payer_account is None
    assert fields.invoice_refs == ("INV-1001",)
    # The whole narrative stays the remittance: nothing a clerk may need is dropped.
    assert fields.remittance == f"{ACH} {ACH_ENTRY} ADDENDA:RMR*IV*INV-1001*1500.00\\"
    assert fields.end_to_end_id is None


def test_ach_originator_in_one_line_with_other_keys_around_it() -> None:
    text = "CO ID:99 ORIG CO NAME:GLOBEX CORP CO DISCR:AP ORIG ID:2945811120 IND NAME:US"
    assert extract_remittance(text).payer_name == "GLOBEX CORP"
    assert extract_remittance("ORIG CO NAME:INITECH").payer_name == "INITECH"


def test_ach_fields_splits_every_key() -> None:
    fields = ach_fields(f"{ACH} {ACH_ENTRY}")
    assert fields["ORIG CO NAME"] == "ACME MFG"
    assert fields["ORIG ID"] == "1366043251"
    assert fields["SEC"] == "CCD"
    assert fields["IND ID"] == "C001"
    assert fields["IND NAME"] == "ARLINK DEMO CO"
    assert ach_fields("no keys here") == {}


def test_a_debit_names_no_payer() -> None:
    fields = extract_remittance("ORIG CO NAME:ADP PAYROLL ORIG ID:9659605001", credit=False)
    assert (fields.payer_name, fields.payer_account) == (None, None)
    assert fields.remittance == "ORIG CO NAME:ADP PAYROLL ORIG ID:9659605001"


def test_several_rmr_segments_give_every_invoice_once() -> None:
    text = "RMR*IV*INV-10047*2200.00\\RMR*IV*INV-10048*1875.50\\RMR*IV*INV-10047*0.00\\"
    assert invoice_refs_from_rmr(text) == ("INV-10047", "INV-10048")
    assert extract_remittance("ADDENDA:" + text).invoice_refs == ("INV-10047", "INV-10048")


def test_rmr_amounts_in_standard_and_short_form() -> None:
    text = "RMR*IV*INV-1*PI*1500.00*1530.00*30.00~RMR*OI*OLD-7*99.5\\RMR*IV* *1\\RMR*PO*P-1*5\\"
    assert parse_rmr(text) == (
        RmrLine("IV", "INV-1", "1500.00"),
        RmrLine("OI", "OLD-7", "99.5"),
    )
    assert invoice_refs_from_rmr("RMR*IV**12.00\\") == ()


def test_rmr_amounts_as_money_first_per_reference_and_only_when_the_currency_holds_them() -> None:
    text = "RMR*IV*INV-1*PI*1500.00~RMR*IV*INV-1*0.00~RMR*IV*INV-2*1.005~RMR*IV*INV-3\\"
    assert rmr_amounts(text, "USD") == (("INV-1", Money(150000, "USD")),)
    assert rmr_amounts("RMR*IV*INV-2*1.005\\", "BHD") == (("INV-2", Money(1005, "BHD")),)


def test_wire_originator_with_account_and_obi_remittance() -> None:
    text = "WIRE IN ORG=/123456789 ACME MANUFACTURING INC OGB=JPMORGAN CHASE OBI=INV-10042 REF=X1"
    fields = extract_remittance(text)
    assert fields == RemittanceFields(
        payer_name="ACME MANUFACTURING INC",
        payer_account="123456789",
        remittance="INV-10042",
        invoice_refs=(),
        end_to_end_id=None,
    )


def test_wire_originator_without_account() -> None:
    fields = extract_remittance("ORG=UMBRELLA CORPORATION OBI=PAYMENT FOR INV-10050")
    assert (fields.payer_name, fields.payer_account) == ("UMBRELLA CORPORATION", None)
    assert fields.remittance == "PAYMENT FOR INV-10050"


def test_wire_tags_need_a_blank_before_them() -> None:
    assert wire_tags("ORG=/1 A OBI=B TAXID=C") == {"ORG": "/1 A", "OBI": "B TAXID=C"}
    assert wire_tags("A=B no tags") == {}
    assert extract_remittance("PAY XORG=SOMEONE").payer_name is None


def test_by_order_of() -> None:
    fields = extract_remittance("WIRE IN B/O SOYLENT CORP  1 GREEN WAY NEW YORK OBI=INV-10060")
    assert (fields.payer_name, fields.remittance) == ("SOYLENT CORP", "INV-10060")
    fields = extract_remittance("B/O: /55501 VANDELAY INDUSTRIES REF:20261103")
    assert (fields.payer_account, fields.payer_name) == ("55501", "VANDELAY INDUSTRIES")
    assert extract_remittance("B/O CUSTOMER=HOOLI INC").payer_name == "HOOLI INC"


def test_svb_colon_equals_lines() -> None:
    fields = extract_remittance(
        "FED NO: 20100831L1B77D1CDSDSDJSIO15608310954FT01",
        [
            "SENDER BNK:=ETRADE BANK",
            "ORG:=OPTIONS LINK WIRE CLEARING",
            "ORG ADDRESS:=2/AV MAIN 2/AVENUE",
            "/MEXICO ;",
            "BNF NAME:=YOUR NAME HERE INC",
            "OBI:=INVOICE 123456",
        ],
    )
    assert (fields.payer_name, fields.remittance) == (
        "OPTIONS LINK WIRE CLEARING",
        "INVOICE 123456",
    )


def test_goldman_keyed_lines() -> None:
    fields = extract_remittance(
        'Incoming Wire,From: TEST AND COMPANY, Remittance Info: "INV 7", GS ID: GI2323300007089',
        [
            "CREF:",
            "REMI: INV 7 AND INV 8",
            "EREF: 20230821J1Q5040C000707",
            "CRNM: SAMPLE INC",
            "CACT: 609873838",
            "DBNM: TEST AND COMPANY",
            "DACT: 000001000600427",
        ],
    )
    assert fields.payer_name == "TEST AND COMPANY"
    # CACT is the creditor's (our own) account, never the payer's.
    assert fields.payer_account == "000001000600427"
    assert fields.remittance == "INV 7 AND INV 8"
    assert fields.end_to_end_id == "20230821J1Q5040C000707"


def test_goldman_lines_without_remittance_keep_the_whole_text() -> None:
    fields = extract_remittance("ACH Credit Payment,SEC: CCD", ["EREF: 1111", "DBNM: TEST INC"])
    assert fields.remittance == "ACH Credit Payment,SEC: CCD EREF: 1111 DBNM: TEST INC"
    assert (fields.payer_name, fields.end_to_end_id) == ("TEST INC", "1111")


@pytest.mark.parametrize(
    "text",
    ["RETURNED CHEQUE", "Check Paid,-", "FR:FP SIP INCOMING PY:RP1231 22/03/66", "", "A=B"],
)
def test_no_convention_leaves_the_whole_text_and_no_payer(text: str) -> None:
    assert extract_remittance(text) == RemittanceFields(None, None, text, (), None)


def test_continuations_are_joined_with_a_blank_and_empty_ones_skipped() -> None:
    assert extract_remittance("", ["LVP INT", "", "RELAY TFR"]).remittance == "LVP INT RELAY TFR"


def test_plain_tuple_form_is_the_same() -> None:
    text, more = ACH, [ACH_ENTRY, "ADDENDA:RMR*IV*INV-1*1.00\\"]
    assert remittance_values(text, more, True) == tuple(extract_remittance(text, more))


RMR_TEXTS = [
    "TRACE#:1 RMR*IV*INV-1*1500.00\\",  # the common short form
    "RMR*IV*INV-1*PI*1500.00*1530.00*30.00~",  # the standard form, with an action code
    "RMR*OI* OLD-7 *99.50",  # blanks around the reference, at the end of the text
    "RMR*IV*INV-1*1500",  # no decimals
    "RMR*IV*INV-1* 12.34 \\",  # blanks around the amount
    "RMR*IV*INV-1*1.005\\",  # more decimals than cents
    "RMR*IV*INV-1*12.340\\",  # a trailing zero
    "RMR*IV*INV-1*PI\\",  # no amount
    "RMR*IV**12.00\\",  # no reference
    "RMR*PO*P-1*5.00\\",  # not an invoice
    "RMR*IV*INV-1*١٢.٠٠\\",  # non-ASCII digits: read by Money.parse
    "RMR*IV*INV-1*1500.00X",  # the amount runs on: not a decimal element
    "RMR*IV*INV-1*10.00~RMR*IV*INV-2*20.00~RMR*IV*INV-1*0.00",  # several segments
]


@pytest.mark.parametrize("text", RMR_TEXTS)
@pytest.mark.parametrize("currency", ["USD", "usd", "JPY", "BHD", "XX1"])
def test_rmr_values_is_invoice_refs_and_rmr_amounts_in_one_pass(text: str, currency: str) -> None:
    assert rmr_values(text, currency) == (
        invoice_refs_from_rmr(text),
        rmr_amounts(text, currency),
    )


@pytest.mark.parametrize("text", [ACH, "CHECK PAID", "ORG=/123 ACME OBI=INV 1", *RMR_TEXTS])
@pytest.mark.parametrize("credit", [True, False])
def test_detail_values_is_remittance_values_and_the_rmr_amounts(text: str, credit: bool) -> None:
    paid = Money(150000, "USD")
    more = [ACH_ENTRY]
    values = detail_values(text, more, credit, paid)
    assert values[:5] == remittance_values(text, more, credit)
    assert values[5] == rmr_amounts(f"{text} {ACH_ENTRY}", "USD")


def test_an_invoice_paid_in_full_shares_the_transaction_amount() -> None:
    paid = Money(150000, "USD")
    amounts = detail_values("RMR*IV*INV-1*1500.00\\", (), True, paid)[5]
    assert amounts == (("INV-1", paid),)
    assert amounts[0][1] is paid
    assert detail_values("RMR*IV*INV-1*1400.00\\", (), True, paid)[5] == (
        ("INV-1", Money(140000, "USD")),
    )
