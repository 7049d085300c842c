"""EDIFACT INVOIC (D96A..D03B) inside one message: structure table, elements, arithmetic.

The segment table is the D96A INVOIC of edi-rules.md section 4 (later directories
add segments in the same places). Element checks: DTM value against its format
qualifier (E-D01), numerics with the interchange's decimal mark (E-D02), code
lists (E-D03, partial lists: unknown values warn). Business rules: invoice number
and document date (E-B01..03), parties and GLN check digits (E-B04), line amount
= quantity x net price / price basis (E-B05), MOA+79 = sum MOA+203, MOA+125 =
79 + charges - allowances, MOA+77 = 125 + tax (E-B06), CNT+2 = number of LIN
(E-B07). Amounts are Decimal; never float.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from edi.edifact_envelope import Message
from edi.elements import ElementSpec, check_value, spec
from edi.findings import Finding, Problem, finding_at
from edi.profile import PartnerProfile
from edi.segments import Segment
from edi.structure import Loop, Seg

_RNG = Seg("RNG")
TABLE: tuple[Seg | Loop, ...] = (
    Seg("UNH", 1, mandatory=True),
    Seg("BGM", 1, mandatory=True),
    Seg("DTM", 35, mandatory=True),
    Seg("PAI"), Seg("ALI", 5), Seg("IMD"), Seg("FTX", 10),
    Loop("SG1", (Seg("RFF"), Seg("DTM", 5)), 99),
    Loop("SG2", (Seg("NAD"), Seg("LOC", 25), Seg("FII", 5),
                 Loop("SG3", (Seg("RFF"), Seg("DTM", 5)), 9999),
                 Loop("SG4", (Seg("DOC"), Seg("DTM", 5)), 5),
                 Loop("SG5", (Seg("CTA"), Seg("COM", 5)), 5)), 99),
    Loop("SG6", (Seg("TAX"), Seg("MOA"), Seg("LOC", 5)), 5),
    Loop("SG7", (Seg("CUX"), Seg("DTM", 5)), 5),
    Loop("SG8", (Seg("PAT"), Seg("DTM", 5), Seg("PCD"), Seg("MOA"), Seg("PAI"), Seg("FII")), 10),
    Loop("SG9", (Seg("TDT"), Loop("SG10", (Seg("LOC"), Seg("DTM", 5)), 10)), 99),
    Loop("SG12", (Seg("TOD"), Seg("LOC", 2)), 5),
    Loop("SG13", (Seg("PAC"), Seg("MEA", 5)), 1000),
    Loop("SG15", (Seg("ALC"), Seg("ALI", 5),
                  Loop("SG16", (Seg("RFF"), Seg("DTM", 5))),
                  Loop("SG17", (Seg("QTY"), _RNG)),
                  Loop("SG18", (Seg("PCD"), _RNG)),
                  Loop("SG19", (Seg("MOA"), _RNG), 2),
                  Loop("SG20", (Seg("RTE"), _RNG)),
                  Loop("SG21", (Seg("TAX"), Seg("MOA")), 5)), 9999),
    Loop("SG25", (
        Seg("LIN"), Seg("PIA", 25), Seg("IMD", 10), Seg("MEA", 5), Seg("QTY", 5), Seg("PCD"),
        Seg("ALI", 5), Seg("DTM", 35), Seg("GIN", 1000), Seg("GIR", 1000), Seg("QVR"),
        Seg("EQD"), Seg("FTX", 5),
        Loop("SG26", (Seg("MOA"), Seg("CUX")), 5),
        Loop("SG27", (Seg("PAT"), Seg("DTM", 5), Seg("PCD"), Seg("MOA")), 10),
        Loop("SG28", (Seg("PRI"), Seg("CUX"), Seg("APR"), _RNG, Seg("DTM", 5)), 25),
        Loop("SG29", (Seg("RFF"), Seg("DTM", 5)), 10),
        Loop("SG30", (Seg("PAC"), Seg("MEA", 10)), 10),
        Loop("SG32", (Seg("LOC"), Seg("QTY"), Seg("DTM"))),
        Loop("SG33", (Seg("TAX"), Seg("MOA", 2), Seg("LOC", 5)), 99),
        Loop("SG34", (Seg("NAD"), Seg("LOC", 5),
                      Loop("SG35", (Seg("RFF"), Seg("DTM", 5)), 5),
                      Loop("SG36", (Seg("DOC"), Seg("DTM", 5)), 5),
                      Loop("SG37", (Seg("CTA"), Seg("COM", 5)), 5)), 99),
        Loop("SG38", (Seg("ALC"), Seg("ALI", 5), Seg("DTM", 5),
                      Loop("SG39", (Seg("QTY"), _RNG)),
                      Loop("SG40", (Seg("PCD"), _RNG)),
                      Loop("SG41", (Seg("MOA"), _RNG), 2),
                      Loop("SG42", (Seg("RTE"), _RNG)),
                      Loop("SG43", (Seg("TAX"), Seg("MOA")), 5)), 15),
        Loop("SG44", (Seg("TDT"),), 10),
        Loop("SG45", (Seg("TOD"), Seg("LOC", 2))),
    ), 9999999),
    Seg("UNS", 1, mandatory=True),
    Seg("CNT", 10),
    Loop("SG48", (Seg("MOA"), Loop("SG49", (Seg("RFF"), Seg("DTM", 5)))), 100, mandatory=True),
    Loop("SG50", (Seg("TAX"), Seg("MOA", 2)), 10),
    Loop("SG51", (Seg("ALC"), Seg("ALI"), Seg("MOA", 2)), 15),
    Seg("UNT", 1, mandatory=True),
)  # fmt: skip

# (tag, element, component) -> definition; partial code lists warn on unknown values.
_ELEMENTS: dict[tuple[str, int, int], ElementSpec] = {
    ("BGM", 1, 1): spec(
        "an",
        1,
        3,
        "document type",
        codes="380 381 383 384 385 386 389 325 326 393 394 395 82 80 84",
        complete=False,
    ),
    ("BGM", 2, 1): spec("an", 1, 35, "invoice number"),
    ("BGM", 3, 1): spec(
        "an", 1, 3, "message function", codes="1 2 3 4 5 6 7 9 31 43 46 47", complete=False
    ),
    ("DTM", 1, 1): spec("an", 1, 3, "date qualifier", mandatory=True),
    ("NAD", 1, 1): spec(
        "an",
        1,
        3,
        "party qualifier",
        mandatory=True,
        codes="BY SU IV DP SE UC BT ST II PE PR RE SF CA OB PB LC FW",
        complete=False,
    ),
    ("QTY", 1, 1): spec("an", 1, 3, "quantity qualifier", mandatory=True),
    ("QTY", 1, 2): spec("n", 1, 15, "quantity", mandatory=True),
    ("MOA", 1, 1): spec("an", 1, 3, "amount qualifier", mandatory=True),
    ("MOA", 1, 2): spec("n", 1, 18, "amount"),
    ("PRI", 1, 1): spec(
        "an", 1, 3, "price qualifier", codes="AAA AAB AAE AAF CAL INV INF NTP", complete=False
    ),
    ("PRI", 1, 2): spec("n", 1, 15, "price"),
    ("PRI", 1, 5): spec("n", 1, 9, "price basis"),
    ("PCD", 1, 2): spec("n", 1, 10, "percentage"),
    ("TAX", 1, 1): spec("an", 1, 3, "tax function", codes="5 6 7 9", complete=False),
    ("CNT", 1, 2): spec("n", 1, 18, "control value"),
}
# DTM 2379 format -> the length of its value (CCYYMMDD, CCYYMMDDHHMM, YYMMDD, CCYYMMDDHHMMSS).
_DATE_FORMATS = {"102": 8, "203": 12, "101": 6, "204": 14}
_NET_PRICES = ("AAA", "INV")
_CHARGE_MOA = ("8", "23", "131", "204")
CENT = Decimal("0.01")


def _finding(
    message_: Message,
    rule: str,
    problem: Problem,
    text: str,
    segment: Segment,
    element: str | None = None,
    *,
    warning: bool = False,
) -> Finding:
    return finding_at(
        rule, problem, text, segment, element, warning=warning, where=message_.locate(segment)
    )


def _number(text: str, decimal: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(decimal, "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _line_labels(message: Message) -> dict[int, str]:
    labels: dict[int, str] = {}
    label = ""
    ordinal = 0
    for segment in message.segments:
        if segment.tag == "LIN":
            ordinal += 1
            label = f"line {segment.get(1) or ordinal}"
        elif segment.tag == "UNS":
            label = ""
        if label:
            labels[segment.position] = label
    return labels


def element_findings(message: Message, decimal: str) -> list[Finding]:
    """E-D01..E-D03 on every segment of one INVOIC."""
    findings: list[Finding] = []
    labels = _line_labels(message)
    for segment in message.segments:
        where = labels.get(segment.position, f"segment {segment.tag}")
        for (tag, element, component), element_spec in _ELEMENTS.items():
            if tag != segment.tag:
                continue
            value = segment.get(element, component)
            position = f"{element:02d}:{component}"
            if not value:
                if element_spec.mandatory:
                    findings.append(
                        _finding(
                            message,
                            "E-D03",
                            Problem.MANDATORY_ELEMENT_MISSING,
                            f"{where}: {element_spec.name} is missing",
                            segment,
                            position,
                        )
                    )
                continue
            for defect in check_value(value, element_spec, decimal):
                rule = "E-D02" if element_spec.kind == "n" else "E-D03"
                findings.append(
                    _finding(
                        message,
                        rule,
                        defect.problem,
                        f"{where}: {element_spec.name} {defect.detail}",
                        segment,
                        position,
                        warning=defect.warning,
                    )
                )
        if segment.tag == "DTM":
            findings += _date_findings(message, segment, where)
    return findings


def _date_findings(message: Message, dtm: Segment, where: str) -> list[Finding]:
    value, fmt = dtm.get(1, 2), dtm.get(1, 3)
    length = _DATE_FORMATS.get(fmt)
    if not value or length is None:
        return []
    date_ok = len(value) == length and not check_value(
        value[: 8 if length >= 8 else 6], spec("DT", 6, 8)
    )
    time_ok = length <= 8 or not check_value(value[8:12], spec("TM", 4, 4))
    if date_ok and time_ok:
        return []
    return [
        _finding(
            message,
            "E-D01",
            Problem.ELEMENT_INVALID_DATE,
            f"{where}: date {value} does not match its format code {fmt} "
            f"({length} digits expected)",
            dtm,
            "01:2",
        )
    ]


def business_findings(message: Message, profile: PartnerProfile, decimal: str) -> list[Finding]:
    """E-B01..E-B07 on one INVOIC."""
    findings = list(_header_findings(message, profile))
    findings += _line_findings(message, decimal)
    findings += _summary_findings(message, decimal)
    return findings


def _header_findings(message: Message, profile: PartnerProfile) -> Iterator[Finding]:
    segments = message.segments
    bgm = next((s for s in segments if s.tag == "BGM"), None)
    if bgm is not None and not bgm.get(2):
        yield _finding(
            message,
            "E-B01",
            Problem.MANDATORY_ELEMENT_MISSING,
            "the invoice number (BGM 1004) is missing",
            bgm,
            "02",
        )
    if not any(s.tag == "DTM" and s.get(1) == "137" for s in _header(segments)):
        yield _finding(
            message,
            "E-B03",
            Problem.MANDATORY_SEGMENT_MISSING,
            "the invoice date (DTM+137) is missing",
            bgm or segments[0],
        )
    nads = [s for s in _header(segments) if s.tag == "NAD"]
    for party in sorted(profile.required_parties_edifact - {s.get(1) for s in nads}):
        yield _finding(
            message,
            "E-B04",
            Problem.PARTNER_REQUIREMENT,
            f"the party {party} (NAD+{party}) is missing",
            bgm or segments[0],
            warning=True,
        )
    for nad in (s for s in segments if s.tag == "NAD"):
        gln = nad.get(2, 1)
        if nad.get(2, 3) == "9" and gln and not _gln_ok(gln):
            yield _finding(
                message,
                "E-B04",
                Problem.ELEMENT_INVALID_CODE,
                f"party {nad.get(1)} GLN {gln} has a wrong check digit",
                nad,
                "02:1",
            )


def _header(segments: list[Segment]) -> Iterator[Segment]:
    for segment in segments:
        if segment.tag in ("LIN", "UNS"):
            return
        yield segment


def _gln_ok(gln: str) -> bool:
    """GS1 mod-10 check digit of a 13-digit GLN."""
    if len(gln) != 13 or not gln.isdigit():
        return False
    digits = [int(c) for c in gln[:-1]]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10 == int(gln[-1])


def _lines(message: Message) -> list[list[Segment]]:
    lines: list[list[Segment]] = []
    for segment in message.segments:
        if segment.tag == "UNS":
            break
        if segment.tag == "LIN":
            lines.append([segment])
        elif lines:
            lines[-1].append(segment)
    return lines


def _moa(segments: list[Segment], qualifier: str, decimal: str) -> Decimal | None:
    for segment in segments:
        if segment.tag == "MOA" and segment.get(1, 1) == qualifier:
            return _number(segment.get(1, 2), decimal)
    return None


def _line_findings(message: Message, decimal: str) -> Iterator[Finding]:
    lines = _lines(message)
    # A line without its amount breaks MOA+79 when the other lines carry theirs; when
    # no line does, the invoice simply does not itemise amounts (a warning).
    itemised = any(_moa(line, "203", decimal) is not None for line in lines)
    for index, line in enumerate(lines, start=1):
        label = f"line {line[0].get(1) or index}"
        amount = _moa(line, "203", decimal)
        if amount is None:
            yield _finding(
                message,
                "E-B05",
                Problem.MANDATORY_SEGMENT_MISSING,
                f"{label} has no line amount (MOA+203)",
                line[0],
                warning=not itemised,
            )
        quantity = next(
            (_number(s.get(1, 2), decimal) for s in line if s.tag == "QTY" and s.get(1, 1) == "47"),
            None,
        )
        price_segment = next(
            (s for s in line if s.tag == "PRI" and s.get(1, 1) in _NET_PRICES), None
        )
        if amount is None or quantity is None or price_segment is None:
            continue
        price = _number(price_segment.get(1, 2), decimal)
        basis = _number(price_segment.get(1, 5), decimal) if price_segment.get(1, 5) else Decimal(1)
        if price is None or not basis:
            continue
        net = quantity * price / basis
        charges, allowances = _allowances(line, decimal)
        adjusted = net + charges - allowances
        # EANCOM's net price may already include the line's allowances and charges (they
        # then only explain it) or not (they then adjust the amount): accept either. The
        # amount is rounded to the currency's cents; allow that rounding, nothing more.
        if min(abs(net - amount), abs(adjusted - amount)) > Decimal("0.005"):
            moa = next(s for s in line if s.tag == "MOA" and s.get(1, 1) == "203")
            basis_text = "" if basis == 1 else f" per {basis}"
            with_adjustments = (
                f" ({adjusted.quantize(CENT)} with its charges {charges} and allowances "
                f"{allowances})"
                if charges or allowances
                else ""
            )
            yield _finding(
                message,
                "E-B05",
                Problem.TOTAL_MISMATCH,
                f"{label} amount {amount} but quantity {quantity} x net price "
                f"{price}{basis_text} is {net.quantize(CENT)}{with_adjustments}",
                moa,
                "01:2",
            )


def _summary_findings(message: Message, decimal: str) -> Iterator[Finding]:
    segments = message.segments
    uns = next((i for i, s in enumerate(segments) if s.tag == "UNS"), None)
    if uns is None:
        return
    summary = segments[uns + 1 :]
    # SG48 monetary totals come before the first summary TAX/ALC group; MOAs after
    # a TAX are that rate's own taxable amount and tax (SG50), not invoice totals.
    first_group = next((i for i, s in enumerate(summary) if s.tag in ("TAX", "ALC")), len(summary))
    totals = summary[:first_group]
    lines = _lines(message)
    yield from _count_check(message, summary, lines)
    line_amounts = [_moa(line, "203", decimal) for line in lines]
    line_total = _moa(totals, "79", decimal)
    if line_total is not None and lines and None not in line_amounts:
        added = sum(a for a in line_amounts if a is not None)
        if added != line_total:
            yield _total(
                message,
                totals,
                "79",
                f"line total (MOA+79) {line_total} but the line amounts add to {added}",
            )
    taxable = _moa(totals, "125", decimal)
    charges, allowances = _allowances(list(_header(segments[:uns])), decimal)
    if taxable is not None and line_total is not None:
        expected = line_total + charges - allowances
        if expected != taxable:
            yield _total(
                message,
                totals,
                "125",
                f"taxable amount (MOA+125) {taxable} but line total {line_total} + "
                f"charges {charges} - allowances {allowances} is {expected}",
            )
    invoice_total = _moa(totals, "77", decimal)
    tax = _moa(totals, "176", decimal)
    tax = tax if tax is not None else _moa(totals, "124", decimal)
    base = (
        taxable
        if taxable is not None
        else (line_total + charges - allowances if line_total is not None else None)
    )
    if (
        invoice_total is not None
        and base is not None
        and tax is not None
        and (base + tax != invoice_total)
    ):
        yield _total(
            message,
            totals,
            "77",
            f"invoice total (MOA+77) {invoice_total} but taxable amount {base} + "
            f"tax {tax} is {base + tax}",
        )


def _total(message: Message, totals: list[Segment], qualifier: str, text: str) -> Finding:
    moa = next(s for s in totals if s.tag == "MOA" and s.get(1, 1) == qualifier)
    return _finding(message, "E-B06", Problem.TOTAL_MISMATCH, text, moa, "01:2")


def _allowances(segments: list[Segment], decimal: str) -> tuple[Decimal, Decimal]:
    """Charges and allowances of the ALC groups among `segments` (the header's, or one
    line's: a line's are already inside its MOA+203, the header's are not in MOA+79)."""
    charges = allowances = Decimal(0)
    kind = ""
    for segment in segments:
        if segment.tag == "ALC":
            kind = segment.get(1)
        elif segment.tag in ("TAX", "PCD", "QTY", "RTE"):
            continue
        elif segment.tag == "MOA" and kind and segment.get(1, 1) in _CHARGE_MOA:
            amount = _number(segment.get(1, 2), decimal) or Decimal(0)
            if kind == "C":
                charges += amount
            elif kind == "A":
                allowances += amount
            kind = ""  # one amount per ALC group (a second MOA restates it, e.g. MOA+25 basis)
        elif segment.tag not in ("ALI", "DTM", "RFF", "RNG", "MOA"):
            kind = ""
    return charges, allowances


def _count_check(
    message: Message, summary: list[Segment], lines: list[list[Segment]]
) -> Iterator[Finding]:
    for cnt in (s for s in summary if s.tag == "CNT" and s.get(1, 1) == "2"):
        if cnt.get(1, 2) != str(len(lines)):
            yield _finding(
                message,
                "E-B07",
                Problem.COUNT_MISMATCH,
                f"the line count (CNT+2) says {cnt.get(1, 2) or cnt.get(2)!s} but the "
                f"invoice has {len(lines)} line(s)",
                cnt,
                "01:2",
            )
