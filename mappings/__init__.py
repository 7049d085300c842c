"""Canonical records of arlink and how each host's fields map onto them.

This package imports nothing else of ours (DESIGN.md dependency rule): every
other package speaks in these records.
"""
