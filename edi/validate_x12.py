"""Validate an X12 file before delivery: every finding, in the order of edi-rules.md.

Layers, each reported in full before the next: bytes (BOM, leading junk,
terminators) -> envelopes and counts (ISA/IEA, GS/GE, ST/SE) -> 810 set structure
(order, loops, max use, mandatory) -> element syntax (types, lengths, code lists,
relational conditions) -> business arithmetic and partner profile. Sets other
than the 810 are checked up to their envelopes.
"""

from __future__ import annotations

from datetime import date

from edi.findings import Finding
from edi.profile import GENERIC, PartnerProfile
from edi.structure import StructureRules, check_structure
from edi.x12 import read_x12
from edi.x12_810 import TABLE
from edi.x12_envelope import check_envelopes
from edi.x12_invoice import business_findings, duplicate_invoice_findings, element_findings

_RULES = StructureRules(mandatory_rule="X-T01", order_rule="X-T02")


def validate_x12(
    data: bytes, profile: PartnerProfile = GENERIC, *, today: date | None = None
) -> list[Finding]:
    """All findings of an X12 file; `today` enables the invoice-date-in-future check."""
    reading = read_x12(data)
    findings = list(reading.findings)
    if reading.delimiters is None or not reading.segments:
        return findings
    envelope_findings, sets = check_envelopes(reading.segments, reading.delimiters)
    findings += envelope_findings
    invoices = [s for s in sets if s.set_type == "810"]
    for invoice in invoices:
        findings += check_structure(
            invoice.segments,
            TABLE,
            _RULES,
            invoice.locate,
            extra_mandatory=profile.required_segments,
        )
    for invoice in invoices:
        findings += element_findings(invoice)
    for invoice in invoices:
        findings += business_findings(invoice, profile, today)
    findings += duplicate_invoice_findings(invoices)
    return findings
