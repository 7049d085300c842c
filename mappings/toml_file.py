"""Reading the TOML files that hold mappings and layouts, with errors that name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(source: Path, error: type[Exception]) -> dict[str, Any]:
    """`source` parsed; raise `error` naming the file (and the TOML line) when it cannot be
    read or is not TOML."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{source}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: {exc}") from None
