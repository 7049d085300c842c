"""Adapters to the outside world: one module per books host or file transport.

Connectors do I/O and nothing else; they import only `mappings` (DESIGN.md).
"""
