"""Damaged input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions in real files (the corpus, the demo
files and a built-in sample) must parse or raise `BankFileSyntaxError` or
`BankFileIntegrityError`: a quarantine reason, never a crash of the job.
"""

from __future__ import annotations

from pathlib import Path

import fuzzing
from corpus import REPO, corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_application.bank_files.bai2 import parse_bai2

# Exercises S, V and D funds types, signs, an 03 split across 88s, text with `,` and
# `/`, `88:`, a wrapped text line and two records sharing a line.
BUILT_IN_SAMPLE = b"""01,122099999,123456789,040621,0200,1,65,,2/
02,031001234,122099999,1,040620,2359,,2/
03,0123456789,,010,+4350000,,,040,2830000,,/
88,072,1020000,,,074,500000,,/
16,115,450000,S,100000,200000,150000,,,/
49,9150000,4/
03,9876543210,JPY,010,-500000,,,100,1000000,,,400,2000000,,,190/
88,500000,,,110,1000000,,,072,500000,,,074,500000,,,040/
88,-1500000,,/
16,115,500000,D,2,0,200000,1,300000,,,LOCK BOX NO.68751, A/B/
16,195,1000,V,040621,,FW1,,ORIG CO NAME:ACME MFG ORIG ID:1 OBI=INV-1
88:RMR*IV*INV-1001*10.00\\
16,142,25,Z,,,WRAPPED TEXT
CONTINUES HERE/ 16,142,5,Z,,,SHARED LINE/
49,4001030,9/
98,13151030,2,15/
99,13151030,1,17/
"""

SEEDS: list[bytes] = [
    BUILT_IN_SAMPLE,
    *(path.read_bytes() for path in sorted((REPO / "examples" / "bank").glob("*.bai2"))),
    *(path.read_bytes() for path in corpus_files("bank/bai2")),
]

_MUTATION = fuzzing.mutation_strategy(b",/\n\r 0123456789-+:8VSDZ")


def _parses_or_names_the_problem(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_bai2, data, "fuzz.bai2")


def test_seeds_parse() -> None:
    assert parse_bai2(BUILT_IN_SAMPLE, "sample.bai2").statements


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_MUTATION, min_size=1, max_size=6),
)
def test_mutated_files_raise_only_bank_file_errors(seed: int, mutations: list) -> None:
    _parses_or_names_the_problem(fuzzing.mutate(SEEDS[seed], mutations))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bank_file_errors(data: bytes) -> None:
    _parses_or_names_the_problem(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "01,S,R,261103,0600,1,,,2/", "02,R,S,1,261102,,USD,2/", "03,1,USD,010,5,,/", "03,1,/",
    "16,195,100,0,,,X/", "16,115,1,S,1,,,/", "16,195,1,V,261101,,A,B,C", "16,1,1,D,9/",
    "88,MORE/", "88,010,5,,/", "49,105,3/", "49,,/", "98,105,1,5/", "99,105,1,7/", "", "junk",
]), max_size=20))  # fmt: skip
def test_shuffled_records_raise_only_bank_file_errors(records: list[str]) -> None:
    _parses_or_names_the_problem("\n".join(records).encode())


def test_seed_files_exist() -> None:
    assert all(isinstance(seed, bytes) and seed for seed in SEEDS)
    assert Path(REPO / "examples" / "bank").is_dir()
