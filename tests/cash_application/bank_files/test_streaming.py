"""The streaming API: every corpus file read a statement at a time, from bytes and from
streams, gives the same statements, headers and errors as the held parse.

Streams are real `io` objects: an in-memory file, a raw stream that returns at most a
few bytes per read (so block boundaries fall inside records, 88 continuations and
multi-byte characters), and a buffered stream that cannot seek (as a pipe or a socket).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from corpus import corpus_params, require_corpus
from test_mt940_parser import statement

from cash_application.bank_files.bai2 import iter_bai2, parse_bai2
from cash_application.bank_files.camt import iter_camt, parse_camt
from cash_application.bank_files.detect import iter_bank_file, iter_transactions, parse_bank_file
from cash_application.bank_files.errors import BankFileError, BankFileIntegrityError
from cash_application.bank_files.lockbox import iter_lockbox, parse_lockbox
from cash_application.bank_files.mt940 import iter_mt940, parse_mt940
from cash_application.bank_files.ofx import iter_ofx, parse_ofx
from cash_application.bank_files.records import ParsedFile
from cash_application.bank_files.streaming import StatementHeader, header_of

# Corpus folder -> (held parser, streaming parser).
FORMATS: dict[str, tuple[Callable[..., ParsedFile], Callable[..., Any]]] = {
    "bank/bai2": (parse_bai2, iter_bai2),
    "bank/mt940": (parse_mt940, iter_mt940),
    "bank/camt053": (parse_camt, iter_camt),
    "bank/ofx": (parse_ofx, iter_ofx),
    "bank/lockbox": (parse_lockbox, iter_lockbox),
}
SHORT_READ = 7  # bytes per read of the trickling stream: far inside any record


class Trickle(io.RawIOBase):
    """A raw stream returning at most `SHORT_READ` bytes per read; seekable on request."""

    def __init__(self, data: bytes, *, can_seek: bool = False) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._at = 0
        self._can_seek = can_seek

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._can_seek

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._can_seek or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek")
        self._at = offset
        return offset

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), SHORT_READ, len(self._data) - self._at)
        buffer[:size] = self._data[self._at : self._at + size]
        self._at += size
        return size


def _params() -> Iterator[Any]:
    for folder in FORMATS:
        for param in corpus_params(folder):
            yield pytest.param(folder, *param.values, id=f"{folder[5:]}/{param.id}")


def _held(parse: Callable[..., ParsedFile], data: bytes, name: str, strict: bool) -> Any:
    try:
        return parse(data, name, check_integrity=strict)
    except BankFileError as exc:
        return (type(exc), exc.line, exc.field, exc.message)


def _streamed(stream: Iterator[tuple[StatementHeader, Any]]) -> Any:
    """The statements of a stream, each checked against its header; or the error."""
    statements = []
    try:
        for header, statement in stream:
            assert header == header_of(statement, header.format, header.test_only)
            statements.append((header.format, statement))
    except BankFileError as exc:
        return (type(exc), exc.line, exc.field, exc.message)
    return statements


@pytest.mark.corpus
@pytest.mark.parametrize(("folder", "path"), list(_params()))
def test_streamed_statements_equal_the_held_parse(folder: str, path: Path | None) -> None:
    if path is None:
        require_corpus(folder)
        return
    parse, stream = FORMATS[folder]
    data = path.read_bytes()
    for strict in (True, False):
        held = _held(parse, data, path.name, strict)
        if isinstance(held, tuple) and strict and held[0] is BankFileIntegrityError:
            # The statements before the failing total were yielded first; the error is
            # the same one, raised when the stream reaches it.
            with pytest.raises(BankFileIntegrityError) as raised:
                list(stream(data, path.name, check_integrity=strict))
            assert (raised.value.line, raised.value.field) == held[1:3]
            continue
        expected = (
            held
            if isinstance(held, tuple)
            else [(held.format, statement) for statement in held.statements]
        )
        # A stream that cannot seek back is decoded a block at a time (its encoding is
        # decided per block), so it is compared where blocks hold whole corpus files.
        sources = (
            data,
            io.BytesIO(data),
            Trickle(data, can_seek=True),
            io.BufferedReader(Trickle(data)),
        )
        for source in sources:
            assert _streamed(stream(source, path.name, check_integrity=strict)) == expected


@pytest.mark.corpus
@pytest.mark.parametrize(("folder", "path"), list(_params()))
def test_iter_transactions_detects_and_flattens(folder: str, path: Path | None) -> None:
    """`iter_transactions` on a non-seekable stream: the held file's transactions, in order,
    each with its statement's header (format detected from the stream's first bytes)."""
    if path is None:
        require_corpus(folder)
        return
    data = path.read_bytes()
    try:
        held = parse_bank_file(data, path.name)
    except BankFileError:
        with pytest.raises(BankFileError):
            list(iter_transactions(io.BufferedReader(Trickle(data)), path.name))
        return
    expected = [
        (header_of(statement, held.format), transaction)
        for statement in held.statements
        for transaction in statement.transactions
    ]
    streamed = list(iter_transactions(io.BufferedReader(Trickle(data)), path.name))
    # test_only is per BAI2 group in a header, per file in a ParsedFile: compared apart.
    assert [(replace(h, test_only=False), t) for h, t in streamed] == expected
    assert any(h.test_only for h, _ in streamed) == (held.test_only and bool(streamed))


def test_a_file_trailer_error_comes_after_the_accounts_before_it() -> None:
    """Streaming is provisional until exhausted: a BAI2 file total that disagrees is raised
    after the accounts it covers were yielded."""
    data = (
        b"01,BANK,ARLINK,261102,0600,1,,,2/\n"
        b"02,ARLINK,BANK,1,261101,2400,USD,2/\n"
        b"03,123,USD,010,100,,,015,150,,/\n"
        b"16,165,50,0,REF1,,ORIG CO NAME:ACME ORIG ID:1/\n"
        b"49,300,3/\n"
        b"98,300,1,5/\n"
        b"99,999,1,7/\n"
    )
    stream = iter_bank_file(io.BytesIO(data), "day.bai2")
    header, statement = next(stream)
    assert (header.format, header.account, statement.transactions[0].payer_name) == (
        "bai2",
        "123",
        "ACME",
    )
    with pytest.raises(BankFileIntegrityError) as raised:
        next(stream)
    assert (raised.value.line, raised.value.field) == (7, "file_control_total")


@pytest.mark.parametrize(
    ("quirk", "details", "closing"),
    [
        ("dash-line-in-86", ":61:1402200220C1,14NDDTEREF//00000000001009\n"
         ":86:/EREF/EV123//MARF/MND\n-\nEV01//CSID/NL32ZZZ9999999\n"
         "91234//CNTP/NL32INGB0000012345/INGBNL2A/ING Bank N.V. inzake WeB/\n"
         "//REMI/USTD//EV123REP123412T1234/", "C200101EUR101,14"),
        ("sparkasse-split-tag", ":61:1811261126CR\n30,00N062NONREF\n:\n86:166?00GUTSCHR. "
         "UEBERWEISUNG?081542?20SVWZ+Test", "C200101EUR130,00"),
    ],
)  # fmt: skip
def test_mt940_line_quirks_across_block_boundaries(quirk: str, details: str, closing: str) -> None:
    """The MT940 quirks that look at the next line hold when every line is its own block:
    the ``-`` inside `:86:` stays text and the split ``:`` / ``86:`` tag is joined."""
    data = statement(details, closing=closing)
    held = parse_mt940(data, f"{quirk}.sta")
    streamed = [s for _, s in iter_mt940(Trickle(data, can_seek=True), f"{quirk}.sta")]
    assert streamed == list(held.statements)
    (transaction,) = held.statements[0].transactions
    assert transaction.remittance in ("EV123REP123412T1234", "Test")
