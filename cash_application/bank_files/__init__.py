"""Bank file formats: pure parsers from bytes to statements and transactions."""
