"""Damaged OFX input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions, and tags dropped or repeated, in
the real OFX files of the corpus and a built-in sample: each must parse or raise
a `BankFileError` naming the file, never another exception.
"""

from __future__ import annotations

import re

import fuzzing
from corpus import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

_MUTATION = fuzzing.mutation_strategy(b"<>/ \n.,-+0123456789&;!", unit="tag")


def _parses_or_names_the_problem(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_ofx, data, "fuzz.ofx", integrity_modes=())


def test_seed_parses() -> None:
    [statement] = parse_ofx(BUILT_IN_SAMPLE, "sample.ofx").statements
    assert len(statement.transactions) == 2


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_MUTATION, min_size=1, max_size=6),
)
def test_mutated_files_raise_only_bank_file_errors(seed: int, mutations: list) -> None:
    _parses_or_names_the_problem(fuzzing.mutate(SEEDS[seed], mutations, units=_TAG))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bank_file_errors(data: bytes) -> None:
    _parses_or_names_the_problem(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="<>/OFXSTMTRNCURDEFACID0123.-\n", max_size=200))
def test_tag_soup_raises_only_bank_file_errors(text: str) -> None:
    _parses_or_names_the_problem(b"<OFX>" + text.encode())
