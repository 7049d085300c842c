"""History checks: control numbers and invoice numbers already sent to the partner."""

from __future__ import annotations

from dataclasses import replace

from edi_samples import ENVELOPE, sample_810, sample_document, sample_invoic

from edi.build_x12 import render_810
from edi.findings import Severity
from edi.history import History, history_findings


def _found(data: bytes, history: History) -> list[tuple[str, str, str | None]]:
    return [(f.rule, f.problem.value, f.element) for f in history_findings(data, history)]


def test_a_file_with_nothing_sent_before_is_clean() -> None:
    history = History.of(["1200"], ["1200"], ["INV-1000"])
    assert history_findings(sample_810(), history) == []
    assert history_findings(sample_invoic(), History.of(["3000"], [], ["INV-1000"])) == []


def test_a_reused_interchange_and_group_control_number_is_rejected() -> None:
    findings = history_findings(sample_810(), History.of(["000001201"], ["1201"]))
    assert [(f.rule, f.segment, f.element) for f in findings] == [
        ("X-E09", "ISA", "13"),
        ("X-E09", "GS", "06"),
    ]
    assert all(f.severity is Severity.REJECT for f in findings)
    assert findings[0].ack.ta105 == "025"
    assert findings[0].message.startswith("interchange control number (ISA13) 000001201 was")


def test_a_corrected_resend_with_new_numbers_is_still_a_duplicate_invoice() -> None:
    again = replace(ENVELOPE, interchange_control=1202, group_control=1202, set_control=2)
    data, _ = render_810(sample_document(), again)
    history = History.of(["1201"], ["1201"], ["INV-1043"])
    (finding,) = history_findings(data, history)
    assert (finding.rule, finding.set_control, finding.set_position) == ("X-B02", "0002", 2)
    assert finding.message == (
        "invoice number INV-1043 was already sent to this partner; a partner pays an invoice once"
    )


def test_edifact_history() -> None:
    history = History.of(["3001"], [], ["INV-2044"])
    assert _found(sample_invoic(), history) == [
        ("E-E02", "control_number_reused", "05"),
        ("E-B01", "duplicate_invoice", "02"),
    ]
    assert history_findings(sample_invoic(), history)[0].ack.contrl == "26"
