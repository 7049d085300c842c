"""Golden files over the real EDI corpus: every confirmed defect found, clean files pass.

`MANIFEST_DEFECTS` is `shared/corpus/edi/MANIFEST.tsv`'s `verified_findings`
column, translated to rule ids by hand. `ALSO_FOUND` lists the reject-level rules
we report beyond the manifest, each with the reason it is right. Together they are
the exact set of reject-level rules per file, so a new reject (or a lost one)
fails here. Files in neither table are clean: no reject-level finding.

The full findings of each file are also kept as golden JSON beside this test,
regenerated only on request, then reviewed by hand:
`ARLINK_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/edi`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import corpus_params, require_corpus
from golden_files import assert_golden

from edi.findings import Severity
from edi.validate import validate

GOLDEN = Path(__file__).parent / "golden"
FOLDERS = ("edi/x12/810", "edi/x12/ack", "edi/x12/856", "edi/edifact/invoic", "edi/edifact/contrl")

# The manifest's confirmed defects, as rule ids (a warning-level rule is marked so).
MANIFEST_DEFECTS: dict[str, set[str]] = {
    "bots_retailer_inbound_810_1.x12": {"X-B06"},  # TDS01 12345.79 != 1320.00
    "bots_retailer_inbound_810_2.x12": {"X-B06"},  # TDS01 12345.79 != 3587.00
    "bots_supplier_outbound_810_1.x12": {"X-B06"},
    "bots_supplier_outbound_810_10.x12": {"X-B06"},
    "bots_supplier_outbound_810_3.x12": {"X-D02"},  # IT1 P020304: no IT104 price
    # BOM; ISA12=00040; ISS before TDS; CRLF+indentation; unterminated IEA
    "oopfactory_810_Walmart.txt": {"X-E01", "X-E04", "X-T02", "X-E03", "X-E10"},
    "oopfactory_810_Adobe.txt": {"X-E01", "X-E04", "X-E03"},  # BOM; ISA12=00040; indentation
    "oopfactory_810_MultiInvoice.txt": {"X-T02", "X-E01", "X-E03"},  # ISS before TDS; BOM
    "x12types_005010_824.edi": {"X-E03"},  # ISA11=U in a 00501 interchange
    "bots_invoic01_D96A_EAN008.edi": {"E-B06"},  # MOA+79 240.5 != sum MOA+203 32.5
    "bots_json_to_invoice_invoic01.edi": {"E-B06"},
    "bots_dutchic_invoic1.edi": {"E-B06"},
    "bots_xml_invoic1.edi": {"E-B06"},  # message 14: MOA+79 123 != 246
    "pydifact_invoice1_D97A.edi": {"E-D01", "E-B04:warning"},  # DTM 12 digits, no NAD+BY
    "pydifact_aperak_rejected_v3.edi": {"E-E06", "E-E03"},  # UNT 8 vs 7; lower case in UNOA
    "smooks_INVOIC_D03B_with_UNA.txt": {"E-E06"},  # UNT 36 vs 35
}

# Reject-level rules we report that the manifest does not list, and why they are right.
ALSO_FOUND: dict[str, set[str]] = {
    # The OopFactory samples all start with a UTF-8 BOM and indent their segments
    # (visible in the bytes); the manifest notes it for some of them only.
    "oopfactory_810_CaliforniaISO.txt": {"X-E01", "X-E03"},
    "oopfactory_810_Adobe.txt": {"X-E10"},  # the last IEA has no terminator
    "oopfactory_810_ManualBilling.txt": {"X-E01", "X-E03", "X-B04"},  # IT1 without product id
    "oopfactory_810_2011110815164104.txt": {"X-E03"},
    "oopfactory_856_Example1.txt": {"X-E01", "X-E03"},
    "oopfactory_856_Example2.txt": {"X-E01", "X-E03", "X-E06"},  # GS04 '030619': 6-digit date
    "oopfactory_824_CN.txt": {"X-E01", "X-E03", "X-E10"},
    "oopfactory_824_TMHP.txt": {"X-E01", "X-E03", "X-E10"},
    "oopfactory_999_DHS_Wisconsin.txt": {"X-E01", "X-E03"},
    "oopfactory_TA1_FromJeffN825.txt": {"X-E01", "X-E03", "X-E10"},
    "oopfactory_TA1_Sample1.txt": {"X-E01", "X-E03"},
    "x12types_004060_856.edi": {"X-E10"},  # the last IEA has no terminator
    # bots demo GLNs (8712345678910 ...) fail the GS1 mod-10 check digit; the demo
    # totals also break MOA+77 = 125 + tax, and bots_xml's lines 123 x 123 != 123.
    "bots_invoic01_D96A_EAN008.edi": {"E-B04"},
    "bots_json_to_invoice_invoic01.edi": {"E-B04"},
    "bots_dutchic_invoic1.edi": {"E-B04"},
    "bots_xml_invoic1.edi": {"E-B04", "E-B05"},
    # Same message as pydifact_invoice1_D97A (a trailing colon added): same 12-digit DTM.
    "pydifact_invoice_with_colon_at_end.edi": {"E-D01"},
}


def findings_json(data: bytes) -> list[dict[str, object]]:
    return [finding.to_json() for finding in validate(data)]


def _reject_rules(findings: list[dict[str, object]]) -> set[str]:
    return {str(f["rule"]) for f in findings if f["severity"] == Severity.REJECT.value}


def _all_rules(findings: list[dict[str, object]]) -> set[str]:
    return {
        f"{f['rule']}" if f["severity"] == "reject" else f"{f['rule']}:warning" for f in findings
    }


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(*FOLDERS))
def test_corpus_file_findings_match_the_manifest(path: Path | None) -> None:
    if path is None:
        require_corpus("edi")
        return
    findings = findings_json(path.read_bytes())
    confirmed = MANIFEST_DEFECTS.get(path.name, set())
    assert confirmed <= _all_rules(findings), "a defect the manifest confirms was not reported"
    expected_rejects = {r for r in confirmed if ":" not in r} | ALSO_FOUND.get(path.name, set())
    assert _reject_rules(findings) == expected_rejects


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params(*FOLDERS))
def test_corpus_file_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus("edi")
        return
    assert_golden(findings_json(path.read_bytes()), GOLDEN / f"{path.name}.json")


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "total"),
    [("bots_810-004010-01.x12", "843202"), ("oopfactory_810_Walmart.txt", "387530")],
)
def test_the_verified_totals_pass_and_a_cent_off_fails(name: str, total: str) -> None:
    """Bots Canadian 810: 8432.02 = 7880.40 lines + 551.62 line charges; Walmart-style:
    3875.30 = 3898.80 - 23.50 allowance. Both pass X-B06; two cents off both fail."""
    folder = require_corpus("edi/x12/810")
    data = (folder / name).read_bytes()
    assert "X-B06" not in {f.rule for f in validate(data)}
    off = str(int(total) - 2)
    mutated = validate(data.replace(f"TDS*{total}".encode(), f"TDS*{off}".encode()))
    totals = [f for f in mutated if f.rule == "X-B06"]
    assert totals
    shown = f"{int(off[:-2])}.{off[-2:]}"
    assert totals[0].message.startswith(f"total {shown} but lines, charges and tax add to ")
