"""Golden JSON files beside the tests that compare against them.

A golden file is regenerated only on request (`ARLINK_REGEN_GOLDEN=1`), then
reviewed by hand; otherwise a missing one fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REGENERATE = os.environ.get("ARLINK_REGEN_GOLDEN") == "1"


def assert_golden(actual: Any, golden: Path) -> None:
    """`actual` equals the JSON in `golden`; with ARLINK_REGEN_GOLDEN=1, writes it there."""
    if REGENERATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(
            f"no golden file {golden.name}; create it with ARLINK_REGEN_GOLDEN=1 and review"
        )
    assert actual == json.loads(golden.read_text(encoding="utf-8"))
