"""Inbound acknowledgments and application advices -> pure records.

Reads, from one file:

- X12 997 (4010) and 999 (5010 X231): AK1 group, AK2 set, AK3/IK3 segment error
  (AK302 position, ST = 1), AK4/IK4 element error, AK5/IK5 set status, AK9 group
  status (edi-rules.md section 5);
- X12 TA1: interchange status of one ISA13 (TA104 A/E/R, TA105 note code);
- EDIFACT CONTRL (D:3 / 4:1, and the D:96A spelling seen in the field): UCI
  interchange, UCF group, UCM message, UCS segment (0096 position, UNH = 1) and
  UCD element, with the 0083 action and 0085 error codes;
- application advices, business-level answers: X12 824 (OTI per document or item,
  TED errors with their segment position, NTE text) and EDIFACT APERAK (RFF
  references, ERC errors, FTX text).

Statuses: A -> accepted, E -> accepted with errors, P -> partially accepted (group
only), R/M/W/X -> rejected; CONTRL 0083 7 -> accepted (with errors when segments
are listed), 4 -> rejected, 8 -> received (not yet checked). Reading is lenient:
an acknowledgment's own defects are the partner's problem, not a reason to lose
what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from edi.edifact import read_edifact
from edi.edifact_envelope import check_envelopes as edifact_envelopes
from edi.segments import Segment
from edi.validate import detect_standard
from edi.x12 import read_x12
from edi.x12_envelope import TransactionSet
from edi.x12_envelope import check_envelopes as x12_envelopes


class AckStatus(StrEnum):
    """What the partner said about an interchange, group, document or item."""

    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"
    RECEIVED = "received"


_X12_STATUS = {
    "A": AckStatus.ACCEPTED,
    "E": AckStatus.ACCEPTED_WITH_ERRORS,
    "P": AckStatus.PARTIALLY_ACCEPTED,
    "R": AckStatus.REJECTED,
    "M": AckStatus.REJECTED,
    "W": AckStatus.REJECTED,
    "X": AckStatus.REJECTED,
}
_CONTRL_STATUS = {"4": AckStatus.REJECTED, "7": AckStatus.ACCEPTED, "8": AckStatus.RECEIVED}
# 824 OTI01 application acknowledgment codes (transaction set / item level).
_OTI_STATUS = {
    "TA": AckStatus.ACCEPTED,
    "IA": AckStatus.ACCEPTED,
    "TE": AckStatus.ACCEPTED_WITH_ERRORS,
    "IE": AckStatus.ACCEPTED_WITH_ERRORS,
    "TC": AckStatus.ACCEPTED_WITH_ERRORS,
    "IC": AckStatus.ACCEPTED_WITH_ERRORS,
    "TR": AckStatus.REJECTED,
    "IR": AckStatus.REJECTED,
    "TP": AckStatus.PARTIALLY_ACCEPTED,
}


@dataclass(frozen=True, slots=True)
class ElementError:
    """AK4 / IK4 / UCD: the element (`"4"` or `"2:1"`), its dictionary number, the code."""

    position: str
    code: str
    reference: str = ""
    bad_value: str = ""


@dataclass(frozen=True, slots=True)
class SegmentError:
    """AK3 / IK3 / UCS: the segment's position in the document (header = 1) and the code."""

    position: int
    code: str
    segment_id: str = ""
    elements: tuple[ElementError, ...] = ()


@dataclass(frozen=True, slots=True)
class SetAck:
    """AK2..AK5 / IK5 / UCM: one document (ST02 or UNH 0062) and what happened to it."""

    set_type: str
    control: str
    status: AckStatus
    codes: tuple[str, ...] = ()
    segments: tuple[SegmentError, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupAck:
    """AK1..AK9 / UCF: one functional group (GS06; "" for EDIFACT without UNG)."""

    functional_id: str
    control: str
    status: AckStatus | None
    sets: tuple[SetAck, ...] = ()
    codes: tuple[str, ...] = ()
    counts: tuple[str, str, str] = ("", "", "")  # AK902 included, AK903 received, AK904 accepted


@dataclass(frozen=True, slots=True)
class InterchangeAck:
    """TA1 / UCI: one interchange (ISA13 or UNB 0020) and what happened to it."""

    control: str
    status: AckStatus
    code: str = ""


@dataclass(frozen=True, slots=True)
class Acknowledgment:
    """One 997, 999, TA1 or CONTRL, as its levels."""

    kind: str
    interchanges: tuple[InterchangeAck, ...] = ()
    groups: tuple[GroupAck, ...] = ()


@dataclass(frozen=True, slots=True)
class AdviceError:
    """824 TED / APERAK ERC: an application error, with where it is when the partner says."""

    code: str
    text: str
    segment_id: str = ""
    position: int | None = None
    element: str = ""
    bad_value: str = ""


@dataclass(frozen=True, slots=True)
class AdviceItem:
    """824 OTI / one APERAK: the document it answers (references, GS06, ST02) and its status."""

    status: AckStatus
    references: tuple[tuple[str, str], ...] = ()
    group_control: str = ""
    set_control: str = ""
    set_type: str = ""
    errors: tuple[AdviceError, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class ApplicationAdvice:
    """One 824 or APERAK."""

    kind: str
    items: tuple[AdviceItem, ...] = ()


@dataclass(slots=True)
class Inbound:
    """Everything an inbound acknowledgment file holds."""

    acknowledgments: list[Acknowledgment] = field(default_factory=list)
    advices: list[ApplicationAdvice] = field(default_factory=list)


def read_acknowledgments(data: bytes) -> Inbound:
    """The acknowledgments and application advices of one X12 or EDIFACT file."""
    standard = detect_standard(data)
    if standard == "x12":
        return _read_x12(data)
    if standard == "edifact":
        return _read_edifact(data)
    raise ValueError("not an EDI file: it starts with neither ISA (X12) nor UNA/UNB (EDIFACT)")


def _int(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


# ---------------------------------------------------------------- X12


def _read_x12(data: bytes) -> Inbound:
    reading = read_x12(data)
    if reading.delimiters is None:
        raise ValueError("not an X12 interchange: no readable ISA header")
    inbound = Inbound()
    ta1s = tuple(
        InterchangeAck(s.get(1), _X12_STATUS.get(s.get(4), AckStatus.REJECTED), s.get(5))
        for s in reading.segments
        if s.tag == "TA1"
    )
    if ta1s:
        inbound.acknowledgments.append(Acknowledgment("TA1", interchanges=ta1s))
    _, sets = x12_envelopes(reading.segments, reading.delimiters)
    for transaction in sets:
        if transaction.set_type in ("997", "999"):
            groups = _functional_ack(transaction.segments)
            inbound.acknowledgments.append(Acknowledgment(transaction.set_type, groups=groups))
        elif transaction.set_type == "824":
            inbound.advices.append(ApplicationAdvice("824", _application_advice(transaction)))
    return inbound


@dataclass(slots=True)
class _Open:
    """The group, set and segment error a 997/999 walk is inside."""

    groups: list[GroupAck] = field(default_factory=list)
    group: Segment | None = None
    sets: list[SetAck] = field(default_factory=list)
    set_header: Segment | None = None
    errors: list[SegmentError] = field(default_factory=list)


def _functional_ack(segments: list[Segment]) -> tuple[GroupAck, ...]:
    state = _Open()
    for segment in segments:
        tag = segment.tag
        if tag == "AK1":
            state.group, state.sets = segment, []
        elif tag == "AK2":
            state.set_header, state.errors = segment, []
        elif tag in ("AK3", "IK3"):
            state.errors.append(SegmentError(_int(segment.get(2)), segment.get(4), segment.get(1)))
        elif tag in ("AK4", "IK4") and state.errors:
            position = ":".join(c for c in segment.elements[0] if c) if segment.elements else ""
            element = ElementError(position, segment.get(3), segment.get(2), segment.get(4))
            last = state.errors[-1]
            state.errors[-1] = SegmentError(
                last.position, last.code, last.segment_id, (*last.elements, element)
            )
        elif tag in ("AK5", "IK5") and state.set_header is not None:
            state.sets.append(
                SetAck(
                    state.set_header.get(1),
                    state.set_header.get(2),
                    _X12_STATUS.get(segment.get(1), AckStatus.REJECTED),
                    tuple(c for c in (segment.get(n) for n in range(2, 7)) if c),
                    tuple(state.errors),
                )
            )
            state.set_header = None
        elif tag == "AK9" and state.group is not None:
            state.groups.append(
                GroupAck(
                    state.group.get(1),
                    state.group.get(2),
                    _X12_STATUS.get(segment.get(1), AckStatus.REJECTED),
                    tuple(state.sets),
                    tuple(c for c in (segment.get(n) for n in range(5, 10)) if c),
                    (segment.get(2), segment.get(3), segment.get(4)),
                )
            )
            state.group = None
    return tuple(state.groups)


def _application_advice(transaction: TransactionSet) -> tuple[AdviceItem, ...]:
    segments = transaction.segments
    items: list[AdviceItem] = []
    oti: Segment | None = None
    errors: list[AdviceError] = []
    notes: list[str] = []

    def close() -> None:
        if oti is not None:
            items.append(
                AdviceItem(
                    _OTI_STATUS.get(oti.get(1), AckStatus.REJECTED),
                    ((oti.get(2), oti.get(3)),),
                    oti.get(8),
                    oti.get(9),
                    oti.get(10),
                    tuple(errors),
                    " ".join(notes),
                )
            )

    for segment in segments:
        if segment.tag == "OTI":
            close()
            oti, errors, notes = segment, [], []
        elif segment.tag == "TED" and oti is not None:
            errors.append(
                AdviceError(
                    segment.get(1),
                    segment.get(2),
                    segment.get(3),
                    _int(segment.get(4)) or None,
                    segment.get(5),
                    segment.get(7),
                )
            )
        elif segment.tag == "NTE" and oti is not None:
            notes.append(segment.get(2).strip())
    close()
    return tuple(items)


# ---------------------------------------------------------------- EDIFACT


def _read_edifact(data: bytes) -> Inbound:
    reading = read_edifact(data)
    if reading.delimiters is None:
        raise ValueError("not an EDIFACT interchange: no UNB header")
    inbound = Inbound()
    _, messages = edifact_envelopes(reading.segments)
    for message in messages:
        if message.message_type == "CONTRL":
            inbound.acknowledgments.append(_contrl(message.segments))
        elif message.message_type == "APERAK":
            inbound.advices.append(ApplicationAdvice("APERAK", (_aperak(message.segments),)))
    return inbound


def _contrl(segments: list[Segment]) -> Acknowledgment:
    interchanges: list[InterchangeAck] = []
    groups: list[GroupAck] = []
    sets: list[SetAck] = []
    group_header: Segment | None = None
    message: Segment | None = None
    errors: list[SegmentError] = []

    def close_message() -> None:
        nonlocal message
        if message is not None:
            status = _CONTRL_STATUS.get(message.get(3), AckStatus.REJECTED)
            if status is AckStatus.ACCEPTED and errors:
                status = AckStatus.ACCEPTED_WITH_ERRORS
            codes = (message.get(4),) if message.get(4) else ()
            sets.append(SetAck(message.get(2, 1), message.get(1), status, codes, tuple(errors)))
            message = None

    def close_group() -> None:
        nonlocal sets, group_header
        close_message()
        if group_header is not None or sets:
            status = (
                _CONTRL_STATUS.get(group_header.get(4), AckStatus.REJECTED)
                if group_header is not None
                else None
            )
            control = group_header.get(1) if group_header is not None else ""
            groups.append(GroupAck("", control, status, tuple(sets)))
        sets, group_header = [], None

    for segment in segments:
        tag = segment.tag
        if tag == "UCI":
            interchanges.append(
                InterchangeAck(
                    segment.get(1),
                    _CONTRL_STATUS.get(segment.get(4), AckStatus.REJECTED),
                    segment.get(5),
                )
            )
        elif tag == "UCF":
            close_group()
            group_header = segment
        elif tag == "UCM":
            close_message()
            message, errors = segment, []
        elif tag == "UCS" and message is not None:
            errors.append(SegmentError(_int(segment.get(1)), segment.get(2)))
        elif tag == "UCD" and errors:
            position = ":".join(c for c in segment.elements[1] if c) if segment.count > 1 else ""
            last = errors[-1]
            element = ElementError(position, segment.get(1))
            errors[-1] = SegmentError(last.position, last.code, "", (*last.elements, element))
    close_group()
    return Acknowledgment("CONTRL", tuple(interchanges), tuple(groups))


def _aperak(segments: list[Segment]) -> AdviceItem:
    bgm = next((s for s in segments if s.tag == "BGM"), None)
    references = tuple((s.get(1, 1), s.get(1, 2)) for s in segments if s.tag == "RFF")
    errors: list[AdviceError] = []
    texts: list[str] = []
    for segment in segments:
        if segment.tag == "ERC":
            errors.append(AdviceError(segment.get(1, 1), ""))
        elif segment.tag == "FTX":
            text = " ".join(c for c in segment.elements[3] if c) if segment.count > 3 else ""
            if errors and not errors[-1].text:
                errors[-1] = AdviceError(errors[-1].code, text)
            else:
                texts.append(text)
    # BGM 1225 message function 27 = not accepted; an error (ERC) also means not accepted.
    rejected = bool(errors) or (bgm is not None and "27" in (bgm.get(1, 1), bgm.get(3)))
    status = AckStatus.REJECTED if rejected else AckStatus.ACCEPTED
    return AdviceItem(status, references, errors=tuple(errors), text=" ".join(texts))
