"""X12 820 Payment Order/Remittance Advice (004010/005010) to `RemittanceAdvice`s.

One transaction set (ST 820 ... SE) is one advice. The segments read:

    ISA/IEA, GS/GE, ST/SE  envelopes; separators come from ISA (element at column 3,
                           segment terminator at 105); GE01, IEA01 and SE01 counts checked
    BPR  Beginning segment for payment order: 02 amount, 09 payer's account, 16 date
    TRN  Reassociation trace number: 02 the trace the money carries (ACH trace, wire ref)
    CUR  Currency: 02 the currency of the amounts (default: the caller's)
    N1   Party identification, PR (payer) only: 02 name, 04 identification code
    ENT  Entity: opens a remittance group; an ADX before any RMR of it adjusts the total
    RMR  Remittance advice accounts receivable open item reference: 01 qualifier, 02 the
         reference (invoice number, PO), 04 amount paid, 06 discount taken
    ADX  Adjustment: 01 amount (negative when deducted), 02 reason code; after an RMR it
         gives that line's reason code

Other segments (REF, DTM, NM1, PER, ...) are well-formed but carry nothing the linker or the
matcher uses. Integrity: when every RMR gives its amount paid, BPR02 must equal their sum
plus the entity-level adjustments. Errors name the file, the 1-based segment number and the
element (`BPR02`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from cash_application.remittance_advices.errors import AdviceIntegrityError, AdviceSyntaxError
from cash_application.remittance_advices.ids import advice_id_for
from mappings.money import Money, MoneyError
from mappings.records import RemittanceAdvice, RemittanceLine, SourceRef

FORMAT = "x12.820"
_ISA_LENGTH = 106


def looks_like_820(head: bytes) -> bool:
    """Whether `head` (the first kilobyte or so) opens an X12 interchange holding an 820."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"ISA") and len(text) > 3:
        separator = text[3:4]
        return b"ST" + separator + b"820" in text
    return text.startswith(b"ST*820*")


@dataclass(slots=True)
class _Advice:
    """One transaction set while it is read."""

    first: int
    control: str
    amount: Money | None = None
    currency: str | None = None
    payment_date: date | None = None
    trace: str | None = None
    payer_name: str | None = None
    payer_id: str | None = None
    payer_account: str | None = None
    lines: list[RemittanceLine] = field(default_factory=list)
    line_amounts: list[Money | None] = field(default_factory=list)
    entity_adjustments: list[Money] = field(default_factory=list)
    raw: list[tuple[int, str, list[str]]] = field(default_factory=list)


class _Reader:
    def __init__(self, file_name: str, file_digest: str, currency: str) -> None:
        self.file_name = file_name
        self.file_digest = file_digest
        self.default_currency = currency
        self.advices: list[RemittanceAdvice] = []

    def _syntax(self, number: int, element: str | None, message: str) -> AdviceSyntaxError:
        return AdviceSyntaxError(message, file=self.file_name, line=number, field=element)

    def _integrity(self, number: int, element: str | None, message: str) -> AdviceIntegrityError:
        return AdviceIntegrityError(message, file=self.file_name, line=number, field=element)

    def segments(self, data: bytes) -> Iterator[tuple[int, list[str]]]:
        """(1-based segment number, elements) of every segment, separators from ISA."""
        try:
            text = data.decode("ascii").lstrip("\ufeff \t\r\n")
        except UnicodeDecodeError as exc:
            raise self._syntax(1, None, f"byte {exc.start} is not ASCII") from None
        if text.startswith("ISA"):
            if len(text) < _ISA_LENGTH:
                raise self._syntax(1, "ISA", f"ISA must be {_ISA_LENGTH} characters")
            element, terminator = text[3], text[105]
        elif text.startswith("ST"):
            element, terminator = "*", "~"
        else:
            raise self._syntax(1, None, "expected an X12 interchange (ISA) or an ST segment")
        for number, segment in enumerate(
            (s.strip() for s in text.split(terminator) if s.strip()), 1
        ):
            yield number, segment.split(element)

    def read(self, data: bytes) -> list[RemittanceAdvice]:
        groups = interchanges = 0
        in_group = 0  # transaction sets in the open group
        current: _Advice | None = None
        last = 0
        for number, elements in self.segments(data):
            last = number
            tag = elements[0]
            if current is not None:
                current.raw.append((number, tag, elements))
            if tag == "ISA":
                interchanges += 1
                groups = 0
            elif tag == "GS":
                groups += 1
                in_group = 0
            elif tag == "ST":
                if current is not None:
                    raise self._syntax(number, "ST", f"ST before the SE of set {current.control}")
                if _element(elements, 1) != "820":
                    raise self._syntax(
                        number, "ST01", f"expected 820, found {_element(elements, 1)!r}"
                    )
                current = _Advice(number, _element(elements, 2))
                current.raw.append((number, tag, elements))
                in_group += 1
            elif tag == "SE":
                if current is None:
                    raise self._syntax(number, "SE", "SE without its ST")
                self._count(number, "SE01", _element(elements, 1), number - current.first + 1)
                self.advices.append(self._finish(current, number))
                current = None
            elif tag == "GE":
                self._count(number, "GE01", _element(elements, 1), in_group)
            elif tag == "IEA":
                self._count(number, "IEA01", _element(elements, 1), groups)
            elif current is None:
                raise self._syntax(number, tag, f"segment {tag} outside a transaction set")
        if current is not None:
            raise self._syntax(last, "SE", f"transaction set {current.control} has no SE")
        if not self.advices:
            raise self._syntax(1, "ST", "no 820 transaction set in the file")
        return self.advices

    def _count(self, number: int, element: str, found: str, expected: int) -> None:
        if not found.isdigit():
            raise self._syntax(number, element, f"expected a count, found {found!r}")
        if int(found) != expected:
            raise self._integrity(number, element, f"says {found}, counted {expected}")

    def _finish(self, advice: _Advice, end: int) -> RemittanceAdvice:
        # CUR may follow BPR, so amounts are read once the whole set is known.
        for _, tag, elements in advice.raw:
            if tag == "CUR":
                advice.currency = _element(elements, 2) or None
        currency = advice.currency or self.default_currency
        in_entity = False
        for number, tag, elements in advice.raw:
            if tag == "BPR":
                advice.amount = self._money(number, "BPR02", _element(elements, 2), currency)
                advice.payer_account = _element(elements, 9) or None
                advice.payment_date = self._date(number, "BPR16", _element(elements, 16))
            elif tag == "TRN":
                advice.trace = _element(elements, 2) or None
            elif tag == "N1" and _element(elements, 1) == "PR":
                advice.payer_name = _element(elements, 2) or None
                advice.payer_id = _element(elements, 4) or None
            elif tag == "ENT":
                in_entity = True
            elif tag == "RMR":
                in_entity = False
                self._line(advice, number, elements, currency)
            elif tag == "ADX":
                amount = self._money(number, "ADX01", _element(elements, 1), currency)
                if in_entity or not advice.lines:
                    advice.entity_adjustments.append(amount)
                else:
                    code = _element(elements, 2) or None
                    previous = advice.lines[-1]
                    advice.lines[-1] = RemittanceLine(
                        previous.invoice_ref, previous.amount_paid, previous.discount, code
                    )
        if advice.amount is None:
            raise self._syntax(advice.first, "BPR", f"transaction set {advice.control} has no BPR")
        self._check_total(advice, advice.amount, currency, end)
        position = len(self.advices) + 1
        return RemittanceAdvice(
            advice_id=advice_id_for(self.file_digest, position),
            amount=advice.amount,
            source=SourceRef(self.file_digest, self.file_name, FORMAT, advice.first, end),
            document=f"820 TRN {advice.trace}" if advice.trace else f"820 ST {advice.control}",
            payment_date=advice.payment_date,
            trace=advice.trace,
            payer_name=advice.payer_name,
            payer_id=advice.payer_id,
            payer_account=advice.payer_account,
            lines=tuple(advice.lines),
        )

    def _line(self, advice: _Advice, number: int, elements: list[str], currency: str) -> None:
        reference = _element(elements, 2)
        if not reference:
            raise self._syntax(number, "RMR02", "an RMR without its reference")
        paid = _element(elements, 4)
        discount = _element(elements, 6)
        amount = self._money(number, "RMR04", paid, currency) if paid else None
        advice.line_amounts.append(amount)
        advice.lines.append(
            RemittanceLine(
                reference,
                amount,
                self._money(number, "RMR06", discount, currency) if discount else None,
            )
        )

    def _check_total(self, advice: _Advice, amount: Money, currency: str, end: int) -> None:
        amounts = advice.line_amounts
        if not amounts or any(line is None for line in amounts):
            return
        total = sum((a.minor for a in amounts if a is not None), 0)
        total += sum(a.minor for a in advice.entity_adjustments)
        if total != amount.minor:
            raise self._integrity(
                end,
                "BPR02",
                f"payment {amount} but the remittance lines and adjustments sum to "
                f"{Money(total, currency)} (set {advice.control})",
            )

    def _money(self, number: int, element: str, text: str, currency: str) -> Money:
        try:
            return Money.parse(text, currency)
        except MoneyError as exc:
            raise self._syntax(number, element, str(exc)) from None

    def _date(self, number: int, element: str, text: str) -> date | None:
        if not text:
            return None
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise self._syntax(number, element, f"expected CCYYMMDD, found {text!r}") from None


def _element(elements: list[str], index: int) -> str:
    return elements[index].strip() if index < len(elements) else ""


def parse_820(
    data: bytes, file_name: str, *, file_digest: str, currency: str = "USD"
) -> list[RemittanceAdvice]:
    """Every 820 transaction set of the interchange as a `RemittanceAdvice`.

    `currency` applies when a set has no CUR segment. Raises `AdviceSyntaxError` or
    `AdviceIntegrityError` naming the segment and element."""
    return _Reader(file_name, file_digest, currency.upper()).read(data)
