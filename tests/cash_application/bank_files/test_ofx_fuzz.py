"""Damaged OFX input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions, and tags dropped or repeated, in
the real OFX files of the corpus and a built-in sample: each must parse or raise
a `BankFileError` naming the file, never another exception.
"""

from __future__ import annotations

import re

from corpus import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.ofx import parse_ofx

BUILT_IN_SAMPLE = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
CHARSET:1252

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>5472369148<ACCTID>1452687~7<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20261101<DTEND>20261102
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261101120000.000[-5:EST]<TRNAMT>1500.00<FITID>1
<NAME>GLOBEX &amp; CO<MEMO>INV-1001</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261102<TRNAMT>-12,50<FITID>2<CHECKNUM>7
<CURRENCY><CURRATE>1.0<CURSYM>EUR</CURRENCY></STMTTRN>
<!-- a comment --></BANKTRANLIST><LEDGERBAL><BALAMT>100.99<DTASOF>20261102</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""

SEEDS: list[bytes] = [BUILT_IN_SAMPLE, *(p.read_bytes() for p in corpus_files("bank/ofx"))]

_TAG = re.compile(rb"<[A-Z0-9./]+>")

_MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "replace", "drop-tag", "repeat-tag"]),
    st.integers(min_value=0, max_value=1 << 20),
    st.sampled_from(list(b"<>/ \n.,-+0123456789&;!") + list(range(256))),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, position, byte in mutations:
        at = position % (len(buffer) + 1)
        if kind in ("drop-tag", "repeat-tag"):
            tags = list(_TAG.finditer(bytes(buffer)))
            if tags:
                tag = tags[position % len(tags)]
                twice = tag.group() * 2 if kind == "repeat-tag" else b""
                buffer[tag.start() : tag.end()] = twice
        elif kind == "insert" or not buffer:
            buffer[at:at] = bytes([byte])
        elif kind == "delete":
            del buffer[min(at, len(buffer) - 1)]
        elif kind == "flip":
            buffer[min(at, len(buffer) - 1)] ^= 1 << (byte % 8)
        else:
            buffer[min(at, len(buffer) - 1)] = byte
    return bytes(buffer)


def _parses_or_names_the_problem(data: bytes) -> None:
    problem: BankFileError | None = None
    try:
        parse_ofx(data, "fuzz.ofx")
    except BankFileError as exc:  # anything else fails the test
        problem = exc
    if problem is not None:
        assert problem.file == "fuzz.ofx"
        assert problem.line is None or problem.line >= 1


def test_seed_parses() -> None:
    [statement] = parse_ofx(BUILT_IN_SAMPLE, "sample.ofx").statements
    assert len(statement.transactions) == 2


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_MUTATION, min_size=1, max_size=6),
)
def test_mutated_files_raise_only_bank_file_errors(seed: int, mutations: list) -> None:
    _parses_or_names_the_problem(_mutate(SEEDS[seed], mutations))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bank_file_errors(data: bytes) -> None:
    _parses_or_names_the_problem(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="<>/OFXSTMTRNCURDEFACID0123.-\n", max_size=200))
def test_tag_soup_raises_only_bank_file_errors(text: str) -> None:
    _parses_or_names_the_problem(b"<OFX>" + text.encode())
