"""`arlink edi validate`: exit 1 on a reject-level finding, JSON on request, partner profiles."""

from __future__ import annotations

import json
from pathlib import Path

from edi_samples import SAMPLE_INVOIC, sample_810
from typer.testing import CliRunner

from sync_jobs.cli import app

runner = CliRunner()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_clean_810_can_be_sent(tmp_path: Path) -> None:
    result = runner.invoke(app, ["edi", "validate", str(_write(tmp_path, "a.x12", sample_810()))])
    assert result.exit_code == 0, result.output
    assert "0 reject(s)" in result.output
    assert "can be sent" in result.output


def test_a_wrong_total_is_told_in_clerk_words_and_exits_1(tmp_path: Path) -> None:
    bad = sample_810().replace(b"TDS*13448~", b"TDS*13248~")
    result = runner.invoke(app, ["edi", "validate", str(_write(tmp_path, "b.x12", bad))])
    assert result.exit_code == 1
    assert "total 132.48 but lines, charges and tax add to 134.48" in result.output
    assert "must not be sent" in result.output


def test_json_output_lists_findings_with_ack_codes(tmp_path: Path) -> None:
    bad = SAMPLE_INVOIC.replace(b"UNT+25+1", b"UNT+24+1")
    path = _write(tmp_path, "c.edi", bad)
    result = runner.invoke(app, ["edi", "validate", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["standard"] == "edifact"
    assert report["deliverable"] is False
    (finding,) = report["findings"]
    assert finding["rule"] == "E-E06"
    assert finding["ack"] == {"ak502": "4", "contrl": "29"}


def test_a_partner_profile_tightens_the_rules(tmp_path: Path) -> None:
    profile = _write(tmp_path, "target.toml", b'name = "target"\nunits = ["CA"]\n')
    path = _write(tmp_path, "d.x12", sample_810())
    result = runner.invoke(app, ["edi", "validate", str(path), "--partner", str(profile)])
    assert result.exit_code == 1
    assert "X-B05" in result.output
    generic = runner.invoke(app, ["edi", "validate", str(path), "--partner", "generic"])
    assert generic.exit_code == 0, generic.output


def test_an_unknown_partner_is_a_usage_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.x12", sample_810())
    result = runner.invoke(app, ["edi", "validate", str(path), "--partner", "nobody"])
    assert result.exit_code == 2
