"""History checks (edi-rules.md step 9): what was sent to this partner before.

Pure: the caller reads the partner's history from the ledger and passes it in.
Two checks, each a reject:

- a control number already used with the partner: ISA13 or GS06 (X12, rule
  X-E09: "never reuse numbers on retransmission of a corrected invoice"), UNB 0020
  (EDIFACT, rule E-E02 where 0020 is defined). The partner would answer TA1 025 /
  AK905 19 / CONTRL 0085 26 (duplicate) and drop the file;
- an invoice number already sent (BIG02, rule X-B02; BGM 1004, rule E-B01),
  including one resent in a new interchange: the partner pays an invoice once.
  A deliberate resend is the caller's decision (leave it out of the history).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edi.ack_join import control_key
from edi.edifact import read_edifact
from edi.edifact_envelope import check_envelopes as edifact_envelopes
from edi.findings import Finding, Problem, finding_at
from edi.segments import Segment
from edi.validate import detect_standard
from edi.x12 import read_x12
from edi.x12_envelope import check_envelopes as x12_envelopes


@dataclass(frozen=True, slots=True)
class History:
    """What was sent to one partner before: control numbers and invoice numbers."""

    interchange_controls: frozenset[str] = frozenset()
    group_controls: frozenset[str] = frozenset()
    invoice_numbers: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        interchange_controls: Iterable[str] = (),
        group_controls: Iterable[str] = (),
        invoice_numbers: Iterable[str] = (),
    ) -> History:
        """A history with control numbers normalised for comparison (`control_key`)."""
        return cls(
            frozenset(map(control_key, interchange_controls)),
            frozenset(map(control_key, group_controls)),
            frozenset(invoice_numbers),
        )


def history_findings(data: bytes, history: History) -> list[Finding]:
    """Findings for control numbers and invoice numbers of `data` already in `history`."""
    standard = detect_standard(data)
    if standard == "x12":
        return _x12(data, history)
    if standard == "edifact":
        return _edifact(data, history)
    return []


def _reused(rule: str, what: str, value: str, segment: Segment, element: str) -> Finding:
    return finding_at(
        rule,
        Problem.CONTROL_NUMBER_REUSED,
        f"{what} {value} was already used with this partner; a new or corrected file "
        "needs new control numbers",
        segment,
        element,
    )


def _duplicate(
    rule: str, number: str, segment: Segment, element: str, where: dict[str, object]
) -> Finding:
    return finding_at(
        rule,
        Problem.DUPLICATE_INVOICE,
        f"invoice number {number} was already sent to this partner; a partner pays an invoice once",
        segment,
        element,
        where=where,
    )


def _x12(data: bytes, history: History) -> list[Finding]:
    reading = read_x12(data)
    if reading.delimiters is None:
        return []
    findings = [
        _reused("X-E09", "interchange control number (ISA13)", s.get(13), s, "13")
        for s in reading.segments
        if s.tag == "ISA" and control_key(s.get(13)) in history.interchange_controls
    ]
    findings += [
        _reused("X-E09", "group control number (GS06)", s.get(6), s, "06")
        for s in reading.segments
        if s.tag == "GS" and control_key(s.get(6)) in history.group_controls
    ]
    _, sets = x12_envelopes(reading.segments, reading.delimiters)
    for invoice in (s for s in sets if s.set_type == "810"):
        big = next((s for s in invoice.segments if s.tag == "BIG"), None)
        if big is not None and big.get(2) in history.invoice_numbers:
            findings.append(_duplicate("X-B02", big.get(2), big, "02", invoice.locate(big)))
    return findings


def _edifact(data: bytes, history: History) -> list[Finding]:
    reading = read_edifact(data)
    if reading.delimiters is None:
        return []
    findings = [
        _reused("E-E02", "interchange control reference (UNB 0020)", s.get(5), s, "05")
        for s in reading.segments
        if s.tag == "UNB" and control_key(s.get(5)) in history.interchange_controls
    ]
    _, messages = edifact_envelopes(reading.segments)
    for message in (m for m in messages if m.message_type == "INVOIC"):
        bgm = next((s for s in message.segments if s.tag == "BGM"), None)
        if bgm is not None and bgm.get(2) in history.invoice_numbers:
            findings.append(_duplicate("E-B01", bgm.get(2), bgm, "02", message.locate(bgm)))
    return findings
