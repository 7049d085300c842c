"""The golden-file machinery the per-format bank-file golden tests share.

A file's expected output lives in `golden/[<format>/]<file name>.json`: the parsed
file in the `arlink parse --json` shape, or `{"error": {...}}` for a file that must
be rejected. A file rejected by an integrity check also has
`<file name>.lenient.json`: what the parser reads with integrity checks off, so its
records stay covered.

Golden files are regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/cash_application/bank_files`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from golden_files import assert_golden

from cash_application.bank_files.errors import BankFileError, BankFileIntegrityError
from cash_application.bank_files.to_json import parsed_file_to_json

GOLDEN = Path(__file__).parent / "golden"


def outcome(parse: Callable[..., Any], data: bytes, name: str, **options: Any) -> dict[str, Any]:
    """The result of `parse(data, name, **options)` as golden JSON: the file, or the
    error that rejects it."""
    try:
        parsed = parse(data, name, **options)
    except BankFileError as exc:
        return {"error": {"type": type(exc).__name__, "line": exc.line, "field": exc.field}}
    return parsed_file_to_json(parsed)


def check_file(
    parse: Callable[..., Any], path: Path, folder: Path, *, integrity_checked: str
) -> None:
    """The file at `path` matches `folder/<name>.json`; if an integrity check rejects it,
    only `integrity_checked` may (the message of the failure), and what the parser reads
    with integrity checks off matches `folder/<name>.lenient.json`."""
    data = path.read_bytes()
    strict = outcome(parse, data, path.name)
    assert_golden(strict, folder / f"{path.name}.json")
    if strict.get("error", {}).get("type") == BankFileIntegrityError.__name__:
        lenient = outcome(parse, data, path.name, check_integrity=False)
        assert "error" not in lenient, f"only the {integrity_checked} may reject this file"
        assert_golden(lenient, folder / f"{path.name}.lenient.json")
