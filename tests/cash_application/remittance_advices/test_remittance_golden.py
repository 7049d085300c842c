"""Golden files: every sample advice file beside its expected JSON.

`golden/<sample>.json` holds the advices the file parses to, or `{"error": {...}}` for a
file that must be rejected. Regenerate only on request, then review by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/remittance_advices`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from golden_files import assert_golden

from cash_application.bank_files.errors import BankFileError
from cash_application.remittance_advices import CsvLayout, parse_advice_file
from cash_application.remittance_advices.to_json import advice_to_json

HERE = Path(__file__).parent
SAMPLES = sorted(p for p in (HERE / "samples").iterdir() if p.suffix in (".820", ".csv"))
EU_LAYOUT = CsvLayout.load(HERE / "samples" / "eu_layout.toml")


def outcome(path: Path) -> Any:
    data = path.read_bytes()
    layout = EU_LAYOUT if path.name.startswith("eu_") else None
    options = {"layout": layout} if layout else {}
    try:
        advices = parse_advice_file(
            data, path.name, file_digest=hashlib.sha256(data).hexdigest(), **options
        )
    except BankFileError as exc:
        return {"error": {"type": type(exc).__name__, "line": exc.line, "field": exc.field}}
    return [advice_to_json(advice) for advice in advices]


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_matches_its_golden_file(path: Path) -> None:
    assert_golden(outcome(path), HERE / "golden" / f"{path.name}.json")


def test_every_sample_has_a_golden_file_and_no_golden_file_is_orphaned() -> None:
    golden = {p.name for p in (HERE / "golden").glob("*.json")}
    assert golden == {f"{p.name}.json" for p in SAMPLES}
