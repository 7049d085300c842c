"""Hostile XML is refused with our typed error, and nothing in it is expanded or fetched.

camt files come from outside; DESIGN.md says XML is parsed with entity expansion
and network access off. A document type declaration is where entities live, so
any DTD is refused before a single entry is read.
"""

from __future__ import annotations

import time

import pytest

from cash_application.bank_files.camt import parse_camt
from cash_application.bank_files.errors import BankFileSyntaxError

BODY = (
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
    "<Stmt><Acct><Id><IBAN>BE1</IBAN></Id><Ccy>EUR</Ccy></Acct>"
    '<Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
    "<AddtlNtryInf>{payload}</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>"
)


def _laughs() -> str:
    """Nine levels of ten references each: 10**9 "lol"s if anything expanded them."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        refs = f"&lol{level - 1};" * 10
        entities.append(f'<!ENTITY lol{level} "{refs}">')
    return "\n".join(entities)


BILLION_LAUGHS = (
    f'<?xml version="1.0"?>\n<!DOCTYPE Document [\n{_laughs()}\n]>\n'
    + BODY.format(payload="&lol9;")
).encode()

EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    + BODY.format(payload="&secret;")
).encode()

EXTERNAL_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
    + BODY.format(payload="x")
).encode()

PARAMETER_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY % remote SYSTEM '
    '"http://127.0.0.1:9/x.dtd"> %remote;]>\n' + BODY.format(payload="x")
).encode()


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_documents_with_a_dtd_are_refused_unexpanded(data: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(BankFileSyntaxError) as caught:
        parse_camt(data, "evil.xml")
    assert time.perf_counter() - started < 1.0  # nothing was expanded
    assert caught.value.file == "evil.xml"
    assert caught.value.field == "DOCTYPE"
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd in the message


def test_undeclared_entity_is_a_syntax_error() -> None:
    with pytest.raises(BankFileSyntaxError):
        parse_camt(BODY.format(payload="&secret;").encode(), "evil.xml")


def test_predefined_and_character_entities_are_read() -> None:
    parsed = parse_camt(BODY.format(payload="A&amp;B &#233;").encode(), "ok.xml")
    assert parsed.statements[0].transactions[0].remittance == "A&B é"


def test_deep_nesting_is_a_syntax_error() -> None:
    deep = "<x>" * 5000 + "</x>" * 5000
    with pytest.raises(BankFileSyntaxError):
        parse_camt(BODY.format(payload=deep).encode(), "deep.xml")
