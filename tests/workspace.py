"""A workspace for `arlink` in a temporary folder: the demo's (or a generated day's)
books and bank folders copied in, beside a `config.toml`."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from corpus import REPO

EXAMPLES = REPO / "examples"

# The demo on the files host: the folders `make_workspace` copies, one daily job.
DEMO_CONFIG = """
var_dir = "var"
[books.main]
kind = "files"
path = "books"
[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"
[jobs.daily]
books = "main"
sources = ["operating"]
"""


def make_workspace(
    folder: Path,
    config: str,
    *,
    source: Path = EXAMPLES,
    folders: Iterable[str] = ("books", "bank"),
) -> Path:
    """`folder` with a copy of each of `source`'s `folders` and `config` as its
    `config.toml`; returns `folder`."""
    for name in folders:
        shutil.copytree(source / name, folder / name)
    (folder / "config.toml").write_text(config)
    return folder
