"""X-B08 terms vs totals, X-B13 credit memos, X-B14 currency: on 810s the builder writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from edi_samples import ENVELOPE, sample_document

from edi.build_x12 import render_810
from edi.findings import Severity
from edi.profile import GENERIC, PartnerProfile
from edi.validate import validate
from mappings.invoice_document import PaymentTerms


def _rules(data: bytes, profile: PartnerProfile = GENERIC) -> dict[str, str]:
    return {f.rule: f.severity.value for f in validate(data, profile) if f.rule >= "X-B08"}


def _with_terms() -> bytes:
    terms = PaymentTerms(30, Decimal(2), 10, date(2026, 12, 2))
    data, _ = render_810(replace(sample_document(), terms=terms), ENVELOPE)
    return data


def test_terms_that_agree_with_the_totals_are_clean() -> None:
    # TDS 134.48: 2 % of it is 2.69, so 131.79 is due with the discount.
    data = _with_terms().replace(b"TDS*13448~", b"TDS*13448*13448*13179*269~")
    assert [f for f in validate(data) if f.severity is Severity.REJECT] == []
    assert "X-B08" not in _rules(data)


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        (b"TDS*13448~", b"TDS*13448*13448*13148*300~", "04"),  # discount is not 2 %
        (b"TDS*13448~", b"TDS*13448*13448*13000*269~", "03"),  # due is not 134.48 - 2.69
        (b"ITD*08*3*2**10*20261202*30~", b"ITD*08*3*2**45*20261202*30~", "05"),  # 45 > 30 days
    ],
)
def test_terms_that_disagree_with_the_totals_warn(old: bytes, new: bytes, element: str) -> None:
    data = _with_terms()
    assert old in data
    (finding,) = [f for f in validate(data.replace(old, new)) if f.rule == "X-B08"]
    assert (finding.severity, finding.element) == (Severity.WARNING, element)


def test_a_negative_total_must_be_a_credit_memo() -> None:
    data = render_810(sample_document(), ENVELOPE)[0].replace(b"TDS*13448~", b"TDS*-13448~")
    assert _rules(data)["X-B13"] == "warning"
    strict = replace(GENERIC, credit_memo_code_required=True)
    assert _rules(data, strict)["X-B13"] == "reject"
    credit = data.replace(b"*4500094576~", b"*4500094576***CR~")
    assert "X-B13" not in _rules(credit, strict)


def test_currency_is_required_by_a_multi_currency_partner_and_must_be_iso() -> None:
    usd = render_810(sample_document(), ENVELOPE)[0]
    multi = replace(GENERIC, currency_required=True)
    assert _rules(usd, multi)["X-B14"] == "reject"
    assert "X-B14" not in _rules(usd)
    cad = usd.replace(b"~\nN1*ST", b"~\nCUR*SE*CAD~\nN1*ST")
    assert "X-B14" not in _rules(cad, multi)
    assert _rules(cad.replace(b"CUR*SE*CAD", b"CUR*SE*Cdn"), multi)["X-B14"] == "reject"
