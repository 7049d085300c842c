"""Partner profiles: the shipped TOML files load, and each one tightens the standard."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from corpus import require_corpus
from edi_samples import sample_810

from edi.findings import Severity
from edi.profile import GENERIC, PartnerProfile
from edi.validate import validate
from sync_jobs.edi_cli import PROFILES, load_partner_profile


def _rejects(data: bytes, profile: PartnerProfile) -> set[str]:
    return {f.rule for f in validate(data, profile) if f.severity is Severity.REJECT}


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = PartnerProfile.from_mapping(tomllib.loads(path.read_text(encoding="utf-8")))
    assert profile.name == path.stem


def test_the_generic_file_is_the_generic_default() -> None:
    assert load_partner_profile("generic") == GENERIC


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unit_of_measure"):
        PartnerProfile.from_mapping({"unit_of_measure": ["EA"]})


def test_the_target_example_wants_its_po_format_and_10_cent_minimum() -> None:
    profile = load_partner_profile("target-example")
    data = sample_810().replace(b"SAC*A*I410***2350~", b"SAC*A*I410***5~")
    data = data.replace(b"TDS*13448~", b"TDS*15793~")  # allowance 23.50 -> 0.05: +23.45
    assert _rejects(data, GENERIC) == set()
    assert {"X-B03", "X-B12", "X-T01"} <= _rejects(data, profile)


def test_the_walmart_example_requires_itd_and_fob() -> None:
    folder = require_corpus("edi/x12/810")
    data = (folder / "bots_810-004010-01.x12").read_bytes()
    profile = load_partner_profile("walmart-example")
    found = [f for f in validate(data, profile) if f.rule == "X-T01"]
    assert {f.segment for f in found} == {"FOB"}  # the file has ITD but no FOB
