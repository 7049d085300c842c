"""A bank source whose lockbox files come as the bank's own CSV export: the source's
`lockbox_layout` names the layout, the job reads the checks with it, and the invoice lines
drive the applications; `arlink parse --lockbox-layout` reads the file the same way."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from workspace import DEMO_CONFIG, make_workspace

from sync_jobs.cli import app

# This bank calls its columns its own way: no shipped layout recognises the export.
LAYOUT = """
date_format = "%Y-%m-%d"
thousands_separator = ","
group_by = "check"
[columns]
lockbox = "Box"
deposit_date = "Deposited"
check_number = "Cheque"
check_amount = "Cheque Total"
routing = "ABA"
account = "Acct"
remitter = "Drawer"
invoice = "Inv"
invoice_amount = "Inv Paid"
"""
# Acme pays INV-10041 and INV-10043 with one check; its account is in Acme's master data.
EXPORT = (
    "Box,Deposited,Cheque,Cheque Total,ABA,Acct,Drawer,Inv,Inv Paid\r\n"
    '7001,2026-11-04,5501,"15,700.00",021000021,123456789,ACME MFG,INV-10041,"12,500.00"\r\n'
    '7001,2026-11-04,5501,"15,700.00",021000021,123456789,ACME MFG,INV-10043,"3,200.00"\r\n'
)


def source_config(layout: str | None) -> str:
    config = DEMO_CONFIG.replace('pattern = "*.bai2"', 'pattern = "*.csv"')
    if layout is None:
        return config
    return config.replace('pattern = "*.csv"', f'pattern = "*.csv"\nlockbox_layout = "{layout}"')


def workspace(tmp_path: Path, layout: str | None) -> Path:
    folder = make_workspace(tmp_path, source_config(layout), folders=("books",))
    (folder / "bank").mkdir()
    (folder / "bank" / "lockbox-20261104.csv").write_text(EXPORT, encoding="utf-8")
    (folder / "mybank.toml").write_text(LAYOUT)
    return folder


def arlink(folder: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(folder / "config.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def applied(folder: Path) -> list[tuple[str, str]]:
    with (folder / "books" / "applications.csv").open(newline="", encoding="utf-8") as handle:
        return sorted((row["invoice_id"], row["amount_applied"]) for row in csv.DictReader(handle))


def test_the_sources_layout_reads_the_banks_export_and_its_lines_apply(tmp_path: Path) -> None:
    folder = workspace(tmp_path, "mybank.toml")
    code, out, err = arlink(folder, "run", "daily", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["payments"] == 1, summary
    assert applied(folder) == [("5041", "12500.00"), ("5043", "3200.00")]


def test_without_the_layout_the_export_is_quarantined_not_guessed(tmp_path: Path) -> None:
    folder = workspace(tmp_path, None)
    code, out, err = arlink(folder, "run", "daily", "--json")
    assert json.loads(out)["files_quarantined"] == 1, (code, out, err)
    assert not (folder / "books" / "applications.csv").exists()


def test_a_layout_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    folder = workspace(tmp_path, "nosuchbank")
    code, _, err = arlink(folder, "check")
    assert code == 2
    assert "sources.operating.lockbox_layout" in err


@pytest.mark.parametrize("as_json", [True, False])
def test_arlink_parse_reads_the_export_with_the_named_layout(tmp_path: Path, as_json: bool) -> None:
    folder = workspace(tmp_path, None)
    export = folder / "bank" / "lockbox-20261104.csv"
    layout = str(folder / "mybank.toml")
    code, out, err = arlink(
        folder, "parse", str(export), "--lockbox-layout", layout, *(["--json"] if as_json else [])
    )
    assert code == 0, err
    if as_json:
        (statement,) = json.loads(out)["statements"]
        (check,) = statement["transactions"]
        assert (check["amount"], check["payer_name"]) == ("15700.00", "ACME MFG")
        assert check["invoice_refs"] == ["INV-10041", "INV-10043"]
    else:
        assert "15700.00" in out


def test_arlink_parse_names_a_layout_it_cannot_use(tmp_path: Path) -> None:
    folder = workspace(tmp_path, None)
    code, _, err = arlink(
        folder, "parse", str(folder / "bank" / "lockbox-20261104.csv"), "--lockbox-layout", "nope"
    )
    assert code == 1
    assert "nope" in err
