"""Round trip: every 810 arlink builds passes its own validator and parses back unchanged."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from edi_samples import ENVELOPE, sample_document
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.amounts import invoice_total_minor
from edi.build_x12 import VERSIONS, render_810
from edi.findings import Severity
from edi.parse_x12_810 import parse_810
from edi.validate import validate
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money

_CODE = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)
_TEXT = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.,", min_size=1, max_size=30).map(
    lambda t: t.strip() or "X"
)


def _cents(low: int, high: int) -> st.SearchStrategy[Money]:
    return st.integers(low, high).map(lambda minor: Money(minor, "USD"))


_ADJUSTMENT = st.builds(
    AllowanceCharge,
    kind=st.sampled_from(["A", "C"]),
    code=st.sampled_from(["D240", "A530", "I410", "D360"]),
    amount=_cents(1, 500_000),
)
_LINE = st.builds(
    DocumentLine,
    line_number=st.integers(1, 9999).map(str),
    product_qualifier=st.sampled_from(["UP", "VN", "IN", "BP"]),
    product_id=_CODE,
    quantity=st.decimals(Decimal("0.001"), Decimal("99999"), places=3),
    unit=st.sampled_from(["EA", "CA", "BX", "LB"]),
    unit_price=st.decimals(Decimal("0.0001"), Decimal("99999"), places=4),
    description=_TEXT,
    allowances_charges=st.lists(_ADJUSTMENT, max_size=2).map(tuple),
)
_DOCUMENT = st.builds(
    InvoiceDocument,
    invoice_number=_CODE,
    invoice_date=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    currency=st.just("USD"),
    lines=st.lists(_LINE, min_size=1, max_size=8).map(tuple),
    po_number=_CODE,
    po_date=st.none(),
    allowances_charges=st.lists(_ADJUSTMENT, max_size=2).map(tuple),
    taxes=st.lists(
        st.builds(TaxAmount, tax_type=st.just("ST"), amount=_cents(0, 100_000)), max_size=1
    ).map(tuple),
    parties=st.lists(
        st.builds(Party, role=st.sampled_from(["ST", "BT", "RE"]), name=_TEXT), max_size=3
    ).map(tuple),
    terms=st.one_of(
        st.none(),
        st.builds(
            PaymentTerms,
            net_days=st.integers(0, 120),
            discount_percent=st.one_of(
                st.none(), st.decimals(Decimal("0.5"), Decimal(5), places=1)
            ),
            net_due_date=st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2030, 12, 31))),
        ).map(lambda t: replace(t, discount_days=None if t.discount_percent is None else 10)),
    ),
)


def _rejects(data: bytes) -> list[str]:
    return [f.message for f in validate(data) if f.severity is Severity.REJECT]


def test_the_sample_invoice_round_trips() -> None:
    document = sample_document()
    data, segments = render_810(document, ENVELOPE)
    assert _rejects(data) == []
    assert parse_810(data) == [document]
    assert segments[0][:2] == ["ST", "810"]
    assert segments[-1] == ["SE", str(len(segments)), "0001"]


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_version_round_trips_with_its_envelope(version: str) -> None:
    document = replace(sample_document(), terms=PaymentTerms(30, Decimal(2), 10, date(2026, 12, 2)))
    data, segments = render_810(document, replace(ENVELOPE, version=version))
    assert _rejects(data) == []
    assert parse_810(data) == [document]
    isa = data.split(b"~")[0].split(b"*")
    assert (isa[11], isa[12]) == ((b"U", b"00401") if version < "005" else (b"^", b"00501"))
    assert f"*X*{version}~".encode() in data
    assert ["ITD", "08", "3", "2", "", "10", "20261202", "30"] in segments


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="004020"):
        render_810(sample_document(), replace(ENVELOPE, version="004020"))


def test_a_corrected_resend_carries_new_control_numbers() -> None:
    first, _ = render_810(sample_document(), ENVELOPE)
    again = replace(ENVELOPE, interchange_control=1202, group_control=1202, set_control=2)
    second, _ = render_810(sample_document(), again)
    assert b"000001201" in first
    assert b"000001202" in second
    assert _rejects(second) == []


@settings(max_examples=150, deadline=None)
@given(_DOCUMENT, st.sampled_from(list(VERSIONS)))
def test_every_built_invoice_validates_and_parses_back(
    document: InvoiceDocument, version: str
) -> None:
    if invoice_total_minor(document) < 0:
        return  # a negative invoice is a credit memo (BIG07 CR), outside this builder
    data, _ = render_810(document, replace(ENVELOPE, version=version))
    assert _rejects(data) == []
    assert parse_810(data) == [document]
