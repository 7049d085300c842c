"""Segments: the layer both EDI syntaxes share, below any standard's dictionary.

An X12 interchange and an EDIFACT interchange are both a run of segments, each a
tag and elements, each element one or more components, cut by three delimiters
(EDIFACT adds a release character that escapes the next one). `split_segments`
cuts decoded text into `Segment`s and notes the byte-level irregularities a
validator reports (whitespace between segments, an unterminated last segment)
instead of failing on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Line breaks after a segment terminator are tolerated by both standards' users
# (X12: "CR/LF allowed but then no other whitespace"); anything else is reported.
_LINE_BREAKS = "\r\n"


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The service characters of one interchange (`release` is None for X12)."""

    element: str
    component: str
    segment: str
    release: str | None = None
    repetition: str | None = None
    decimal: str = "."


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its tag and its elements, each a tuple of components.

    `position` is the 1-based ordinal in the file and `offset` the character
    offset of the tag in the decoded text (after any byte order mark).
    """

    tag: str
    elements: tuple[tuple[str, ...], ...]
    position: int
    offset: int

    def get(self, element: int, component: int = 1) -> str:
        """Element `element` (1-based, as in "BIG02"), component `component`; "" when absent."""
        if element > len(self.elements):
            return ""
        parts = self.elements[element - 1]
        return parts[component - 1] if component <= len(parts) else ""

    def has(self, element: int) -> bool:
        """True when the element is present with some non-empty component."""
        return element <= len(self.elements) and any(self.elements[element - 1])

    @property
    def count(self) -> int:
        """Number of elements written (trailing empty ones included)."""
        return len(self.elements)


@dataclass(slots=True)
class Split:
    """The segments of a text, with what was irregular between them."""

    segments: list[Segment] = field(default_factory=list)
    # offsets of segments preceded by whitespace other than one line break
    padded: list[int] = field(default_factory=list)
    # the tail after the last terminator, when it holds a segment without terminator
    unterminated: Segment | None = None


def split_segments(text: str, start: int, delimiters: Delimiters, first_position: int = 1) -> Split:
    """Cut `text[start:]` into segments with `delimiters`; never raises on odd input."""
    result = Split()
    terminator = delimiters.segment
    position = first_position
    offset = start
    end = len(text)
    while offset < end:
        seg_start = _skip_between(text, offset, terminator)
        if seg_start >= end:
            break
        if seg_start != offset and not _only_line_break(text[offset:seg_start]):
            result.padded.append(seg_start)
        stop, raw = _read_to_terminator(text, seg_start, delimiters)
        segment = _make_segment(raw, delimiters, position, seg_start)
        if stop >= end:
            result.unterminated = segment
            result.segments.append(segment)
            break
        result.segments.append(segment)
        position += 1
        offset = stop + 1
    return result


def _skip_between(text: str, offset: int, terminator: str) -> int:
    end = len(text)
    while offset < end and text[offset].isspace() and text[offset] != terminator:
        offset += 1
    return offset


def _only_line_break(gap: str) -> bool:
    return gap in ("\n", "\r\n", "\r")


def _read_to_terminator(text: str, start: int, delimiters: Delimiters) -> tuple[int, str]:
    """The index of the terminator ending the segment at `start`, and the raw segment text."""
    release = delimiters.release
    terminator = delimiters.segment
    index = text.find(terminator, start)
    if release is None:
        stop = len(text) if index < 0 else index
        return stop, text[start:stop]
    # A terminator preceded by an odd run of release characters is data, not an end.
    while index >= 0:
        run = 0
        back = index - 1
        while back >= start and text[back] == release:
            run += 1
            back -= 1
        if run % 2 == 0:
            return index, text[start:index]
        index = text.find(terminator, index + 1)
    return len(text), text[start:]


def _make_segment(raw: str, delimiters: Delimiters, position: int, offset: int) -> Segment:
    raw = raw.rstrip(_LINE_BREAKS) if delimiters.segment not in _LINE_BREAKS else raw
    if delimiters.release is None or delimiters.release not in raw:
        parts = raw.split(delimiters.element)
        elements = tuple(tuple(p.split(delimiters.component)) for p in parts[1:])
        return Segment(parts[0], elements, position, offset)
    return _make_released_segment(raw, delimiters, position, offset)


def _make_released_segment(raw: str, delimiters: Delimiters, position: int, offset: int) -> Segment:
    elements: list[tuple[str, ...]] = []
    components: list[str] = []
    current: list[str] = []
    escaped = False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == delimiters.release:
            escaped = True
        elif char == delimiters.element:
            components.append("".join(current))
            elements.append(tuple(components))
            components, current = [], []
        elif char == delimiters.component:
            components.append("".join(current))
            current = []
        else:
            current.append(char)
    components.append("".join(current))
    elements.append(tuple(components))
    tag = elements[0][0]
    return Segment(tag, tuple(elements[1:]), position, offset)
