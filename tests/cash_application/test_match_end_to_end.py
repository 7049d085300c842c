"""`arlink match` on a generated labelled scenario (100 payments x 1,000 open invoices), scored
against the truth the generator recorded: the files contract end to end."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from bench.matching_data import generate, write_files
from sync_jobs.cli import app

# Measured on the small scenario without clerk history (docs/benchmarks.md); the issue's
# 97 % target is not reached yet, and the floor keeps what is.
MIN_AUTO_APPLY = 0.85
MAX_MISAPPLIED = 0


def test_arlink_match_on_a_generated_scenario(tmp_path: Path) -> None:
    world = generate("tiny")
    bank_files = write_files(world, tmp_path / "in")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "match",
            *map(str, bank_files),
            "--customers",
            str(tmp_path / "in" / "customers.csv"),
            "--invoices",
            str(tmp_path / "in" / "open_invoices.csv"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    applied: dict[str, set[str]] = {}
    with (out / "applications.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            applied.setdefault(row["bank_reference"], set()).add(row["invoice_id"])
    with (out / "exceptions.csv").open(encoding="utf-8") as rows:
        excepted = {row["bank_reference"] for row in csv.DictReader(rows)}
    # Every payment is accounted for: applied, excepted, or both (a remainder).
    assert set(applied) | excepted == {p.payment_id for p in world.payments}
    misapplied = [
        pid
        for pid, invoices in applied.items()
        if not world.truth[pid].apply or invoices - set(world.truth[pid].invoices)
    ]
    assert len(misapplied) <= MAX_MISAPPLIED, misapplied
    assert len(applied) / len(world.payments) >= MIN_AUTO_APPLY
