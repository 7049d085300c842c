"""BAI2 bank files (BAI Cash Management Balance Reporting, version 2) to statements.

A BAI2 file reports balances and transactions of bank accounts as comma-separated
records: 01 file header, 02 group header (one as-of date), 03 account identifier
with its balances and summaries, 16 transaction detail, 49 account trailer, 98
group trailer, 99 file trailer, and 88 continuation of whichever record precedes
it. `parse_bai2` reads the bytes in one pass over the lines and returns a
`ParsedFile`: one `Statement` per 03..49 account, one `Transaction` per 16 record.
Control totals and record counts of the 49, 98 and 99 trailers are checked while
parsing (spec section "Control totals and record counts"); a syntax problem raises
`BankFileSyntaxError`, a total or count that disagrees `BankFileIntegrityError`,
both naming the file, the 1-based physical line and the field.

The core follows the specification. Deviations seen in real files are named
quirks, each tested with the corpus file it comes from:

    quirk                      what it tolerates                         sample file
    several-records-per-line   ``.../ 16,...``: records sharing a line   moov-io sample3
    wrapped-text-line          a 16's text going on in a line with no    moov-io sample3
                               record code (not counted as a record)
    continuation-colon         ``88:`` written for ``88,``               moov-io sample5-issue113
    trailing-comma-slash       ``,/`` ending an 03 that an 88 continues  ministryofjustice svb_us

Records that end at the newline without ``/`` (Goldman Sachs, SVB wire texts,
Westpac) are not a quirk: the text field is the last field and runs to the end of
the record, which may contain ``,`` and ``/``.

Speed: one pass over the lines with the state in local variables; each 16 record
takes one `str.split` in the common shapes; a `Transaction` (a msgspec Struct) is built
with one positional call, and the cycle collector waits while a large file is read
(`parse_bai2`). Reading payer and remittance from the text
(`remittance_text.detail_values`, RMR segments read once) is the largest single cost
per detail record. Type codes (per process) and payer names (per account) are shared,
not copied per record.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from itertools import chain
from typing import BinaryIO

from cash_application.bank_files import builders
from cash_application.bank_files.bai2_codes import TypeCodeError, detail_direction
from cash_application.bank_files.errors import BankFileIntegrityError, BankFileSyntaxError
from cash_application.bank_files.records import Direction, ParsedFile, Statement, Transaction
from cash_application.bank_files.remittance_text import detail_values
from cash_application.bank_files.streaming import (
    BLOCK_BYTES,
    FileSummary,
    Source,
    StatementStream,
    as_stream,
    header_of,
    hold,
    line_blocks,
    stream_encoding,
)
from mappings.money import Money, MoneyError, currency_exponent

FORMAT = "bai2"

# A record starts with its code and a comma (88 continuations are handled apart).
_RECORD_HEADS = frozenset({"01,", "02,", "03,", "16,", "49,", "98,", "99,"})
# Funds types that add no fields (0, 1, 2 days of availability; Z unknown; blank = Z).
_PLAIN_FUNDS = frozenset({"", "0", "1", "2", "Z"})
# Longest amount we read: 30 digits is far beyond any balance and keeps `int` cheap.
_MAX_AMOUNT_DIGITS = 30

# Where the parser is in the file: which record codes may come next.
_BEFORE_FILE, _IN_FILE, _IN_GROUP, _IN_ACCOUNT, _AFTER_FILE = range(5)
_EXPECTED = {
    _BEFORE_FILE: "the file header `01`",
    _IN_FILE: "a group header `02` or the file trailer `99`",
    _IN_GROUP: "an account identifier `03` or a group trailer `98`",
    _IN_ACCOUNT: "a transaction detail `16` or an account trailer `49`",
    _AFTER_FILE: "nothing after the file trailer `99`",
}

# Sentinel after the last line: line number 0 and a record code, so that reaching it
# completes the last pending record like any next record would.
_END_OF_INPUT = (0, "99,")

# Quirk several-records-per-line: a record end `/`, blanks, then the next record's code.
_EMBEDDED_RECORD = re.compile(r"/[ \t]+(?=(?:0[123]|16|49|88|98|99)[,:])")
# Which record may follow which (an 88 continues its parent and may repeat).
_SUCCESSORS = {
    "01": frozenset({"02", "88"}),
    "02": frozenset({"03", "98", "88"}),
    "03": frozenset({"16", "49", "88"}),
    "16": frozenset({"16", "49", "88"}),
    "49": frozenset({"03", "98", "88"}),
    "98": frozenset({"02", "99", "88"}),
    "99": frozenset({"88"}),
}


def _build_kinds() -> dict[str, tuple[str, Direction, bool]]:
    """(code, direction, is a credit) of every type code a 16 record may carry, looked
    up once per record; the code string is this one, shared by every record."""
    kinds: dict[str, tuple[str, Direction, bool]] = {}
    for number in range(1000):
        code = f"{number:03d}"
        try:
            direction = detail_direction(code)
        except TypeCodeError:
            continue
        kinds[code] = (code, direction, direction is Direction.CREDIT)
    return kinds


_KINDS = _build_kinds()


def parse_bai2(data: bytes, file_name: str, *, check_integrity: bool = True) -> ParsedFile:
    """Parse a whole BAI2 file into statements and transactions (format "bai2").

    Raises `BankFileSyntaxError` for anything that is not well-formed BAI2
    (including an empty or truncated file) and, when `check_integrity` is true,
    `BankFileIntegrityError` for a control total or record count that disagrees
    with the records. A trailer field left blank is not checked.
    """
    return hold(iter_bai2(data, file_name, check_integrity=check_integrity))


def iter_bai2(source: Source, file_name: str, *, check_integrity: bool = True) -> StatementStream:
    """Parse a BAI2 file one account at a time: `(StatementHeader, Statement)` per 03..49.

    `source` is the file's bytes or a binary stream, read a block at a time: memory
    holds one account's transactions, whatever the file size. Errors are those of
    `parse_bai2`, raised when the parser reaches them (a file trailer's totals last).
    Returns the file's `FileSummary`.
    """
    lines = chain.from_iterable(_blocks(as_stream(source)))
    return _statements(lines, file_name, check_integrity)


def _statements(
    source: Iterable[tuple[int, str]], file_name: str, check_integrity: bool
) -> StatementStream:
    """The whole parse over numbered lines; see `parse_bai2` and `iter_bai2`."""
    state = _BEFORE_FILE
    # Record counts: `records` counts every logical record and 88 read so far; a
    # trailer's expected count is `records` minus its value when the level began.
    records = group_start = account_start = 0
    groups = accounts_in_group = 0
    file_total = group_total = account_total = 0
    as_of: date | None = None
    group_currency: str | None = None
    account = currency = ""
    opening: int | None = None
    closing: int | None = None
    transactions: list[Transaction] = []
    test_only = group_test = False
    dates: dict[str, date] = {}
    # Payer names and accounts of the current account, each string kept once (per account,
    # so a streamed file holds no more than one account's worth).
    names: dict[str, str] = {}
    kinds = _KINDS
    new_transaction = Transaction
    new_money = builders.new_money
    extract = detail_values
    plain_funds = _PLAIN_FUNDS
    record_heads = _RECORD_HEADS
    clean_text = _clean_text
    continuations: Sequence[str] = ()

    # The record being read: it is complete when the next record that is not an 88 starts.
    p_code: str | None = None  # its head: record code and comma, "16,"
    p_body = ""
    p_first = p_last = 0
    p_more: list[tuple[int, str]] | None = None
    p_wrapped = 0  # quirk wrapped-text-line: pieces in p_more that are not 88 records
    last_line = 0

    for lineno, raw in chain(source, (_END_OF_INPUT,)):
        line = raw.rstrip(" \t\r\x1a")  # \x1a: DOS end-of-file mark
        if not line:
            continue
        head = line[:3]
        # Quirk continuation-colon: "88:" for "88,".
        if head == "88," or head == "88:":
            if p_code is None:
                raise _syntax(file_name, lineno, "record_code", "an `88` continues no record")
            if p_more is None:
                p_more = [(lineno, line[3:])]
            else:
                p_more.append((lineno, line[3:]))
            p_last = lineno
            continue
        if head not in record_heads:
            if p_code == "16," and not (p_more[-1][1] if p_more else p_body).endswith("/"):
                # Quirk wrapped-text-line: the previous line ended without `/` inside the
                # text; this line carries on that text. It is not a record, so not counted.
                if p_more is None:
                    p_more = [(lineno, line)]
                else:
                    p_more.append((lineno, line))
                p_wrapped += 1
                p_last = lineno
                continue
            raise _syntax(
                file_name, lineno, "record_code",
                f"expected {_EXPECTED[state]}, found a line starting {line[:3]!r}",
            )  # fmt: skip

        # ---- the pending record is complete: interpret it -------------------------
        if p_code == "16,":
            if state != _IN_ACCOUNT:
                raise _out_of_place(file_name, p_first, state, p_code)
            # The common shapes take one split: funds type 0/1/2/Z/blank, or V with its
            # date and time, and the text reached on the 16 line itself (88s, if any,
            # continue the text). Every other shape goes through `_detail_fields`.
            value_date = as_of
            parts = p_body.split(",", 5)
            if len(parts) == 6 and parts[2] in plain_funds:
                type_code, amount, _, bank_ref, customer_ref, detail_text = parts
                simple = True
            elif len(parts) == 6 and parts[2] == "V" and len(parts := p_body.split(",", 7)) == 8:
                type_code, amount, _, value_text, _, bank_ref, customer_ref, detail_text = parts
                if value_text:
                    value_date = dates.get(value_text) or _date(
                        dates, value_text, file_name, p_first, "value_date"
                    )
                simple = True
            else:
                (type_code, amount, value_text, bank_ref, customer_ref, detail_text,
                 continuations) = _detail_fields(file_name, p_first, p_body, p_more)  # fmt: skip
                if value_text:
                    value_date = dates.get(value_text) or _date(
                        dates, value_text, file_name, p_first, "value_date"
                    )
                simple = False
            if simple:
                # The line is right-stripped: only a `/` end or leading blanks need cleaning.
                if detail_text[-1:] == "/" or detail_text[:1] == " ":
                    detail_text = clean_text(detail_text)
                if p_more is None:
                    continuations = ()
                elif len(p_more) == 1:  # one 88, the common case: no comprehension call
                    body = p_more[0][1]
                    if body[-1:] == "/" or body[:1] == " ":
                        body = clean_text(body)
                    continuations = (body,)
                else:
                    continuations = [
                        clean_text(body) if body[-1:] == "/" or body[:1] == " " else body
                        for _, body in p_more
                    ]
            if p_more is None:
                records += 1
            else:
                records += 1 + len(p_more) - p_wrapped
            kind = kinds.get(type_code)
            if kind is None:
                raise _bad_type_code(file_name, p_first, type_code)
            type_code, direction, is_credit = kind  # the file's code string for one shared
            if amount.isdecimal() and amount.isascii() and len(amount) <= _MAX_AMOUNT_DIGITS:
                minor = int(amount)
            else:
                minor = _detail_amount(file_name, p_first, amount)
            account_total += minor
            # Invoice references come from RMR segments only, which may carry amounts.
            money = new_money(minor, currency)
            payer_name, payer_account, remittance, invoice_refs, end_to_end_id, invoice_amounts = (
                extract(detail_text, continuations, is_credit, money)
            )
            if payer_name is not None:  # a payer pays many times: keep one copy
                payer_name = names.setdefault(payer_name, payer_name)
                if payer_account is not None:
                    payer_account = names.setdefault(payer_account, payer_account)
            transactions.append(
                new_transaction(
                    money, direction, p_first, p_last, value_date, as_of,
                    type_code, bank_ref.strip() or None, customer_ref.strip() or None,
                    end_to_end_id, payer_name, payer_account, remittance, invoice_refs, False,
                    True, None, invoice_amounts,
                )
            )  # fmt: skip
        elif p_code == "03,":
            if state != _IN_GROUP:
                raise _out_of_place(file_name, p_first, state, p_code)
            account_start = records
            records += 1 + (len(p_more) if p_more else 0)
            account, currency, opening, closing, account_total = _read_account(
                file_name, p_first, p_body, p_more, group_currency
            )
            accounts_in_group += 1
            transactions = []
            names = {}
            state = _IN_ACCOUNT
        elif p_code == "49,":
            if state != _IN_ACCOUNT:
                raise _out_of_place(file_name, p_first, state, p_code)
            records += 1 + (len(p_more) if p_more else 0)
            _read_trailer(file_name, _Fields(p_first, p_body, p_more), check_integrity, (
                ("account_control_total", account_total, "the sum of the account's amount fields"),
                ("account_record_count", records - account_start,
                 "records from the `03` to this `49`"),
            ))  # fmt: skip
            statement = Statement(
                account=account,
                currency=currency,
                date=as_of,
                opening_balance=None if opening is None else Money(opening, currency),
                closing_balance=None if closing is None else Money(closing, currency),
                transactions=tuple(transactions),
            )
            yield header_of(statement, FORMAT, group_test), statement
            transactions = []
            group_total += account_total
            state = _IN_GROUP
        elif p_code == "02,":
            if state != _IN_FILE:
                raise _out_of_place(file_name, p_first, state, p_code)
            group_start = records
            records += 1 + (len(p_more) if p_more else 0)
            as_of, group_currency, group_status = _read_group_header(
                file_name, p_first, p_body, p_more, dates
            )
            group_test = group_status == "4"
            test_only = test_only or group_test
            groups += 1
            accounts_in_group = 0
            group_total = 0
            state = _IN_GROUP
        elif p_code == "98,":
            if state != _IN_GROUP:
                raise _out_of_place(file_name, p_first, state, p_code)
            records += 1 + (len(p_more) if p_more else 0)
            _read_trailer(file_name, _Fields(p_first, p_body, p_more), check_integrity, (
                ("group_control_total", group_total, "the sum of the group's account totals"),
                ("group_account_count", accounts_in_group, "accounts in the group"),
                ("group_record_count", records - group_start,
                 "records from the `02` to this `98`"),
            ))  # fmt: skip
            file_total += group_total
            state = _IN_FILE
        elif p_code == "01,":
            if state != _BEFORE_FILE:
                raise _out_of_place(file_name, p_first, state, p_code)
            records += 1 + (len(p_more) if p_more else 0)
            _read_file_header(file_name, p_first, p_body, p_more)
            state = _IN_FILE
        elif p_code == "99,":
            if state != _IN_FILE:
                raise _out_of_place(file_name, p_first, state, p_code)
            records += 1 + (len(p_more) if p_more else 0)
            _read_trailer(file_name, _Fields(p_first, p_body, p_more), check_integrity, (
                ("file_control_total", file_total, "the sum of the file's group totals"),
                ("file_group_count", groups, "groups in the file"),
                ("file_record_count", records, "records in the file"),
            ))  # fmt: skip
            state = _AFTER_FILE

        if lineno == 0:  # the end-of-input sentinel: the last record is complete
            break
        if state == _BEFORE_FILE and p_code is None and head != "01,":
            raise _out_of_place(file_name, lineno, state, head)
        p_code = head
        p_body = line[3:]
        p_first = p_last = last_line = lineno
        p_more = None
        p_wrapped = 0

    if p_code is None:
        raise _syntax(file_name, 1, "record_code", "the file is empty; expected a `01` header")
    if state != _AFTER_FILE:
        raise _syntax(
            file_name, max(last_line, p_last), "record_code",
            f"the file ends early: expected {_EXPECTED[state]}",
        )  # fmt: skip
    return FileSummary(FORMAT, test_only)


# ---- record readers (one call per 01/02/03/49/98/99 record, and per unusual 16) ----


class _Fields:
    """Cursor over one logical record's comma-separated fields, across its 88 continuations.

    A record ends at `/` (BAI2 "delimiter"); an 88 continues the field list where
    the previous piece stopped. `line` is the physical line of the last field read,
    so an error points at the 88 that holds the bad field.
    """

    __slots__ = ("_next_piece", "_pieces", "_pos", "_tokens", "line")

    def __init__(self, line: int, body: str, more: Sequence[tuple[int, str]] | None) -> None:
        self._pieces: Sequence[tuple[int, str]] = more or ()
        self._next_piece = 0
        self.line = line
        self._tokens = _without_end_mark(body).split(",")
        self._pos = 0

    def _load_next_piece(self) -> bool:
        if self._next_piece >= len(self._pieces):
            return False
        self.line, body = self._pieces[self._next_piece]
        self._next_piece += 1
        self._tokens = _without_end_mark(body).split(",")
        self._pos = 0
        return True

    def take(self) -> str | None:
        """The next field, stripped; None once the record and its continuations are used up."""
        while self._pos >= len(self._tokens):
            if not self._load_next_piece():
                return None
        token = self._tokens[self._pos]
        self._pos += 1
        return token.strip()

    def skip_blank_tail(self, at_most: int) -> None:
        """Quirk trailing-comma-slash: drop blank fields left by a `,/` before an 88.

        Some banks end every record with `,/`, so the empty field before the `/` is
        an artifact, not a value. When at most `at_most` blank fields remain in this
        piece and an 88 follows, the next field is the 88's first.
        """
        rest = self._tokens[self._pos :]
        if (
            len(rest) <= at_most
            and self._next_piece < len(self._pieces)
            and not any(token.strip() for token in rest)
        ):
            self._pos = len(self._tokens)

    def text(self) -> str | None:
        """The rest of the record as free text (commas kept); None if it ended before."""
        while self._pos >= len(self._tokens):
            if not self._load_next_piece():
                return None
        text = ",".join(self._tokens[self._pos :])
        self._pos = len(self._tokens)
        return text

    def remaining_pieces(self) -> list[str]:
        """Bodies of the continuations not read yet (text continuations of a 16)."""
        rest = [body for _, body in self._pieces[self._next_piece :]]
        self._next_piece = len(self._pieces)
        return rest


def _detail_fields(
    file_name: str, line: int, body: str, more: Sequence[tuple[int, str]] | None
) -> tuple[str, str, str, str, str, str, list[str]]:
    """Fields of a 16 record (spec "16 Transaction Detail") in any of its shapes.

    Returns type code, amount, value date text (V funds only, else ""), bank
    reference, customer reference, text, and the texts of the 88 records that
    continue the text. The funds type decides how many fields follow the amount:
    S adds three availability amounts, V a value date and time, D a count and
    that many (days, amount) pairs.
    """
    fields = _Fields(line, body, more)
    type_code = fields.take() or ""
    amount = fields.take()
    if not amount:
        raise _syntax(file_name, fields.line, "amount", "a transaction detail needs an amount")
    funds_type = fields.take() or ""
    # Plain funds types add no fields: checked inline, it is most records' path.
    value_text = "" if funds_type in _PLAIN_FUNDS else _read_funds(fields, file_name, funds_type)
    # No trailing-comma-slash tolerance here: `16,699,971,,,/` followed by an 88 is a
    # blank customer reference and then the text in the 88 (NatWest, SVB samples).
    bank_ref = fields.take() or ""
    customer_ref = fields.take() or ""
    text = fields.text()
    continuations = [_clean_text(piece) for piece in fields.remaining_pieces()]
    return (
        type_code, amount, value_text, bank_ref, customer_ref,
        "" if text is None else _clean_text(text), continuations,
    )  # fmt: skip


def _read_account(
    file_name: str,
    line: int,
    body: str,
    more: Sequence[tuple[int, str]] | None,
    group_currency: str | None,
) -> tuple[str, str, int | None, int | None, int]:
    """Read a 03 record (spec "03 Account Identifier and Summary Status").

    Returns account number, currency, opening ledger (010) and closing ledger
    (015) in minor units when reported, and the account's running control total:
    the algebraic sum of the record's amount fields (not item counts, not the
    amounts inside funds-type distributions).
    """
    fields = _Fields(line, body, more)
    account = fields.take() or ""
    if not account:
        raise _syntax(file_name, fields.line, "account", "an `03` needs an account number")
    currency = _currency(fields.take() or group_currency or "USD", file_name, fields.line)
    opening = closing = None
    total = 0
    while True:
        fields.skip_blank_tail(3)
        type_code = fields.take()
        if type_code is None:
            break
        amount_text = fields.take() or ""
        item_count = fields.take() or ""
        funds_type = fields.take() or ""
        if funds_type not in _PLAIN_FUNDS:
            _read_funds(fields, file_name, funds_type)
        if item_count and not (item_count.isascii() and item_count.isdigit()):
            raise _syntax(
                file_name, fields.line, "item_count", f"must be digits, found {item_count!r}"
            )
        if not type_code:
            if amount_text:
                raise _syntax(file_name, fields.line, "type_code", "an amount without a type code")
            continue  # a summary left blank: `03,123,USD,,,,,060,...`
        if len(type_code) != 3 or not (type_code.isascii() and type_code.isdigit()):
            raise _syntax(
                file_name, fields.line, "type_code", f"must be three digits, found {type_code!r}"
            )
        amount = _signed_amount(amount_text, file_name, fields.line, "amount")
        if amount is None:
            continue
        total += amount
        if type_code == "010":
            opening = amount
        elif type_code == "015":
            closing = amount
    return account, currency, opening, closing, total


def _read_group_header(
    file_name: str,
    line: int,
    body: str,
    more: Sequence[tuple[int, str]] | None,
    dates: dict[str, date],
) -> tuple[date, str | None, str]:
    """Read a 02 record (spec "02 Group Header"): as-of date, currency and group status
    (1 update, 2 deletion, 3 correction, 4 test only)."""
    fields = _Fields(line, body, more)
    fields.take()  # ultimate receiver
    fields.take()  # originator
    status = fields.take() or ""
    if status not in ("", "1", "2", "3", "4"):
        raise _syntax(
            file_name, fields.line, "group_status", f"must be 1, 2, 3 or 4, found {status!r}"
        )
    as_of_text = fields.take() or ""
    if not as_of_text:
        raise _syntax(file_name, fields.line, "as_of_date", "a group header needs an as-of date")
    as_of = dates.get(as_of_text) or _date(dates, as_of_text, file_name, fields.line, "as_of_date")
    fields.take()  # as-of time: reference only
    currency_text = fields.take() or ""
    currency = _currency(currency_text, file_name, fields.line) if currency_text else None
    return as_of, currency, status


def _read_file_header(
    file_name: str, line: int, body: str, more: Sequence[tuple[int, str]] | None
) -> None:
    """Check a 01 record (spec "01 File Header"); nothing in it is needed downstream."""
    fields = _Fields(line, body, more)
    fields.take()  # sender
    fields.take()  # receiver
    created = fields.take() or ""
    if created and not _is_yymmdd(created):
        raise _syntax(file_name, fields.line, "creation_date", f"must be YYMMDD, found {created!r}")
    for _ in range(4):  # creation time, file id, physical record length, block size
        fields.take()
    version = fields.take() or ""
    if version not in ("", "2"):
        raise _syntax(
            file_name, fields.line, "version", f"only BAI version 2 is read, found {version!r}"
        )


# ---- field helpers ------------------------------------------------------------------


def _read_funds(fields: _Fields, file_name: str, funds_type: str) -> str:
    """Consume the fields a funds type adds (spec "Funds Type"): S three availability
    amounts, V a value date and time, D a count and that many (days, amount) pairs.
    Return V's value date text ("" for the others)."""
    if funds_type == "V":
        value_text = fields.take() or ""
        fields.take()  # value time: reference only
        return value_text
    if funds_type == "S":
        for _ in range(3):
            _availability_amount(fields, file_name)
        return ""
    if funds_type == "D":
        for _ in range(_distribution_count(fields, file_name)):
            _distribution_days(fields, file_name)
            _availability_amount(fields, file_name)
        return ""
    if funds_type in _PLAIN_FUNDS:
        return ""
    raise _syntax(
        file_name, fields.line, "funds_type",
        f"must be one of 0, 1, 2, Z, S, V, D or blank, found {funds_type!r}",
    )  # fmt: skip


def _trailer_number(
    fields: _Fields, file_name: str, field: str, *, signed: bool = False
) -> int | None:
    text = fields.take() or ""
    if signed:
        return _signed_amount(text, file_name, fields.line, field)
    if not text:
        return None
    if len(text) <= _MAX_AMOUNT_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    raise _syntax(file_name, fields.line, field, f"must be digits, found {text!r}")


def _signed_amount(text: str, file_name: str, line: int, field: str) -> int | None:
    """An amount with an optional sign and zero padding (`+00000004060801`); blank is None."""
    if not text:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if 0 < len(digits) <= _MAX_AMOUNT_DIGITS and digits.isascii() and digits.isdigit():
        return -int(digits) if text[0] == "-" else int(digits)
    raise _syntax(file_name, line, field, f"must be digits with an optional sign, found {text!r}")


def _detail_amount(file_name: str, line: int, text: str) -> int:
    """A 16 amount that is not plain digits: `+` is tolerated, anything else is an error."""
    if not text:
        raise _syntax(file_name, line, "amount", "a transaction detail needs an amount")
    if text[:1] == "+":
        digits = text[1:]
        if 0 < len(digits) <= _MAX_AMOUNT_DIGITS and digits.isascii() and digits.isdigit():
            return int(digits)
    if text[:1] == "-":
        raise _syntax(
            file_name, line, "amount",
            f"must be unsigned in a detail (the type code gives the direction), found {text!r}",
        )  # fmt: skip
    raise _syntax(file_name, line, "amount", f"must be digits, found {text!r}")


def _availability_amount(fields: _Fields, file_name: str) -> None:
    """An amount inside an S or D funds type: validated, not part of the control total."""
    _signed_amount(fields.take() or "", file_name, fields.line, "availability_amount")


def _distribution_count(fields: _Fields, file_name: str) -> int:
    text = fields.take() or ""
    if text.isascii() and text.isdigit() and len(text) <= 3:
        return int(text)
    raise _syntax(file_name, fields.line, "distribution_count", f"must be a number, found {text!r}")


def _distribution_days(fields: _Fields, file_name: str) -> None:
    text = fields.take() or ""
    if not (text.isascii() and text.isdigit()):
        raise _syntax(
            file_name, fields.line, "availability_days", f"must be digits, found {text!r}"
        )


def _currency(code: str, file_name: str, line: int) -> str:
    code = code.upper()
    try:
        currency_exponent(code)
    except MoneyError:
        raise _syntax(
            file_name, line, "currency", f"must be a 3-letter ISO 4217 code, found {code!r}"
        ) from None
    return code


def _is_yymmdd(text: str) -> bool:
    if len(text) != 6 or not (text.isascii() and text.isdigit()):
        return False
    try:
        _yymmdd(text)
    except ValueError:
        return False
    return True


def _yymmdd(text: str) -> date:
    # Two-digit years: 70-99 are 19xx, 00-69 are 20xx (the POSIX %y pivot).
    year = int(text[:2])
    return date(year + (1900 if year >= 70 else 2000), int(text[2:4]), int(text[4:6]))


def _date(dates: dict[str, date], text: str, file_name: str, line: int, field: str) -> date:
    """A YYMMDD date, remembered in `dates` (a file repeats a handful of dates)."""
    if _is_yymmdd(text):
        value = dates[text] = _yymmdd(text)
        return value
    raise _syntax(file_name, line, field, f"must be a date YYMMDD, found {text!r}")


def _without_end_mark(body: str) -> str:
    return body[:-1] if body.endswith("/") else body


def _clean_text(text: str) -> str:
    """A text field or 88 text without outer blanks and the record end `/` (or `,/`)."""
    text = text.strip()
    if text[-1:] == "/":
        text = text[:-1].rstrip(" ,")
    return text


def _blocks(stream: BinaryIO) -> Iterator[Iterable[tuple[int, str]]]:
    """The numbered lines of a BAI2 file, a block of whole lines at a time.

    Text is UTF-8 when the whole file is valid UTF-8, else Windows-1252 (its 5
    undefined bytes as Latin-1); a stream that cannot seek back is decided block by
    block. Never splitlines(): on Latin-1 text it also breaks at \x85 and \x1c-\x1e.
    A file whose first block has no \n uses classic Mac line ends; a \r before \n
    is stripped per line by the parser.
    """
    encoding = stream_encoding(stream, ("utf-8", "cp1252"))
    first = stream.read(BLOCK_BYTES)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    newline, separator = ("\r", b"\r") if b"\n" not in first and b"\r" in first else ("\n", b"\n")
    lineno = 1
    parent = ""  # quirk several-records-per-line: code of the last record that is not an 88
    for data in line_blocks(stream, first, separator):
        text = _decode(data, encoding)
        lines = text.split(newline)
        if text[-1:] == newline:
            lines.pop()  # the empty piece after the block's last line end: the next block's
        if _EMBEDDED_RECORD.search(text) is None:
            yield enumerate(lines, lineno)
            parent = _last_parent(lines, parent)
        else:
            pieces, parent = _split_several_records_per_line(lines, lineno, parent)
            yield pieces
        lineno += len(lines)


def _decode(data: bytes, encoding: str | None) -> str:
    """A block as text in the file's encoding (see `_blocks`)."""
    if encoding == "cp1252":
        return data.decode("cp1252", errors=_CP1252_GAPS)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if encoding is not None:
            raise
        return data.decode("cp1252", errors=_CP1252_GAPS)


def _undefined_as_latin1(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte Windows-1252 leaves undefined reads as Latin-1."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


_CP1252_GAPS = "arlink-cp1252-gaps-as-latin1"
codecs.register_error(_CP1252_GAPS, _undefined_as_latin1)


def _split_several_records_per_line(
    lines: list[str], first: int, parent: str
) -> tuple[list[tuple[int, str]], str]:
    """Quirk several-records-per-line: cut `.../ 16,...` into one piece per record.

    A cut is made only where the code after the blanks may follow the record being
    cut (a 49 after a 16, not a 02), so a text that happens to contain `/ 16,`
    after a record it cannot follow stays whole. `first` is the first line's number,
    `parent` the code of the last record before it that is not an 88; returns the
    numbered pieces and that code after the last line.
    """
    pieces: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, first):
        start = 0
        code = line[:2] if line[2:3] in (",", ":") else ""
        if code and code != "88":
            parent = code
        for match in _EMBEDDED_RECORD.finditer(line):
            following = line[match.end() : match.end() + 2]
            if following not in _SUCCESSORS.get(parent, ()):
                continue
            pieces.append((lineno, line[start : match.start() + 1]))
            start = match.end()
            if following != "88":
                parent = following
        pieces.append((lineno, line[start:]))
    return pieces, parent


def _last_parent(lines: list[str], parent: str) -> str:
    """The code of the last record in `lines` that is not an 88 (else `parent`)."""
    for line in reversed(lines):
        if line[2:3] in (",", ":") and line[:2] != "88":
            return line[:2]
    return parent


# ---- errors ---------------------------------------------------------------------------


def _syntax(file_name: str, line: int, field: str, message: str) -> BankFileSyntaxError:
    return BankFileSyntaxError(message, file=file_name, line=line, field=field)


def _out_of_place(file_name: str, line: int, state: int, head: str) -> BankFileSyntaxError:
    code = head[:2]
    return _syntax(file_name, line, "record_code", f"expected {_EXPECTED[state]}, found {code!r}")


def _bad_type_code(file_name: str, line: int, type_code: str) -> BankFileSyntaxError:
    try:
        detail_direction(type_code)
    except TypeCodeError as exc:
        return _syntax(file_name, line, "type_code", str(exc))
    return _syntax(file_name, line, "type_code", f"unexpected type code {type_code!r}")


def _read_trailer(
    file_name: str,
    fields: _Fields,
    check_integrity: bool,
    checks: tuple[tuple[str, int, str], ...],
) -> None:
    """Read a trailer (49, 98, 99): a signed control total, then counts, each compared with
    what the parser computed, as (field, computed, what it is). A blank field is skipped."""
    line = fields.line
    for index, (field, computed, what) in enumerate(checks):
        stated = _trailer_number(fields, file_name, field, signed=index == 0)
        if check_integrity and stated is not None and stated != computed:
            raise BankFileIntegrityError(
                f"expected {computed} ({what}), found {stated}",
                file=file_name,
                line=line,
                field=field,
            )
