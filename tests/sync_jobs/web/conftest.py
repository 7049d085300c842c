"""Fixtures of the web tests; the generated day and helpers are in `web_day.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_day import API_TOKEN, PASSWORD, WEB_CONFIG, Day, run_day

from sync_jobs.web.auth import hash_password


@pytest.fixture
def day(tmp_path: Path) -> Iterator[Day]:
    """A generated day, matched and written back, with the web settings for off-loopback."""
    (tmp_path / "api-token").write_text(API_TOKEN)
    found = run_day(tmp_path, WEB_CONFIG.format(hash=hash_password(PASSWORD)))
    yield found
    found.engine.dispose()
