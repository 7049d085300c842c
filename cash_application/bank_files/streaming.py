"""Reading a bank file a statement at a time: the streaming side of every format parser.

Each format module has a generator of `(StatementHeader, Statement)` pairs that
returns the file's `FileSummary` when it ends; its `parse_*` function is `hold`
over that generator, so the held and the streamed parse are one code path.
`iter_transactions` (in `detect`) flattens a stream to `(StatementHeader,
Transaction)` pairs for callers that want a file of any size in bounded memory:
only the statement being read is held, with the 1 MiB block of input around it
(an OFX stream that cannot seek is read whole), never the earlier statements.

A streamed file is provisional until its iterator is exhausted: a trailer's
control total (BAI2 `98`/`99`) or a syntax error further on is raised when it is
reached, after the statements before it were yielded.
"""

from __future__ import annotations

import codecs
import gc
import io
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, NamedTuple

from cash_application.bank_files.records import ParsedFile, Statement, Transaction
from mappings.money import Money

# What a parser reads: the file's bytes, or a binary stream (an open file, a socket
# reader), which the parsers read a block at a time.
Source = bytes | bytearray | memoryview | BinaryIO
# Bytes read from a stream at a time: large enough that per-block work is noise.
BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class StatementHeader:
    """A statement without its transactions: what a streamed transaction belongs to."""

    format: str
    account: str
    currency: str
    date: date | None
    opening_balance: Money | None
    closing_balance: Money | None
    # The bank marked the statement's group as a test (BAI2 group status 4): not cash.
    test_only: bool = False


class FileSummary(NamedTuple):
    """What a whole file says besides its statements (the `ParsedFile` fields)."""

    format: str
    test_only: bool = False


StatementStream = Generator[tuple[StatementHeader, Statement], None, FileSummary]


def header_of(statement: Statement, file_format: str, test_only: bool = False) -> StatementHeader:
    """The header of a complete statement."""
    return StatementHeader(
        format=file_format,
        account=statement.account,
        currency=statement.currency,
        date=statement.date,
        opening_balance=statement.opening_balance,
        closing_balance=statement.closing_balance,
        test_only=test_only,
    )


def hold(stream: StatementStream) -> ParsedFile:
    """Every statement of a stream, held: the `ParsedFile` of the whole file.

    The cycle collector waits while the file is read: records are acyclic, so it would
    only rescan the growing list of kept records (7-17% of a held parse's time).
    """
    statements: list[Statement] = []
    append = statements.append
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        while True:
            try:
                _, statement = next(stream)
            except StopIteration as end:
                summary: FileSummary = end.value
                return ParsedFile(summary.format, tuple(statements), summary.test_only)
            append(statement)
    finally:
        if paused:
            gc.enable()


def transactions_of(stream: StatementStream) -> Iterator[tuple[StatementHeader, Transaction]]:
    """Each transaction of a stream with its statement's header, in file order."""
    for header, statement in stream:
        for transaction in statement.transactions:
            yield header, transaction


def read_all(source: Source) -> bytes:
    """The whole input as bytes, for formats that read a file in one piece."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, bytearray | memoryview):
        return bytes(source)
    return source.read()


def as_stream(source: Source) -> BinaryIO:
    """The input as a binary stream (bytes are wrapped, not copied)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    return source


def stream_encoding(stream: BinaryIO, encodings: tuple[str, ...]) -> str | None:
    """The first of `encodings` that decodes the rest of `stream` strictly (the last one
    when none does), read ahead and rewound; None when the stream cannot seek back.

    Formats that pick one encoding for the whole file decide it before reading it a
    block at a time; a stream that cannot seek back is decided block by block.
    """
    if not stream.seekable():
        return None
    start = stream.tell()
    try:
        for encoding in encodings[:-1]:
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while block := stream.read(BLOCK_BYTES):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                stream.seek(start)
                continue
            return encoding
        return encodings[-1]
    finally:
        stream.seek(start)


def line_blocks(stream: BinaryIO, first: bytes, separator: bytes) -> Iterator[bytes]:
    """`first`, then the rest of `stream`, as blocks of whole lines: each block ends right
    after a `separator` except the last, which holds whatever follows the last one."""
    pending = first
    while True:
        cut = pending.rfind(separator) + 1
        if cut:
            yield pending[:cut]
            pending = pending[cut:]
        block = stream.read(BLOCK_BYTES)
        if not block:
            yield pending
            return
        pending += block
