"""Where the shared corpus of real public files is, for tests that read it.

The corpus sits beside the repository (`<repo>/../shared/corpus`) unless the
environment variable `ARLINK_CORPUS` names another folder. Tests that need it
skip, with the path they looked at, when it is absent, except when
`ARLINK_REQUIRE_CORPUS=1` (CI sets it): then a missing corpus fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path:
    """The corpus root: `$ARLINK_CORPUS` if set, else `<repo>/../shared/corpus`."""
    configured = os.environ.get("ARLINK_CORPUS")
    return Path(configured) if configured else REPO.parent / "shared" / "corpus"


def corpus_files(subdir: str) -> list[Path]:
    """The files of one corpus folder (e.g. "bank/bai2"), sorted; empty when it is absent."""
    folder = corpus_dir() / subdir
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def require_corpus(subdir: str) -> Path:
    """The corpus folder `subdir`, or skip the calling test with where it was looked for."""
    folder = corpus_dir() / subdir
    if not folder.is_dir():
        if os.environ.get("ARLINK_REQUIRE_CORPUS") == "1":
            pytest.fail(f"corpus required (ARLINK_REQUIRE_CORPUS=1) but not found at {folder}")
        pytest.skip(f"corpus not found at {folder}: set ARLINK_CORPUS")
    return folder


def corpus_params(*subdirs: str) -> list[Any]:
    """One pytest param per file of the corpus folders `subdirs`, named by the file; or,
    when there are none, a `corpus-missing` placeholder (`None`), on which the test calls
    `require_corpus` to skip (or fail under ARLINK_REQUIRE_CORPUS=1)."""
    files = [path for subdir in subdirs for path in corpus_files(subdir)]
    if not files:
        return [pytest.param(None, id="corpus-missing")]
    return [pytest.param(path, id=path.name) for path in files]
