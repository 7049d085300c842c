"""Damaged camt input never escapes as anything but a bank file error.

Random byte flips, insertions and deletions, and whole elements dropped or
repeated, in real camt files (the smaller corpus files) and a built-in sample:
each must parse or raise `BankFileSyntaxError` / `BankFileIntegrityError` naming
the file, never another exception.
"""

from __future__ import annotations

import re

import fuzzing
from corpus import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cash_application.bank_files.camt import parse_camt

BUILT_IN_SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>2026-11-02T06:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S</Id><Acct><Id><IBAN>BE68793230773034</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">35.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>
<Ntry><Amt Ccy="EUR">25.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>false</RvslInd>
<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-01</Dt></BookgDt>
<ValDt><DtTm>2026-11-01T10:00:00</DtTm></ValDt><AcctSvcrRef>R1</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><Refs><EndToEndId>E1</EndToEndId></Refs><Amt Ccy="EUR">10.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><RltdPties><Dbtr><Pty><Nm>Globex</Nm></Pty></Dbtr>
<DbtrAcct><Id><IBAN>BE91516952884376</IBAN></Id></DbtrAcct></RltdPties>
<RmtInf><Ustrd>INV-1</Ustrd><Strd><RfrdDocInf><Nb>INV-1</Nb></RfrdDocInf></Strd></RmtInf></TxDtls>
<TxDtls><Refs><EndToEndId>E2</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">15.00</Amt>
</TxAmt></AmtDtls><RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd>
</RmtInf></TxDtls></NtryDtls><AddtlNtryInf>batch</AddtlNtryInf></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""

SEEDS: list[bytes] = [
    BUILT_IN_SAMPLE,
    *(p.read_bytes() for p in corpus_files("bank/camt053") if p.stat().st_size < 12_000),
]

_ELEMENT = re.compile(rb"<([A-Za-z]+)[^>]*>[^<]*</\1>")

_MUTATION = fuzzing.mutation_strategy(b"<>/=\"' \n.-0123456789CRDTDBIT&;", unit="element")


def _parses_or_names_the_problem(data: bytes) -> None:
    fuzzing.parses_or_names_the_problem(parse_camt, data, "fuzz.xml")


def test_seed_parses() -> None:
    [statement] = parse_camt(BUILT_IN_SAMPLE, "sample.xml").statements
    assert len(statement.transactions) == 2


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_MUTATION, min_size=1, max_size=6),
)
def test_mutated_files_raise_only_bank_file_errors(seed: int, mutations: list) -> None:
    _parses_or_names_the_problem(fuzzing.mutate(SEEDS[seed], mutations, units=_ELEMENT))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_bank_file_errors(data: bytes) -> None:
    _parses_or_names_the_problem(data)
