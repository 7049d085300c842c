"""Random byte mutations never crash the validator: they give findings, not exceptions."""

from __future__ import annotations

from corpus import corpus_files
from edi_samples import SAMPLE_INVOIC, sample_810
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.findings import Finding
from edi.validate import validate

SEEDS = [sample_810(), SAMPLE_INVOIC] + [
    path.read_bytes()
    for folder in ("edi/x12/810", "edi/edifact/invoic")
    for path in corpus_files(folder)[:4]
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if action == "flip" and data:
            data[where] = draw(st.integers(0, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and data:
            del data[where : where + draw(st.integers(1, 20))]
        elif action == "cut":
            del data[where:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_give_findings_not_exceptions(data: bytes) -> None:
    findings = validate(data)
    assert all(isinstance(f, Finding) and f.rule and f.message for f in findings)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_findings_not_exceptions(data: bytes) -> None:
    for prefix in (b"", b"ISA", b"UNB+", b"UNA:+.? '"):
        assert isinstance(validate(prefix + data), list)
