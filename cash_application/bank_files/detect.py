"""Which bank file format a file is, from its content (never from its name)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from cash_application.bank_files.bai2 import iter_bai2, parse_bai2
from cash_application.bank_files.camt import camt_message, iter_camt, parse_camt
from cash_application.bank_files.errors import BankFileSyntaxError
from cash_application.bank_files.lockbox import iter_lockbox, looks_like_lockbox, parse_lockbox
from cash_application.bank_files.lockbox_csv import (
    iter_lockbox_csv,
    looks_like_lockbox_csv,
    parse_lockbox_csv,
)
from cash_application.bank_files.mt940 import iter_mt940, looks_like_mt940, parse_mt940
from cash_application.bank_files.ofx import iter_ofx, looks_like_ofx, parse_ofx
from cash_application.bank_files.records import ParsedFile, Transaction
from cash_application.bank_files.streaming import (
    Source,
    StatementHeader,
    StatementStream,
    transactions_of,
)

Parser = Callable[[bytes, str], ParsedFile]

PARSERS: dict[str, Parser] = {"bai2": parse_bai2, "mt940": parse_mt940, "mt942": parse_mt940}
# camt: one parser for the three messages; it names the format from the namespace.
PARSERS.update({"camt.052": parse_camt, "camt.053": parse_camt, "camt.054": parse_camt})
PARSERS["ofx"] = parse_ofx
PARSERS["lockbox"] = parse_lockbox
PARSERS["lockbox.csv"] = parse_lockbox_csv

StreamParser = Callable[..., StatementStream]

STREAMS: dict[str, StreamParser] = {"bai2": iter_bai2, "mt940": iter_mt940, "mt942": iter_mt940}
STREAMS.update({"camt.052": iter_camt, "camt.053": iter_camt, "camt.054": iter_camt})
STREAMS["ofx"] = iter_ofx
STREAMS["lockbox"] = iter_lockbox
STREAMS["lockbox.csv"] = iter_lockbox_csv

# Bytes enough to recognise every format (past an XML declaration and comments).
_HEAD_BYTES = 4096


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
    if looks_like_lockbox_csv(data[:_HEAD_BYTES]):  # a shipped CSV layout's whole header
        return "lockbox.csv"
    raise BankFileSyntaxError(
        f"not a bank file format arlink reads (known: {', '.join(PARSERS)})",
        file=file_name,
        line=1,
        field=None,
    )


def parse_bank_file(data: bytes, file_name: str, file_format: str | None = None) -> ParsedFile:
    """Parse a bank file, detecting its format unless `file_format` is given."""
    name = file_format or detect_format(data, file_name)
    _check_known(name, file_name)
    return PARSERS[name](data, file_name)


def iter_bank_file(
    source: Source,
    file_name: str,
    file_format: str | None = None,
    *,
    check_integrity: bool = True,
) -> StatementStream:
    """Parse a bank file one statement at a time (see `streaming`), detecting its format
    from the first bytes unless `file_format` is given. `source` is bytes or a binary
    stream, read a block at a time (OFX only when the stream can seek)."""
    if isinstance(source, bytes | bytearray | memoryview):
        head = bytes(source[:_HEAD_BYTES])
    elif source.seekable():
        start = source.tell()
        head = source.read(_HEAD_BYTES)
        source.seek(start)
    else:
        head = source.read(_HEAD_BYTES)
        source = io.BufferedReader(_Prefixed(head, source))
    name = file_format or detect_format(head, file_name)
    _check_known(name, file_name)
    return STREAMS[name](source, file_name, check_integrity=check_integrity)


def iter_transactions(
    source: Source,
    file_name: str,
    file_format: str | None = None,
    *,
    check_integrity: bool = True,
) -> Iterator[tuple[StatementHeader, Transaction]]:
    """Each transaction of a bank file with its statement's header, in file order, holding
    only the statement being read (see `iter_bank_file`)."""
    stream = iter_bank_file(source, file_name, file_format, check_integrity=check_integrity)
    return transactions_of(stream)


def _check_known(name: str, file_name: str) -> None:
    if name not in PARSERS:
        raise BankFileSyntaxError(
            f"unknown format {name!r} (known: {', '.join(PARSERS)})",
            file=file_name,
            line=None,
            field=None,
        )


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read for detection, put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` from the put-back head, then from the stream."""
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
