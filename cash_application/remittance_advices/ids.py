"""Stable advice ids: the same advice of the same file always gets the same id."""

from __future__ import annotations

import hashlib


def advice_id_for(file_digest: str, position: int) -> str:
    """The id of the `position`-th advice (1-based) of the file with `file_digest`; it never
    equals a payment id, which hashes the same pair without the prefix."""
    return "adv-" + hashlib.sha256(f"advice:{file_digest}:{position}".encode()).hexdigest()[:20]
