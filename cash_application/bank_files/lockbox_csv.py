"""CSV and Excel-export lockbox files (one row per invoice line) to statements.

Many banks deliver lockbox data as a spreadsheet instead of the fixed-width BAI
transmission: one row per invoice line, the check's fields (lockbox, deposit date,
batch, item, check number, check amount, MICR routing and account, remitter)
repeated on each of its rows. Headers are the bank's own, so the layout is data: a
`CsvLockboxLayout` read from `mappings/lockbox/<name>.toml` (`csv_default.toml`
ships an example) names each field's header (or 1-based column), the delimiter,
decimal and thousands separators, date format and encoding.

Excel exports are read as Excel writes them: a UTF-8 byte order mark, a `sep=;`
first line (which then sets the delimiter), quoted numbers, `="00123"` cells
(text kept with its leading zeros), thousands separators, trailing empty columns
and rows, CRLF line ends.

Consecutive rows of the same check (same lockbox and deposit date, and the same
batch and item, or without those columns the same check number, routing and
account) are one check: one credit `Transaction` (as `lockbox.parse_lockbox` makes
one per detail record) with the check amount, its invoice numbers as
`invoice_refs`, their amounts as `invoice_amounts` and one remittance entry per
invoice line (`INV-1 100.00; INV-2 50.00`, a discount added as `discount 2.00`).
The check amount must be the same on every row of the check, and a check's rows
must be together (`BankFileIntegrityError`, naming the file, the line and the
field); that the invoice amounts add up to less than the check is no error (short
pays happen), so it is left to the amounts. One statement per run of rows with the
same lockbox and deposit date. Money is read as text into integer minor units.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import mappings
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.lockbox import LockboxLayout, parse_lockbox
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

FORMAT = "lockbox.csv"
LAYOUTS_DIR = Path(mappings.__file__).parent / "lockbox"
DEFAULT_LAYOUT_PATH = LAYOUTS_DIR / "csv_default.toml"
FIELDS = (
    "lockbox", "deposit_date", "batch", "item", "check_number", "check_amount", "routing",
    "account", "remitter", "invoice", "invoice_amount", "discount",
)  # fmt: skip
_SETTINGS = {
    "delimiter", "decimal_separator", "thousands_separator", "date_format", "encoding",
    "currency", "header", "group_by", "columns",
}  # fmt: skip
_GROUPINGS = {"batch_item": ("batch", "item"), "check": ("check_number",)}
_THOUSANDS = {"", ",", ".", " ", "'", "\u00a0"}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")
_SEP_LINE = re.compile(r"sep=(.)\s*")  # Excel's delimiter hint, alone on the first line


class LockboxCsvLayoutError(ValueError):
    """A CSV lockbox layout file that is not usable; names the file and every bad key."""


def _header_key(name: str) -> str:
    """A header as compared: lower case, letters and digits only ("Check No." = "checkno")."""
    return _NOT_ALNUM.sub("", name.lower())


@dataclass(frozen=True, slots=True)
class CsvLockboxLayout:
    """Where a bank's CSV lockbox export keeps each field (see `csv_default.toml`)."""

    delimiter: str
    decimal_separator: str
    thousands_separator: str
    date_format: str
    encoding: str
    currency: str
    header: bool
    group_by: tuple[str, ...]
    # field -> header names (as `_header_key`s, any one of them) or a 0-based column
    columns: Mapping[str, tuple[str, ...] | int]

    @classmethod
    def load(cls, path: Path | None = None) -> CsvLockboxLayout:
        """Read a layout file (default: the shipped `csv_default.toml`)."""
        source = path or DEFAULT_LAYOUT_PATH
        return cls.from_dict(read_toml(source, LockboxCsvLayoutError), source=str(source))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, source: str = "<layout>") -> CsvLockboxLayout:
        """A layout from parsed TOML; every problem reported at once with its key path."""
        problems = [f"{key}: unknown key" for key in sorted(set(raw) - _SETTINGS)]
        text = {key: raw.get(key, default) for key, default in _TEXT_DEFAULTS.items()}
        for key, value in text.items():
            if not isinstance(value, str):
                problems.append(f"{key}: expected a string, found {value!r}")
                text[key] = _TEXT_DEFAULTS[key]
        if len(text["delimiter"]) != 1:
            problems.append(f"delimiter: expected one character, found {text['delimiter']!r}")
        if text["decimal_separator"] not in (".", ","):
            problems.append("decimal_separator: expected '.' or ','")
        if text["thousands_separator"] not in _THOUSANDS - {text["decimal_separator"]}:
            problems.append(
                "thousands_separator: expected '', ',', '.', ' ', \"'\" or a no-break space, "
                "other than the decimal separator"
            )
        if "%" not in text["date_format"]:
            problems.append(f"date_format: expected strptime codes, found {text['date_format']!r}")
        try:
            codecs.lookup(text["encoding"])
        except LookupError:
            problems.append(f"encoding: unknown codec {text['encoding']!r}")
        currency = text["currency"].upper()
        try:
            currency_exponent(currency)
        except MoneyError:
            problems.append(f"currency: expected an ISO 4217 code, found {text['currency']!r}")
        header = raw.get("header", True)
        if not isinstance(header, bool):
            problems.append(f"header: expected true or false, found {header!r}")
        columns = _columns(raw.get("columns", {}), problems)
        if not header and any(not isinstance(where, int) for where in columns.values()):
            problems.append("columns: without a header row every field needs a column number")
        grouping = raw.get(
            "group_by", "batch_item" if {"batch", "item"} <= set(columns) else "check"
        )
        group_by = _GROUPINGS.get(grouping) if isinstance(grouping, str) else None
        if group_by is None:
            problems.append(f"group_by: expected 'batch_item' or 'check', found {grouping!r}")
            group_by = ()
        problems += [
            f"columns.{name}: missing"
            for name in ("check_amount", *group_by)
            if name not in columns
        ]
        if problems:
            raise LockboxCsvLayoutError(f"{source}: " + "; ".join(problems))
        return cls(
            text["delimiter"], text["decimal_separator"], text["thousands_separator"],
            text["date_format"], text["encoding"], currency, header, group_by, columns,
        )  # fmt: skip

    def resolve(self, header: Sequence[str]) -> dict[str, int] | None:
        """Field -> 0-based column for a file whose header row is `header`; None when a
        field named by header is not in it (so the file is not in this layout)."""
        keys = [_header_key(name) for name in header]
        found: dict[str, int] = {}
        for name, where in self.columns.items():
            if isinstance(where, int):
                found[name] = where
                continue
            column = next((keys.index(key) for key in where if key in keys), None)
            if column is None:
                return None
            found[name] = column
        return found


_TEXT_DEFAULTS = {
    "delimiter": ",",
    "decimal_separator": ".",
    "thousands_separator": "",
    "date_format": "%m/%d/%Y",
    "encoding": "utf-8",
    "currency": "USD",
}


def _columns(table: object, problems: list[str]) -> dict[str, tuple[str, ...] | int]:
    """The `[columns]` table: field = "Header", ["Header", "Alias"] or a 1-based number."""
    if not isinstance(table, Mapping):
        problems.append("columns: expected a table of field = header name(s) or column number")
        return {}
    columns: dict[str, tuple[str, ...] | int] = {}
    for name, where in table.items():
        if name not in FIELDS:
            problems.append(f"columns.{name}: unknown field (known: {', '.join(FIELDS)})")
        elif type(where) is int and where >= 1:
            columns[name] = where - 1
        elif isinstance(where, str) and _header_key(where):
            columns[name] = (_header_key(where),)
        elif (
            isinstance(where, list)
            and where
            and all(isinstance(alias, str) and _header_key(alias) for alias in where)
        ):
            columns[name] = tuple(_header_key(alias) for alias in where)
        else:
            problems.append(f"columns.{name}: expected a header name, a list of them or a number")
    return columns


def layout_path(name_or_path: str) -> Path:
    """A lockbox layout file by name (`mappings/lockbox/<name>.toml`) or by file path."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.parent.name:
        return LAYOUTS_DIR / f"{name_or_path}.toml"
    return path


def load_layout(name_or_path: str) -> CsvLockboxLayout:
    """A CSV lockbox layout by name (`mappings/lockbox/<name>.toml`) or by file path."""
    return CsvLockboxLayout.load(layout_path(name_or_path))


def load_any_layout(name_or_path: str) -> CsvLockboxLayout | LockboxLayout:
    """The lockbox layout a user named (a config key or a command-line option): a CSV
    layout (a file with `[columns]`) or a fixed-width BAI one (`[record.N]`). Raises
    `LockboxCsvLayoutError` or `LockboxLayoutError` (both `ValueError`s) for a layout that
    cannot be used."""
    path = layout_path(name_or_path)
    if "columns" in read_toml(path, LockboxCsvLayoutError):
        return CsvLockboxLayout.load(path)
    return LockboxLayout.load(path)


def parse_lockbox_with_layout(data: bytes, file_name: str, name_or_path: str) -> ParsedFile:
    """Parse a lockbox file in the layout a user named (`load_any_layout`); raises the
    layout's errors, and the parsers' errors for the file."""
    layout = load_any_layout(name_or_path)
    if isinstance(layout, CsvLockboxLayout):
        return parse_lockbox_csv(data, file_name, layout=layout)
    return parse_lockbox(data, file_name, layout=layout)


def shipped_layouts() -> tuple[CsvLockboxLayout, ...]:
    """The CSV layouts in `mappings/lockbox/` (files with a `[columns]` table), by name."""
    return tuple(
        CsvLockboxLayout.load(path)
        for path in sorted(LAYOUTS_DIR.glob("*.toml"))
        if "columns" in read_toml(path, LockboxCsvLayoutError)
    )


SHIPPED_LAYOUTS = shipped_layouts()


def looks_like_lockbox_csv(
    head: bytes, layouts: Sequence[CsvLockboxLayout] = SHIPPED_LAYOUTS
) -> bool:
    """Whether the first lines of `head` are a header row of one of `layouts`: every
    column those layouts name by header must be there (a CSV remittance advice or any
    other spreadsheet lacks the lockbox's batch, item or check columns)."""
    return _layout_for(head, layouts) is not None


def _layout_for(head: bytes, layouts: Sequence[CsvLockboxLayout]) -> CsvLockboxLayout | None:
    for layout in layouts:
        if not layout.header:
            continue
        try:
            text = head.decode(layout.encoding, errors="replace").removeprefix("\ufeff")
            lines = iter(text.splitlines()[:2])
            first = next(lines, "")
            delimiter = layout.delimiter
            if sep := _SEP_LINE.fullmatch(first):
                delimiter, first = sep.group(1), next(lines, "")
            header = next(csv.reader([first], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if layout.resolve(header) is not None:
            return layout
    return None


def parse_lockbox_csv(
    data: bytes,
    file_name: str,
    *,
    check_integrity: bool = True,
    layout: CsvLockboxLayout | None = None,
) -> ParsedFile:
    """Parse a whole CSV lockbox file (format "lockbox.csv"); see the module docstring.
    Without `layout`, the first shipped layout whose headers the file has is used."""
    return hold(iter_lockbox_csv(data, file_name, check_integrity=check_integrity, layout=layout))


def iter_lockbox_csv(
    source: Source,
    file_name: str,
    *,
    check_integrity: bool = True,
    layout: CsvLockboxLayout | None = None,
) -> StatementStream:
    """Parse a CSV lockbox file one lockbox (statement) at a time, reading `source` a line
    at a time; errors are those of `parse_lockbox_csv`, raised when reached."""
    stream = as_stream(source)
    if layout is None:
        head = stream.read(4096)
        stream = io.BufferedReader(_Rewound(head, stream))  # type: ignore[arg-type]
        layout = _layout_for(head, SHIPPED_LAYOUTS)
        if layout is None:
            raise BankFileSyntaxError(
                "not a CSV lockbox file of a known layout (its header row lacks the columns "
                "of every layout in mappings/lockbox/); name the layout",
                file=file_name,
                line=1,
                field="header",
            )
    encoding = "utf-8-sig" if codecs.lookup(layout.encoding).name == "utf-8" else layout.encoding
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")  # type: ignore[arg-type]
    return _Reader(file_name, check_integrity, layout).read(text)


class _Rewound(io.RawIOBase):
    """A stream whose first bytes were read to pick the layout, put back in front."""

    def __init__(self, head: bytes, rest: Any) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the put-back head, then from the stream."""
        data = self._head[: len(buffer)] or self._rest.read(len(buffer))
        self._head = self._head[len(data) :] if self._head else b""
        buffer[: len(data)] = data
        return len(data)


@dataclass(slots=True)
class _Check:
    """The rows of one check read so far."""

    key: tuple[str, ...]
    first_line: int
    last_line: int
    amount: Money
    values: dict[str, str]
    entries: list[str]
    invoices: list[str]
    amounts: list[tuple[str, Money]]


class _Reader:
    """The state of one parse: the statement and check being read."""

    def __init__(self, file_name: str, check_integrity: bool, layout: CsvLockboxLayout) -> None:
        self.file_name = file_name
        self.check_integrity = check_integrity
        self.layout = layout
        self.columns: dict[str, int] = {}
        self.dates: dict[str, date] = {}

    def read(self, text: io.TextIOWrapper) -> StatementStream:
        """Every statement, yielded when the rows of its lockbox and date end."""
        rows = self._rows(text)
        statement_key: tuple[str, str] | None = None
        transactions: list[Transaction] = []
        check: _Check | None = None
        seen: dict[tuple[str, ...], int] = {}  # checks of the statement: their first line
        for first, last, values in rows:
            key = (values.get("lockbox", ""), values.get("deposit_date", ""))
            if key != statement_key:
                if check is not None:
                    transactions.append(self._transaction(check))
                    check = None
                if statement_key is not None:
                    yield self._statement(statement_key, transactions)
                statement_key, transactions, seen = key, [], {}
            check_key = tuple(values.get(name, "") for name in self._check_fields)
            amount = self._money(values, "check_amount", first, required=True)
            assert amount is not None  # required
            if check is not None and check.key == check_key:
                if self.check_integrity and amount != check.amount:
                    raise self._integrity(
                        first, "check_amount",
                        f"{amount} differs from {check.amount}, the check amount on its "
                        f"first row (line {check.first_line})",
                    )  # fmt: skip
                check.last_line = last
            else:
                if check is not None:
                    transactions.append(self._transaction(check))
                if self.check_integrity and check_key in seen:
                    raise self._integrity(
                        first, self._check_fields[-1],
                        f"a row of the check at line {seen[check_key]} after other checks: "
                        "a check's rows must be together",
                    )  # fmt: skip
                seen[check_key] = first
                check = _Check(check_key, first, last, amount, values, [], [], [])
            self._invoice_line(check, values, first)
        if check is not None:
            transactions.append(self._transaction(check))
        if statement_key is not None:
            yield self._statement(statement_key, transactions)
        return FileSummary(FORMAT)

    @property
    def _check_fields(self) -> tuple[str, ...]:
        grouping = self.layout.group_by
        if grouping == _GROUPINGS["check"]:
            return (*grouping, "routing", "account")
        return grouping

    # ---- rows ------------------------------------------------------------------

    def _rows(self, text: io.TextIOWrapper) -> Iterator[tuple[int, int, dict[str, str]]]:
        """Each data row as (first line, last line, field -> cell), skipping blank rows."""
        lines: Iterator[str] = iter(text)
        try:
            first_line = next(lines, "")
        except UnicodeDecodeError as exc:
            raise self._syntax(1, None, f"not {self.layout.encoding} text ({exc.reason})") from None
        delimiter = self.layout.delimiter
        offset = 0
        if sep := _SEP_LINE.fullmatch(first_line.rstrip("\r\n")):
            delimiter, offset = sep.group(1), 1
        else:
            lines = itertools.chain([first_line], lines)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        end = offset
        try:
            for row in reader:
                start, end = end + 1, reader.line_num + offset
                cells = [_unwrap(cell) for cell in row]
                if not any(cells):
                    continue
                if not self.columns:
                    self._find_columns(cells, start)
                    if self.layout.header:
                        continue
                yield start, end, self._values(cells)
        except csv.Error as exc:
            raise self._syntax(reader.line_num + offset, None, f"not CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            # The text is decoded a block at a time: the line is where the block starts.
            raise self._syntax(
                end + 1, None, f"not {self.layout.encoding} text ({exc.reason})"
            ) from None

    def _find_columns(self, cells: list[str], lineno: int) -> None:
        if not self.layout.header:  # every column is a number (the layout checked)
            self.columns = {
                name: where for name, where in self.layout.columns.items() if isinstance(where, int)
            }
            return
        found = self.layout.resolve(cells)
        if found is None:
            keys = {_header_key(cell) for cell in cells}
            missing = [
                name
                for name, where in self.layout.columns.items()
                if not isinstance(where, int) and not keys & set(where)
            ]
            raise self._syntax(
                lineno, "header", f"the header row lacks the layout's {', '.join(missing)}"
            )
        self.columns = found

    def _values(self, cells: list[str]) -> dict[str, str]:
        width = len(cells)
        return {
            name: cells[column].strip() if column < width else ""
            for name, column in self.columns.items()
        }

    # ---- checks ----------------------------------------------------------------

    def _invoice_line(self, check: _Check, values: Mapping[str, str], lineno: int) -> None:
        invoice = values.get("invoice", "")
        amount = self._money(values, "invoice_amount", lineno)
        discount = self._money(values, "discount", lineno)
        if not invoice and amount is None and discount is None:
            return
        entry = " ".join(
            part
            for part in (
                invoice,
                str(amount) if amount is not None else "",
                f"discount {discount}" if discount is not None else "",
            )
            if part
        )
        check.entries.append(entry)
        if invoice:
            check.invoices.append(invoice)
            if amount is not None:
                check.amounts.append((invoice, amount))

    def _transaction(self, check: _Check) -> Transaction:
        values = check.values
        routing, account = values.get("routing", ""), values.get("account", "")
        number = values.get("check_number", "").lstrip("0")
        batch_item = f"{values.get('batch', '')}/{values.get('item', '')}"
        deposit_date = self._date(values, check.first_line)
        return Transaction(
            amount=check.amount,
            direction=Direction.CREDIT,
            first_line=check.first_line,
            last_line=check.last_line,
            value_date=deposit_date,
            entry_date=deposit_date,
            bank_reference=number or (batch_item if batch_item != "/" else None),
            payer_name=values.get("remitter") or None,
            payer_account=f"{routing}/{account}"
            if routing and account
            else routing or account or None,
            remittance="; ".join(check.entries),
            invoice_refs=tuple(check.invoices),
            invoice_amounts=tuple(dict(check.amounts).items()),
        )

    def _statement(
        self, key: tuple[str, str], transactions: list[Transaction]
    ) -> tuple[Any, Statement]:
        deposit_date = transactions[0].value_date if transactions else None
        statement = Statement(
            account=key[0],
            currency=self.layout.currency,
            date=deposit_date,
            opening_balance=None,
            closing_balance=None,
            transactions=tuple(transactions),
        )
        return header_of(statement, FORMAT), statement

    # ---- values ----------------------------------------------------------------

    def _money(
        self, values: Mapping[str, str], name: str, lineno: int, *, required: bool = False
    ) -> Money | None:
        """An amount cell in integer minor units; None when blank (an error if `required`)."""
        written = values.get(name, "")
        text = written.replace("\u00a0", "").replace(" ", "")
        if self.layout.thousands_separator:
            text = text.replace(self.layout.thousands_separator, "")
        if self.layout.decimal_separator == ",":
            text = text.replace(",", ".")
        if not text:
            if required:
                raise self._syntax(lineno, name, "expected an amount, found nothing")
            return None
        if _NUMBER.fullmatch(text) is None or (name == "check_amount" and text.startswith("-")):
            raise self._syntax(lineno, name, f"expected an amount, found {written!r}")
        try:
            return Money.parse(text, self.layout.currency)
        except MoneyError as exc:
            raise self._syntax(lineno, name, str(exc)) from None

    def _date(self, values: Mapping[str, str], lineno: int) -> date | None:
        written = values.get("deposit_date", "")
        if not written:
            return None
        if written not in self.dates:
            try:
                self.dates[written] = datetime.strptime(written, self.layout.date_format).date()
            except ValueError:
                raise self._syntax(
                    lineno, "deposit_date",
                    f"{written!r} is not a date in {self.layout.date_format!r}",
                ) from None  # fmt: skip
        return self.dates[written]

    def _syntax(self, lineno: int, field: str | None, message: str) -> BankFileSyntaxError:
        return BankFileSyntaxError(message, file=self.file_name, line=lineno, field=field)

    def _integrity(self, lineno: int, field: str, message: str) -> BankFileIntegrityError:
        return BankFileIntegrityError(message, file=self.file_name, line=lineno, field=field)


def _unwrap(cell: str) -> str:
    """A cell as Excel meant it: `="00123"` (text kept with its leading zeros) is 00123."""
    if cell.startswith('="') and cell.endswith('"') and len(cell) >= 3:
        return cell[2:-1]
    return cell
