"""Remittance advice layouts as data: which CSV columns hold what, one TOML file per sender."""
