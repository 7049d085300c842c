"""The advice parsers beyond the golden files: detection, envelopes, layouts, errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cash_application.remittance_advices import (
    CSV_FORMAT,
    X12_FORMAT,
    AdviceIntegrityError,
    AdviceSyntaxError,
    CsvLayout,
    advice_format,
    parse_advice_file,
)
from cash_application.remittance_advices.csv_layout import RemittanceLayoutError
from cash_application.remittance_advices.x12_820 import parse_820
from mappings.money import Money

SAMPLES = Path(__file__).parent / "samples"
DIGEST = "d" * 64
BARE_820 = (
    b"ST*820*0001~BPR*I*300.00*C*ACH************20261102~TRN*1*TRACE-9~"
    b"N1*PR*GLOBEX CORP~RMR*IV*INV-1003**100.00~RMR*IV*INV-1004**200.00~SE*7*0001~"
)


def test_formats_are_detected_by_content_never_by_name() -> None:
    assert advice_format((SAMPLES / "ach_ctx_short_pay.820").read_bytes()) == X12_FORMAT
    assert advice_format((SAMPLES / "portal_upload.csv").read_bytes()) == CSV_FORMAT
    assert advice_format(BARE_820) == X12_FORMAT
    bai2 = b"01,021000021,ARLINK,261102,0600,1,,,2/\n02,ARLINK,021000021,1,261102,,USD,2/\n"
    assert advice_format(bai2) is None
    # An X12 810 invoice is not an advice, nor a CSV of invoices without trace or payer.
    x12_810 = (SAMPLES / "ach_ctx_short_pay.820").read_bytes().replace(b"ST*820", b"ST*810")
    assert advice_format(x12_810) is None
    assert advice_format(b"invoice_id,invoice_number,amount_open\n1,INV-1,10.00\n") is None


def test_an_820_without_envelope_reads_with_default_separators() -> None:
    (advice,) = parse_advice_file(BARE_820, "bare.820", file_digest=DIGEST)
    assert advice.amount == Money.parse("300.00", "USD")
    assert advice.trace == "TRACE-9"
    assert advice.payment_date == date(2026, 11, 2)
    assert [line.invoice_ref for line in advice.lines] == ["INV-1003", "INV-1004"]


def test_advice_ids_are_stable_and_distinct() -> None:
    data = (SAMPLES / "two_sets_pipes.820").read_bytes()
    first = parse_advice_file(data, "a.820", file_digest=DIGEST)
    again = parse_advice_file(data, "renamed.820", file_digest=DIGEST)
    assert [a.advice_id for a in first] == [a.advice_id for a in again]
    assert len({a.advice_id for a in first}) == 2


def test_a_set_that_is_not_820_names_its_segment_and_element() -> None:
    data = BARE_820.replace(b"ST*820", b"ST*810")
    with pytest.raises(AdviceSyntaxError) as caught:
        parse_advice_file(data, "odd.820", file_digest=DIGEST)  # not detected as 820
    assert caught.value.line == 1
    with pytest.raises(AdviceSyntaxError) as caught:
        parse_820(data, "odd.820", file_digest=DIGEST)
    assert (caught.value.file, caught.value.line, caught.value.field) == ("odd.820", 1, "ST01")
    assert "810" in str(caught.value)


def test_a_set_without_se_is_a_syntax_error() -> None:
    data = BARE_820.replace(b"SE*7*0001~", b"")
    with pytest.raises(AdviceSyntaxError, match="has no SE"):
        parse_advice_file(data, "cut.820", file_digest=DIGEST)


def test_lines_that_do_not_add_up_to_the_payment_are_an_integrity_error() -> None:
    data = BARE_820.replace(b"BPR*I*300.00", b"BPR*I*300.01")
    with pytest.raises(AdviceIntegrityError) as caught:
        parse_advice_file(data, "short.820", file_digest=DIGEST)
    assert caught.value.field == "BPR02"
    assert "300.01" in str(caught.value)
    assert "300.00" in str(caught.value)


def test_csv_rows_without_advice_id_group_by_trace_payer_date_and_amount() -> None:
    data = (
        b"Customer,Payment Date,Payment Amount,Trace,Invoice,Paid\n"
        b"Acme,2026-11-02,300.00,T1,INV-1,100.00\n"
        b"Acme,2026-11-02,300.00,T1,INV-2,200.00\n"
        b"Acme,2026-11-02,50.00,T2,INV-3,50.00\n"
    )
    first, second = parse_advice_file(data, "up.csv", file_digest=DIGEST)
    assert [line.invoice_ref for line in first.lines] == ["INV-1", "INV-2"]
    assert (first.source.first_line, first.source.last_line) == (2, 3)
    assert second.amount == Money.parse("50.00", "USD")


def test_csv_errors_name_the_row_and_the_column_as_the_header_spells_it() -> None:
    data = b"Customer,Payment Date,Payment Amount,Trace,Invoice\nAcme,02/11/2026,10.00,T1,INV-1\n"
    with pytest.raises(AdviceSyntaxError) as caught:
        parse_advice_file(data, "up.csv", file_digest=DIGEST)
    assert (caught.value.line, caught.value.field) == (2, "Payment Date")
    data = b"Customer,Payment Date,Payment Amount,Trace,Invoice\nAcme,2026-11-02,1O.00,T1,INV-1\n"
    with pytest.raises(AdviceSyntaxError) as caught:
        parse_advice_file(data, "up.csv", file_digest=DIGEST)
    assert (caught.value.line, caught.value.field) == (2, "Payment Amount")


def test_a_layout_reports_every_problem_at_once() -> None:
    raw = {
        "delimiter": ";;",
        "decimal_comma": "yes",
        "currency": "DOLLARS",
        "colour": "blue",
        "columns": {"invoice": [], "payment_date": ["Date"], "vat": ["VAT"]},
    }
    with pytest.raises(RemittanceLayoutError) as caught:
        CsvLayout.from_dict(raw, source="bad.toml")
    message = str(caught.value)
    for expected in (
        "bad.toml",
        "colour: unknown key",
        "delimiter: expected one character",
        "decimal_comma: expected true or false",
        "currency: expected an ISO 4217 code",
        "columns.invoice: expected a list of header names",
        "columns.vat: unknown field",
        "needs `payment_amount` or `amount_paid`",
    ):
        assert expected in message


def test_a_decimal_comma_needs_another_delimiter() -> None:
    raw = {
        "decimal_comma": True,
        "columns": {"invoice": ["x"], "payment_date": ["d"], "amount_paid": ["a"]},
    }
    with pytest.raises(RemittanceLayoutError, match="decimal comma needs another delimiter"):
        CsvLayout.from_dict(raw)
