"""Mutations of clean documents: drop a segment, change a total, break a count; each caught."""

from __future__ import annotations

import pytest
from edi_samples import SAMPLE_INVOIC, sample_810

from edi.findings import Severity
from edi.validate import validate


def _rejects(data: bytes) -> set[str]:
    return {f.rule for f in validate(data) if f.severity is Severity.REJECT}


def _drop(data: bytes, segment: bytes, terminator: bytes) -> bytes:
    start = data.index(segment)
    end = data.index(terminator, start) + len(terminator)
    return data[:start] + data[end:].lstrip(b"\n")


def test_the_samples_are_clean() -> None:
    assert _rejects(sample_810()) == set()
    assert _rejects(SAMPLE_INVOIC) == set()


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (b"TDS*13448~", b"TDS*13450~", "X-B06"),  # total changed
        (b"IT1*2*8*EA*5.61", b"IT1*2*8*EA*5.62", "X-B06"),  # a price changed
        (b"SAC*A*I410***2350~", b"SAC*A*I410***2300~", "X-B06"),  # allowance changed
        (b"TXI*ST*12.34", b"TXI*ST*12.35", "X-B06"),  # tax changed
        (b"SE*17*0001~", b"SE*16*0001~", "X-E08"),  # segment count broken
        (b"SE*17*0001~", b"SE*17*0002~", "X-E08"),  # SE02 != ST02
        (b"GE*1*1201~", b"GE*2*1201~", "X-E07"),  # GE01 count broken
        (b"GE*1*1201~", b"GE*1*1202~", "X-E07"),  # GE02 != GS06
        (b"IEA*1*000001201~", b"IEA*2*000001201~", "X-E05"),  # IEA01 count broken
        (b"IEA*1*000001201~", b"IEA*1*000001202~", "X-E05"),  # IEA02 != ISA13
        (b"CTT*3~", b"CTT*4~", "X-B07"),  # line count broken
        (b"BIG*20261102", b"BIG*20261131", "X-D01"),  # impossible date
        (b"IT1*1*4*EA*4.61", b"IT1*1*4*EA*4,61", "X-D03"),  # comma is not a decimal point
        (b"IT1*1*4*EA*4.61", b"IT1*1*4**4.61", "X-D02"),  # IT1 P020304
        (b"IT1*1*4*EA", b"IT1*1*4*EACH", "X-D04"),  # display text as a unit
        (b"*00401*", b"*00040*", "X-E04"),  # ISA12 version
    ],
)
def test_an_x12_mutation_is_caught(old: bytes, new: bytes, rule: str) -> None:
    data = sample_810()
    assert old in data
    assert rule in _rejects(data.replace(old, new, 1))


@pytest.mark.parametrize(
    ("segment", "rules"),
    [
        (b"BIG*", {"X-T01", "X-E08"}),  # mandatory BIG gone, and SE01 no longer counts
        (b"TDS*", {"X-T01", "X-E08"}),
        (b"PID*F****ITEM 2~", {"X-E08"}),
        (b"CTT*", {"X-T01", "X-E08"}),  # CTT required by the generic profile
        (b"SE*", {"X-E08"}),
        (b"GE*", {"X-E07"}),
        (b"IEA*", {"X-E05"}),
    ],
)
def test_a_dropped_x12_segment_is_caught(segment: bytes, rules: set[str]) -> None:
    assert rules <= _rejects(_drop(sample_810(), segment, b"~"))


def test_a_bom_and_indentation_are_caught() -> None:
    indented = sample_810().replace(b"~\nIT1", b"~\n  IT1")
    assert {"X-E01", "X-E03"} <= _rejects(b"\xef\xbb\xbf" + indented)


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (b"MOA+77:83.30", b"MOA+77:83.31", "E-B06"),
        (b"MOA+79:64.50", b"MOA+79:64.00", "E-B06"),
        (b"MOA+125:70.00", b"MOA+125:69.00", "E-B06"),
        (b"MOA+203:50.00", b"MOA+203:49.00", "E-B05"),
        (b"CNT+2:2", b"CNT+2:3", "E-B07"),
        (b"UNT+25+1", b"UNT+24+1", "E-E06"),
        (b"UNT+25+1", b"UNT+25+2", "E-E06"),
        (b"UNZ+1+INT0001", b"UNZ+2+INT0001", "E-E05"),
        (b"UNZ+1+INT0001", b"UNZ+1+INT0002", "E-E05"),
        (b"DTM+137:20261102:102", b"DTM+137:202611020930:102", "E-D01"),
        (b"QTY+47:4", b"QTY+47:4,0", "E-D02"),
        (b"UNOC:3", b"UNOC", "E-E02"),
        (b"DTM+137", b"DTM+35", "E-B03"),
        (b"NAD+BY+4012345000009", b"NAD+BY+4012345000008", "E-B04"),
    ],
)
def test_an_edifact_mutation_is_caught(old: bytes, new: bytes, rule: str) -> None:
    assert old in SAMPLE_INVOIC
    assert rule in _rejects(SAMPLE_INVOIC.replace(old, new, 1))


@pytest.mark.parametrize(
    ("segment", "rules"),
    [
        (b"BGM+", {"E-T01", "E-E06"}),
        (b"UNS+", {"E-T01", "E-E06"}),
        (b"PRI+AAA:7.25'", {"E-E06"}),
        (b"UNT+", {"E-E06"}),
        (b"UNZ+", {"E-E05"}),
    ],
)
def test_a_dropped_edifact_segment_is_caught(segment: bytes, rules: set[str]) -> None:
    assert rules <= _rejects(_drop(SAMPLE_INVOIC, segment, b"'"))


def test_release_character_keeps_an_apostrophe_in_data() -> None:
    data = SAMPLE_INVOIC.replace(b"BGM+380+INV-2001+9'", b"BGM+380+INV?'2001+9'")
    assert _rejects(data) == set()


def test_an_invoice_number_twice_in_one_file_is_caught() -> None:
    data = sample_810()
    start, end = data.index(b"ST*810"), data.index(b"GE*")
    second = data[start:end].replace(b"*0001~", b"*0002~")
    twice = data[:end] + second + data[end:].replace(b"GE*1*", b"GE*2*")
    findings = [f for f in validate(twice) if f.severity is Severity.REJECT]
    assert [f.rule for f in findings] == ["X-B02"]
    assert findings[0].message.startswith("invoice number INV-1043 is also in document 0001")
