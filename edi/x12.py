"""X12 reader: bytes of an interchange -> delimiters, segments and byte-level findings.

An X12 interchange declares its own delimiters in the fixed-width ISA header
(X12.5 / SEF `.SEGS ISA`): the element separator is byte 3, the component
separator is ISA16 (byte 104) and the segment terminator is byte 105. The reader
takes them from there, tolerates what real files carry (a UTF-8 byte order mark,
blank lines or indentation before ISA or between segments, an unterminated last
segment) and reports each as a finding (rules X-E01, X-E02, X-E03, X-E10) rather
than failing, so the clerk sees every problem of the file at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edi.byte_checks import decode, layout_findings, leading_findings, show_char
from edi.findings import Finding, Problem, Severity
from edi.segments import Delimiters, Segment, split_segments

ISA_LENGTH = 106  # "ISA" + 16 fixed-width elements and their separators, then the terminator
# Widths of ISA01..ISA16 (SEF `.ELMS I01..I16`).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


@dataclass(slots=True)
class X12Reading:
    """What the reader made of the bytes: delimiters (None if no ISA), segments, findings."""

    delimiters: Delimiters | None
    segments: list[Segment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _reject(rule: str, problem: Problem, message: str) -> Finding:
    return Finding(rule, Severity.REJECT, problem, message, position=1, segment="ISA")


def read_x12(data: bytes) -> X12Reading:
    """Read an X12 interchange file into segments; problems become findings, never exceptions."""
    text = decode(data)
    start = text.find("ISA")
    if start < 0:
        return X12Reading(
            None,
            findings=[
                _reject(
                    "X-E01",
                    Problem.BAD_INTERCHANGE_HEADER,
                    "this is not an X12 file: no ISA interchange header found",
                )
            ],
        )
    findings = leading_findings(text, start, "ISA", "X-E01")
    delimiters, isa_findings, isa_end = _delimiters(text, start)
    findings += isa_findings
    if delimiters is None:
        return X12Reading(None, findings=findings)
    split = split_segments(text, start, delimiters)
    # ISA16 *is* the component separator, so the header is re-read without component splitting.
    isa_parts = text[start:isa_end].split(delimiters.element)
    split.segments[0] = Segment("ISA", tuple((p,) for p in isa_parts[1:]), 1, start)
    findings += layout_findings(
        split, delimiters.segment, padding_rule="X-E03", terminator_rule="X-E10"
    )
    return X12Reading(delimiters, split.segments, findings)


def _delimiters(text: str, start: int) -> tuple[Delimiters | None, list[Finding], int]:
    """Delimiters from the ISA at `start`, findings on its width and characters, and its end."""
    findings: list[Finding] = []
    if len(text) < start + 4:
        return None, [_truncated()], start
    element = text[start + 3]
    isa = text[start : start + ISA_LENGTH]
    parts = isa[:-1].split(element)
    fixed = len(isa) == ISA_LENGTH and [len(p) for p in parts[1:]] == list(ISA_WIDTHS)
    if fixed:
        component, terminator = isa[104], isa[105]
        isa_end = start + ISA_LENGTH - 1
    else:
        # Not fixed width: find ISA16 as the character after the 16th element separator,
        # so a trimmed header is still read (and reported) instead of mis-split.
        index = start
        for _ in range(16):
            index = text.find(element, index + 1)
            if index < 0:
                return None, [_truncated()], start
        if index + 2 >= len(text):
            return None, [_truncated()], start
        component, terminator = text[index + 1], text[index + 2]
        isa_end = index + 2
        findings.append(
            _reject(
                "X-E02",
                Problem.BAD_INTERCHANGE_HEADER,
                "the ISA header is not fixed width (106 characters, elements padded with "
                "spaces to 2,10,2,10,2,15,2,15,6,4,1,5,9,1,1,1)",
            )
        )
    delimiters = Delimiters(element=element, component=component, segment=terminator)
    findings += _delimiter_findings(delimiters)
    return delimiters, findings, isa_end


def _truncated() -> Finding:
    return _reject("X-E02", Problem.TRAILER_MISSING, "the file ends inside the ISA header")


def _delimiter_findings(delimiters: Delimiters) -> list[Finding]:
    findings = []
    named = {
        "element separator": (delimiters.element, Problem.BAD_ELEMENT_SEPARATOR),
        "component separator": (delimiters.component, Problem.BAD_COMPONENT_SEPARATOR),
        "segment terminator": (delimiters.segment, Problem.BAD_TERMINATOR),
    }
    for name, (char, problem) in named.items():
        if char.isalnum() or char == " ":
            findings.append(
                _reject(
                    "X-E03",
                    problem,
                    f"the {name} {show_char(char)} is a letter, digit or space; it must be a "
                    "character that never occurs in data",
                )
            )
    chars = [delimiters.element, delimiters.component, delimiters.segment]
    if len(set(chars)) != len(chars):
        findings.append(
            _reject(
                "X-E03",
                Problem.BAD_ELEMENT_SEPARATOR,
                "the element separator, component separator and segment terminator "
                "must be three different characters",
            )
        )
    return findings
