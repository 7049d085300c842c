"""EDI: X12 810 / EDIFACT INVOIC build, pre-delivery validation, acknowledgments.

Pure (DESIGN.md): imports only `mappings`. Built out by the EDI issue.
"""
