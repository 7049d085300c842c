"""Readers and the shared vocabulary: delimiters, release character, findings <-> ack codes."""

from __future__ import annotations

from edi_samples import SAMPLE_INVOIC, sample_810

from edi.edifact import read_edifact
from edi.elements import Relation, check_value, spec
from edi.findings import ACK_CODES, Problem, problem_for_ack
from edi.validate import detect_standard
from edi.x12 import read_x12


def test_x12_delimiters_come_from_the_isa_header() -> None:
    data = sample_810().replace(b"*", b"|").replace(b"~", b"\r")
    reading = read_x12(data)
    assert reading.delimiters is not None
    assert (reading.delimiters.element, reading.delimiters.segment) == ("|", "\r")
    assert reading.segments[2].tag == "ST"
    assert reading.findings == []


def test_x12_isa16_is_not_split_as_a_component() -> None:
    isa = read_x12(sample_810()).segments[0]
    assert isa.get(16) == ">"
    assert len(isa.elements) == 16


def test_a_trimmed_isa_is_reported_and_still_read() -> None:
    data = sample_810().replace(b"ARLINKSUPPLIER ", b"ARLINKSUPPLIER", 1)
    reading = read_x12(data)
    assert [f.rule for f in reading.findings] == ["X-E02"]
    assert [s.tag for s in reading.segments[:3]] == ["ISA", "GS", "ST"]


def test_leading_junk_and_no_isa() -> None:
    assert [f.rule for f in read_x12(b"\n\n" + sample_810()).findings] == ["X-E01"]
    assert [f.rule for f in read_x12(b"hello").findings] == ["X-E01"]


def test_una_declares_other_service_characters() -> None:
    data = (
        SAMPLE_INVOIC.replace(b"UNA:+.? '", b"UNA|*,# !")
        .replace(b"'", b"!")
        .replace(b"+", b"*")
        .replace(b":", b"|")
    )
    data = data.replace(b"50.00", b"50,00")
    reading = read_edifact(data)
    assert reading.delimiters is not None
    assert reading.delimiters.decimal == ","
    moa = next(s for s in reading.segments if s.tag == "MOA" and s.get(1, 1) == "203")
    assert moa.get(1, 2) == "50,00"


def test_release_character_escapes_separators_in_data() -> None:
    data = SAMPLE_INVOIC.replace(b"BGM+380+INV-2001+9'", b"BGM+380+INV?+2?:0??1?'+9'")
    bgm = next(s for s in read_edifact(data).segments if s.tag == "BGM")
    assert bgm.get(2) == "INV+2:0?1'"
    assert bgm.get(3) == "9"


def test_the_standard_is_detected_after_a_bom() -> None:
    assert detect_standard(b"\xef\xbb\xbf" + sample_810()) == "x12"
    assert detect_standard(SAMPLE_INVOIC) == "edifact"
    assert detect_standard(b"%PDF-1.4") is None


def test_x12_data_types() -> None:
    assert check_value("843202", spec("N2", 1, 15)) == []
    assert check_value("-12", spec("N0", 1, 2)) == []
    assert [d.problem for d in check_value("12.5", spec("N2", 1, 15))] == [
        Problem.ELEMENT_INVALID_CHARACTER
    ]
    assert check_value("169.2", spec("R", 1, 10)) == []
    assert [d.problem for d in check_value("+5", spec("R", 1, 10))] == [
        Problem.ELEMENT_INVALID_CHARACTER
    ]
    assert [d.problem for d in check_value("20260230", spec("DT", 8, 8))] == [
        Problem.ELEMENT_INVALID_DATE
    ]
    assert [d.problem for d in check_value("2460", spec("TM", 4, 8))] == [
        Problem.ELEMENT_INVALID_TIME
    ]
    assert [d.problem for d in check_value("EACH", spec("ID", 2, 2))] == [Problem.ELEMENT_TOO_LONG]


def test_relational_conditions() -> None:
    paired = Relation.parse("P020304")
    assert paired.violated({2, 3, 4}) is None
    assert paired.violated(set()) is None
    assert paired.violated({2, 3}) == (Problem.CONDITIONAL_ELEMENT_MISSING, (4,))
    assert Relation.parse("R0203").violated({1}) is not None
    assert Relation.parse("E0203").violated({2, 3}) == (Problem.EXCLUSION_VIOLATED, (2, 3))
    assert Relation.parse("C1110").violated({11}) == (Problem.CONDITIONAL_ELEMENT_MISSING, (10,))
    assert Relation.parse("L130204").violated({13}) is not None
    assert Relation.parse("L130204").violated({13, 4}) is None


def test_every_problem_has_ack_codes_and_inbound_codes_map_back() -> None:
    assert set(ACK_CODES) == set(Problem)
    assert problem_for_ack("ak403", "7") == [Problem.ELEMENT_INVALID_CODE]
    assert problem_for_ack("ta105", "001") == [Problem.TRAILER_REFERENCE_MISMATCH]
    assert Problem.SET_COUNT_WRONG in problem_for_ack("contrl", "29")
    assert problem_for_ack("ak304", "7") == [Problem.SEGMENT_OUT_OF_ORDER]
