"""Findings: what pre-delivery validation says about one EDI file, in one vocabulary.

A `Finding` is one defect: the rule it breaks (ids of `shared/reference/edi-rules.md`,
e.g. `X-B06`), whether it stops delivery (`reject`) or only warns, where it is
(segment position, segment id, element position) and a sentence a billing clerk
can act on ("line 3 has no unit price").

Each finding also names the `Problem` it is, and every problem carries the codes a
trading partner's acknowledgment would use for it (997 AK304/AK403/AK502/AK905,
999 IK304/IK403/IK502, TA1 TA105, EDIFACT CONTRL 0085). Outbound validation and
inbound acknowledgment processing therefore share one table: an AK403 `7` coming
back from a partner and an `X-D03` code-list finding of ours are the same `Problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from edi.segments import Segment


class Severity(StrEnum):
    """Whether a finding stops delivery (`reject`) or is shown to the clerk (`warning`)."""

    REJECT = "reject"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class AckCodes:
    """The acknowledgment codes one kind of defect draws; `None` where a level does not apply.

    `ak304`/`ak403`/`ak502`/`ak905` are 997 codes (999 IK304/IK403/IK502 use the same
    values for these defects); `ta105` is the TA1 interchange note code; `contrl` is
    the EDIFACT 0085 syntax error code (ISO 9735 v4 list, also used by CONTRL D:3).
    """

    ak304: str | None = None
    ak403: str | None = None
    ak502: str | None = None
    ak905: str | None = None
    ta105: str | None = None
    contrl: str | None = None


class Problem(StrEnum):
    """Kinds of defect, each with its acknowledgment codes in `ACK_CODES`."""

    # interchange level (TA1 / CONTRL UCI)
    LEADING_BYTES = "leading_bytes"
    BAD_TERMINATOR = "bad_terminator"
    BAD_ELEMENT_SEPARATOR = "bad_element_separator"
    BAD_COMPONENT_SEPARATOR = "bad_component_separator"
    BAD_INTERCHANGE_HEADER = "bad_interchange_header"
    BAD_SENDER_RECEIVER = "bad_sender_receiver"
    BAD_INTERCHANGE_DATE = "bad_interchange_date"
    BAD_INTERCHANGE_TIME = "bad_interchange_time"
    BAD_VERSION = "bad_version"
    BAD_CONTROL_NUMBER = "bad_control_number"
    TRAILER_REFERENCE_MISMATCH = "trailer_reference_mismatch"
    TRAILER_COUNT_WRONG = "trailer_count_wrong"
    TRAILER_MISSING = "trailer_missing"
    INVALID_CHARACTER = "invalid_character"
    # functional group level (997 AK9)
    GROUP_NOT_SUPPORTED = "group_not_supported"
    GROUP_REFERENCE_MISMATCH = "group_reference_mismatch"
    GROUP_COUNT_WRONG = "group_count_wrong"
    GROUP_TRAILER_MISSING = "group_trailer_missing"
    # transaction set / message level (997 AK5)
    SET_NOT_SUPPORTED = "set_not_supported"
    SET_TRAILER_MISSING = "set_trailer_missing"
    SET_REFERENCE_MISMATCH = "set_reference_mismatch"
    SET_COUNT_WRONG = "set_count_wrong"
    SET_CONTROL_NOT_UNIQUE = "set_control_not_unique"
    # history: an interchange or group control number already used with the partner
    CONTROL_NUMBER_REUSED = "control_number_reused"
    # segment level (997 AK3)
    UNRECOGNIZED_SEGMENT = "unrecognized_segment"
    UNEXPECTED_SEGMENT = "unexpected_segment"
    MANDATORY_SEGMENT_MISSING = "mandatory_segment_missing"
    LOOP_OVER_MAX = "loop_over_max"
    SEGMENT_OVER_MAX = "segment_over_max"
    SEGMENT_OUT_OF_ORDER = "segment_out_of_order"
    # element level (997 AK4)
    MANDATORY_ELEMENT_MISSING = "mandatory_element_missing"
    CONDITIONAL_ELEMENT_MISSING = "conditional_element_missing"
    TOO_MANY_ELEMENTS = "too_many_elements"
    ELEMENT_TOO_SHORT = "element_too_short"
    ELEMENT_TOO_LONG = "element_too_long"
    ELEMENT_INVALID_CHARACTER = "element_invalid_character"
    ELEMENT_INVALID_CODE = "element_invalid_code"
    ELEMENT_INVALID_DATE = "element_invalid_date"
    ELEMENT_INVALID_TIME = "element_invalid_time"
    EXCLUSION_VIOLATED = "exclusion_violated"
    # business level: partners answer these with an 824/864 or APERAK, not a 997/CONTRL
    TOTAL_MISMATCH = "total_mismatch"
    COUNT_MISMATCH = "count_mismatch"
    PARTNER_REQUIREMENT = "partner_requirement"
    DUPLICATE_INVOICE = "duplicate_invoice"


# One table from defect to acknowledgment codes. Sources: edi-rules.md section 5
# (997/999/TA1), ISO 9735 code list 0085 for CONTRL (12 invalid value, 13 missing,
# 16 too many constituents, 21 invalid characters, 28 references do not match,
# 29 control count does not match, 35 too many segment repetitions, 39/40 too long/short).
ACK_CODES: dict[Problem, AckCodes] = {
    Problem.LEADING_BYTES: AckCodes(ta105="022", contrl="21"),
    Problem.BAD_TERMINATOR: AckCodes(ta105="004", contrl="22"),
    Problem.BAD_ELEMENT_SEPARATOR: AckCodes(ta105="026", contrl="22"),
    Problem.BAD_COMPONENT_SEPARATOR: AckCodes(ta105="027", contrl="22"),
    Problem.BAD_INTERCHANGE_HEADER: AckCodes(ta105="024", contrl="12"),
    Problem.BAD_SENDER_RECEIVER: AckCodes(ta105="005", contrl="12"),
    Problem.BAD_INTERCHANGE_DATE: AckCodes(ta105="014", contrl="12"),
    Problem.BAD_INTERCHANGE_TIME: AckCodes(ta105="015", contrl="12"),
    Problem.BAD_VERSION: AckCodes(ta105="017", ak905="2", contrl="2"),
    Problem.BAD_CONTROL_NUMBER: AckCodes(ta105="018", ak905="6", ak502="7", contrl="12"),
    Problem.TRAILER_REFERENCE_MISMATCH: AckCodes(ta105="001", contrl="28"),
    Problem.TRAILER_COUNT_WRONG: AckCodes(ta105="021", contrl="29"),
    Problem.TRAILER_MISSING: AckCodes(ta105="023", contrl="13"),
    Problem.INVALID_CHARACTER: AckCodes(ta105="024", ak403="6", contrl="21"),
    Problem.GROUP_NOT_SUPPORTED: AckCodes(ak905="1", contrl="14"),
    Problem.GROUP_REFERENCE_MISMATCH: AckCodes(ak905="4", contrl="28"),
    Problem.GROUP_COUNT_WRONG: AckCodes(ak905="5", contrl="29"),
    Problem.GROUP_TRAILER_MISSING: AckCodes(ak905="3", contrl="13"),
    Problem.SET_NOT_SUPPORTED: AckCodes(ak502="1", contrl="14"),
    Problem.SET_TRAILER_MISSING: AckCodes(ak502="2", contrl="13"),
    Problem.SET_REFERENCE_MISMATCH: AckCodes(ak502="3", contrl="28"),
    Problem.SET_COUNT_WRONG: AckCodes(ak502="4", contrl="29"),
    Problem.SET_CONTROL_NOT_UNIQUE: AckCodes(ak502="23", contrl="26"),
    # TA105 025 duplicate interchange control number; AK905 19 (5030+) group control number
    # not unique; 0085 26 duplicate detected.
    Problem.CONTROL_NUMBER_REUSED: AckCodes(ta105="025", ak905="19", contrl="26"),
    Problem.UNRECOGNIZED_SEGMENT: AckCodes(ak304="1", ak502="5", contrl="15"),
    Problem.UNEXPECTED_SEGMENT: AckCodes(ak304="2", ak502="5", contrl="15"),
    Problem.MANDATORY_SEGMENT_MISSING: AckCodes(ak304="3", ak502="5", contrl="13"),
    Problem.LOOP_OVER_MAX: AckCodes(ak304="4", ak502="5", contrl="36"),
    Problem.SEGMENT_OVER_MAX: AckCodes(ak304="5", ak502="5", contrl="35"),
    Problem.SEGMENT_OUT_OF_ORDER: AckCodes(ak304="7", ak502="5", contrl="15"),
    Problem.MANDATORY_ELEMENT_MISSING: AckCodes(ak304="8", ak403="1", ak502="5", contrl="13"),
    Problem.CONDITIONAL_ELEMENT_MISSING: AckCodes(ak304="8", ak403="2", ak502="5", contrl="13"),
    Problem.TOO_MANY_ELEMENTS: AckCodes(ak304="8", ak403="3", ak502="5", contrl="16"),
    Problem.ELEMENT_TOO_SHORT: AckCodes(ak304="8", ak403="4", ak502="5", contrl="40"),
    Problem.ELEMENT_TOO_LONG: AckCodes(ak304="8", ak403="5", ak502="5", contrl="39"),
    Problem.ELEMENT_INVALID_CHARACTER: AckCodes(ak304="8", ak403="6", ak502="5", contrl="21"),
    Problem.ELEMENT_INVALID_CODE: AckCodes(ak304="8", ak403="7", ak502="5", contrl="12"),
    Problem.ELEMENT_INVALID_DATE: AckCodes(ak304="8", ak403="8", ak502="5", contrl="12"),
    Problem.ELEMENT_INVALID_TIME: AckCodes(ak304="8", ak403="9", ak502="5", contrl="12"),
    Problem.EXCLUSION_VIOLATED: AckCodes(ak304="8", ak403="10", ak502="5", contrl="12"),
    Problem.TOTAL_MISMATCH: AckCodes(),
    Problem.COUNT_MISMATCH: AckCodes(),
    Problem.PARTNER_REQUIREMENT: AckCodes(),
    Problem.DUPLICATE_INVOICE: AckCodes(),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One defect of an EDI file, located and explained.

    `position` is the 1-based segment ordinal in the file (the interchange header
    is 1); `set_position` is the ordinal inside its transaction set or message
    (ST/UNH = 1), the number a 997 AK302 or CONTRL UCS 0096 would carry. `element`
    is "03" or "03:1" (element, component), 1-based as in AK401.
    """

    rule: str
    severity: Severity
    problem: Problem
    message: str
    position: int | None = None
    segment: str | None = None
    element: str | None = None
    set_control: str | None = None
    set_position: int | None = None

    @property
    def ack(self) -> AckCodes:
        """The acknowledgment codes a partner would send for this finding."""
        return ACK_CODES[self.problem]

    def to_json(self) -> dict[str, object]:
        """The finding as plain JSON data (`arlink edi validate --json`)."""
        codes = {k: v for k, v in _ack_dict(self.ack).items() if v is not None}
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "problem": self.problem.value,
            "message": self.message,
            "position": self.position,
            "segment": self.segment,
            "element": self.element,
            "set_control": self.set_control,
            "set_position": self.set_position,
            "ack": codes,
        }


def _ack_dict(codes: AckCodes) -> dict[str, str | None]:
    return {name: getattr(codes, name) for name in AckCodes.__slots__}


def problem_for_ack(level: str, code: str) -> list[Problem]:
    """The problems an inbound acknowledgment code stands for (`level` e.g. "ak403", "contrl")."""
    return [problem for problem, codes in ACK_CODES.items() if getattr(codes, level) == code]


def finding_at(
    rule: str,
    problem: Problem,
    message: str,
    segment: Segment | None,
    element: str | None = None,
    *,
    warning: bool = False,
    where: Mapping[str, object] | None = None,
) -> Finding:
    """A finding about `segment`; `where` adds the set-level position (see `locate`)."""
    place = dict(where or {})
    return Finding(
        rule=rule,
        severity=Severity.WARNING if warning else Severity.REJECT,
        problem=problem,
        message=message,
        position=segment.position if segment is not None else None,
        segment=segment.tag if segment is not None else None,
        element=element,
        set_control=place.get("set_control"),  # type: ignore[arg-type]
        set_position=place.get("set_position"),  # type: ignore[arg-type]
    )


def locate(unit: list[Segment], reference: str, segment: Segment) -> dict[str, object]:
    """Set-level position of `segment` in the set or message `unit` (header = 1, as in
    997 AK302 and CONTRL UCS 0096), with the unit's control reference."""
    return {"set_control": reference, "set_position": segment.position - unit[0].position + 1}


def has_reject(findings: list[Finding]) -> bool:
    """True when any finding stops delivery."""
    return any(f.severity is Severity.REJECT for f in findings)
