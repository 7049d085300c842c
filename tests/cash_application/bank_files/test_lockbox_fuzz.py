"""Damaged lockbox input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions, and whole records dropped or
repeated, in the real lockbox files of the corpus and a built-in sample: each
must parse or raise a `BankFileError` naming the file and a line.
"""

from __future__ import annotations

import re

import fuzzing
from corpus import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_application.bank_files.lockbox import parse_lockbox

BUILT_IN_SAMPLE = b"""100ABCDEFGHIJ00999999912611021800
2ABCDEFGHIJ0099999991000000000040008000801
50000000022222261102ABCDEFGHIJ0099999991
6001001000012845605500270700123455550000000180110226GLOBEX CORP
40010016010INV123 1,234.56
40010016029INV124 50.00
6001002000000500005500270700123455550000000181110226
700100000222222611020020000133456
8000000002222226110200020000133456
9000010
"""

SEEDS: list[bytes] = [BUILT_IN_SAMPLE, *(p.read_bytes() for p in corpus_files("bank/lockbox"))]

_RECORD = re.compile(rb"[0-9][^\n]*\n")

_MUTATION = fuzzing.mutation_strategy(b"0123456789456789 \n\r", unit="record")


def _parses_or_names_the_problem(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_lockbox, data, "fuzz.bai", line_required=True)


def test_seed_parses() -> None:
    [statement] = parse_lockbox(BUILT_IN_SAMPLE, "sample.bai").statements
    assert len(statement.transactions) == 2


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_MUTATION, min_size=1, max_size=6),
)
def test_mutated_files_raise_only_bank_file_errors(seed: int, mutations: list) -> None:
    _parses_or_names_the_problem(fuzzing.mutate(SEEDS[seed], mutations, units=_RECORD))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bank_file_errors(data: bytes) -> None:
    _parses_or_names_the_problem(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["1", "2", "4", "5", "6", "7", "8", "9"]), max_size=12))
def test_record_soup_raises_only_bank_file_errors(codes: list[str]) -> None:
    _parses_or_names_the_problem("\n".join(code + "0" * 40 for code in codes).encode())
