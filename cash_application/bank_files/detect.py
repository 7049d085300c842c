"""Which bank file format a file is, from its content (never from its name)."""

from __future__ import annotations

from collections.abc import Callable

from cash_application.bank_files.bai2 import parse_bai2
from cash_application.bank_files.camt import camt_message, parse_camt
from cash_application.bank_files.errors import BankFileSyntaxError
from cash_application.bank_files.lockbox import looks_like_lockbox, parse_lockbox
from cash_application.bank_files.mt940 import looks_like_mt940, parse_mt940
from cash_application.bank_files.ofx import looks_like_ofx, parse_ofx
from cash_application.bank_files.records import ParsedFile

Parser = Callable[[bytes, str], ParsedFile]

PARSERS: dict[str, Parser] = {"bai2": parse_bai2, "mt940": parse_mt940, "mt942": parse_mt940}
# camt: one parser for the three messages; it names the format from the namespace.
PARSERS.update({"camt.052": parse_camt, "camt.053": parse_camt, "camt.054": parse_camt})
PARSERS["ofx"] = parse_ofx
PARSERS["lockbox"] = parse_lockbox


def detect_format(data: bytes, file_name: str) -> str:
    """Name the format of `data`; raise `BankFileSyntaxError` when it is none we read."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"01,"):
        return "bai2"
    if looks_like_mt940(head):  # MT942 too: the parser names which one it is
        return "mt940"
    camt = camt_message(data[:4096])  # past an XML declaration and comments
    if camt is not None:
        return camt
    if looks_like_ofx(data[:4096]):
        return "ofx"
    if looks_like_lockbox(head):  # last: a `1` record, then a `2` or `5`
        return "lockbox"
    raise BankFileSyntaxError(
        f"not a bank file format arlink reads (known: {', '.join(PARSERS)})",
        file=file_name,
        line=1,
        field=None,
    )


def parse_bank_file(data: bytes, file_name: str, file_format: str | None = None) -> ParsedFile:
    """Parse a bank file, detecting its format unless `file_format` is given."""
    name = file_format or detect_format(data, file_name)
    if name not in PARSERS:
        raise BankFileSyntaxError(
            f"unknown format {name!r} (known: {', '.join(PARSERS)})",
            file=file_name,
            line=None,
            field=None,
        )
    return PARSERS[name](data, file_name)
