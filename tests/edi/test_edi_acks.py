"""Inbound acknowledgments: parsed into records, joined back to the invoices we built.

Golden files over the corpus's real 997, 999, TA1, 824 and APERAK files (the
parsed records as JSON, regenerated only with ARLINK_REGEN_GOLDEN=1), facts the
manifest confirms, and acknowledgments written here for 810s and INVOICs built by
`edi.build_x12` / `edi.build_edifact`, joined back to the line, party or total
their segment positions name.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from corpus import corpus_params, require_corpus
from edi_samples import ENVELOPE, INVOIC_ENVELOPE, sample_document, sample_invoic_document
from golden_files import assert_golden

from edi.ack_join import (
    SentInvoice,
    describe_segment,
    join_acknowledgments,
    overdue,
    same_control,
)
from edi.acks import AckStatus, read_acknowledgments
from edi.build_edifact import render_invoic
from edi.build_x12 import render_810

GOLDEN = Path(__file__).parent / "golden" / "acks"
SENT_AT = datetime(2026, 11, 2, 9, 30)


def _sent_810s() -> tuple[list[SentInvoice], list[bytes]]:
    """Three 810s, each in its own interchange (ISA13 1201..1203, GS06 = ISA13, ST02 1..3)."""
    sent, files = [], []
    for n in (1, 2, 3):
        document = replace(sample_document(), invoice_number=f"INV-104{n}")
        envelope = replace(
            ENVELOPE, interchange_control=1200 + n, group_control=1200 + n, set_control=n
        )
        data, segments = render_810(document, envelope)
        files.append(data)
        sent.append(
            SentInvoice(
                document.invoice_number,
                f"{1200 + n:09d}",
                str(1200 + n),
                f"{n:04d}",
                tuple(map(tuple, segments)),
                SENT_AT,
            )
        )
    return sent, files


def _x12(set_type: str, body: list[str], control: int = 900) -> bytes:
    """An X12 acknowledgment interchange from the partner around `body` (ST..SE added)."""
    isa = (
        f"ISA*00*          *00*          *08*9251750000     *ZZ*ARLINKSUPPLIER "
        f"*261102*1000*U*00401*{control:09d}*0*P*>~"
    )
    segments = [f"ST*{set_type}*0001", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    group = "GS*FA*9251750000*ARLINKSUPPLIER*20261102*1000*900*X*004010~"
    text = isa + group + "".join(s + "~" for s in segments) + "GE*1*900~" + f"IEA*1*{control:09d}~"
    return text.encode("ascii")


def _position(sent: SentInvoice, tag: str, first: str) -> int:
    return next(i for i, s in enumerate(sent.segments, 1) if s[0] == tag and s[1] == first)


def _join(sent: list[SentInvoice], data: bytes) -> dict[str, Any]:
    inbound = read_acknowledgments(data)
    statuses = join_acknowledgments(sent, inbound.acknowledgments, inbound.advices)
    return {s.invoice_number: s for s in statuses}


# ---------------------------------------------------------------- corpus


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_params("edi/x12/ack", "edi/edifact/contrl"))
def test_corpus_acknowledgment_matches_its_golden_file(path: Path | None) -> None:
    if path is None:
        require_corpus("edi/x12/ack")
        return
    inbound = read_acknowledgments(path.read_bytes())
    records = {
        "acknowledgments": [dataclasses.asdict(a) for a in inbound.acknowledgments],
        "advices": [dataclasses.asdict(a) for a in inbound.advices],
    }
    assert_golden(json.loads(json.dumps(records)), GOLDEN / f"{path.name}.json")


def _corpus(name: str) -> bytes:
    folder = "edi/edifact/contrl" if name.endswith(".edi") and "aperak" in name else "edi/x12/ack"
    return (require_corpus(folder) / name).read_bytes()


@pytest.mark.corpus
def test_a_rejecting_997_gives_segment_and_element_errors() -> None:
    (ack,) = read_acknowledgments(_corpus("bots_testx12001_997_AK3_AK4.x12")).acknowledgments
    (group,) = ack.groups
    assert (group.control, group.status, group.counts) == ("1", AckStatus.REJECTED, ("1", "1", "0"))
    (document,) = group.sets
    assert (document.control, document.status, document.codes) == (
        "300145997",
        AckStatus.REJECTED,
        ("5",),
    )
    assert [(e.segment_id, e.position, e.code) for e in document.segments] == [
        ("SV2", 57, "8"),
        ("SVD", 59, "8"),
    ]
    assert [(e.position, e.reference, e.code) for e in document.segments[0].elements] == [
        ("2:1", "235", "7"),
        ("2:2", "234", "1"),
    ]


@pytest.mark.corpus
def test_a_partially_accepting_999_gives_each_documents_status() -> None:
    (ack,) = read_acknowledgments(_corpus("oopfactory_999_DHS_Wisconsin.txt")).acknowledgments
    (group,) = ack.groups
    assert (ack.kind, group.status) == ("999", AckStatus.PARTIALLY_ACCEPTED)
    assert [(s.control, s.status) for s in group.sets] == [
        ("0001", AckStatus.ACCEPTED),
        ("002", AckStatus.REJECTED),
        ("0003", AckStatus.REJECTED),
    ]
    assert group.sets[1].segments[0].elements[0].code == "1"  # IK4 CLM02 missing


@pytest.mark.corpus
def test_ta1_824_and_aperak_from_the_corpus() -> None:
    (ta1,) = read_acknowledgments(_corpus("oopfactory_TA1_FromJeffN825.txt")).acknowledgments
    assert ta1.interchanges[0] == replace(ta1.interchanges[0], control="900000001", code="006")
    assert ta1.interchanges[0].status is AckStatus.REJECTED
    (advice,) = read_acknowledgments(_corpus("oopfactory_824_TMHP.txt")).advices
    last = advice.items[-1]
    assert [(e.segment_id, e.position, e.element, e.bad_value) for e in last.errors] == [
        ("N4", 113, "3", "27387"),
        ("N4", 124, "3", "27378"),
    ]
    (aperak,) = read_acknowledgments(_corpus("pydifact_aperak_rejected_v3.edi")).advices
    assert aperak.items[0].status is AckStatus.REJECTED
    assert aperak.items[0].errors[0].code == "12"
    assert "invalid product code" in aperak.items[0].errors[0].text


# ---------------------------------------------------------------- built invoices, X12


def test_a_997_rejecting_one_invoice_names_the_line_and_field() -> None:
    sent, _ = _sent_810s()
    line_2 = _position(sent[1], "IT1", "2")
    body = [
        "AK1*IN*1202",
        "AK2*810*0002",
        f"AK3*IT1*{line_2}**8",
        "AK4*4*212*1",
        "AK5*R*5",
        "AK9*R*1*1*0",
    ]
    statuses = _join(sent, _x12("997", body))
    assert list(statuses) == ["INV-1042"]
    status = statuses["INV-1042"]
    assert status.status is AckStatus.REJECTED
    assert [e.message for e in status.errors] == [
        "line 2 (item 000000000002): unit price (IT104) is required but missing"
    ]
    assert status.summary().startswith("invoice INV-1042 rejected by the partner: correct it")


def test_a_997_accepting_a_group_without_listing_documents_accepts_them() -> None:
    sent, _ = _sent_810s()
    statuses = _join(sent, _x12("997", ["AK1*IN*1201", "AK9*A*1*1*1"]))
    assert {k: v.status for k, v in statuses.items()} == {"INV-1041": AckStatus.ACCEPTED}


def test_a_999_with_errors_on_a_party_and_a_total() -> None:
    sent, _ = _sent_810s()
    party = _position(sent[2], "N1", "ST")
    total = _position(sent[2], "TDS", "13448")
    body = [
        "AK1*IN*1203*004010",
        "AK2*810*0003",
        f"IK3*N1*{party}**8",
        "IK4*4*67*I12*1602",
        f"IK3*TDS*{total}**8",
        "IK4*1*610*6",
        "IK5*E*5",
        "AK9*E*1*1*1",
    ]
    status = _join(sent, _x12("999", body))["INV-1043"]
    assert status.status is AckStatus.ACCEPTED_WITH_ERRORS
    assert [e.message for e in status.errors] == [
        "party ST MACDONALDS CO: party id (N104) does not match the required pattern (sent '1602')",
        "the invoice totals (TDS): invoice total (TDS01) has a character that is not allowed",
    ]


def test_a_ta1_rejecting_an_interchange_rejects_its_invoice() -> None:
    sent, _ = _sent_810s()
    data = (
        b"ISA*00*          *00*          *08*9251750000     *ZZ*ARLINKSUPPLIER "
        b"*261102*1000*U*00401*000000901*0*P*>~TA1*000001202*261102*0930*R*025~"
        b"TA1*000001201*261102*0930*A*000~IEA*0*000000901~"
    )
    statuses = _join(sent, data)
    assert statuses["INV-1042"].status is AckStatus.REJECTED
    assert statuses["INV-1042"].errors[0].message == (
        "the whole interchange 000001202: the interchange control number was already used"
    )
    # a TA1 that accepts vouches for the envelope only: the invoice is received, not accepted
    assert statuses["INV-1041"].status is AckStatus.RECEIVED
    assert statuses["INV-1041"].errors == ()


def test_the_worst_answer_wins_when_several_acknowledgments_name_an_invoice() -> None:
    sent, _ = _sent_810s()
    ta1 = read_acknowledgments(
        b"ISA*00*          *00*          *08*9251750000     *ZZ*ARLINKSUPPLIER "
        b"*261102*1000*U*00401*000000901*0*P*>~TA1*000001201*261102*0930*A*000~"
        b"IEA*0*000000901~"
    ).acknowledgments
    rejecting = read_acknowledgments(
        _x12("997", ["AK1*IN*1201", "AK2*810*0001", "AK5*R*4", "AK9*R*1*1*0"])
    ).acknowledgments
    (status,) = join_acknowledgments(sent, [*ta1, *rejecting])
    assert (status.status, status.sources) == (AckStatus.REJECTED, ("TA1", "997"))
    assert status.errors[0].message == "the document's segment count (SE01) is wrong"


def test_an_824_application_advice_names_the_line() -> None:
    sent, _ = _sent_810s()
    line_3 = _position(sent[0], "IT1", "3")
    body = [
        "BGN*00*824001*20261103",
        "OTI*TR*IV*INV-1041***20261103*1000*1201*0001*810",
        f"TED*024*PRICE NOT ON FILE*IT1*{line_3}*4**6.61",
        "OTI*TA*IV*INV-1042",
    ]
    statuses = _join(sent, _x12("824", body).replace(b"GS*FA", b"GS*AG"))
    assert statuses["INV-1041"].status is AckStatus.REJECTED
    assert [e.message for e in statuses["INV-1041"].errors] == [
        "line 3 (item 000000000003) unit price (IT104): PRICE NOT ON FILE (sent '6.61')"
    ]
    assert statuses["INV-1042"].status is AckStatus.ACCEPTED  # joined by invoice number


# ---------------------------------------------------------------- built invoices, EDIFACT


def _sent_invoic() -> SentInvoice:
    _, segments = render_invoic(sample_invoic_document(), INVOIC_ENVELOPE)
    return SentInvoice("INV-2044", "3001", "", "1", tuple(map(tuple, segments)), SENT_AT)


def _contrl(body: str) -> bytes:
    segments = ["UNH+1+CONTRL:D:3:UN", *body.split("\n")]
    text = "".join(f"{s}'" for s in [*segments, f"UNT+{len(segments) + 1}+1"])
    return (
        "UNA:+.? 'UNB+UNOC:3+4012345000009:14+5412345000013:14+261102:1000+C1'" + text + "UNZ+1+C1'"
    ).encode("ascii")


def test_a_contrl_rejecting_a_message_names_the_line_and_field() -> None:
    sent = _sent_invoic()
    line_2 = _position(sent, "LIN", "2")
    data = _contrl(
        "UCI+3001+5412345000013:14+4012345000009:14+7\n"
        "UCM+1+INVOIC:D:96A:UN:EAN008+4\n"
        f"UCS+{line_2}+12\n"
        "UCD+12+3:1"
    )
    (status,) = join_acknowledgments([sent], read_acknowledgments(data).acknowledgments)
    assert (status.status, status.sources) == (AckStatus.REJECTED, ("CONTRL",))
    assert [e.message for e in status.errors] == [
        "line 2 (item 4000862141402): item number (LIN03) a value is invalid"
    ]


@pytest.mark.parametrize(
    ("action", "status"),
    [("7", AckStatus.ACCEPTED), ("4", AckStatus.REJECTED), ("8", AckStatus.RECEIVED)],
)
def test_a_contrl_at_interchange_level_applies_to_its_messages(
    action: str, status: AckStatus
) -> None:
    data = _contrl(f"UCI+3001+5412345000013:14+4012345000009:14+{action}")
    (result,) = join_acknowledgments([_sent_invoic()], read_acknowledgments(data).acknowledgments)
    assert result.status is status


def test_a_contrl_for_another_interchange_names_no_invoice() -> None:
    data = _contrl("UCI+3999+5412345000013:14+4012345000009:14+4")
    assert join_acknowledgments([_sent_invoic()], read_acknowledgments(data).acknowledgments) == []


def test_an_aperak_rejecting_the_invoice_by_its_number() -> None:
    data = (
        "UNA:+.? 'UNB+UNOC:3+4012345000009:14+5412345000013:14+261103:1000+A1'"
        "UNH+1+APERAK:D:96A:UN'BGM+23+AP1+27'DTM+137:20261103:102'RFF+IV:INV-2044'"
        "ERC+12'FTX+AAO+++GLN 4012345000016 IS NOT A KNOWN DELIVERY POINT'UNT+7+1'UNZ+1+A1'"
    ).encode("ascii")
    inbound = read_acknowledgments(data)
    (status,) = join_acknowledgments([_sent_invoic()], advices=inbound.advices)
    assert status.status is AckStatus.REJECTED
    assert status.errors[0].message == "GLN 4012345000016 IS NOT A KNOWN DELIVERY POINT"


# ---------------------------------------------------------------- positions, overdue


def test_segment_positions_are_described_for_a_clerk() -> None:
    sent = _sent_invoic()
    described = [describe_segment(sent.segments, n) for n in (2, 6, 22, 43, 99)]
    assert described == [
        "the invoice header (BGM)",
        "party BY BUYER GMBH",
        "line 2 (item 4000862141402)",
        "the invoice totals (MOA)",
        "segment 99 (beyond the 46 segments sent)",
    ]


def test_control_numbers_compare_as_numbers() -> None:
    assert same_control("000001201", "1201")
    assert not same_control("000001201", "1202")
    assert same_control("A1", "A1")


def test_overdue_lists_unanswered_invoices_past_the_deadline() -> None:
    sent, _ = _sent_810s()
    late_one = replace(sent[2], sent_at=SENT_AT + timedelta(hours=20))
    now = SENT_AT + timedelta(hours=30)
    result = overdue([*sent[:2], late_one], ["INV-1041"], timedelta(hours=24), now)
    assert [(o.invoice_number, o.late_by) for o in result] == [("INV-1042", timedelta(hours=6))]
    assert overdue(sent, [], timedelta(hours=24), SENT_AT + timedelta(hours=24)) == []
