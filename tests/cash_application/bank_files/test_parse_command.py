"""`arlink parse`: a bank file in the stable JSON shape with its additive keys, and a
remittance advice file (X12 820, CSV) shown as its advices, as a job reads them."""

from __future__ import annotations

import json

import pytest
from corpus import REPO
from typer.testing import CliRunner

from sync_jobs.cli import app

ADVICES = REPO / "tests" / "cash_application" / "remittance_advices"


def arlink(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["ach_ctx_short_pay.820", "portal_upload.csv"])
def test_an_advice_file_shows_its_advices_as_the_job_reads_them(name: str) -> None:
    code, stdout, stderr = arlink("parse", str(ADVICES / "samples" / name), "--json")
    assert code == 0, stderr
    shown = json.loads(stdout)
    # The same advices (ids from the file's digest, as in the ledger) as the golden file.
    expected = json.loads((ADVICES / "golden" / f"{name}.json").read_text())
    assert shown == {"format": expected[0]["source"]["format"], "advices": expected}
    code, stdout, _ = arlink("parse", str(ADVICES / "samples" / name))
    assert code == 0
    assert expected[0]["document"] in stdout
    assert expected[0]["lines"][0]["invoice_ref"] in stdout


def test_a_bad_advice_file_is_refused_naming_its_line() -> None:
    code, _, stderr = arlink("parse", str(ADVICES / "samples" / "bad_total.820"))
    assert code == 1
    assert "bad_total.820:16" in stderr


def test_bank_file_json_has_booked_ultimate_payer_and_invoice_amounts() -> None:
    code, stdout, stderr = arlink(
        "parse", str(REPO / "examples" / "bank" / "2026-11-02-operating.bai2"), "--json"
    )
    assert code == 0, stderr
    transactions = [t for s in json.loads(stdout)["statements"] for t in s["transactions"]]
    assert all(t["booked"] is True and t["ultimate_payer"] is None for t in transactions)
    # RMR*IV*INV-10047*2200.00\RMR*IV*INV-10048*1875.50\ on one ACH credit.
    assert {"INV-10047": "2200.00", "INV-10048": "1875.50"} in [
        t["invoice_amounts"] for t in transactions
    ]
