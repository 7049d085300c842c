"""X12 envelopes: ISA/IEA interchange, GS/GE group, ST/SE set, and their counts.

Checks rules X-E04..X-E10 of edi-rules.md section 1 and cuts the segment run into
`TransactionSet`s for the set-level layers. The walk is forgiving: a missing
trailer is reported and the enclosing structure closed, so one broken envelope
does not hide the findings of the sets inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edi.elements import check_value, spec
from edi.envelope_checks import trailer_findings
from edi.findings import Finding, Problem, Severity, finding_at, locate
from edi.segments import Delimiters, Segment

_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_VERSION = re.compile(r"00[2-8]0[0-9]")
# I05 interchange id qualifiers (4010 SEF): 01-04, 08, 09, 10-37, AM, NR, SN, ZZ.
_ID_QUALIFIERS = frozenset(
    ["01", "02", "03", "04", "08", "09", "AM", "NR", "SN", "ZZ"] + [str(n) for n in range(10, 38)]
)
# GS01 functional identifier each set type belongs in.
GROUP_OF_SET = {"810": "IN", "997": "FA", "999": "FA", "824": "AG", "856": "SH", "864": "TX"}
_ISA_DATE = spec("DT", 6, 6, "interchange date")
_GS_SPECS = {
    2: spec("AN", 2, 15, "application sender code", mandatory=True),
    3: spec("AN", 2, 15, "application receiver code", mandatory=True),
    4: spec("DT", 8, 8, "group date", mandatory=True),
    5: spec("TM", 4, 8, "group time", mandatory=True),
    6: spec("N0", 1, 9, "group control number", mandatory=True),
    7: spec("ID", 1, 2, "responsible agency", mandatory=True, codes="X"),
    8: spec("AN", 1, 12, "version", mandatory=True),
}


@dataclass(slots=True)
class TransactionSet:
    """One ST..SE set with the envelope values it sits in."""

    segments: list[Segment]
    set_type: str
    control: str
    group_control: str
    version: str
    usage_indicator: str

    def locate(self, segment: Segment) -> dict[str, object]:
        """Set-level position of `segment` (AK302 counts from ST = 1)."""
        return locate(self.segments, self.control, segment)


@dataclass(slots=True)
class _Group:
    header: Segment
    sets: int = 0
    controls: set[str] = field(default_factory=set)


def check_envelopes(
    segments: list[Segment], delimiters: Delimiters
) -> tuple[list[Finding], list[TransactionSet]]:
    """Envelope findings, and the transaction sets found inside the envelopes."""
    findings: list[Finding] = []
    sets: list[TransactionSet] = []
    isa: Segment | None = None
    group: _Group | None = None
    current: list[Segment] | None = None
    groups_in_interchange = 0
    group_controls: set[str] = set()
    interchanges = 0

    def close_set(at: Segment | None) -> None:
        nonlocal current
        if current is not None:
            findings.append(
                finding_at(
                    "X-E08",
                    Problem.SET_TRAILER_MISSING,
                    f"document {current[0].get(2)} has no SE trailer",
                    at or current[-1],
                )
            )
            sets.append(_make_set(current, group, isa))
            current = None

    def close_group(at: Segment | None) -> None:
        nonlocal group
        if group is not None:
            findings.append(
                finding_at(
                    "X-E07",
                    Problem.GROUP_TRAILER_MISSING,
                    f"group {group.header.get(6)} has no GE trailer",
                    at or segments[-1],
                )
            )
            group = None

    for segment in segments:
        tag = segment.tag
        if not _TAG.fullmatch(tag):
            findings.append(
                finding_at(
                    "X-E10",
                    Problem.UNRECOGNIZED_SEGMENT,
                    f"segment id {tag!r} is not a valid X12 segment id",
                    segment,
                )
            )
        if segment.elements and segment.elements[-1] == ("",):
            findings.append(
                finding_at(
                    "X-E10",
                    Problem.TOO_MANY_ELEMENTS,
                    f"segment {tag} ends with an empty element (trailing separator)",
                    segment,
                )
            )
        if not segment.elements and tag not in ("",):
            findings.append(
                finding_at(
                    "X-E10",
                    Problem.MANDATORY_ELEMENT_MISSING,
                    f"segment {tag} has no elements",
                    segment,
                )
            )
        if tag == "ISA":
            close_set(segment)
            close_group(segment)
            interchanges += 1
            if interchanges == 2:
                findings.append(
                    Finding(
                        "X-E05",
                        Severity.WARNING,
                        Problem.BAD_INTERCHANGE_HEADER,
                        "the file holds more than one interchange; many partners accept one only",
                        position=segment.position,
                        segment=tag,
                    )
                )
            isa = segment
            groups_in_interchange = 0
            group_controls = set()
            findings += _isa_findings(segment, delimiters)
        elif tag == "IEA":
            close_set(segment)
            close_group(segment)
            findings += _iea_findings(segment, isa, groups_in_interchange)
            isa = None
        elif tag == "GS":
            close_set(segment)
            close_group(segment)
            group = _Group(segment)
            groups_in_interchange += 1
            findings += _gs_findings(segment)
            control = segment.get(6)
            if control in group_controls:
                findings.append(
                    finding_at(
                        "X-E09",
                        Problem.BAD_CONTROL_NUMBER,
                        f"group control number {control} is used twice",
                        segment,
                    )
                )
            group_controls.add(control)
        elif tag == "GE":
            close_set(segment)
            if group is not None:
                findings += _ge_findings(segment, group)
            group = None
        elif tag == "ST":
            close_set(segment)
            current = [segment]
            if group is not None:
                group.sets += 1
                findings += _st_findings(segment, group)
        elif tag == "SE":
            if current is None:
                findings.append(
                    finding_at(
                        "X-E08",
                        Problem.UNEXPECTED_SEGMENT,
                        "SE trailer without an ST header",
                        segment,
                    )
                )
                continue
            current.append(segment)
            findings += _se_findings(segment, current)
            sets.append(_make_set(current, group, isa))
            current = None
        elif current is not None:
            current.append(segment)
        elif tag != "TA1":
            findings.append(
                finding_at(
                    "X-E10",
                    Problem.UNEXPECTED_SEGMENT,
                    f"segment {tag} is outside any document (between ST and SE)",
                    segment,
                )
            )
    last = segments[-1] if segments else None
    close_set(last)
    close_group(last)
    if isa is not None:
        findings.append(
            finding_at(
                "X-E05",
                Problem.TRAILER_MISSING,
                "the interchange has no IEA trailer (file cut short?)",
                last,
            )
        )
    return findings, sets


def _make_set(segments: list[Segment], group: _Group | None, isa: Segment | None) -> TransactionSet:
    return TransactionSet(
        segments=segments,
        set_type=segments[0].get(1),
        control=segments[0].get(2),
        group_control=group.header.get(6) if group else "",
        version=group.header.get(8) if group else "",
        usage_indicator=isa.get(15) if isa else "",
    )


def _isa_findings(isa: Segment, delimiters: Delimiters) -> list[Finding]:
    findings: list[Finding] = []

    def bad(element: int, problem: Problem, message: str) -> None:
        findings.append(finding_at("X-E04", problem, message, isa, element=f"{element:02d}"))

    value = isa.get
    if len(isa.elements) != 16:
        bad(
            16, Problem.BAD_INTERCHANGE_HEADER, f"ISA has {len(isa.elements)} elements, 16 required"
        )
        return findings
    if value(1) not in {f"0{n}" for n in range(7)}:
        bad(
            1,
            Problem.BAD_INTERCHANGE_HEADER,
            f"ISA01 authorization qualifier {value(1)!r} is not 00-06",
        )
    if value(3) not in ("00", "01"):
        bad(
            3,
            Problem.BAD_INTERCHANGE_HEADER,
            f"ISA03 security qualifier {value(3)!r} is not 00 or 01",
        )
    for element, role in ((5, "sender"), (7, "receiver")):
        if value(element) not in _ID_QUALIFIERS:
            bad(
                element,
                Problem.BAD_SENDER_RECEIVER,
                f"ISA{element:02d} {role} id qualifier {value(element)!r} is not a valid code",
            )
        if not value(element + 1).strip():
            bad(element + 1, Problem.BAD_SENDER_RECEIVER, f"the interchange {role} id is empty")
    if len(value(9)) != 6 or check_value(value(9), _ISA_DATE):
        bad(9, Problem.BAD_INTERCHANGE_DATE, f"ISA09 date {value(9)!r} is not a valid YYMMDD date")
    if not (
        len(value(10)) == 4
        and value(10).isdigit()
        and int(value(10)[:2]) < 24
        and int(value(10)[2:]) < 60
    ):
        bad(10, Problem.BAD_INTERCHANGE_TIME, f"ISA10 time {value(10)!r} is not a valid HHMM time")
    version = value(12)
    if not _VERSION.fullmatch(version):
        bad(
            12, Problem.BAD_VERSION, f"ISA12 version {version!r} is not a valid X12 control version"
        )
    elif version < "00402" and value(11) != "U":
        bad(
            11,
            Problem.BAD_INTERCHANGE_HEADER,
            f"ISA11 must be U for version {version}, found {value(11)!r}",
        )
    elif version >= "00402":
        repetition = value(11)
        if repetition.isalnum() or repetition in (
            delimiters.element,
            delimiters.component,
            delimiters.segment,
        ):
            findings.append(
                finding_at(
                    "X-E03",
                    Problem.BAD_INTERCHANGE_HEADER,
                    f"ISA11 must be the repetition separator from version 00402 on, found "
                    f"{repetition!r}",
                    isa,
                    element="11",
                )
            )
    if not (len(value(13)) == 9 and value(13).isdigit()):
        bad(13, Problem.BAD_CONTROL_NUMBER, f"ISA13 control number {value(13)!r} is not 9 digits")
    if value(14) not in ("0", "1"):
        bad(
            14,
            Problem.BAD_INTERCHANGE_HEADER,
            f"ISA14 acknowledgment request {value(14)!r} is not 0 or 1",
        )
    if value(15) not in ("P", "T", "I"):
        bad(
            15,
            Problem.BAD_INTERCHANGE_HEADER,
            f"ISA15 usage indicator {value(15)!r} is not P, T or I",
        )
    return findings


def _iea_findings(iea: Segment, isa: Segment | None, groups: int) -> list[Finding]:
    if isa is None:
        return [finding_at("X-E05", Problem.UNEXPECTED_SEGMENT, "IEA without an ISA header", iea)]
    return trailer_findings(
        "X-E05",
        iea,
        count=groups,
        counted="group(s)",
        reference=isa.get(13),
        header="ISA13",
        problems=(Problem.TRAILER_COUNT_WRONG, Problem.TRAILER_REFERENCE_MISMATCH),
    )


def _gs_findings(gs: Segment) -> list[Finding]:
    findings = []
    if gs.get(1) not in set(GROUP_OF_SET.values()):
        findings.append(
            finding_at(
                "X-E06",
                Problem.GROUP_NOT_SUPPORTED,
                f"GS01 functional id {gs.get(1)!r} is not supported",
                gs,
                element="01",
            )
        )
    for element, element_spec in _GS_SPECS.items():
        value = gs.get(element)
        if not value:
            findings.append(
                finding_at(
                    "X-E06",
                    Problem.MANDATORY_ELEMENT_MISSING,
                    f"GS{element:02d} {element_spec.name} is missing",
                    gs,
                    element=f"{element:02d}",
                )
            )
            continue
        for defect in check_value(value, element_spec):
            problem = Problem.BAD_CONTROL_NUMBER if element == 6 else defect.problem
            findings.append(
                finding_at(
                    "X-E06",
                    problem,
                    f"GS{element:02d} {element_spec.name}: {defect.detail}",
                    gs,
                    element=f"{element:02d}",
                )
            )
    return findings


def _ge_findings(ge: Segment, group: _Group) -> list[Finding]:
    return trailer_findings(
        "X-E07",
        ge,
        count=group.sets,
        counted="document(s)",
        reference=group.header.get(6),
        header="GS06",
        problems=(Problem.GROUP_COUNT_WRONG, Problem.GROUP_REFERENCE_MISMATCH),
    )


def _st_findings(st: Segment, group: _Group) -> list[Finding]:
    findings = []
    set_type, control = st.get(1), st.get(2)
    expected_group = GROUP_OF_SET.get(set_type)
    if expected_group is None or expected_group != group.header.get(1):
        findings.append(
            finding_at(
                "X-E08",
                Problem.SET_NOT_SUPPORTED,
                f"document type {set_type!r} does not belong in a {group.header.get(1)!r} group",
                st,
                element="01",
            )
        )
    if not 4 <= len(control) <= 9:
        findings.append(
            finding_at(
                "X-E08",
                Problem.BAD_CONTROL_NUMBER,
                f"ST02 control number {control!r} must be 4 to 9 characters",
                st,
                element="02",
            )
        )
    if control in group.controls:
        findings.append(
            finding_at(
                "X-E09",
                Problem.SET_CONTROL_NOT_UNIQUE,
                f"document control number {control} is used twice in the group",
                st,
                element="02",
            )
        )
    group.controls.add(control)
    return findings


def _se_findings(se: Segment, set_segments: list[Segment]) -> list[Finding]:
    control = set_segments[0].get(2)
    return trailer_findings(
        "X-E08",
        se,
        count=len(set_segments),
        counted="segments (ST to SE)",
        reference=control,
        header="ST02",
        problems=(Problem.SET_COUNT_WRONG, Problem.SET_REFERENCE_MISMATCH),
        where=locate(set_segments, control, se),
    )
