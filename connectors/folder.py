"""The `folder` file transport: bank files dropped into a local folder.

`archive` moves a recorded file into the `processed` folder, `quarantine` one that did
not parse into the `quarantine` folder, never over an earlier delivery of the same name (a
file gone from the inbox was moved already); `put` writes under a temp name and renames,
so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from connectors.protocols import CheckResult


class FolderTransport:
    """File transport over a local folder (an inbox with a glob pattern)."""

    def __init__(
        self,
        name: str,
        folder: Path,
        pattern: str = "*",
        processed: Path | None = None,
        quarantine: Path | None = None,
    ):
        self.name = name
        self.folder = folder
        self.pattern = pattern
        self.processed = processed or folder / "processed"
        self.quarantine_folder = quarantine or folder / "quarantine"

    def check(self) -> list[CheckResult]:
        target = f"source {self.name}"
        if not self.folder.is_dir():
            return [CheckResult(target, False, f"folder {self.folder} not found")]
        if not os.access(self.folder, os.R_OK | os.W_OK):
            return [CheckResult(target, False, f"need read and write access to {self.folder}")]
        waiting = len(self.list())
        return [CheckResult(target, True, f"{waiting} file(s) matching {self.pattern!r} waiting")]

    def list(self) -> list[str]:
        return sorted(
            path.name
            for path in self.folder.glob(self.pattern)
            if path.is_file() and not path.name.startswith(".")
        )

    def fetch(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def archive(self, name: str) -> None:
        """Move a recorded file into the processed folder."""
        self._move(name, self.processed)

    def quarantine(self, name: str) -> None:
        """Move a recorded file that must not be processed into the quarantine folder."""
        self._move(name, self.quarantine_folder)

    def _move(self, name: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        suffix = 1
        while target.exists():  # never overwrite an earlier delivery with the same name
            target = folder / f"{name}.{suffix}"
            suffix += 1
        try:
            os.replace(self.folder / name, target)
        except FileNotFoundError:
            # Moved already, by a run that died before recording it.
            return

    def put(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{name}.", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.folder / name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Nothing to release: a local folder holds no connection."""
