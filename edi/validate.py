"""Pre-delivery validation of one EDI file, whichever standard it is written in.

`validate` looks at the first bytes (after a byte order mark and whitespace) to
tell X12 (`ISA`) from EDIFACT (`UNA`/`UNB`) and runs that standard's validator.
The result is the full list of findings; `has_reject` says whether the file may
be delivered.
"""

from __future__ import annotations

from datetime import date

from edi.findings import Finding, Problem, Severity
from edi.profile import GENERIC, PartnerProfile
from edi.validate_edifact import validate_edifact
from edi.validate_x12 import validate_x12


def detect_standard(data: bytes) -> str | None:
    """ "x12", "edifact", or None when the file starts with neither header."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    isa, una, unb = head.find(b"ISA"), head.find(b"UNA"), head.find(b"UNB")
    found = {name: at for name, at in (("x12", isa), ("edifact", una), ("edifact", unb)) if at >= 0}
    return min(found, key=found.__getitem__) if found else None


def validate(
    data: bytes, profile: PartnerProfile = GENERIC, *, today: date | None = None
) -> list[Finding]:
    """Every finding of one EDI file (X12 or EDIFACT), layer by layer."""
    standard = detect_standard(data)
    if standard == "x12":
        return validate_x12(data, profile, today=today)
    if standard == "edifact":
        return validate_edifact(data, profile)
    return [
        Finding(
            "X-E01",
            Severity.REJECT,
            Problem.BAD_INTERCHANGE_HEADER,
            "this is not an EDI file: it starts with neither ISA (X12) nor UNA/UNB (EDIFACT)",
        )
    ]
