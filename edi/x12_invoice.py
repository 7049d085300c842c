"""X12 810 checks inside one transaction set: element syntax and business arithmetic.

Element syntax (X-D01..X-D04) applies the 810 dictionary of `edi.x12_810`.
Business rules (X-B*) are what partners reject or short-pay on; the key one is
X-B06: TDS01 (implied 2 decimals) = sum of round2(IT102 x IT104) + charges -
allowances (line-level and summary SAC whose SAC12 method of handling changes
the invoice) + TXI taxes. Money is computed with Decimal and compared in cents;
never float.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from edi.elements import Defect, check_value
from edi.findings import Finding, Problem, finding_at
from edi.profile import PartnerProfile
from edi.segments import Segment
from edi.x12_810 import ELEMENTS, RELATIONS
from edi.x12_envelope import TransactionSet

CENT = Decimal("0.01")
_PRODUCT_ID_ELEMENTS = range(6, 26, 2)


@dataclass(frozen=True, slots=True)
class _Line:
    """An IT1 loop: the IT1 segment, the clerk's line label, and the loop's segments."""

    it1: Segment
    label: str
    segments: tuple[Segment, ...]


def invoice_lines(invoice: TransactionSet) -> list[_Line]:
    """The IT1 loops of an 810, each labelled by IT101 or its ordinal ("line 3")."""
    lines: list[_Line] = []
    body: list[Segment] = []
    it1: Segment | None = None
    for segment in invoice.segments:
        if segment.tag == "IT1" or segment.tag == "TDS":
            if it1 is not None:
                lines.append(_Line(it1, _label(it1, len(lines) + 1), tuple(body)))
            it1, body = (segment, []) if segment.tag == "IT1" else (None, [])
            if segment.tag == "TDS":
                break
        elif it1 is not None:
            body.append(segment)
    if it1 is not None:
        lines.append(_Line(it1, _label(it1, len(lines) + 1), tuple(body)))
    return lines


def _label(it1: Segment, ordinal: int) -> str:
    return f"line {it1.get(1).lstrip('0') or it1.get(1) or ordinal}"


def _where(segment: Segment, labels: dict[int, str]) -> str:
    return labels.get(segment.position, f"segment {segment.tag}")


def _finding(
    invoice: TransactionSet,
    rule: str,
    problem: Problem,
    message: str,
    segment: Segment,
    element: int | None = None,
    *,
    warning: bool = False,
) -> Finding:
    code = f"{element:02d}" if element is not None else None
    return finding_at(
        rule, problem, message, segment, code, warning=warning, where=invoice.locate(segment)
    )


def element_findings(invoice: TransactionSet) -> list[Finding]:
    """X-D01..X-D04: types, lengths, code lists and relational conditions of every segment."""
    findings: list[Finding] = []
    labels = _line_labels(invoice)
    for segment in invoice.segments:
        specs = ELEMENTS.get(segment.tag, {})
        where = _where(segment, labels)
        for element, element_spec in specs.items():
            value = segment.get(element)
            rule = "X-D01" if segment.tag == "BIG" else "X-D03"
            if not value:
                if element_spec.mandatory:
                    findings.append(
                        _finding(
                            invoice,
                            rule,
                            Problem.MANDATORY_ELEMENT_MISSING,
                            f"{where}: {element_spec.name} ({segment.tag}{element:02d}) is missing",
                            segment,
                            element,
                        )
                    )
                continue
            for defect in check_value(value, element_spec):
                findings.append(
                    _finding(
                        invoice,
                        _rule_for(defect, rule),
                        defect.problem,
                        f"{where}: {element_spec.name} ({segment.tag}{element:02d}) "
                        f"{defect.detail}",
                        segment,
                        element,
                        warning=defect.warning,
                    )
                )
        present = {i for i, parts in enumerate(segment.elements, start=1) if any(parts)}
        for relation in RELATIONS.get(segment.tag, ()):
            broken = relation.violated(present)
            if broken is None:
                continue
            problem, elements = broken
            findings.append(
                _finding(
                    invoice,
                    "X-D02",
                    problem,
                    _relation_message(where, segment, relation.code, elements, present),
                    segment,
                    elements[0],
                )
            )
    return findings


def _rule_for(defect: Defect, rule: str) -> str:
    if defect.problem in (Problem.ELEMENT_TOO_SHORT, Problem.ELEMENT_TOO_LONG) and rule != "X-D01":
        return "X-D04"
    return rule


def _name(tag: str, element: int) -> str:
    found = ELEMENTS.get(tag, {}).get(element)
    return found.name if found and found.name else f"{tag}{element:02d}"


def _relation_message(
    where: str, segment: Segment, code: str, elements: tuple[int, ...], present: set[int]
) -> str:
    missing = ", ".join(_name(segment.tag, e) for e in elements)
    if code.startswith("E"):
        return f"{where}: only one of {missing} may be given ({segment.tag} {code})"
    given = [
        _name(segment.tag, e)
        for e in (int(code[i : i + 2]) for i in range(1, len(code), 2))
        if e in present
    ]
    because = (
        f" ({', '.join(given)} given; {segment.tag} {code})"
        if given
        else f" ({segment.tag} {code})"
    )
    return f"{where} has no {missing}{because}"


def _line_labels(invoice: TransactionSet) -> dict[int, str]:
    labels: dict[int, str] = {}
    for line in invoice_lines(invoice):
        labels[line.it1.position] = line.label
        for segment in line.segments:
            labels[segment.position] = line.label
    return labels


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _cents(text: str) -> int | None:
    """An N2 value (implied two decimals) as integer cents."""
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):.2f}"


def business_findings(
    invoice: TransactionSet, profile: PartnerProfile, today: date | None
) -> list[Finding]:
    """X-B01..X-B15 on one 810, as far as one file and the profile can tell."""
    lines = invoice_lines(invoice)
    findings = list(_header_findings(invoice, profile, today))
    findings += _line_findings(invoice, lines, profile)
    findings += _total_findings(invoice, lines, profile)
    findings += _count_findings(invoice, lines)
    findings += _terms_findings(invoice)
    findings += _credit_and_currency_findings(invoice, profile)
    return findings


def duplicate_invoice_findings(invoices: list[TransactionSet]) -> list[Finding]:
    """X-B02 within one file: the same invoice number (BIG02) in two documents.

    Duplicates against earlier files need the ledger's history (a later layer)."""
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    for invoice in invoices:
        big = _first(invoice, "BIG")
        number = big.get(2) if big is not None else ""
        if not number:
            continue
        if number in seen:
            findings.append(
                _finding(
                    invoice,
                    "X-B02",
                    Problem.PARTNER_REQUIREMENT,
                    f"invoice number {number} is also in document {seen[number]} of this "
                    "file; a partner pays it once",
                    big,
                    2,
                )
            )
        seen.setdefault(number, invoice.control)
    return findings


def _first(invoice: TransactionSet, tag: str) -> Segment | None:
    return next((s for s in invoice.segments if s.tag == tag), None)


def _header_findings(
    invoice: TransactionSet, profile: PartnerProfile, today: date | None
) -> Iterator[Finding]:
    big = _first(invoice, "BIG")
    if big is None:
        return
    invoice_date = big.get(1)
    if (
        today is not None
        and invoice_date.isdigit()
        and len(invoice_date) == 8
        and invoice_date > today.strftime("%Y%m%d")
    ):
        yield _finding(
            invoice,
            "X-B01",
            Problem.ELEMENT_INVALID_DATE,
            f"invoice date {invoice_date} is in the future",
            big,
            1,
        )
    po_number, po_date = big.get(4), big.get(3)
    if profile.po_number_required and not po_number:
        yield _finding(
            invoice,
            "X-B03",
            Problem.PARTNER_REQUIREMENT,
            "the purchase order number (BIG04) is missing",
            big,
            4,
        )
    if (
        po_number
        and profile.po_number_pattern
        and not re.fullmatch(profile.po_number_pattern, po_number)
    ):
        yield _finding(
            invoice,
            "X-B03",
            Problem.PARTNER_REQUIREMENT,
            f"purchase order number {po_number} is not in the partner's format",
            big,
            4,
        )
    if (
        po_date
        and invoice_date
        and len(po_date) == len(invoice_date) == 8
        and po_date > invoice_date
    ):
        yield _finding(
            invoice,
            "X-B03",
            Problem.ELEMENT_INVALID_DATE,
            f"purchase order date {po_date} is after the invoice date {invoice_date}",
            big,
            3,
            warning=True,
        )
    if profile.usage_indicator and invoice.usage_indicator != profile.usage_indicator:
        yield _finding(
            invoice,
            "X-B15",
            Problem.PARTNER_REQUIREMENT,
            f"the interchange is marked {invoice.usage_indicator!r} (ISA15) but this "
            f"partner expects {profile.usage_indicator!r}",
            invoice.segments[0],
            warning=True,
        )
    parties = {s.get(1) for s in invoice.segments if s.tag == "N1"}
    for party in sorted(profile.required_parties - parties):
        yield _finding(
            invoice,
            "X-B10",
            Problem.PARTNER_REQUIREMENT,
            f"the party {party} (N1*{party}) the partner requires is missing",
            big,
        )


def _line_findings(
    invoice: TransactionSet, lines: list[_Line], profile: PartnerProfile
) -> Iterator[Finding]:
    for line in lines:
        it1 = line.it1
        if not (it1.has(2) or it1.has(3) or it1.has(4)):
            yield _finding(
                invoice,
                "X-B04",
                Problem.CONDITIONAL_ELEMENT_MISSING,
                f"{line.label} has no quantity, unit or unit price",
                it1,
                2,
            )
        quantity = _amount(it1.get(2)) if it1.has(2) else None
        if quantity is not None and quantity <= 0:
            yield _finding(
                invoice,
                "X-B04",
                Problem.ELEMENT_INVALID_CODE,
                f"{line.label} has quantity {it1.get(2)}; it must be more than 0",
                it1,
                2,
            )
        if not any(it1.has(e) for e in _PRODUCT_ID_ELEMENTS):
            yield _finding(
                invoice,
                "X-B04",
                Problem.CONDITIONAL_ELEMENT_MISSING,
                f"{line.label} has no product id (IT106/IT107)",
                it1,
                6,
            )
        unit = it1.get(3)
        if unit and profile.units is not None and unit not in profile.units:
            yield _finding(
                invoice,
                "X-B05",
                Problem.ELEMENT_INVALID_CODE,
                f"{line.label} uses unit {unit}; the partner accepts "
                f"{', '.join(sorted(profile.units))}",
                it1,
                3,
            )
    for segment in invoice.segments:
        if segment.tag == "SAC":
            yield from _allowance_findings(invoice, segment, profile)


def _allowance_findings(
    invoice: TransactionSet, sac: Segment, profile: PartnerProfile
) -> Iterator[Finding]:
    cents = _cents(sac.get(5))
    kind = {"A": "allowance", "C": "charge"}.get(sac.get(1))
    if kind is None or cents is None:
        return
    if cents <= 0:
        yield _finding(
            invoice,
            "X-B12",
            Problem.ELEMENT_INVALID_CODE,
            f"{kind} {sac.get(2)} has amount {_money(cents)}; send a positive amount "
            "or leave the SAC out",
            sac,
            5,
            warning=True,
        )
    elif cents < profile.min_allowance_cents:
        yield _finding(
            invoice,
            "X-B12",
            Problem.PARTNER_REQUIREMENT,
            f"{kind} {sac.get(2)} of {_money(cents)} is below the partner's minimum "
            f"{_money(profile.min_allowance_cents)}",
            sac,
            5,
        )
    if profile.allowance_codes is not None and sac.get(2) not in profile.allowance_codes:
        yield _finding(
            invoice,
            "X-B12",
            Problem.PARTNER_REQUIREMENT,
            f"{kind} code {sac.get(2)} is not one the partner accepts",
            sac,
            2,
        )


def _total_findings(
    invoice: TransactionSet, lines: list[_Line], profile: PartnerProfile
) -> Iterator[Finding]:
    tds = _first(invoice, "TDS")
    total = _cents(tds.get(1)) if tds is not None else None
    if tds is None or total is None:
        return
    line_cents = 0
    for line in lines:
        quantity, price = _amount(line.it1.get(2)), _amount(line.it1.get(4))
        if quantity is None or price is None:
            return  # a missing or unreadable quantity or price is already its own finding
        line_cents += int((quantity * price).quantize(CENT, ROUND_HALF_UP).scaleb(2))
    charges = allowances = 0
    for sac in (s for s in invoice.segments if s.tag == "SAC"):
        cents = _cents(sac.get(5))
        if cents is None or sac.get(12) not in profile.sac_methods_in_total:
            continue
        if sac.get(1) == "C":
            charges += cents
        elif sac.get(1) == "A":
            allowances += cents
    tax_cents = _tax_cents(invoice, lines)
    if tax_cents is None:
        return
    expected = line_cents + charges - allowances + tax_cents
    if expected != total:
        parts = [f"lines {_money(line_cents)}"]
        if charges:
            parts.append(f"charges {_money(charges)}")
        if allowances:
            parts.append(f"allowances -{_money(allowances)}")
        if tax_cents:
            parts.append(f"tax {_money(tax_cents)}")
        yield _finding(
            invoice,
            "X-B06",
            Problem.TOTAL_MISMATCH,
            f"total {_money(total)} but lines, charges and tax add to "
            f"{_money(expected)} ({', '.join(parts)})",
            tds,
            1,
        )


def _tax_cents(invoice: TransactionSet, lines: list[_Line]) -> int | None:
    """TXI02 taxes: the summary TXIs when sent, else the line-level ones (never both,
    since a summary TXI restates the lines' tax). None when a tax amount is unreadable."""
    in_lines = {s.position for line in lines for s in line.segments}
    tds = _first(invoice, "TDS")
    after_tds = tds.position if tds else 0
    summary = [s for s in invoice.segments if s.tag == "TXI" and s.position > after_tds]
    line_level = [s for s in invoice.segments if s.tag == "TXI" and s.position in in_lines]
    total = Decimal(0)
    for txi in summary or line_level:
        if not txi.has(2):
            continue
        amount = _amount(txi.get(2))
        if amount is None:
            return None
        total += amount
    return int(total.quantize(CENT, ROUND_HALF_UP).scaleb(2))


def _count_findings(invoice: TransactionSet, lines: list[_Line]) -> Iterator[Finding]:
    ctt = _first(invoice, "CTT")
    if ctt is not None and ctt.get(1).isdigit() and int(ctt.get(1)) != len(lines):
        yield _finding(
            invoice,
            "X-B07",
            Problem.COUNT_MISMATCH,
            f"the line count (CTT01) says {ctt.get(1)} but the invoice has {len(lines)} line(s)",
            ctt,
            1,
        )
    if ctt is not None and ctt.has(2):
        # CTT02 adds IT102 "without regard to decimal points or signs", left-truncated to 10.
        hash_total = sum(
            int("".join(c for c in line.it1.get(2) if c.isdigit()) or 0) for line in lines
        )
        if ctt.get(2).replace(".", "") != str(hash_total)[-10:]:
            yield _finding(
                invoice,
                "X-B07",
                Problem.COUNT_MISMATCH,
                f"the hash total (CTT02) says {ctt.get(2)} but the line quantities "
                f"add to {hash_total}",
                ctt,
                2,
                warning=True,
            )
    iss = _first(invoice, "ISS")
    units = {line.it1.get(3) for line in lines}
    if iss is not None and iss.has(1) and units == {iss.get(2)}:
        shipped = sum((_amount(line.it1.get(2)) or Decimal(0)) for line in lines)
        if _amount(iss.get(1)) != shipped:
            yield _finding(
                invoice,
                "X-B09",
                Problem.COUNT_MISMATCH,
                f"units shipped (ISS01) says {iss.get(1)} {iss.get(2)} but the lines "
                f"add to {shipped} {iss.get(2)}",
                iss,
                1,
                warning=True,
            )


def _terms_findings(invoice: TransactionSet) -> Iterator[Finding]:
    """X-B08: the terms discount in TDS agrees with ITD (warnings: partners differ on it).

    TDS04 (terms discount) = TDS02 (amount subject to discount) x ITD03 percent, to the
    cent; TDS03 (amount due if paid by the discount date) = TDS02 - TDS04; the discount
    days (ITD05) do not exceed the net days (ITD07)."""
    itd, tds = _first(invoice, "ITD"), _first(invoice, "TDS")
    if itd is None:
        return
    discount_days, net_days = itd.get(5), itd.get(7)
    if discount_days.isdigit() and net_days.isdigit() and int(discount_days) > int(net_days):
        yield _finding(
            invoice,
            "X-B08",
            Problem.PARTNER_REQUIREMENT,
            f"the terms give {discount_days} discount days (ITD05) but only {net_days} net "
            "days (ITD07)",
            itd,
            5,
            warning=True,
        )
    percent = _amount(itd.get(3)) if itd.has(3) else None
    if tds is None or percent is None:
        return
    subject = _cents(tds.get(2)) if tds.has(2) else _cents(tds.get(1))
    discount = _cents(tds.get(4)) if tds.has(4) else None
    if subject is not None and discount is not None:
        expected = int((Decimal(subject) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))
        if abs(expected - discount) > 1:
            yield _finding(
                invoice,
                "X-B08",
                Problem.TOTAL_MISMATCH,
                f"terms discount (TDS04) {_money(discount)} but {percent} % (ITD03) of "
                f"{_money(subject)} is {_money(expected)}",
                tds,
                4,
                warning=True,
            )
    due = _cents(tds.get(3)) if tds.has(3) else None
    if subject is not None and discount is not None and due not in (None, subject - discount):
        yield _finding(
            invoice,
            "X-B08",
            Problem.TOTAL_MISMATCH,
            f"amount due with discount (TDS03) {_money(due or 0)} but {_money(subject)} - "
            f"{_money(discount)} is {_money(subject - discount)}",
            tds,
            3,
            warning=True,
        )


def _credit_and_currency_findings(
    invoice: TransactionSet, profile: PartnerProfile
) -> Iterator[Finding]:
    """X-B13: a negative total is a credit memo (BIG07 CR); X-B14: CUR*SE when required."""
    big, tds, cur = _first(invoice, "BIG"), _first(invoice, "TDS"), _first(invoice, "CUR")
    total = _cents(tds.get(1)) if tds is not None else None
    if big is not None and total is not None and total < 0 and big.get(7) != "CR":
        yield _finding(
            invoice,
            "X-B13",
            Problem.PARTNER_REQUIREMENT,
            f"the total {_money(total)} is negative but BIG07 does not mark the document a "
            "credit memo (CR); send a credit memo or check the sign convention",
            big,
            7,
            warning=not profile.credit_memo_code_required,
        )
    if cur is None:
        if profile.currency_required:
            yield _finding(
                invoice,
                "X-B14",
                Problem.PARTNER_REQUIREMENT,
                "the currency (CUR*SE) the partner requires is missing",
                big or invoice.segments[0],
            )
        return
    code = cur.get(2)
    if cur.get(1) in ("SE", "BY") and not re.fullmatch("[A-Z]{3}", code):
        yield _finding(
            invoice,
            "X-B14",
            Problem.ELEMENT_INVALID_CODE,
            f"currency {code!r} (CUR02) is not an ISO 4217 code such as USD or CAD",
            cur,
            2,
        )
