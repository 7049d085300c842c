"""Differential test: arlink's OFX parser against ofxparse (the design card's package).

ofxparse is quadratic in the file size (a list membership test per tag), so it is
kept off the parse path and used here, on the corpus, as the oracle: for every
file both must find the same transactions (FITID, signed amount, date), or the
disagreement must be one of the kinds explained below, checked on the file.

Explained disagreements:
- dates: ofxparse converts `DTPOSTED` with a time zone to UTC (20091215202000
  [-4:EST] becomes the 16th); arlink keeps the date the bank wrote.
- we refuse, ofxparse returns no transactions: a `STATUS` of severity ERROR (the
  sign-on was refused or the server failed), so a failed download never reads as
  an empty statement.
- we refuse, ofxparse reads a Decimal: brokerage cash lines in fractions of a
  cent (`-8.4850`, `115.8331` USD), which no ledger in minor units can hold.
- we read, ofxparse raises: an empty `LEDGERBAL` (quirk empty-ledgerbal) and
  empty `CURDEF` and friends (quirk empty-curdef, ofx-v102-empty-tags).
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from corpus import corpus_params, require_corpus

from cash_application.bank_files.errors import BankFileError, BankFileSyntaxError
from cash_application.bank_files.ofx import parse_ofx

ofxparse = pytest.importorskip("ofxparse")

CORPUS = "bank/ofx"


def _theirs(data: bytes) -> list[tuple[str | None, Decimal, Any]] | Exception:
    try:
        document = ofxparse.OfxParser.parse(io.BytesIO(data))
    except Exception as exc:  # the oracle's own failures are part of the comparison
        return exc
    rows = []
    for account in document.accounts:
        statement = getattr(account, "statement", None)
        for txn in getattr(statement, "transactions", []):
            if isinstance(txn, ofxparse.ofxparse.Transaction):
                rows.append((txn.id or None, txn.amount, txn.date))
    return rows


@pytest.mark.corpus
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", corpus_params(CORPUS))
def test_ofxparse_agrees_or_the_disagreement_is_explained(path: Path | None) -> None:
    if path is None:
        require_corpus(CORPUS)
        return
    data = path.read_bytes()
    theirs = _theirs(data)
    refusal: BankFileError | None = None
    try:
        parsed = parse_ofx(data, path.name)
    except BankFileError as exc:
        refusal = exc
    if refusal is not None:
        _explain_refusal(refusal, theirs)
        return
    if isinstance(theirs, Exception):
        assert b"<BALAMT></BALAMT>" in data or b"<BALAMT/>" in data or b"<BALAMT> <" in data
        return
    ours = [
        (t.bank_reference, t.amount.to_decimal() * (1 if t.direction == "credit" else -1), t)
        for statement in parsed.statements
        for t in statement.transactions
    ]
    assert len(ours) == len(theirs)
    for (fitid, amount, txn), (their_id, their_amount, their_when) in zip(
        ours, theirs, strict=True
    ):
        assert (fitid, amount) == (their_id, their_amount)
        if txn.entry_date != their_when.date():
            # ofxparse's UTC conversion of a time zone the bank wrote
            assert b"[-" in data or b"[+" in data
            assert abs((their_when.date() - txn.entry_date).days) == 1


def _explain_refusal(refusal: BankFileError, theirs: list[Any] | Exception) -> None:
    if isinstance(theirs, Exception):
        return  # both refuse the file
    if isinstance(refusal, BankFileSyntaxError):
        assert refusal.field == "TRNAMT"
        assert any(amount != amount.quantize(Decimal("0.01")) for _, amount, _ in theirs)
    else:
        assert refusal.field == "STATUS"
        assert theirs == []
