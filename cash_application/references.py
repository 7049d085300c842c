"""Invoice references in remittance text, whatever the separators and conventions.

Customers write the same invoice number many ways: `INV-2024-0012345`, `INV2024 0012345`,
`2024-0012345`, `INV-2024-12345`, `12345`, a list compressed as `INV-2024-0012345/0012399`,
inside X12 `RMR*IV*...\\` segments, wire OBI or SEPA unstructured text, next to dates,
15-digit trace numbers and amounts that look like numbers. An invoice is indexed under a
few comparable keys of its number (letters and digits; digits only without leading zeros;
digit groups without leading zeros; the last group alone, only searched among the payer's
own invoices) and of its PO number. The text is cleared of dates and amounts, cut into
letter/digit tokens, and every window of up to three adjacent tokens is looked up, so the
separators do not matter. A token that matches nothing may be a one-edit typo of one of the
payer's invoices (substitution, deletion, insertion, adjacent transposition).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator, Sequence
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

_TOKEN = re.compile(r"[A-Z]+|[0-9]+")
_RUN = re.compile(r"[A-Z0-9]+")
# Dates, decimal amounts: numbers that are never invoice references.
_NOISE = re.compile(
    r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,3}(?:,\d{3})*\.\d{2}\b"
    r"|(?<![0-9])\d+\.\d{2}(?![0-9])"
)
MAX_WINDOW = 3
SEQUENCE_DIGITS = (4, 8)  # a bare sequence number is this many digits, years excepted


class Found(NamedTuple):
    """One way the remittance named an invoice: the index key, its kind, and the text."""

    key: str
    kind: str  # exact, po, sequence
    text: str


def _groups(text: str) -> list[str]:
    return _TOKEN.findall(text.upper())


def invoice_keys(number: str, po_number: str | None = None) -> list[str]:
    """Every key an invoice is found under: its number (exact kinds), the last digit group
    of its number (sequence, searched only among the payer's invoices), its PO number."""
    groups = _groups(number)
    digit_groups = [g for g in groups if g.isdigit()]
    if len(digit_groups) == len(groups):
        stripped = [g.lstrip("0") or "0" for g in groups]
    else:
        stripped = [g.lstrip("0") or "0" if g.isdigit() else g for g in groups]
    keys = ["A:" + "".join(groups), "G:" + "-".join(stripped)]
    if digit_groups:
        digits = "".join(digit_groups).lstrip("0")
        if len(digits) >= 6:
            keys.append("D:" + digits)
        last = digit_groups[-1].lstrip("0")
        if last:
            keys.append("S:" + last)
    if po_number:
        keys.append("P:" + "".join(_groups(po_number)))
    return keys


def comparable(number: str) -> str:
    """Letters and digits, digit groups without leading zeros: what a typo is measured on."""
    return "".join(g.lstrip("0") if g.isdigit() else g for g in _groups(number))


def _is_year(token: str) -> bool:
    return len(token) == 4 and token[:2] in ("19", "20")


def extract(texts: Iterable[str]) -> Iterator[Found]:
    """Every key the texts may name an invoice by, in order of appearance."""
    return iter(_scan(texts, None))


def extract_known(texts: Iterable[str], known: Container[str]) -> list[Found]:
    """The keys of `extract` that are in `known` (an index), in the same order: a key
    nothing is indexed under names nothing, and is not even built into a `Found`."""
    return _scan(texts, known)


def _scan(texts: Iterable[str], known: Container[str] | None) -> list[Found]:
    found: list[Found] = []
    low, high = SEQUENCE_DIGITS
    for text in _with_compressed(texts):
        cleared = _NOISE.sub(" ", text.upper())
        for run in _RUN.findall(cleared):
            groups = _TOKEN.findall(run)
            digit = [group.isdigit() for group in groups]
            if True in digit:  # a separator-free run: `INV20240012345`, `4512345678` (a PO)
                _window_keys(found, known, groups, digit)
                if known is None or "P:" + run in known:
                    found.append(Found("P:" + run, "po", run))
        tokens = _TOKEN.findall(cleared)
        # Each token's digit test once: windows overlap.
        digit = [token.isdigit() for token in tokens]
        count = len(tokens)
        for start in range(count):
            for end in range(start + 2, min(start + MAX_WINDOW, count) + 1):
                if True in digit[start:end]:
                    _window_keys(found, known, tokens[start:end], digit[start:end])
            if digit[start]:
                token = tokens[start]
                sequence = token.lstrip("0")
                if low <= len(sequence) <= high and not _is_year(token):
                    key = "S:" + sequence
                    if known is None or key in known:
                        found.append(Found(key, "sequence", token))
    return found


def _window_keys(
    found: list[Found], known: Container[str] | None, window: list[str], digit: list[bool]
) -> None:
    text = ""
    keys = ["A:" + "".join(window)]
    groups = ((t.lstrip("0") or "0") if d else t for t, d in zip(window, digit, strict=True))
    keys.append("G:" + "-".join(groups))
    if False not in digit:
        digits = "".join(window).lstrip("0")
        if len(digits) >= 6:
            keys.append("D:" + digits)
    for key in keys:
        if known is None or key in known:
            text = text or " ".join(window)
            found.append(Found(key, "exact", text))


_COMPRESSED = re.compile(r"([A-Z]*[-\s]?(?:\d+[-\s])*)(\d{4,})((?:/\d{4,})+)")


def _with_compressed(texts: Iterable[str]) -> Iterator[str]:
    """The texts, then each later number of a compressed list rebuilt in full:
    `INV-2024-0012345/0012399` also gives `INV-2024-0012399`."""
    for text in texts:
        yield text
        if "/" not in text:
            continue  # no list to rebuild (and the pattern is slow to fail)
        for match in _COMPRESSED.finditer(text.upper()):
            stem = match.group(1)
            for follower in match.group(3).split("/")[1:]:
                yield stem + follower


def candidate_typos(texts: Iterable[str]) -> list[str]:
    """Tokens and windows that look like an invoice number (letters and 4+ digits)."""
    found: list[str] = []
    for text in texts:
        tokens = _TOKEN.findall(_NOISE.sub(" ", text.upper()))
        for start in range(len(tokens)):
            for end in range(start + 1, min(start + MAX_WINDOW, len(tokens)) + 1):
                window = tokens[start:end]
                digits = sum(len(t) for t in window if t.isdigit())
                if digits >= 4 and window[-1].isdigit():
                    found.append("".join(t.lstrip("0") if t.isdigit() else t for t in window))
    return found


_LEADING_LETTERS = re.compile(r"[A-Z]*")


def shape(number: str) -> str:
    """The letters an invoice number starts with (`INV` for `INV-2024-0012345`): a token
    is checked for typos only against numbers of its own shape."""
    found = _LEADING_LETTERS.match(number.upper())
    return found.group() if found else ""


def one_edit_among(text: str, numbers: Sequence[str]) -> list[int]:
    """The positions in `numbers`, ascending, of those one edit from `text` (as
    `one_edit`), compared in C rather than one call per number."""
    found = process.extract(text, numbers, scorer=OSA.distance, score_cutoff=1, limit=None)
    return sorted(at for _, distance, at in found if distance == 1)


def one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by one substitution, deletion, insertion or adjacent
    transposition (optimal string alignment distance 1)."""
    return a != b and abs(len(a) - len(b)) <= 1 and OSA.distance(a, b, score_cutoff=1) == 1
