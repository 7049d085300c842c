"""Cash application: bank file formats -> payments; matching; application policy.

Pure (DESIGN.md): bytes and records in, records out. Imports only `mappings`.
"""
