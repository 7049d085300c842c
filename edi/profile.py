"""Trading-partner profiles: what one partner adds to the standard (edi-rules.md section 6).

A profile is data (`mappings/edi/<partner>.toml`, read by the caller: `edi` does no
I/O) layered on the standard dictionary: segments the partner makes mandatory,
code-list subsets, formats and minimums, required parties, the test/production
flag, the acknowledgment deadline. This is the seam for the profile layer; the
checks it drives today are the ones named on each field. History checks (duplicate
invoice numbers, reused control numbers across files) are `edi.history`, fed from
the ledger by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class PartnerProfile:
    """One trading partner's additions to the standard; the defaults are the generic profile."""

    name: str = "generic"
    # X-T01: segments required on top of the standard (IT1 and CTT are optional in X12
    # but "Must use" in practically every retail guide).
    required_segments: frozenset[str] = frozenset({"IT1", "CTT"})
    # X-B03: BIG04 required, and its format.
    po_number_required: bool = False
    po_number_pattern: str | None = None
    # X-B05: accepted units of measure (None = any X12 355 code).
    units: frozenset[str] | None = None
    # X-B12: smallest allowance/charge in cents, and accepted SAC02 codes (None = any).
    min_allowance_cents: int = 1
    allowance_codes: frozenset[str] | None = None
    # X-B06: SAC12 methods of handling that change the invoice total ("" = not sent).
    # Only 02 (off invoice) is confirmed by the rule set; others are per partner guide.
    sac_methods_in_total: frozenset[str] = frozenset({"", "02"})
    # X-B10 / E-B04: party qualifiers that must appear (N101 / NAD 3035).
    required_parties: frozenset[str] = frozenset()
    required_parties_edifact: frozenset[str] = frozenset({"BY", "SU"})
    # X-B15: expected ISA15 (T until certified, then P); None = not checked.
    usage_indicator: str | None = None
    # X-B13: a negative total without BIG07 CR is rejected (else a warning).
    credit_memo_code_required: bool = False
    # X-B14: CUR*SE must be sent (multi-currency partners).
    currency_required: bool = False
    # X-B16: hours within which the partner acknowledges (997/999/CONTRL); later is overdue.
    ack_deadline_hours: int = 24

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> PartnerProfile:
        """A profile from parsed TOML; unknown keys are an error, listed all at once."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown partner profile keys: {', '.join(unknown)}")
        values: dict[str, object] = {}
        for key, value in data.items():
            default = getattr(cls(), key)
            is_set = isinstance(default, frozenset) or key in ("units", "allowance_codes")
            values[key] = frozenset(value) if is_set and value is not None else value  # type: ignore[arg-type]
        profile = cls(**values)  # type: ignore[arg-type]
        if profile.po_number_pattern is not None:
            re.compile(profile.po_number_pattern)
        return profile


GENERIC = PartnerProfile()
