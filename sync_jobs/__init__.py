"""Sync jobs: configuration, the ledger, the steps that wire I/O to logic, and the CLI.

The only package that imports everything (DESIGN.md dependency rule).
"""
