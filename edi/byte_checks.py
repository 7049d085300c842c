"""Byte-level checks both EDI syntaxes share: encoding, leading bytes, segment layout.

These run before any envelope is read (edi-rules.md step 1): a byte order mark or
other bytes before the interchange header (X-E01 / E-E01), whitespace other than
one line break between segments (X-E03 / E-E01), and a last segment without its
terminator (X-E10 / E-E01). Each becomes a finding; none stops the reading.
"""

from __future__ import annotations

from edi.findings import Finding, Problem, Severity
from edi.segments import Split

_BOM = "\ufeff"


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 when it is, else Latin-1 (every byte a character, nothing lost)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def show_char(char: str) -> str:
    """A delimiter as a clerk can read it (CR, LF, space, or the quoted character)."""
    return {"\r": "CR", "\n": "LF", " ": "space"}.get(char, repr(char))


def leading_findings(text: str, start: int, header: str, rule: str) -> list[Finding]:
    """Findings for a byte order mark or other bytes before the interchange header at `start`."""
    findings: list[Finding] = []
    skip = len(_BOM) if text.startswith(_BOM) else 0
    if skip:
        findings.append(
            Finding(
                rule,
                Severity.REJECT,
                Problem.LEADING_BYTES,
                "the file starts with a byte order mark (BOM); many partners' translators "
                f"reject it: remove it so the file starts with {header}",
                position=1,
            )
        )
    if start > skip:
        findings.append(
            Finding(
                rule,
                Severity.REJECT,
                Problem.LEADING_BYTES,
                f"{start - skip} character(s) before {header}; the file must start with {header}",
                position=1,
            )
        )
    return findings


def layout_findings(
    split: Split, terminator: str, *, padding_rule: str, terminator_rule: str
) -> list[Finding]:
    """Findings for indentation between segments and an unterminated last segment."""
    findings: list[Finding] = []
    if split.padded:
        first = next((s.position for s in split.segments if s.offset == split.padded[0]), None)
        findings.append(
            Finding(
                padding_rule,
                Severity.REJECT,
                Problem.BAD_TERMINATOR,
                f"{len(split.padded)} segment(s) are preceded by spaces or blank lines "
                "(indentation); only one line break may follow a segment terminator",
                position=first,
            )
        )
    if split.unterminated is not None:
        last = split.unterminated
        findings.append(
            Finding(
                terminator_rule,
                Severity.REJECT,
                Problem.BAD_TERMINATOR,
                f"the last segment ({last.tag}) has no segment terminator {show_char(terminator)}",
                position=last.position,
                segment=last.tag,
            )
        )
    return findings
