"""UN/EDIFACT reader: bytes of an interchange -> service characters, segments, findings.

ISO 9735 lets an interchange open with the service string advice `UNA` followed
by exactly six characters: component separator, element separator, decimal mark,
release character, reserved (repetition separator in syntax 4) and segment
terminator. Without UNA the defaults `:+.? '` apply. The release character
escapes the next character, so `?'` inside text is an apostrophe, not the end of
a segment. Byte-level problems (byte order mark, bytes before UNA/UNB, a bad UNA,
indentation, an unterminated last segment) become findings under rules E-E01, not
exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edi.byte_checks import decode, layout_findings, leading_findings
from edi.findings import Finding, Problem, Severity
from edi.segments import Delimiters, Segment, split_segments

DEFAULT_DELIMITERS = Delimiters(
    element="+", component=":", segment="'", release="?", repetition=None, decimal="."
)
UNA_LENGTH = 9


@dataclass(slots=True)
class EdifactReading:
    """What the reader made of the bytes: delimiters (None if no UNB), segments, findings."""

    delimiters: Delimiters | None
    segments: list[Segment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _reject(message: str, problem: Problem, position: int | None = 1) -> Finding:
    return Finding("E-E01", Severity.REJECT, problem, message, position=position, segment=None)


def read_edifact(data: bytes) -> EdifactReading:
    """Read an EDIFACT interchange into segments; problems become findings, never exceptions."""
    text = decode(data)
    una_at = text.find("UNA")
    unb_at = text.find("UNB")
    if unb_at < 0:
        return EdifactReading(
            None,
            findings=[
                _reject(
                    "this is not an EDIFACT interchange: no UNB header found",
                    Problem.BAD_INTERCHANGE_HEADER,
                    None,
                )
            ],
        )
    has_una = 0 <= una_at < unb_at
    start = una_at if has_una else unb_at
    findings = leading_findings(text, start, "UNA or UNB", "E-E01")
    delimiters = DEFAULT_DELIMITERS
    if has_una:
        delimiters, una_findings = _service_string_advice(text[una_at : una_at + UNA_LENGTH])
        findings += una_findings
        start = una_at + UNA_LENGTH
    split = split_segments(text, start, delimiters, first_position=2 if has_una else 1)
    findings += layout_findings(
        split, delimiters.segment, padding_rule="E-E01", terminator_rule="E-E01"
    )
    return EdifactReading(delimiters, split.segments, findings)


def _service_string_advice(una: str) -> tuple[Delimiters, list[Finding]]:
    """Delimiters declared by a UNA string, or the defaults with a finding when it is unusable."""
    if len(una) < UNA_LENGTH:
        return DEFAULT_DELIMITERS, [
            _reject("the UNA service string advice is cut short", Problem.BAD_INTERCHANGE_HEADER)
        ]
    component, element, decimal, release, reserved, terminator = una[3:9]
    findings: list[Finding] = []
    if decimal not in ".,":
        findings.append(
            _reject(
                f"UNA declares decimal mark {decimal!r}; it must be . or ,", Problem.BAD_VERSION
            )
        )
    chars = [component, element, terminator] + ([release] if release != " " else [])
    if len(set(chars)) != len(chars) or any(c.isalnum() for c in chars):
        findings.append(
            _reject(
                "UNA service characters must be distinct and not letters or digits",
                Problem.BAD_ELEMENT_SEPARATOR,
            )
        )
    delimiters = Delimiters(
        element=element,
        component=component,
        segment=terminator,
        # A space in the release position means "no release character" (ISO 9735).
        release=None if release == " " else release,
        repetition=None if reserved == " " else reserved,
        decimal=decimal,
    )
    return delimiters, findings
