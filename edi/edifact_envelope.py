"""EDIFACT envelopes: UNB/UNZ interchange, UNG/UNE group, UNH/UNT message, and counts.

Checks rules E-E02, E-E03, E-E05 and E-E06 of edi-rules.md section 4 and cuts the
segment run into `Message`s for the message-level layers. Like the X12 walk, a
missing trailer is reported and the structure closed, never raised.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from edi.elements import check_value, spec
from edi.envelope_checks import trailer_findings
from edi.findings import Finding, Problem, Severity, finding_at, locate
from edi.segments import Segment

# UNOA (ISO 9735 level A): upper case, digits, space and these punctuation marks.
_UNOA = frozenset(string.ascii_uppercase + string.digits + " .,-()/='+:?!\"%&*;<>")
_UNOB = frozenset(string.printable) - frozenset("\t\r\n\x0b\x0c")
_SYNTAX_IDS = {"UNOA", "UNOB", "UNOC", "UNOD", "UNOE", "UNOF", "UNOG", "UNOH", "UNOI",
               "UNOJ", "UNOK", "UNOW", "UNOX", "UNOY"}  # fmt: skip
_REF = spec("an", 1, 14, "control reference")


@dataclass(slots=True)
class Message:
    """One UNH..UNT message with its type (S009 0065) and reference (0062)."""

    segments: list[Segment]
    message_type: str
    reference: str
    release: str

    def locate(self, segment: Segment) -> dict[str, object]:
        """Set-level position of `segment` (CONTRL UCS 0096 counts from UNH = 1)."""
        return locate(self.segments, self.reference, segment)


@dataclass(slots=True)
class _Interchange:
    header: Segment
    messages: int = 0
    groups: int = 0
    references: set[str] = field(default_factory=set)


def check_envelopes(segments: list[Segment]) -> tuple[list[Finding], list[Message]]:
    """Envelope findings, and the messages found inside the envelopes."""
    findings: list[Finding] = []
    messages: list[Message] = []
    interchange: _Interchange | None = None
    group_header: Segment | None = None
    group_messages = 0
    current: list[Segment] | None = None

    def close_message(at: Segment) -> None:
        nonlocal current
        if current is not None:
            findings.append(
                finding_at(
                    "E-E06",
                    Problem.SET_TRAILER_MISSING,
                    f"message {current[0].get(1)} has no UNT trailer",
                    at,
                )
            )
            messages.append(_make_message(current))
            current = None

    for segment in segments:
        tag = segment.tag
        if tag == "UNB":
            interchange = _Interchange(segment)
            findings += _unb_findings(segment)
        elif tag == "UNZ":
            close_message(segment)
            findings += _unz_findings(segment, interchange)
            interchange = None
        elif tag == "UNG":
            group_header, group_messages = segment, 0
            if interchange is not None:
                interchange.groups += 1
        elif tag == "UNE":
            close_message(segment)
            if group_header is not None:
                findings += trailer_findings(
                    "E-E05",
                    segment,
                    count=group_messages,
                    counted="messages",
                    reference=group_header.get(5),
                    header="UNG 0048",
                    problems=(Problem.GROUP_COUNT_WRONG, Problem.GROUP_REFERENCE_MISMATCH),
                )
            group_header = None
        elif tag == "UNH":
            close_message(segment)
            current = [segment]
            group_messages += 1
            if interchange is not None:
                interchange.messages += 1
                reference = segment.get(1)
                if reference in interchange.references:
                    findings.append(
                        finding_at(
                            "E-E06",
                            Problem.SET_CONTROL_NOT_UNIQUE,
                            f"message reference {reference} is used twice",
                            segment,
                            element="01",
                        )
                    )
                interchange.references.add(reference)
            for defect in check_value(segment.get(1), _REF) if segment.get(1) else []:
                findings.append(
                    finding_at(
                        "E-E06",
                        defect.problem,
                        f"message reference: {defect.detail}",
                        segment,
                        element="01",
                    )
                )
        elif tag == "UNT":
            if current is None:
                findings.append(
                    finding_at(
                        "E-E06",
                        Problem.UNEXPECTED_SEGMENT,
                        "UNT trailer without a UNH header",
                        segment,
                    )
                )
                continue
            current.append(segment)
            reference = current[0].get(1)
            findings += trailer_findings(
                "E-E06",
                segment,
                count=len(current),
                counted="segments (UNH to UNT)",
                reference=reference,
                header="UNH 0062",
                problems=(Problem.SET_COUNT_WRONG, Problem.SET_REFERENCE_MISMATCH),
                where=locate(current, reference, segment),
            )
            messages.append(_make_message(current))
            current = None
        elif current is not None:
            current.append(segment)
        else:
            findings.append(
                finding_at(
                    "E-E06",
                    Problem.UNEXPECTED_SEGMENT,
                    f"segment {tag} is outside any message (UNH to UNT)",
                    segment,
                )
            )
    last = segments[-1] if segments else None
    if last is not None:
        close_message(last)
    if interchange is not None:
        findings.append(
            finding_at(
                "E-E05",
                Problem.TRAILER_MISSING,
                "the interchange has no UNZ trailer (file cut short?)",
                last,
            )
        )
    findings += _character_findings(segments)
    return findings, messages


def _make_message(segments: list[Segment]) -> Message:
    unh = segments[0]
    return Message(segments, unh.get(2, 1), unh.get(1), f"{unh.get(2, 2)}{unh.get(2, 3)}")


def _unb_findings(unb: Segment) -> list[Finding]:
    findings = []
    syntax, version = unb.get(1, 1), unb.get(1, 2)
    if syntax not in _SYNTAX_IDS or not version.isdigit():
        findings.append(
            finding_at(
                "E-E02",
                Problem.BAD_VERSION,
                f"UNB syntax identifier must be like UNOA:3 or UNOC:4, found "
                f"{':'.join(unb.elements[0]) if unb.elements else ''!r}",
                unb,
                element="01",
            )
        )
    for element, role in ((2, "sender"), (3, "recipient")):
        if not unb.get(element, 1):
            findings.append(
                finding_at(
                    "E-E02",
                    Problem.BAD_SENDER_RECEIVER,
                    f"the interchange {role} id is missing",
                    unb,
                    element=f"{element:02d}",
                )
            )
    when, at = unb.get(4, 1), unb.get(4, 2)
    if not when or check_value(when, spec("DT", 6, 8)):
        findings.append(
            finding_at(
                "E-E02",
                Problem.BAD_INTERCHANGE_DATE,
                f"UNB date {when!r} is not a valid date",
                unb,
                element="04",
            )
        )
    elif version == "4" and len(when) == 6:
        # Syntax 4 defines CCYYMMDD; six digits are common in the field, so only a warning.
        findings.append(
            Finding(
                "E-E02",
                Severity.WARNING,
                Problem.BAD_INTERCHANGE_DATE,
                f"UNB date {when} has 6 digits; syntax version 4 uses CCYYMMDD",
                position=unb.position,
                segment="UNB",
                element="04",
            )
        )
    if not at or check_value(at, spec("TM", 4, 4)):
        findings.append(
            finding_at(
                "E-E02",
                Problem.BAD_INTERCHANGE_TIME,
                f"UNB time {at!r} is not a valid HHMM time",
                unb,
                element="04",
            )
        )
    reference = unb.get(5)
    if not reference or check_value(reference, _REF):
        findings.append(
            finding_at(
                "E-E02",
                Problem.BAD_CONTROL_NUMBER,
                f"UNB control reference {reference!r} must be 1 to 14 characters",
                unb,
                element="05",
            )
        )
    return findings


def _unz_findings(unz: Segment, interchange: _Interchange | None) -> list[Finding]:
    if interchange is None:
        return [
            finding_at("E-E05", Problem.UNEXPECTED_SEGMENT, "UNZ trailer without a UNB header", unz)
        ]
    # UNZ 0036 counts groups when the interchange uses UNG/UNE, else messages.
    expected = interchange.groups or interchange.messages
    return trailer_findings(
        "E-E05",
        unz,
        count=expected,
        counted="messages" if not interchange.groups else "groups",
        reference=interchange.header.get(5),
        header="UNB 0020",
        problems=(Problem.TRAILER_COUNT_WRONG, Problem.TRAILER_REFERENCE_MISMATCH),
    )


def _character_findings(segments: list[Segment]) -> list[Finding]:
    """E-E03: characters outside the repertoire the UNB syntax identifier declares."""
    unb = next((s for s in segments if s.tag == "UNB"), None)
    syntax = unb.get(1, 1) if unb else ""
    allowed = {"UNOA": _UNOA, "UNOB": _UNOB}.get(syntax)
    if allowed is None:
        return []
    for segment in segments:
        for element in segment.elements:
            for value in element:
                bad = sorted(set(value) - allowed)
                if bad:
                    return [
                        finding_at(
                            "E-E03",
                            Problem.INVALID_CHARACTER,
                            f"characters {''.join(bad)!r} are not allowed in a {syntax} "
                            f"interchange (first in segment {segment.tag}); declare UNOC "
                            "or change the text",
                            segment,
                        )
                    ]
    return []
