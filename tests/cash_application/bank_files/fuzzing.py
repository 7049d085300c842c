"""The hypothesis mutation machinery the per-format fuzz tests share.

Random byte flips, insertions, deletions and replacements, and, for formats with
a markup (camt elements, OFX tags), whole units dropped or repeated: applied to
real files, each result must parse or raise a `BankFileError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from cash_application.bank_files.errors import BankFileError

Mutation = tuple[str, int, int]


def mutation_strategy(alphabet: bytes, *, unit: str | None = None) -> st.SearchStrategy[Mutation]:
    """One mutation: its kind, a position and a byte, biased to the format's `alphabet`.

    With `unit` (e.g. "element", "tag") the kinds include `drop-<unit>` and
    `repeat-<unit>`, which act on the matches of the `units` pattern given to `mutate`.
    """
    kinds = ["flip", "insert", "delete", "replace"]
    if unit is not None:
        kinds += [f"drop-{unit}", f"repeat-{unit}"]
    return st.tuples(
        st.sampled_from(kinds),
        st.integers(min_value=0, max_value=1 << 20),
        st.sampled_from(list(alphabet) + list(range(256))),
    )


def mutate(
    data: bytes, mutations: list[Mutation], *, units: re.Pattern[bytes] | None = None
) -> bytes:
    buffer = bytearray(data)
    for kind, position, byte in mutations:
        at = position % (len(buffer) + 1)
        if kind.startswith(("drop-", "repeat-")):
            assert units is not None, kind
            matches = list(units.finditer(bytes(buffer)))
            if matches:
                match = matches[position % len(matches)]
                twice = match.group() * 2 if kind.startswith("repeat-") else b""
                buffer[match.start() : match.end()] = twice
        elif kind == "insert" or not buffer:
            buffer[at:at] = bytes([byte])
        elif kind == "delete":
            del buffer[min(at, len(buffer) - 1)]
        elif kind == "flip":
            buffer[min(at, len(buffer) - 1)] ^= 1 << (byte % 8)
        else:
            buffer[min(at, len(buffer) - 1)] = byte
    return bytes(buffer)


def parses_or_names_the_problem(
    parse: Callable[..., Any],
    data: bytes,
    name: str,
    *,
    integrity_modes: tuple[bool, ...] = (True, False),
    line_required: bool = False,
) -> None:
    """`parse(data, name)` succeeds or raises a `BankFileError` naming `name` (anything
    else fails the test), once per `check_integrity` mode; an empty `integrity_modes`
    calls the parser once without it. With `line_required` the error must name a line."""
    for options in [{"check_integrity": mode} for mode in integrity_modes] or [{}]:
        problem: BankFileError | None = None
        try:
            parse(data, name, **options)
        except BankFileError as exc:  # anything else fails the test
            problem = exc
        if problem is not None:
            assert problem.file == name
            if line_required:
                assert problem.line is not None
                assert problem.line >= 1
            else:
                assert problem.line is None or problem.line >= 1
