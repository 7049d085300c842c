"""Damaged MT940 input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions in real files (the corpus and a
built-in sample) must parse or raise `BankFileSyntaxError` or
`BankFileIntegrityError` naming the file and a line: a quarantine reason, never
a crash of the job.
"""

from __future__ import annotations

import fuzzing
from corpus import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_application.bank_files.mt940 import parse_mt940

# SWIFT blocks, a reversal, a split :61:, German, Dutch and mBank :86:, an MT942.
BUILT_IN_SAMPLE = b"""{1:F01ASNBNL21XXXX0000000000}{2:O940ASNBNL21XXXXN}{3:}{4:
:20:0000000000
:25:NL81ASNB9999999999
:28C:1/1
:60F:C141229EUR444,29
:61:1412290102RDR65,00NTRFNONREF//B4E07XM00J000023
/OCMT/EUR11,85//CHGS/EUR0,50/
:86:166?00SEPA-UEBERWEISUNG?20EREF+E2E-1?21SVWZ+RE 1043?32ACME GMBH
:61:1412291229CR
30,00N062NONREF
:86:/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/NAME/ACME/REMI/INV 7
:61:1412291229DN0,01NTRFNONREF//MB170119012058
:86:911 TRANSAKCJA; ID IPH: XX1; Z RACH.: 5611; OD: JAN; TYT.: X; TNR: 1
:62F:C141229EUR539,28
-}{5:}
:20:131110
:25:45050050/76198810
:28C:13/37
:34F:EURD12345,67
:13D:1901091733+0100
:61:190109C9792,00FTRFNONREF
:90D:0EUR0,00
:90C:1EUR9792,00
-
"""

SEEDS: list[bytes] = [BUILT_IN_SAMPLE, *(path.read_bytes() for path in corpus_files("bank/mt940"))]

_MUTATION = fuzzing.mutation_strategy(b":,/\n\r -?+{}0123456789CDRN")


def _parses_or_names_the_problem(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_mt940, data, "fuzz.sta", line_required=True)


def test_built_in_sample_parses() -> None:
    parsed = parse_mt940(BUILT_IN_SAMPLE, "sample.sta")
    assert [len(statement.transactions) for statement in parsed.statements] == [3, 1]


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    ":20:X", ":25:NL1", ":28C:1/1", ":60F:C200101EUR1,00", ":60M:D991231USD0,", ":61:200101C1,NTRF",
    ":61:2001011231RD1,00NTRFA//B", ":61:200101CR", "1,00N062NONREF", ":86:166?20SVWZ+X?32N",
    ":86:/REMI/X/", ":62F:C200101EUR2,00", ":62M:C200101JPY2", ":64:C200101EUR2,00", ":34F:EUR0",
    ":13D:2001011200+0100", ":90D:1EUR1,00", ":90C:0EUR0,00", ":NS:X", "-", "-}", "{4:", ":",
    "86:X", "", "junk", ":940:", "\x01",
]), max_size=25))  # fmt: skip
def test_shuffled_fields_raise_only_bank_file_errors(fields: list[str]) -> None:
    _parses_or_names_the_problem("\n".join(fields).encode())
