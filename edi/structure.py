"""Set structure: segment order, loops, maximum use and mandatory segments.

A transaction set (X12) or message (EDIFACT) is described by its standard's
segment table: an ordered list of segments and loops (segment groups), each
with a maximum use and whether it is mandatory; a loop starts with its own first
segment. `check_structure` walks the segments of one set against such a table
the way a translator does: a segment matches the next entry at or after the
current place in the innermost open loop, else closes loops outward; a segment
found only earlier is out of sequence, one found nowhere is not in the set. It
reports every problem (997 AK304 codes 2-7) and keeps walking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from edi.findings import Finding, Problem, finding_at
from edi.segments import Segment


@dataclass(frozen=True, slots=True)
class Seg:
    """A segment entry of a table: tag, maximum use (None = unbounded), mandatory."""

    tag: str
    max_use: int | None = 1
    mandatory: bool = False


@dataclass(frozen=True, slots=True)
class Loop:
    """A loop (segment group): its entries, the first being its trigger segment."""

    name: str
    entries: tuple[Seg | Loop, ...]
    max_use: int | None = 1
    mandatory: bool = False

    @property
    def tag(self) -> str:
        first = self.entries[0]
        return first.tag


Entry = Seg | Loop


@dataclass(slots=True)
class _Frame:
    entries: tuple[Entry, ...]
    index: int = 0
    counts: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StructureRules:
    """The rule ids structure findings carry, per standard (X-T01/X-T02 or E-T01/E-T02)."""

    mandatory_rule: str
    order_rule: str


def check_structure(
    segments: list[Segment],
    table: tuple[Entry, ...],
    rules: StructureRules,
    locate: Callable[[Segment], dict[str, object]],
    *,
    extra_mandatory: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Findings for one set's `segments` against `table`; `locate` gives position fields.

    `extra_mandatory` names segments a partner profile makes mandatory on top of the
    standard (X12 810: IT1 and CTT are optional in the standard, required in retail).
    """
    findings: list[Finding] = []
    known = _all_tags(table)
    stack = [_Frame(table)]
    seen: set[str] = set()

    def report(rule: str, problem: Problem, message: str, segment: Segment) -> None:
        findings.append(finding_at(rule, problem, message, segment, where=locate(segment)))

    previous = ""
    for segment in segments:
        seen.add(segment.tag)
        after, previous = previous, segment.tag
        if segment.tag not in known:
            report(
                rules.order_rule,
                Problem.UNEXPECTED_SEGMENT,
                f"segment {segment.tag} does not belong in this document",
                segment,
            )
            continue
        if _advance(stack, segment, report, rules):
            continue
        if _back_in_stack(stack, segment.tag):
            report(
                rules.order_rule,
                Problem.SEGMENT_OUT_OF_ORDER,
                f"segment {segment.tag} is out of order: it comes after {after} "
                "but belongs before it",
                segment,
            )
        else:
            report(
                rules.order_rule,
                Problem.UNEXPECTED_SEGMENT,
                f"segment {segment.tag} is not allowed at this place in the document",
                segment,
            )
    for tag in sorted(_mandatory_tags(table) | extra_mandatory):
        if tag not in seen and segments:
            # Reported at the set's trailer, where a reader notices the absence.
            missing = finding_at(
                rules.mandatory_rule,
                Problem.MANDATORY_SEGMENT_MISSING,
                f"required segment {tag} is missing",
                segments[-1],
                where=locate(segments[-1]),
            )
            findings.append(replace(missing, segment=tag))
    return findings


def _advance(
    stack: list[_Frame],
    segment: Segment,
    report: Callable[[str, Problem, str, Segment], None],
    rules: StructureRules,
) -> bool:
    """Match `segment` forward in the open loops, innermost first; True when it matched."""
    for depth in range(len(stack) - 1, -1, -1):
        frame = stack[depth]
        for index in range(frame.index, len(frame.entries)):
            entry = frame.entries[index]
            if entry.tag != segment.tag:
                continue
            # A loop's own trigger repeating at index 0 of its frame is a new iteration,
            # counted by the parent frame, so it is not matched inside the loop body.
            if depth > 0 and index == 0:
                break
            del stack[depth + 1 :]
            count = frame.counts.get(index, 0) + 1
            frame.counts[index] = count
            frame.index = index
            if entry.max_use is not None and count > entry.max_use:
                what = "loop" if isinstance(entry, Loop) else "segment"
                problem = (
                    Problem.LOOP_OVER_MAX if isinstance(entry, Loop) else Problem.SEGMENT_OVER_MAX
                )
                report(
                    rules.order_rule,
                    problem,
                    f"{what} {entry.tag} appears {count} times; at most {entry.max_use} allowed",
                    segment,
                )
            if isinstance(entry, Loop):
                inner = _Frame(entry.entries)
                inner.counts[0] = 1
                stack.append(inner)
            return True
    return False


def _back_in_stack(stack: list[_Frame], tag: str) -> bool:
    """True (and the walk moved back there) when `tag` appears earlier in an open loop."""
    for depth in range(len(stack) - 1, -1, -1):
        frame = stack[depth]
        for index in range(frame.index - 1, -1, -1):
            if frame.entries[index].tag == tag:
                # Resume from the earlier entry so one misplaced segment is reported once,
                # not again for every segment that correctly follows it.
                del stack[depth + 1 :]
                frame.index = index
                return True
    return False


def _all_tags(entries: tuple[Entry, ...]) -> set[str]:
    tags: set[str] = set()
    for entry in entries:
        if isinstance(entry, Loop):
            tags |= _all_tags(entry.entries)
        else:
            tags.add(entry.tag)
    return tags


def _mandatory_tags(entries: tuple[Entry, ...]) -> set[str]:
    return {entry.tag for entry in entries if entry.mandatory}
