"""Bank lockbox layouts as data: field positions per record type, one TOML file per bank."""
