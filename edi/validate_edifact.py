"""Validate an EDIFACT interchange before delivery: every finding, in the order of edi-rules.md.

Layers, each reported in full before the next: bytes and the UNA service string
advice -> envelopes and counts (UNB/UNZ, UNG/UNE, UNH/UNT) -> INVOIC structure ->
element syntax -> business arithmetic and partner profile. Messages other than
INVOIC (APERAK, CONTRL) are checked up to their envelopes.
"""

from __future__ import annotations

from edi.edifact import read_edifact
from edi.edifact_envelope import check_envelopes
from edi.edifact_invoic import TABLE, business_findings, element_findings
from edi.findings import Finding
from edi.profile import GENERIC, PartnerProfile
from edi.structure import StructureRules, check_structure

_RULES = StructureRules(mandatory_rule="E-T01", order_rule="E-T02")


def validate_edifact(data: bytes, profile: PartnerProfile = GENERIC) -> list[Finding]:
    """All findings of an EDIFACT interchange."""
    reading = read_edifact(data)
    findings = list(reading.findings)
    if reading.delimiters is None or not reading.segments:
        return findings
    envelope_findings, messages = check_envelopes(reading.segments)
    findings += envelope_findings
    invoices = [m for m in messages if m.message_type == "INVOIC"]
    decimal = reading.delimiters.decimal
    for invoice in invoices:
        findings += check_structure(invoice.segments, TABLE, _RULES, invoice.locate)
    for invoice in invoices:
        findings += element_findings(invoice, decimal)
    for invoice in invoices:
        findings += business_findings(invoice, profile, decimal)
    return findings
