"""`arlink runs show` prints a step's detail in its table; a sharded match's plan holds
every payment id and opening amount, which the table shows by size, not whole."""

from __future__ import annotations

from sync_jobs.cli import BRIEF_ITEMS, _brief


def test_long_lists_and_maps_show_their_size_and_short_ones_stay() -> None:
    plan = {
        "payments": [f"p{n}" for n in range(50_000)],
        "open_minor": {f"i{n}": n for n in range(BRIEF_ITEMS + 1)},
        "shards": 8,
        "groups": {"phase_two": ["p1", "p2"]},
    }
    assert _brief(plan) == {
        "payments": "50000 items",
        "open_minor": f"{BRIEF_ITEMS + 1} items",
        "shards": 8,
        "groups": {"phase_two": ["p1", "p2"]},
    }
    assert _brief([1] * BRIEF_ITEMS) == [1] * BRIEF_ITEMS
