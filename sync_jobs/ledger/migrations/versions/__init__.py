"""Ledger revisions, one file each; a package so a non-editable install ships them."""
