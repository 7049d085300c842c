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
from operator import itemgetter
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
    line_blocks,
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


# A field the layout leaves out reads as blank: the empty slice of every line.
_ABSENT = (0, 0)
_BOM = "\xef\xbb\xbf"  # UTF-8's byte order mark, as latin-1 decodes it
_CHECK_SUCCESSORS = _SUCCESSORS["6"]
_DETAIL_FIELDS = (
    "batch", "item", "amount", "routing", "account", "check_number", "check_date", "remitter",
    "invoice",
)  # fmt: skip
# Entries of a file's payer cache beyond which it restarts (at a lockbox header).
_CACHE_LIMIT = 100_000


class _Reader:
    """The state of one parse: the lockbox and batch being read (the check being read
    lives in `read`'s local variables)."""

    def __init__(self, file_name: str, check_integrity: bool, layout: LockboxLayout) -> None:
        self.file_name = file_name
        self.check_integrity = check_integrity
        self.layout = layout
        self.currency = layout.currency
        self.transactions: list[Transaction] = []
        self.lockbox = ""
        self.deposit_date: date | None = None
        self.lockbox_count = self.lockbox_total = 0
        # The open batch's number and the line that opened it; the lockbox's last batch.
        self.batch: str | None = None
        self.batch_line = 0
        self.last_batch: tuple[str, int] | None = None
        detail, overflow = layout.records["6"], layout.records["4"]
        # The fields of the detail and overflow records, most of the file, cut from a line
        # in one call (a slice expression per field costs more).
        self._detail_fields = _cutter(detail, _DETAIL_FIELDS)
        self._detail_digits_end = max(detail[name][1] for name in ("batch", "item", "amount"))
        self._overflow_text = overflow.get("text", _ABSENT)
        # `read` checks an overflow's position by comparing two strings when the layout
        # has the usual fields: batch and item next to each other and as wide as the
        # detail's (their digits), then the sequence number and a one-digit indicator
        # (the next sequence number and 0 or 9). Any other layout, any mismatch, and
        # sequence numbers past 999 ask `_overflow_position`.
        self._quick_overflow = (
            {"batch", "item", "sequence", "indicator"} <= set(overflow)
            and overflow["batch"][1] == overflow["item"][0]
            and overflow["sequence"][1] == overflow["indicator"][0]
            and self._width("4", "indicator") == 1
            and all(self._width("4", name) == self._width("6", name) for name in ("batch", "item"))
        )
        width = self._width("4", "sequence") if "sequence" in overflow else 0
        numbers = [f"{n:0{width}d}" for n in range(min(10**width, 1000))]
        self._continued = [f"{n}0" for n in numbers]  # sequence n, more follows
        self._ended = [f"{n}9" for n in numbers]  # sequence n, the last
        # Overflows with invoice fields (not only free text) are read by `_overflow_content`.
        self._text_overflow = "invoice" not in overflow

    def read(self, stream: BinaryIO) -> StatementStream:
        """Every lockbox of the transmission, yielded as its `8` total is read.

        Detail `6` and overflow `4` records, nearly all of a file, are read here with
        local variables and string comparisons: a method call and an object per record
        were most of the parse time. A field that is not what the fast path expects goes
        to the methods below, which read it again carefully and raise the error naming
        it (or return it, for layouts the fast path does not know).
        """
        integrity = self.check_integrity
        currency = self.currency
        new_money = builders.new_money
        new_transaction = Transaction
        detail_fields = self._detail_fields
        tie_at = self.layout.records["4"].get("batch", _ABSENT)[0]
        position_at = self.layout.records["4"].get("sequence", _ABSENT)[0]
        position_end = self.layout.records["4"].get("indicator", _ABSENT)[1]
        text_start, text_end = self._overflow_text
        continued, ended = self._continued, self._ended
        positions = len(continued)
        digits_end = self._detail_digits_end
        quick_overflow = self._quick_overflow
        text_overflow = self._text_overflow
        check_dates: set[str] = set()  # check dates seen valid (as written): a file repeats a few
        # Payer names by their columns as written: remitters pay again and again, so most
        # are looked up, not stripped, and equal ones share a string.
        payers: dict[str, str | None] = {}
        allowed = _SUCCESSORS[None]
        records = lineno = 0
        append = self.transactions.append
        deposit_date = self.deposit_date
        open_batch = self.batch
        batch_count = batch_total = 0
        # The check being read: its detail `6` at line `first` (0: none), its overflows.
        first = last = amount = overflows = 0
        batch = item = tie = reference = remittance = notes = ""
        payer = micr = None
        invoices: tuple[str, ...] = ()
        amounts: tuple[tuple[str, Money], ...] = ()
        more = False
        newline_end = False
        # Latin-1 maps every byte to one character, so lines are cut on the bytes.
        for block in line_blocks(stream, b"", b"\n"):
            if not block:
                break
            text = block.decode("latin-1")
            if not lineno:
                text = text.removeprefix(_BOM)
            newline_end = block.endswith(b"\n")
            lines = text.split("\n")
            if newline_end:
                lines.pop()  # the empty string after the block's last line end
            if "\r" in text or "\x1a" in text:
                lines = [line.rstrip("\r\x1a") for line in lines]
            for line in lines:
                lineno += 1
                if not line:
                    continue
                code = line[0]
                if code not in allowed:
                    if not line.strip():
                        continue
                    raise self._unexpected(line, lineno, allowed)
                records += 1
                if code == "4":
                    overflows += 1
                    position = line[position_at:position_end]
                    if (
                        quick_overflow
                        and overflows < positions
                        and line.startswith(tie, tie_at)
                        and (more or overflows == 1)
                        and (position == continued[overflows] or position == ended[overflows])
                    ):
                        more = position == continued[overflows]
                    else:
                        more = (
                            self._overflow_position(
                                line, lineno, (batch, item, first, last, overflows, more)
                            )
                            == "0"
                        )
                    if text_overflow:
                        note = line[text_start:text_end].strip()
                        if note:
                            notes = f"{notes}; {note}" if notes else note
                    else:
                        remittance, invoices, amounts = self._overflow_content(
                            line, lineno, remittance, invoices, amounts
                        )
                    last = lineno
                    continue
                if first:  # a `6` or `7` completes the check before it
                    if more:
                        raise self._syntax(
                            lineno, "indicator",
                            f"the overflow at line {last} says more follows, none does",
                        )  # fmt: skip
                    if notes:  # free text: its invoice numbers read once per check
                        remittance = f"{remittance}; {notes}" if remittance else notes
                        invoices += _invoice_refs(notes)
                        notes = ""
                    if amounts:  # an invoice named twice: its last amount, at its first place
                        amounts = tuple(dict(amounts).items())
                    append(
                        new_transaction(
                            new_money(amount, currency), _CREDIT, first, last, deposit_date,
                            deposit_date, None, reference, None, None, payer, micr, remittance,
                            invoices, False, True, None, amounts,
                        )
                    )  # fmt: skip
                    batch_count += 1
                    batch_total += amount
                    first = 0
                if code == "6":
                    batch, item, digits, routing, account, number, written, name, invoice = (
                        detail_fields(line)
                    )
                    # On latin-1 text isdecimal() means 0-9 (isdigit() takes "²" too).
                    if (
                        len(line) >= digits_end
                        and batch.isdecimal()
                        and item.isdecimal()
                        and digits.isdecimal()
                    ):
                        if batch != open_batch and integrity:
                            self._open_batch(batch, lineno)
                            open_batch = batch
                    else:
                        batch, item, digits = self._detail_numbers(line, lineno)
                        open_batch = self.batch
                    first = last = lineno
                    tie = batch + item  # what its overflows' batch and item columns hold
                    amount = int(digits)
                    routing, account = routing.strip(), account.strip()
                    if routing and account:
                        micr: str | None = f"{routing}/{account}"
                    else:
                        micr = routing or account or None
                    reference = number.strip().lstrip("0") or f"{batch}/{item}"
                    if written not in check_dates:
                        if written.strip().strip("0"):  # blank or zeros: no date
                            self._date(
                                line, lineno, "6", "check_date", self.layout.check_date_format
                            )
                        check_dates.add(written)
                    try:  # free in 3.11 when it does not raise, unlike a .get() call
                        payer = payers[name]
                    except KeyError:
                        payer = payers[name] = name.strip() or None
                    remittance = invoice.strip()
                    invoices = (remittance,) if remittance else ()
                    amounts = ()
                    overflows = 0
                    more = False
                    allowed = _CHECK_SUCCESSORS
                    continue
                # The other records, a few per lockbox.
                if code == "7":
                    self._batch_total(line, lineno, batch_count, batch_total)
                    batch_count = batch_total = 0
                elif code == "8":
                    statement = self._lockbox_total(line, lineno)
                    yield header_of(statement, FORMAT), statement
                elif code == "5":
                    self._lockbox_header(line, lineno)
                    if len(payers) > _CACHE_LIMIT:
                        payers.clear()
                    append = self.transactions.append
                    deposit_date = self.deposit_date
                    batch_count = batch_total = 0
                elif code == "1":
                    self._date(line, lineno, "1", "processing_date", self.layout.date_format)
                elif code == "9":
                    self._trailer(line, lineno, records)
                open_batch = self.batch
                allowed = _SUCCESSORS[code]
        if allowed:  # no trailer `9` (nothing may follow one)
            # The line after the last line end, as a split of the whole text numbers it.
            end = lineno + 1 if newline_end else max(lineno, 1)
            raise self._syntax(end, "record_type", "the file ends before its trailer `9`")
        return FileSummary(FORMAT)

    # ---- records other than the detail's fast path ------------------------------

    def _unexpected(self, line: str, lineno: int, allowed: frozenset[str]) -> BankFileSyntaxError:
        """The error for a record that may not follow the one before it."""
        expected = " or ".join(_NAMES[c] for c in sorted(allowed))
        expected = expected or "nothing after the file trailer `9`"
        found = _NAMES.get(line[0], f"a line starting {line[:3]!r}")
        return self._syntax(lineno, "record_type", f"expected {expected}, found {found}")

    def _detail_numbers(self, line: str, lineno: int) -> tuple[str, str, str]:
        """A detail's batch, item and amount digits, read field by field: the error names
        the first field that is not digits over its whole width."""
        batch = self._digits(line, lineno, "6", "batch")
        if batch != self.batch and self.check_integrity:
            self._open_batch(batch, lineno)
        return (
            batch,
            self._digits(line, lineno, "6", "item"),
            self._digits(line, lineno, "6", "amount"),
        )

    def _overflow_position(
        self, line: str, lineno: int, check: tuple[str, str, int, int, int, bool]
    ) -> str:
        """An overflow's batch, item, sequence and indicator, read field by field against
        its check `(batch, item, first line, last line, overflows so far, more promised)`;
        return the indicator (`""` when the layout has none)."""
        batch, item, first, last, overflows, more = check
        fields = self.layout.records["4"]
        for name, tied in (("batch", batch), ("item", item)):
            start, end = fields[name]
            value = line[start:end]
            if value == tied and len(value) == end - start:
                continue  # the same digits as the detail's, so digits too
            value = self._digits(line, lineno, "4", name)
            if value != tied:
                raise self._syntax(
                    lineno, name,
                    f"{value!r} does not tie to the detail `6` at line {first} ({tied!r})",
                )  # fmt: skip
        if overflows > 1 and not more and "indicator" in fields:
            raise self._syntax(
                lineno, "indicator", f"the overflow at line {last} was the last (`9`)"
            )
        if "sequence" in fields:
            sequence = self._number(line, lineno, "4", "sequence")
            if sequence != overflows:
                raise self._syntax(lineno, "sequence", f"expected {overflows}, found {sequence}")
        if "indicator" not in fields:
            return ""
        indicator = self._digits(line, lineno, "4", "indicator")
        if indicator not in ("0", "9"):
            raise self._syntax(lineno, "indicator", f"expected 0 or 9, found {indicator!r}")
        return indicator

    def _overflow_content(
        self,
        line: str,
        lineno: int,
        remittance: str,
        invoices: tuple[str, ...],
        amounts: tuple[tuple[str, Money], ...],
    ) -> tuple[str, tuple[str, ...], tuple[tuple[str, Money], ...]]:
        """A check's remittance, invoices and invoice amounts with an overflow's invoice
        field (and its amount) and free text added, in layouts with invoice fields."""
        invoice = self._text(line, "4", "invoice")
        if invoice is not None:
            entry = invoice
            if self._text(line, "4", "invoice_amount"):
                money = Money(self._number(line, lineno, "4", "invoice_amount"), self.currency)
                entry = f"{invoice} {money}"
                amounts += ((invoice, money),)
            remittance = f"{remittance}; {entry}" if remittance else entry
            invoices += (invoice,)
        text = self._text(line, "4", "text")
        if text is not None:
            remittance = f"{remittance}; {text}" if remittance else text
            invoices += _invoice_refs(text)
        return remittance, invoices, amounts

    def _lockbox_header(self, line: str, lineno: int) -> None:
        self.lockbox = self._text(line, "5", "lockbox") or ""
        self.deposit_date = self._date(line, lineno, "5", "deposit_date", self.layout.date_format)
        self.transactions = []
        self.lockbox_count = self.lockbox_total = 0
        self.batch = self.last_batch = None

    def _batch_total(self, line: str, lineno: int, checks: int, amount: int) -> None:
        """A batch total `7` against the `checks` read since the last one, of `amount`."""
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
        self._check_totals(lineno, "batch", count, total, checks, amount)
        self.lockbox_count += checks
        self.lockbox_total += amount

    def _lockbox_total(self, line: str, lineno: int) -> Statement:
        """The lockbox closed by its total `8`, as a statement."""
        count = self._number(line, lineno, "8", "count")
        total = self._number(line, lineno, "8", "total")
        self._check_totals(lineno, "lockbox", count, total, self.lockbox_count, self.lockbox_total)
        return Statement(
            account=self.lockbox,
            currency=self.currency,
            date=self.deposit_date,
            opening_balance=None,
            closing_balance=None,
            transactions=tuple(self.transactions),
        )

    def _trailer(self, line: str, lineno: int, records: int) -> None:
        """The file trailer `9` against the `records` read, itself included."""
        expected = self._number(line, lineno, "9", "records")
        if self.check_integrity and expected != records:
            raise self._integrity(
                lineno, "records", f"says {expected} records, the file has {records}"
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


def _cutter(fields: Mapping[str, tuple[int, int]], names: tuple[str, ...]) -> itemgetter:
    """A function cutting the fields `names` from a line, as a tuple of strings; a field
    the layout leaves out is cut as blank."""
    return itemgetter(*(slice(*fields.get(name, _ABSENT)) for name in names))


def _invoice_refs(text: str) -> tuple[str, ...]:
    """Invoice numbers in overflow free text: its words that are not amounts
    (`INV123 1,234.56 INV124 50.00` -> INV123, INV124)."""
    words = text.replace(";", " ").split()
    if "." not in text:  # every amount has a decimal point
        return tuple(words)
    refs = []
    for word in words:
        if "." in word and _is_amount(word):
            continue
        refs.append(word)
    return tuple(refs)


def _is_amount(word: str) -> bool:
    """`_TEXT_AMOUNT.fullmatch(word)`, in string methods for ASCII words (a third of the
    cost of a match): digits, or digits grouped by commas in threes, and two decimals."""
    if not word.isascii():
        return _TEXT_AMOUNT.fullmatch(word) is not None
    whole, _, cents = word.removeprefix("-").rpartition(".")
    if len(cents) != 2 or not cents.isdecimal():
        return False
    if whole.isdecimal():
        return True
    head, *groups = whole.split(",")
    return (
        bool(groups)
        and 0 < len(head) <= 3
        and head.isdecimal()
        and all(len(group) == 3 and group.isdecimal() for group in groups)
    )
