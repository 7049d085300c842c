"""BAI lockbox transmissions (fixed-width records 1/2/5/6/4/7/8/9) to statements.

A lockbox file reports the checks a bank received at a lockbox and deposited:

    1  Immediate Address Header    once, first
    2  Service Record              after the header
    5  Lockbox Header              one per lockbox: its number and deposit date
    6  Detail Record               one check: amount, MICR routing/account, number, remitter
    4  Overflow Record             remittance data of the check before it (invoices, amounts)
    7  Batch Total                 closes a batch of checks: count and total
    8  Lockbox Total               closes a lockbox: count and total of its checks
    9  Destination Trailer         last: the number of records in the file

Field positions differ per bank, so they are data: a `LockboxLayout` read from a
TOML file (`mappings/lockbox/default.toml` ships the layout of the FundersClub
sample). Lines shorter than the record size are read as if padded with blanks.

`parse_lockbox` returns one `Statement` per lockbox (account: the lockbox number,
date: the deposit date, no balances) and one credit `Transaction` per check:

    amount          record 6 amount (implied decimals of the layout's currency)
    payer_account   "<routing>/<account>" from the MICR line, as written
    bank_reference  the check number (leading zeros dropped), else "<batch>/<item>"
    payer_name      the remitter, when present
    remittance      the overflow records' text, one record per line ("; " joined)
    invoice_refs    the invoice numbers of the overflow records (and record 6's
                    invoice field, when the layout has one)
    invoice_amounts the overflow records' invoice amounts, where the layout has them

Batch totals (7), lockbox totals (8) and the record count (9) are checked in
integer minor units (bai-lockbox converts to float and rejects valid files with
cents); so are batch numbers: every check of a batch carries the batch's number, its
total `7` too (where the layout has the field), and within a lockbox batch numbers
ascend (so none repeats). A disagreement raises `BankFileIntegrityError`, a malformed
record `BankFileSyntaxError`, both naming the file, the 1-based line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import mappings
from cash_application.bank_files import builders
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.records import Direction, ParsedFile, Statement, Transaction
from cash_application.bank_files.streaming import (
    FileSummary,
    Source,
    StatementStream,
    as_stream,
    header_of,
    hold,
)
from mappings.money import Money, MoneyError, currency_exponent
from mappings.toml_file import read_toml

FORMAT = "lockbox"
DEFAULT_LAYOUT_PATH = Path(mappings.__file__).parent / "lockbox" / "default.toml"

# The fields the parser reads per record type: (required, optional).
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "1": (frozenset(), frozenset({"processing_date"})),
    "2": (frozenset(), frozenset()),
    "5": (frozenset({"lockbox", "deposit_date"}), frozenset()),
    "6": (
        frozenset({"batch", "item", "amount"}),
        frozenset({"routing", "account", "check_number", "check_date", "remitter", "invoice"}),
    ),
    "4": (
        frozenset({"batch", "item"}),
        frozenset({"sequence", "indicator", "text", "invoice", "invoice_amount"}),
    ),
    "7": (frozenset({"count", "total"}), frozenset({"batch"})),
    "8": (frozenset({"count", "total"}), frozenset({"lockbox"})),
    "9": (frozenset({"records"}), frozenset()),
}
_DATE_FORMATS = frozenset({"YYMMDD", "MMDDYY", "YYYYMMDD", "MMDDYYYY"})
# Which record types may follow which.
_SUCCESSORS = {
    None: frozenset("1"),
    "1": frozenset("25"),
    "2": frozenset("25"),
    "5": frozenset("678"),
    "6": frozenset("647"),
    "4": frozenset("647"),
    "7": frozenset("68"),
    "8": frozenset("59"),
    "9": frozenset(),
}
_NAMES = {
    "1": "header `1`", "2": "service record `2`", "5": "lockbox header `5`",
    "6": "detail `6`", "4": "overflow `4`", "7": "batch total `7`",
    "8": "lockbox total `8`", "9": "file trailer `9`",
}  # fmt: skip
_DIGITS = re.compile(r"[0-9]+")
_CREDIT = Direction.CREDIT
# An amount in overflow free text: 1,234.56 or 1234.56 (two decimals).
_TEXT_AMOUNT = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})*\.[0-9]{2}|-?[0-9]+\.[0-9]{2}")


class LockboxLayoutError(ValueError):
    """A layout file that is not usable; names the file and every bad key at once."""


@dataclass(frozen=True, slots=True)
class LockboxLayout:
    """Positions of each record type's fields, as `(start, end)` slices (see default.toml)."""

    currency: str
    date_format: str
    check_date_format: str
    records: Mapping[str, Mapping[str, tuple[int, int]]]

    @classmethod
    def load(cls, path: Path | None = None) -> LockboxLayout:
        """Read a layout file (default: the shipped `default.toml`)."""
        source = path or DEFAULT_LAYOUT_PATH
        raw = read_toml(source, LockboxLayoutError)
        return cls.from_dict(raw, source=str(source))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, source: str = "<layout>") -> LockboxLayout:
        """A layout from parsed TOML; every problem reported at once with its key path."""
        problems: list[str] = []
        currency = raw.get("currency", "USD")
        try:
            currency_exponent(currency)
            currency = currency.upper()
        except (MoneyError, TypeError, AttributeError):
            problems.append(f"currency: expected an ISO 4217 code, found {currency!r}")
        formats = {}
        for key, default in (("date_format", "YYMMDD"), ("check_date_format", "MMDDYY")):
            value = raw.get(key, default)
            if value not in _DATE_FORMATS:
                problems.append(f"{key}: expected one of {sorted(_DATE_FORMATS)}, found {value!r}")
            formats[key] = value
        unknown = set(raw) - {"currency", "date_format", "check_date_format", "record"}
        problems += [f"{key}: unknown key" for key in sorted(unknown)]
        tables = raw.get("record", {})
        if not isinstance(tables, Mapping):
            tables = {}
            problems.append("record: expected a table per record type")
        records: dict[str, dict[str, tuple[int, int]]] = {}
        for code, (required, optional) in _FIELDS.items():
            table = tables.get(code, {})
            if not isinstance(table, Mapping):
                problems.append(f"record.{code}: expected a table")
                continue
            fields: dict[str, tuple[int, int]] = {}
            for name, span in table.items():
                path = f"record.{code}.{name}"
                if name not in required | optional:
                    problems.append(f"{path}: unknown field (known: {sorted(required | optional)})")
                elif not (
                    isinstance(span, list)
                    and len(span) == 2
                    and all(type(n) is int for n in span)
                    and 1 <= span[0] < span[1]
                ):
                    problems.append(f"{path}: expected [start, end] with 1 <= start < end")
                else:
                    fields[name] = (span[0], span[1])
            problems += [
                f"record.{code}.{name}: missing" for name in sorted(required - set(fields))
            ]
            records[code] = fields
        problems += [
            f"record.{code}: unknown record type" for code in sorted(set(tables) - set(_FIELDS))
        ]
        if "4" in records and "text" not in records["4"] and "invoice" not in records["4"]:
            problems.append("record.4: needs `text` or `invoice`")
        if problems:
            raise LockboxLayoutError(f"{source}: " + "; ".join(problems))
        return cls(
            currency=currency,
            date_format=formats["date_format"],
            check_date_format=formats["check_date_format"],
            records=records,
        )


DEFAULT_LAYOUT = LockboxLayout.load()


def looks_like_lockbox(head: bytes) -> bool:
    """Whether the start of a file is a lockbox transmission: a `1` header record of
    digits and letters, then a `2` service record or a `5` lockbox header."""
    lines = [line for line in head.split(b"\n", 3)[:3] if line.strip()]
    return (
        len(lines) >= 2
        and re.fullmatch(rb"1[0-9]{2}[ 0-9A-Za-z]*\r?", lines[0]) is not None
        and lines[1][:1] in (b"2", b"5")
    )


def parse_lockbox(
    data: bytes,
    file_name: str,
    *,
    check_integrity: bool = True,
    layout: LockboxLayout = DEFAULT_LAYOUT,
) -> ParsedFile:
    """Parse a whole lockbox transmission (format "lockbox"); see the module docstring.

    Raises `BankFileSyntaxError` for anything that is not a well-formed transmission
    in `layout` (including an empty or truncated file) and, when `check_integrity` is
    true, `BankFileIntegrityError` for a total or count that disagrees with the checks.
    """
    return hold(iter_lockbox(data, file_name, check_integrity=check_integrity, layout=layout))


def iter_lockbox(
    source: Source,
    file_name: str,
    *,
    check_integrity: bool = True,
    layout: LockboxLayout = DEFAULT_LAYOUT,
) -> StatementStream:
    """Parse a lockbox transmission one lockbox at a time: `(StatementHeader, Statement)`.

    `source` is the file's bytes or a binary stream, read a line at a time: memory
    holds one lockbox's checks, whatever the file size. Errors are those of
    `parse_lockbox`, raised when reached. Returns the file's `FileSummary`.
    """
    return _Reader(file_name, check_integrity, layout).read(as_stream(source))


@dataclass(slots=True)
class _Check:
    """A record 6 and its overflows, until the next record completes it."""

    first_line: int
    last_line: int
    batch: str
    item: str
    amount: int
    payer_account: str | None
    bank_reference: str
    payer_name: str | None
    texts: list[str]
    invoices: list[str]
    amounts: list[tuple[str, Money]]
    expect_more: bool = False  # the last overflow said more follows
    overflows: int = 0


class _Reader:
    """The state of one parse: the lockbox, batch and check being read."""

    def __init__(self, file_name: str, check_integrity: bool, layout: LockboxLayout) -> None:
        self.file_name = file_name
        self.check_integrity = check_integrity
        self.layout = layout
        self.currency = layout.currency
        self.statements: list[Statement] = []
        self.transactions: list[Transaction] = []
        self.check: _Check | None = None
        self.lockbox = ""
        self.deposit_date: date | None = None
        self.batch_count = self.batch_total = 0
        self.lockbox_count = self.lockbox_total = 0
        # The open batch's number and the line that opened it; the lockbox's last batch.
        self.batch: str | None = None
        self.batch_line = 0
        self.last_batch: tuple[str, int] | None = None
        records = layout.records
        # The fields of the detail and overflow records, most of the file, looked up once.
        self._detail_spans = tuple(
            records["6"].get(name)
            for name in (
                "batch", "item", "amount", "routing", "account", "check_number", "check_date",
                "remitter", "invoice",
            )
        )  # fmt: skip
        self._overflow_spans = tuple(
            records["4"].get(name)
            for name in ("batch", "item", "sequence", "indicator", "text", "invoice")
        )
        self._overflow_amounts = "invoice_amount" in records["4"]
        self._check_dates: set[str] = set()  # valid check dates seen: a file repeats a few
        # The layout validated the currency: records' amounts are built without a check.
        self._new_money = builders.new_money

    def read(self, stream: BinaryIO) -> StatementStream:
        """Every lockbox of the transmission, yielded as its `8` total is read."""
        previous: str | None = None
        records = lineno = 0
        raw = b""
        # Latin-1 maps every byte to one character, so lines are cut on the bytes.
        for lineno, raw in enumerate(stream, 1):
            line = raw.decode("latin-1").rstrip("\n\r\x1a")
            if lineno == 1:
                line = line.removeprefix("\xef\xbb\xbf")
            if not line.strip():
                continue
            code = line[0]
            if code not in _SUCCESSORS[previous]:
                expected = " or ".join(_NAMES[c] for c in sorted(_SUCCESSORS[previous]))
                expected = expected or "nothing after the file trailer `9`"
                found = _NAMES.get(code, f"a line starting {line[:3]!r}")
                raise self._syntax(lineno, "record_type", f"expected {expected}, found {found}")
            records += 1
            if code in "678":
                self._finish_check(lineno)
            if code == "1":
                self._date(line, lineno, "1", "processing_date", self.layout.date_format)
            elif code == "5":
                self._lockbox_header(line, lineno)
            elif code == "6":
                self._detail(line, lineno)
            elif code == "4":
                self._overflow(line, lineno)
            elif code == "7":
                self._batch_total(line, lineno)
            elif code == "8":
                self._lockbox_total(line, lineno)
            elif code == "9":
                expected_records = self._number(line, lineno, "9", "records")
                if self.check_integrity and expected_records != records:
                    raise self._integrity(
                        lineno,
                        "records",
                        f"says {expected_records} records, the file has {records}",
                    )
            previous = code
            if self.statements:
                statement = self.statements.pop()
                yield header_of(statement, FORMAT), statement
        if previous != "9":
            # The line after the last line end, as a split of the whole text numbers it.
            last = lineno + 1 if raw.endswith(b"\n") else max(lineno, 1)
            raise self._syntax(last, "record_type", "the file ends before its trailer `9`")
        return FileSummary(FORMAT)

    # ---- records ---------------------------------------------------------------

    def _lockbox_header(self, line: str, lineno: int) -> None:
        self.lockbox = self._text(line, "5", "lockbox") or ""
        self.deposit_date = self._date(line, lineno, "5", "deposit_date", self.layout.date_format)
        self.transactions = []
        self.batch_count = self.batch_total = self.lockbox_count = self.lockbox_total = 0
        self.batch = self.last_batch = None

    def _detail(self, line: str, lineno: int) -> None:
        (
            batch_span, item_span, amount_span, routing_span, account_span, number_span,
            date_span, remitter_span, invoice_span,
        ) = self._detail_spans  # fmt: skip
        batch = _digits_at(line, batch_span) or self._digits(line, lineno, "6", "batch")
        if batch != self.batch and self.check_integrity:
            self._open_batch(batch, lineno)
        item = _digits_at(line, item_span) or self._digits(line, lineno, "6", "item")
        amount = int(_digits_at(line, amount_span) or self._digits(line, lineno, "6", "amount"))
        routing = _text_at(line, routing_span)
        account = _text_at(line, account_span)
        check_number = _text_at(line, number_span)
        if date_span is not None:
            raw_date = _text_at(line, date_span)
            if raw_date is not None and raw_date not in self._check_dates and raw_date.strip("0"):
                self._date(line, lineno, "6", "check_date", self.layout.check_date_format)
                self._check_dates.add(raw_date)
        invoice = _text_at(line, invoice_span)
        if routing and account:
            micr: str | None = f"{routing}/{account}"
        else:
            micr = routing or account or None
        number = check_number.lstrip("0") if check_number else ""
        self.check = _Check(
            lineno, lineno, batch, item, amount, micr, number or f"{batch}/{item}",
            _text_at(line, remitter_span), [invoice] if invoice else [],
            [invoice] if invoice else [], [],
        )  # fmt: skip

    def _overflow(self, line: str, lineno: int) -> None:
        check = self.check
        if check is None:
            raise self._syntax(lineno, "record_type", "an overflow `4` follows no detail `6`")
        batch_span, item_span, sequence_span, indicator_span, text_span, invoice_span = (
            self._overflow_spans
        )
        for name, (start, end), tied in (
            ("batch", batch_span, check.batch),
            ("item", item_span, check.item),
        ):
            value = line[start:end]
            if value == tied and len(value) == end - start:
                continue  # the same digits as the detail's, so digits too
            value = _digits_at(line, (start, end)) or self._digits(line, lineno, "4", name)
            if value != tied:
                raise self._syntax(
                    lineno, name,
                    f"{value!r} does not tie to the detail `6` at line {check.first_line} "
                    f"({tied!r})",
                )  # fmt: skip
        if check.overflows and not check.expect_more and indicator_span is not None:
            raise self._syntax(
                lineno, "indicator", f"the overflow at line {check.last_line} was the last (`9`)"
            )
        check.overflows += 1
        if sequence_span is not None:
            sequence = int(
                _digits_at(line, sequence_span) or self._digits(line, lineno, "4", "sequence")
            )
            if sequence != check.overflows:
                raise self._syntax(
                    lineno, "sequence", f"expected {check.overflows}, found {sequence}"
                )
        if indicator_span is not None:
            indicator = _digits_at(line, indicator_span) or self._digits(
                line, lineno, "4", "indicator"
            )
            if indicator not in ("0", "9"):
                raise self._syntax(lineno, "indicator", f"expected 0 or 9, found {indicator!r}")
            check.expect_more = indicator == "0"
        text = _text_at(line, text_span)
        invoice = _text_at(line, invoice_span)
        if invoice is not None:
            entry = invoice
            if self._overflow_amounts and self._text(line, "4", "invoice_amount"):
                amount = Money(self._number(line, lineno, "4", "invoice_amount"), self.currency)
                entry = f"{invoice} {amount}"
                check.amounts.append((invoice, amount))
            check.texts.append(entry)
            check.invoices.append(invoice)
        if text is not None:
            check.texts.append(text)
            check.invoices.extend(_invoice_refs(text))
        check.last_line = lineno

    def _finish_check(self, lineno: int) -> None:
        """The check read so far is complete: it becomes a transaction."""
        check = self.check
        if check is None:
            return
        if check.expect_more:
            raise self._syntax(
                lineno, "indicator",
                f"the overflow at line {check.last_line} says more follows, none does",
            )  # fmt: skip
        self.check = None
        self.batch_count += 1
        self.batch_total += check.amount
        texts = check.texts
        self.transactions.append(
            builders.new_transaction(
                self._new_money(check.amount, self.currency), _CREDIT, check.first_line,
                check.last_line, self.deposit_date, self.deposit_date, None,
                check.bank_reference, None, None, check.payer_name, check.payer_account,
                texts[0] if len(texts) == 1 else "; ".join(texts), tuple(check.invoices), False,
                True, None, tuple(dict(check.amounts).items()),
            )
        )  # fmt: skip

    def _batch_total(self, line: str, lineno: int) -> None:
        count = self._number(line, lineno, "7", "count")
        total = self._number(line, lineno, "7", "total")
        if self.check_integrity:
            number = self._text(line, "7", "batch")
            if self.batch is None:  # an empty batch, right after its lockbox header `5`
                self.batch = number and self._digits(line, lineno, "7", "batch")
                self.batch_line = lineno
            elif number is not None and number != self.batch:
                raise self._integrity(
                    lineno, "batch",
                    f"the batch total is for batch {number}, its checks are of batch "
                    f"{self.batch} (from line {self.batch_line})",
                )  # fmt: skip
            if self.batch is not None:
                self.last_batch = (self.batch, self.batch_line)
            self.batch = None
        self._check_totals(lineno, "batch", count, total, self.batch_count, self.batch_total)
        self.lockbox_count += self.batch_count
        self.lockbox_total += self.batch_total
        self.batch_count = self.batch_total = 0

    def _lockbox_total(self, line: str, lineno: int) -> None:
        count = self._number(line, lineno, "8", "count")
        total = self._number(line, lineno, "8", "total")
        self._check_totals(lineno, "lockbox", count, total, self.lockbox_count, self.lockbox_total)
        self.statements.append(
            Statement(
                account=self.lockbox,
                currency=self.currency,
                date=self.deposit_date,
                opening_balance=None,
                closing_balance=None,
                transactions=tuple(self.transactions),
            )
        )

    def _open_batch(self, number: str, lineno: int) -> None:
        """A check of batch `number` where none, or another, is open: it must open the
        next batch, whose number is above the lockbox's last one."""
        if self.batch is not None:
            raise self._integrity(
                lineno, "batch",
                f"a check of batch {number} inside batch {self.batch} (opened at line "
                f"{self.batch_line}, not closed by a batch total `7`)",
            )  # fmt: skip
        last = self.last_batch
        if last is not None and int(number) <= int(last[0]):
            raise self._integrity(
                lineno, "batch",
                f"batch {number} follows batch {last[0]} (line {last[1]}) in lockbox "
                f"{self.lockbox}: batch numbers must ascend",
            )  # fmt: skip
        self.batch, self.batch_line = number, lineno

    def _check_totals(
        self, lineno: int, level: str, count: int, total: int, checks: int, amount: int
    ) -> None:
        if not self.check_integrity:
            return
        if count != checks:
            raise self._integrity(
                lineno, "count", f"the {level} total says {count} checks, the {level} has {checks}"
            )
        if total != amount:
            raise self._integrity(
                lineno, "total",
                f"the {level} total says {Money(total, self.currency)}, its checks add up to "
                f"{Money(amount, self.currency)}",
            )  # fmt: skip

    # ---- fields ----------------------------------------------------------------

    def _raw(self, line: str, code: str, name: str) -> str | None:
        span = self.layout.records[code].get(name)
        return None if span is None else line[span[0] : span[1]]

    def _text(self, line: str, code: str, name: str) -> str | None:
        """A text field, stripped; None when blank or not in the layout."""
        raw = self._raw(line, code, name)
        return raw.strip() or None if raw is not None else None

    def _digits(self, line: str, lineno: int, code: str, name: str) -> str:
        raw = self._raw(line, code, name) or ""
        if _DIGITS.fullmatch(raw) is None or len(raw) != self._width(code, name):
            found = f"{raw!r}" if raw.strip() else "nothing (the line is too short or blank)"
            raise self._syntax(lineno, name, f"expected digits, found {found}")
        return raw

    def _number(self, line: str, lineno: int, code: str, name: str) -> int:
        return int(self._digits(line, lineno, code, name))

    def _width(self, code: str, name: str) -> int:
        start, end = self.layout.records[code][name]
        return end - start

    def _date(self, line: str, lineno: int, code: str, name: str, form: str) -> date | None:
        if name not in self.layout.records[code]:
            return None
        raw = self._digits(line, lineno, code, name)
        try:
            if form == "YYMMDD":
                return date(2000 + int(raw[0:2]), int(raw[2:4]), int(raw[4:6]))
            if form == "MMDDYY":
                return date(2000 + int(raw[4:6]), int(raw[0:2]), int(raw[2:4]))
            if form == "YYYYMMDD":
                return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
            return date(int(raw[4:8]), int(raw[0:2]), int(raw[2:4]))
        except (ValueError, IndexError):
            raise self._syntax(lineno, name, f"{raw!r} is not a {form} date") from None

    def _syntax(self, lineno: int, field: str, message: str) -> BankFileSyntaxError:
        return BankFileSyntaxError(message, file=self.file_name, line=lineno, field=field)

    def _integrity(self, lineno: int, field: str, message: str) -> BankFileIntegrityError:
        return BankFileIntegrityError(message, file=self.file_name, line=lineno, field=field)


def _digits_at(line: str, span: tuple[int, int] | None) -> str | None:
    """The field at `span` when it is all ASCII digits over its whole width, else None (the
    caller then asks `_Reader._digits` for the error naming the field)."""
    if span is None:
        return None
    start, end = span
    raw = line[start:end]
    return raw if len(raw) == end - start and raw.isdigit() and raw.isascii() else None


def _text_at(line: str, span: tuple[int, int] | None) -> str | None:
    """The text field at `span`, stripped; None when blank or not in the layout."""
    if span is None:
        return None
    return line[span[0] : span[1]].strip() or None


def _invoice_refs(text: str) -> list[str]:
    """Invoice numbers in overflow free text: its words that are not amounts
    (`INV123 1,234.56 INV124 50.00` -> INV123, INV124)."""
    words = text.replace(";", " ").split()
    # Every amount has a decimal point: most words are checked without the expression.
    return [word for word in words if "." not in word or not _TEXT_AMOUNT.fullmatch(word)]
