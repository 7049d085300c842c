"""CSV remittance advices (what customers upload or e-mail) to `RemittanceAdvice`s.

Every sender's export differs, so the layout is data: a `CsvLayout` read from a TOML file
(`mappings/remittance/default.toml` ships the default) names the header aliases of each
field, the delimiter, the decimal comma, the date format and the default currency.

One row is one invoice line. Rows with the same advice id (or, without that column, the
same trace, payer, date, amount and currency) form one advice, in order of first
appearance. The advice's amount is the payment amount column, else the sum of the lines'
amounts paid; when both are there they must agree (`AdviceIntegrityError`). Errors name the
file, the 1-based row and the column as the header spells it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import mappings
from cash_application.remittance_advices.errors import AdviceIntegrityError, AdviceSyntaxError
from cash_application.remittance_advices.ids import advice_id_for
from mappings.money import Money, MoneyError, currency_exponent
from mappings.records import RemittanceAdvice, RemittanceLine, SourceRef
from mappings.toml_file import read_toml

FORMAT = "csv.remittance"
DEFAULT_LAYOUT_PATH = Path(mappings.__file__).parent / "remittance" / "default.toml"
FIELDS = (
    "advice_id",
    "payer_name",
    "payer_id",
    "payer_account",
    "payment_date",
    "payment_amount",
    "currency",
    "trace",
    "invoice",
    "amount_paid",
    "discount",
    "reason_code",
)
# A header is an advice layout's when it has the invoice, an amount and something to link by.
_LINKING = ("trace", "payer_name", "payer_id", "payer_account")
# Without an advice id column, the rows of one advice share these.
_GROUP_BY = (*_LINKING, "payment_date", "currency", "payment_amount")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SETTINGS = {"delimiter", "decimal_comma", "date_format", "currency", "encoding", "columns"}


class RemittanceLayoutError(ValueError):
    """A layout file that is not usable; names the file and every bad key at once."""


def _header_key(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Where a CSV remittance advice keeps each field (see `default.toml`)."""

    delimiter: str
    decimal_comma: bool
    date_format: str
    currency: str
    encoding: str
    columns: Mapping[str, tuple[str, ...]]  # field -> header aliases, as header keys

    @classmethod
    def load(cls, path: Path | None = None) -> CsvLayout:
        """Read a layout file (default: the shipped `default.toml`)."""
        source = path or DEFAULT_LAYOUT_PATH
        raw = read_toml(source, RemittanceLayoutError)
        return cls.from_dict(raw, source=str(source))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, source: str = "<layout>") -> CsvLayout:
        """A layout from parsed TOML; every problem reported at once with its key path."""
        problems = [f"{key}: unknown key" for key in sorted(set(raw) - _SETTINGS)]
        delimiter = raw.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            problems.append(f"delimiter: expected one character, found {delimiter!r}")
        decimal_comma = raw.get("decimal_comma", False)
        if not isinstance(decimal_comma, bool):
            problems.append(f"decimal_comma: expected true or false, found {decimal_comma!r}")
        elif decimal_comma and delimiter == ",":
            problems.append("delimiter: a decimal comma needs another delimiter, such as ';'")
        date_format = raw.get("date_format", "%Y-%m-%d")
        if not isinstance(date_format, str) or "%" not in date_format:
            problems.append(f"date_format: expected strptime codes, found {date_format!r}")
        currency = raw.get("currency", "USD")
        try:
            currency_exponent(currency)
            currency = currency.upper()
        except (MoneyError, TypeError, AttributeError):
            problems.append(f"currency: expected an ISO 4217 code, found {currency!r}")
        encoding = raw.get("encoding", "utf-8")
        if not isinstance(encoding, str):
            problems.append(f"encoding: expected a codec name, found {encoding!r}")
        table = raw.get("columns", {})
        columns: dict[str, tuple[str, ...]] = {}
        if not isinstance(table, Mapping):
            problems.append("columns: expected a table of field = [header names]")
            table = {}
        for name, aliases in table.items():
            if name not in FIELDS:
                problems.append(f"columns.{name}: unknown field (known: {', '.join(FIELDS)})")
            elif not (
                isinstance(aliases, list)
                and aliases
                and all(isinstance(a, str) and _header_key(a) for a in aliases)
            ):
                problems.append(f"columns.{name}: expected a list of header names")
            else:
                columns[name] = tuple(_header_key(a) for a in aliases)
        for name in ("invoice", "payment_date"):
            if name not in columns:
                problems.append(f"columns.{name}: missing")
        if "payment_amount" not in columns and "amount_paid" not in columns:
            problems.append("columns: needs `payment_amount` or `amount_paid`")
        if problems:
            raise RemittanceLayoutError(f"{source}: " + "; ".join(problems))
        return cls(delimiter, decimal_comma, date_format, currency, encoding, columns)

    def resolve(self, header: Sequence[str]) -> dict[str, int] | None:
        """Field -> column index for `header`, or None when it is not this layout's."""
        keys = [_header_key(name) for name in header]
        found: dict[str, int] = {}
        for name, aliases in self.columns.items():
            for alias in aliases:
                if alias in keys and keys.index(alias) not in found.values():
                    found[name] = keys.index(alias)
                    break
        has_amount = "payment_amount" in found or "amount_paid" in found
        linked = any(name in found for name in _LINKING)
        return found if "invoice" in found and has_amount and linked else None


DEFAULT_LAYOUT = CsvLayout.load()


def _rows(data: bytes, layout: CsvLayout, file_name: str) -> list[list[str]]:
    try:
        text = data.decode(layout.encoding).lstrip("\ufeff")
    except (UnicodeDecodeError, LookupError) as exc:
        raise AdviceSyntaxError(
            f"not {layout.encoding} text ({exc})", file=file_name, line=1, field=None
        ) from None
    try:
        return list(csv.reader(io.StringIO(text), delimiter=layout.delimiter, strict=True))
    except csv.Error as exc:
        raise AdviceSyntaxError(str(exc), file=file_name, line=None, field=None) from None


def looks_like_csv_advice(head: bytes, layout: CsvLayout = DEFAULT_LAYOUT) -> bool:
    """Whether the first line of `head` is a header of `layout`."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header = next(csv.reader([first.decode(layout.encoding)], delimiter=layout.delimiter))
    except (UnicodeDecodeError, LookupError, csv.Error, StopIteration):
        return False
    return layout.resolve(header) is not None


@dataclass(slots=True)
class _Group:
    first_row: int
    last_row: int
    values: dict[str, str]
    amount: Money | None
    lines: list[RemittanceLine]


class _Reader:
    def __init__(
        self, file_name: str, layout: CsvLayout, header: Sequence[str], columns: dict[str, int]
    ) -> None:
        self.file_name = file_name
        self.layout = layout
        self.header = header
        self.columns = columns

    def column(self, name: str) -> str:
        """The column of field `name` as the file's header spells it."""
        return self.header[self.columns[name]]

    def error(self, row: int, name: str | None, message: str) -> AdviceSyntaxError:
        column = self.column(name) if name else None
        return AdviceSyntaxError(message, file=self.file_name, line=row, field=column)

    def money(self, values: Mapping[str, str], name: str, currency: str, row: int) -> Money | None:
        text = values.get(name, "").replace(" ", "").replace("\u00a0", "")
        if not text:
            return None
        if self.layout.decimal_comma:
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
        try:
            return Money.parse(text, currency)
        except MoneyError as exc:
            raise self.error(row, name, str(exc)) from None

    def day(self, values: Mapping[str, str], row: int) -> date:
        text = values.get("payment_date", "")
        if not text:
            raise self.error(row, "payment_date", "a payment date is required")
        try:
            return datetime.strptime(text, self.layout.date_format).date()
        except ValueError:
            raise self.error(
                row, "payment_date", f"expected a date as {self.layout.date_format}, found {text!r}"
            ) from None


def parse_csv_advices(
    data: bytes, file_name: str, *, file_digest: str, layout: CsvLayout = DEFAULT_LAYOUT
) -> list[RemittanceAdvice]:
    """Every advice of a CSV remittance file, grouped from its invoice lines."""
    rows = _rows(data, layout, file_name)
    if not rows:
        raise AdviceSyntaxError("empty file", file=file_name, line=1, field=None)
    header = rows[0]
    columns = layout.resolve(header)
    if columns is None:
        raise AdviceSyntaxError(
            "the header is not the remittance layout's (needs an invoice column, an amount "
            "and a trace or payer column)",
            file=file_name,
            line=1,
            field=None,
        )
    reader = _Reader(file_name, layout, header, columns)
    groups: dict[tuple[str, ...], _Group] = {}
    for number, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        values = {
            name: row[index].strip() if index < len(row) else "" for name, index in columns.items()
        }
        currency = values.get("currency") or layout.currency
        if not values["invoice"]:
            raise reader.error(number, "invoice", "an invoice line needs its invoice number")
        reader.day(values, number)
        amount = reader.money(values, "payment_amount", currency, number)
        key = (
            ("id", values["advice_id"])
            if values.get("advice_id")
            else tuple(values.get(name, "") for name in _GROUP_BY)
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(number, number, values, amount, [])
        elif amount is not None and amount != group.amount:
            raise AdviceIntegrityError(
                f"payment amount {amount} differs from {group.amount} on row {group.first_row} "
                "of the same advice",
                file=file_name,
                line=number,
                field=reader.column("payment_amount"),
            )
        group.last_row = number
        group.lines.append(
            RemittanceLine(
                values["invoice"],
                reader.money(values, "amount_paid", currency, number),
                reader.money(values, "discount", currency, number),
                values.get("reason_code") or None,
            )
        )
    return [
        _advice(group, position, reader, file_digest)
        for position, group in enumerate(groups.values(), 1)
    ]


def _advice(group: _Group, position: int, reader: _Reader, file_digest: str) -> RemittanceAdvice:
    values = group.values
    paid = [line.amount_paid for line in group.lines if line.amount_paid is not None]
    total = None
    if paid and len(paid) == len(group.lines):
        total = Money(sum(p.minor for p in paid), paid[0].currency)
    amount = group.amount or total
    if amount is None:
        raise reader.error(group.first_row, None, "no payment amount and no amount paid per line")
    if total is not None and group.amount is not None and total != group.amount:
        raise AdviceIntegrityError(
            f"payment amount {group.amount} but the lines' amounts paid sum to {total}",
            file=reader.file_name,
            line=group.first_row,
            field=reader.column("amount_paid"),
        )
    trace = values.get("trace") or None
    name = values.get("advice_id") or (f"TRN {trace}" if trace else f"row {group.first_row}")
    return RemittanceAdvice(
        advice_id=advice_id_for(file_digest, position),
        amount=amount,
        source=SourceRef(file_digest, reader.file_name, FORMAT, group.first_row, group.last_row),
        document=f"CSV advice {name}",
        payment_date=reader.day(values, group.first_row),
        trace=trace,
        payer_name=values.get("payer_name") or None,
        payer_id=values.get("payer_id") or None,
        payer_account=values.get("payer_account") or None,
        lines=tuple(group.lines),
    )
