"""Element syntax: data types, lengths, code lists and relational conditions.

An element definition (X12 SEF `.ELMS`, EDIFACT directory) gives a type, a
minimum and maximum length and, for coded elements, a code list. X12 types:
N0/N2 (digits, implied decimals, optional leading minus, the sign not counted),
R (explicit decimal point only when fractional, sign and point not counted),
DT (CCYYMMDD, or YYMMDD where 6 long), TM (HHMM[SS[D[D]]]), ID (coded), AN
(printable text). EDIFACT `n` is numeric with the interchange's decimal mark.
Relational conditions (X12.6 syntax notes, SEF `+` strings) tie elements of one
segment: P paired, R at least one, E at most one, C if first then all, L if
first then at least one other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from edi.findings import Problem

_INTEGER = re.compile(r"-?\d+")
_REAL = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True, slots=True)
class ElementSpec:
    """One element's definition: type, lengths, mandatory, and its code list if coded.

    `codes_complete` says whether `codes` is the standard's whole list (an unknown
    value is then invalid) or a subset we know (an unknown value is only a warning).
    """

    kind: str
    min_length: int
    max_length: int | None
    mandatory: bool = False
    codes: frozenset[str] | None = None
    codes_complete: bool = True
    name: str = ""


@dataclass(frozen=True, slots=True)
class Defect:
    """What is wrong with one element value; `warning` when it need not stop delivery."""

    problem: Problem
    detail: str
    warning: bool = False


def spec(
    kind: str,
    min_length: int,
    max_length: int | None,
    name: str = "",
    *,
    mandatory: bool = False,
    codes: str | None = None,
    complete: bool = True,
) -> ElementSpec:
    """Shorthand for tables: `codes` is a space-separated code list."""
    code_set = frozenset(codes.split()) if codes is not None else None
    return ElementSpec(kind, min_length, max_length, mandatory, code_set, complete, name)


def check_value(value: str, element: ElementSpec, decimal: str = ".") -> list[Defect]:
    """Defects of one non-empty element value against its definition."""
    kind = element.kind
    if kind in ("N0", "N2", "N"):
        if not _INTEGER.fullmatch(value):
            return [Defect(Problem.ELEMENT_INVALID_CHARACTER, f"{value!r} is not a whole number")]
        length = len(value.lstrip("-"))
    elif kind in ("R", "n"):
        text = value.replace(decimal, ".") if kind == "n" else value
        if kind == "n" and decimal != "." and "." in value:
            return [
                Defect(Problem.ELEMENT_INVALID_CHARACTER, f"{value!r} uses the wrong decimal mark")
            ]
        if not _REAL.fullmatch(text):
            return [Defect(Problem.ELEMENT_INVALID_CHARACTER, f"{value!r} is not a number")]
        length = len(text.lstrip("-").replace(".", ""))
    elif kind == "DT":
        if not _valid_date(value):
            return [Defect(Problem.ELEMENT_INVALID_DATE, f"{value!r} is not a valid date")]
        length = len(value)
    elif kind == "TM":
        if not _valid_time(value):
            return [Defect(Problem.ELEMENT_INVALID_TIME, f"{value!r} is not a valid time")]
        length = len(value)
    else:
        length = len(value)
        if not value.isprintable():
            return [Defect(Problem.ELEMENT_INVALID_CHARACTER, f"{value!r} has control characters")]
    defects = _length_defects(value, length, element)
    if element.codes is not None and value not in element.codes:
        defects.append(
            Defect(
                Problem.ELEMENT_INVALID_CODE,
                f"code {value!r} is not in the code list",
                warning=not element.codes_complete,
            )
        )
    if kind == "AN" and value != value.rstrip(" ") and length > element.min_length:
        defects.append(
            Defect(
                Problem.ELEMENT_INVALID_CHARACTER,
                f"{value!r} has trailing spaces (suppress them)",
                warning=True,
            )
        )
    return defects


def _length_defects(value: str, length: int, element: ElementSpec) -> list[Defect]:
    if length < element.min_length:
        return [
            Defect(
                Problem.ELEMENT_TOO_SHORT,
                f"{value!r} is {length} long, at least {element.min_length} required",
            )
        ]
    if element.max_length is not None and length > element.max_length:
        return [
            Defect(
                Problem.ELEMENT_TOO_LONG,
                f"{value!r} is {length} long, at most {element.max_length} allowed",
            )
        ]
    return []


def _valid_date(value: str) -> bool:
    if not value.isdigit() or len(value) not in (6, 8):
        return False
    # YYMMDD (ISA09 and EDIFACT syntax 3) windows the century like X12 translators do.
    year = int(value[:4]) if len(value) == 8 else 2000 + int(value[:2])
    try:
        date(year, int(value[-4:-2]), int(value[-2:]))
    except ValueError:
        return False
    return True


def _valid_time(value: str) -> bool:
    if not value.isdigit() or len(value) not in (4, 6, 7, 8):
        return False
    hours, minutes = int(value[:2]), int(value[2:4])
    seconds = int(value[4:6]) if len(value) >= 6 else 0
    return hours < 24 and minutes < 60 and seconds < 60


@dataclass(frozen=True, slots=True)
class Relation:
    """A relational condition such as `P020304` (paired: elements 2, 3, 4)."""

    kind: str
    elements: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> Relation:
        """Read the X12 notation: a letter, then two-digit element positions."""
        digits = text[1:]
        return cls(text[0], tuple(int(digits[i : i + 2]) for i in range(0, len(digits), 2)))

    @property
    def code(self) -> str:
        return self.kind + "".join(f"{e:02d}" for e in self.elements)

    def violated(self, present: set[int]) -> tuple[Problem, tuple[int, ...]] | None:
        """None when satisfied, else the problem and the elements to point at."""
        if self.kind in "PEC" and present.isdisjoint(self.elements):
            return None  # the common case: none of the elements is used
        given = [e for e in self.elements if e in present]
        missing = tuple(e for e in self.elements if e not in present)
        first, rest = self.elements[0], self.elements[1:]
        if self.kind == "P" and given and missing:
            return Problem.CONDITIONAL_ELEMENT_MISSING, missing
        if self.kind == "R" and not given:
            return Problem.CONDITIONAL_ELEMENT_MISSING, self.elements
        if self.kind == "E" and len(given) > 1:
            return Problem.EXCLUSION_VIOLATED, tuple(given)
        if self.kind == "C" and first in present and any(e not in present for e in rest):
            return Problem.CONDITIONAL_ELEMENT_MISSING, tuple(e for e in rest if e not in present)
        if self.kind == "L" and first in present and not any(e in present for e in rest):
            return Problem.CONDITIONAL_ELEMENT_MISSING, rest
        return None
