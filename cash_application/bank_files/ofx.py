"""OFX / QFX statement downloads (Open Financial Exchange 1.x SGML and 2.x XML) to statements.

An OFX file answers a client's requests: a sign-on response, then one response
per account. Bank statements sit in `BANKMSGSRSV1/STMTTRNRS/STMTRS`, credit-card
statements in `CCSTMTRS`, investment statements in `INVSTMTRS`; each names its
currency (`CURDEF`), account (`BANKACCTFROM`/`CCACCTFROM`/`INVACCTFROM`), its
transactions (`STMTTRN`, inside `INVBANKTRAN` for an investment account's cash)
and the ledger balance (`LEDGERBAL`). `parse_ofx` returns one `Statement` per
statement response and one `Transaction` per `STMTTRN` (OFX 2.1.1 section 11.4.3).

The two syntaxes are read by one tokenizer: OFX 1.x leaves leaf elements
unclosed (`<TRNAMT>-80.25` then the next tag), OFX 2.x closes them; in both a
leaf's value is the text up to the next `<`. Fields of a transaction:

    amount, direction   TRNAMT, signed: negative is a debit (zero: by TRNTYPE)
    currency            STMTTRN/CURRENCY/CURSYM when present, else CURDEF
    entry/value date    DTPOSTED; DTAVAIL (else DTPOSTED), the date as written
    type_code           TRNTYPE
    bank_reference      FITID, the bank's unique id: the de-duplication key
    customer_reference  CHECKNUM, else REFNUM
    payer (credits)     NAME (or PAYEE/NAME)
    remittance          MEMO

A statement's closing balance is `LEDGERBAL/BALAMT`; OFX gives no opening
balance, so there is no balance to reconcile. A response whose `STATUS` has
severity ERROR (a refused sign-on, a server error) is refused with its code and
message: a file the bank says it could not produce must not read as empty.

The core follows the specification; deviations seen in real files are named quirks:

    quirk                 what it tolerates                            sample file
    no-header             the body without the OFXHEADER lines         beancount-import amex
    comments              `<!-- -->` anywhere, even around the header  OCA test_ofx_wrong
    mislabelled-charset   UTF-8 bytes under CHARSET:1252 or NONE       (unit test)
    empty-ledgerbal       LEDGERBAL with an empty or `<BALAMT/>` value  beancount-import
                                                                         checking-emptyledgerbal
    missing-ledgerbal     a STMTRS without LEDGERBAL: no closing       (unit test)
                          balance (INVSTMTRS never has one)
    empty-curdef          `<CURDEF></CURDEF>`: the transactions'       ofxparse v102-empty-tags
                          CURRENCY/CURSYM names it
    decimal-comma         `TRNAMT` with a decimal comma, `-12,50`      (unit test)

Not validated because cash application does not use them: BANKID (often longer
than its 9 characters), element order, the sign-on's dates.

Speed and memory: each `<STMTTRN>` is found in place (`str.find`, no copy of
the statement or of its body), its fields are read with one regular expression
scan (`findall` between its tags) and its record is built with one call, so the
work per transaction is a few C-level calls; line numbers are counted between the
finds. Every pass over the whole text costs about 20 ms per 10 MB, so there are
few: statement starts by one `str.find` scan, the STMTTRN count only before the
first statement, entities looked for per transaction only when the text has an
`&`. Repeating values (TRNTYPE, DTPOSTED, payer names) are kept once per file.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO

from cash_application.bank_files.builders import new_money
from cash_application.bank_files.errors import BankFileError, BankFileSyntaxError
from cash_application.bank_files.records import Direction, ParsedFile, Statement, Transaction
from cash_application.bank_files.streaming import (
    BLOCK_BYTES,
    FileSummary,
    Source,
    StatementStream,
    header_of,
    hold,
    read_all,
    stream_encoding,
)
from cash_application.bank_files.values import (
    currency_code,
    decode_text,
    fallback_encoding,
    minor_units,
    syntax_error,
)
from mappings.money import Money, currency_exponent

FORMAT = "ofx"

# A leaf element and its value: the text up to the next tag (OFX 1.x or 2.x alike).
_FIELD = re.compile(r"<([A-Z0-9.]+)>([^<]*)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_OFX_START = re.compile(r"<OFX>", re.IGNORECASE)
# Statement responses, found by the tail their three tags share ("<STMTRS>", "<CCSTMTRS>",
# "<INVSTMTRS>"): one `str.find` scan, where a regex alternation tries every `<` of the file.
_STATEMENT_TAIL = "STMTRS>"
_STATEMENT_HEADS = ("<", "<CC", "<INV")
_STATUS = re.compile(r"<STATUS>(.*?)</STATUS>", re.DOTALL)
_CHARSET = re.compile(rb"CHARSET:\s*([A-Za-z0-9_-]+)|encoding=[\"']([A-Za-z0-9_-]+)")
_OPEN, _CLOSE = "<STMTTRN>", "</STMTTRN>"
_OPEN_NAME = "STMTTRN"
_ACCOUNT_AGGREGATES = ("<BANKACCTFROM>", "<CCACCTFROM>", "<INVACCTFROM>")
# TRNTYPE values that take money out: they name the direction of a zero amount.
_DEBIT_TYPES = frozenset(
    {"DEBIT", "CHECK", "PAYMENT", "FEE", "SRVCHG", "ATM", "POS", "DIRECTDEBIT", "REPEATPMT",
     "CASH"}
)  # fmt: skip
_CREDIT = Direction.CREDIT
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&nbsp;": " "}
_ENTITY = re.compile(r"&(?:#(\d+)|#x([0-9A-Fa-f]+)|[a-z]+);")


def parse_ofx(data: bytes, file_name: str, *, check_integrity: bool = True) -> ParsedFile:
    """Parse an OFX 1.x (SGML) or 2.x (XML) file into statements (format "ofx").

    Raises `BankFileSyntaxError` for anything that is not OFX or has a bad
    amount, date or currency, and `BankFileError` when the file reports that the
    bank could not produce it. OFX has no control totals; `check_integrity` is
    accepted so every format parser has the same signature.
    """
    return hold(iter_ofx(data, file_name, check_integrity=check_integrity))


def iter_ofx(source: Source, file_name: str, *, check_integrity: bool = True) -> StatementStream:
    """Parse an OFX file one statement at a time: `(StatementHeader, Statement)` each.

    `source` is the file's bytes or a binary stream. A stream that can seek is read a
    block at a time, its text cut where statements start, so memory holds one
    statement whatever the file size; a stream that cannot seek back is read whole
    (the encoding is decided on the whole file). Errors are those of `parse_ofx`,
    raised when reached: on a stream read in pieces, a bank's error status is found
    with the statements around it, not before the first. `check_integrity` as there.
    Returns the file's `FileSummary`.
    """
    if isinstance(source, bytes | bytearray | memoryview) or not source.seekable():
        chunks: Iterator[tuple[str, int]] = iter(((_text(read_all(source)), 1),))
    else:
        chunks = _chunks(source)
    read = outside = 0
    for index, (text, line) in enumerate(chunks):
        start = 0
        if index == 0:
            match = _OFX_START.search(text)
            if match is None:
                raise syntax_error(file_name, 1, "OFX", "not an OFX file: no `<OFX>` element")
            start = match.end()
        _check_status(text, file_name, line)
        starts = _statement_starts(text, start)
        # A statement reads every STMTTRN from its start to the next one's: only those
        # before the first statement of a piece are outside one (counted, not scanned twice).
        outside += text.count(_OPEN, 0, starts[0] if starts else len(text))
        for statement in _Reader(text, file_name, line).statements(starts):
            read += len(statement.transactions)
            yield header_of(statement, FORMAT), statement
    if outside:  # a STMTTRN outside any statement response: never drop it silently
        raise syntax_error(
            file_name,
            None,
            "STMTTRN",
            f"{outside} of {read + outside} transactions are outside a statement",
        )
    return FileSummary(FORMAT)


def _chunks(stream: BinaryIO) -> Iterator[tuple[str, int]]:
    """The text of a seekable stream in pieces, each with the line it starts at: every
    piece after the first starts where a statement starts, so each holds whole ones.

    Decoded as `_text` decodes a whole file (UTF-8 when all of it is, else the
    declared charset), with an incremental decoder so a block may end mid-character.
    """
    start = stream.tell()
    head = stream.read(2048)
    stream.seek(start)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: read whole, as `_text` does
        yield _text(stream.read()), 1
        return
    match = _CHARSET.search(head)
    declared = None if match is None else (match.group(1) or match.group(2)).decode("ascii")
    codec, errors = fallback_encoding(declared)
    if stream_encoding(stream, ("utf-8", codec)) == "utf-8":
        codec, errors = "utf-8-sig", "strict"
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    pending = ""
    line = 1
    while block := stream.read(BLOCK_BYTES):
        # Only the new text is searched (and the end of the old, where a tag may be cut).
        searched = max(1, len(pending) - len("<INVSTMTRS>"))
        pending += decoder.decode(block)
        cut = max(_statement_starts(pending, searched), default=0)
        if cut:
            yield _without_comments(pending[:cut]), line
            line += pending.count("\n", 0, cut)
            pending = pending[cut:]
    yield _without_comments(pending + decoder.decode(b"", final=True)), line


def _statement_starts(text: str, start: int) -> list[int]:
    """Where each statement response (`STMTRS`, `CCSTMTRS`, `INVSTMTRS`) at or after
    `start` begins, in order."""
    starts = []
    at = text.find(_STATEMENT_TAIL, start)
    while at >= 0:
        for head in _STATEMENT_HEADS:
            begin = at - len(head)
            if begin >= start and text.startswith(head, begin):
                starts.append(begin)
                break
        at = text.find(_STATEMENT_TAIL, at + len(_STATEMENT_TAIL))
    return starts


def _text(data: bytes) -> str:
    """The file as text, comments blanked out with their line breaks kept (quirk comments)."""
    match = _CHARSET.search(data[:2048])
    declared = None if match is None else (match.group(1) or match.group(2)).decode("ascii")
    return _without_comments(decode_text(data, declared))


def _without_comments(text: str) -> str:
    """Comments blanked out with their line breaks kept (quirk comments)."""
    if "<!--" in text:
        text = _COMMENT.sub(lambda comment: "\n" * comment.group().count("\n"), text)
    return text


def _check_status(text: str, file_name: str, first_line: int = 1) -> None:
    """Refuse a file whose sign-on or statement response reports an error (`text` starts
    at line `first_line` of the file)."""
    for block in _STATUS.finditer(text):
        fields = _fields(block.group(1))
        if fields.get("SEVERITY", "").upper() == "ERROR":
            line = text.count("\n", 0, block.start()) + first_line
            code, message = fields.get("CODE", "?"), fields.get("MESSAGE", "")
            raise BankFileError(
                f"the bank reported an error: code {code}" + (f" ({message})" if message else ""),
                file=file_name,
                line=line,
                field="STATUS",
            )


def _fields(chunk: str) -> dict[str, str]:
    """The leaf elements of a chunk of OFX as a dict, values stripped and unescaped."""
    fields = {}
    for name, value in _FIELD.findall(chunk):
        value = value.strip()
        if "&" in value:
            value = _ENTITY.sub(_entity, value)
        fields[name] = value
    return fields


def _entity(match: re.Match[str]) -> str:
    if match.group(1):
        return chr(int(match.group(1)))
    if match.group(2):
        return chr(int(match.group(2), 16))
    return _ENTITIES.get(match.group(), match.group())


def _at_field_line(error: BankFileSyntaxError, body: str, first: int) -> BankFileSyntaxError:
    """The error moved from the transaction's first line to the line of its field."""
    at = body.find(f"<{(error.field or '').rpartition('/')[2]}>")
    if at < 0:
        return error
    line = first + body.count("\n", 0, at)
    return BankFileSyntaxError(error.message, file=error.file, line=line, field=error.field)


class _Reader:
    """One parse: the text, where its lines start, and caches of dates and currencies."""

    def __init__(self, text: str, file_name: str, first_line: int = 1) -> None:
        self.text = text
        self.escaped = "&" in text  # whether any value may hold an entity (`_fields`)
        self.file_name = file_name
        self.dates: dict[str, date] = {}
        self.kinds: dict[str, str] = {}  # TRNTYPE as written -> as read
        self.shared: dict[str, str] = {}
        self.exponents: dict[str, int] = {}
        self._first_line = first_line  # the file's line `text` starts at
        self._line_offset = 0  # line numbers are counted forward from here
        self._line = first_line

    def line_at(self, offset: int) -> int:
        """1-based line of `offset`; offsets must be asked in increasing order."""
        if offset >= self._line_offset:
            self._line += self.text.count("\n", self._line_offset, offset)
        else:
            self._line = self.text.count("\n", 0, offset) + self._first_line
        self._line_offset = offset
        return self._line

    def statements(self, starts: list[int]) -> Iterator[Statement]:
        """Each statement response, from its start (`_statement_starts`) to the next one's."""
        text = self.text
        for begin, end in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True):
            yield self._statement(begin, end)

    def _statement(self, begin: int, end: int) -> Statement:
        """A STMTRS / CCSTMTRS / INVSTMTRS (sections 11.4.2, 11.4.4, 13.9.2)."""
        text = self.text
        line = self.line_at(begin)
        # Found in place, not split: no copy of a statement that may be the whole file.
        at = text.find(_OPEN, begin, end)
        head_text = text[begin : at if at >= 0 else end]
        head = _fields(head_text)
        account = self._account(head_text, line)
        currency_text = head.get("CURDEF", "")
        currency = (
            currency_code(currency_text, self.file_name, line, "CURDEF") if currency_text else None
        )
        transactions: list[Transaction] = []
        append = transactions.append
        read = self._transaction
        count, findall, escaped = text.count, _FIELD.findall, self.escaped
        first = line + head_text.count("\n")
        tail_start = at if at >= 0 else begin  # where LEDGERBAL is looked for
        while at >= 0:
            start = at + len(_OPEN)
            # Each body is scanned once: its fields are read up to the close tag, where the
            # next STMTTRN is looked for (one opened inside the body is refused below).
            close = text.find(_CLOSE, start, end)
            if close < 0:
                raise syntax_error(self.file_name, first, "STMTTRN", "a `STMTTRN` is not closed")
            following = text.find(_OPEN, close, end)
            # The body's fields in one C-level scan, in place unless a value is escaped.
            if escaped and text.find("&", start, close) >= 0:
                fields = _fields(text[start:close])
            else:
                fields = dict(findall(text, start, close))
            if _OPEN_NAME in fields:  # the next STMTTRN opens before this one's close tag
                raise syntax_error(self.file_name, first, "STMTTRN", "a `STMTTRN` is not closed")
            lines = count("\n", start, close)
            try:
                append(read(fields, currency, first, first + lines))
            except BankFileSyntaxError as exc:
                raise _at_field_line(exc, text[start:close], first) from None
            if following >= 0:
                first += lines + count("\n", close, following)
            tail_start = close
            at = following
        tail = text[tail_start:end]
        if currency is None:
            currency = self._currency_from_transactions(transactions, line)
        closing, as_of = self._ledger_balance(tail, currency, tail_start)
        statement_date = as_of or self._optional_date(head.get("DTEND", ""), line, "DTEND")
        return Statement(
            account=account,
            currency=currency,
            date=statement_date,
            opening_balance=None,
            closing_balance=closing,
            transactions=tuple(transactions),
        )

    def _account(self, head: str, line: int) -> str:
        for aggregate in _ACCOUNT_AGGREGATES:
            at = head.find(aggregate)
            if at >= 0:
                account = _fields(head[at:]).get("ACCTID", "")
                if account:
                    return account
                break
        raise syntax_error(self.file_name, line, "ACCTID", "a statement needs an account id")

    def _currency_from_transactions(self, transactions: list[Transaction], line: int) -> str:
        """Quirk empty-curdef: the one currency the transactions name, else an error."""
        currencies = {transaction.currency for transaction in transactions}
        if len(currencies) == 1:
            return currencies.pop()
        raise syntax_error(self.file_name, line, "CURDEF", "a statement needs its currency")

    def _ledger_balance(
        self, tail: str, currency: str, tail_offset: int
    ) -> tuple[Money | None, date | None]:
        """LEDGERBAL: BALAMT (signed) and DTASOF; quirks missing- and empty-ledgerbal."""
        at = tail.find("<LEDGERBAL>")
        if at < 0:
            return None, None
        close = tail.find("</LEDGERBAL>", at)
        fields = _fields(tail[at : close if close >= 0 else len(tail)])
        line = self.line_at(tail_offset + at)
        amount_text = fields.get("BALAMT", "")
        as_of = self._optional_date(fields.get("DTASOF", ""), line, "LEDGERBAL/DTASOF")
        if not amount_text:
            return None, as_of
        minor = self._minor(amount_text, currency, line, "LEDGERBAL/BALAMT")
        return Money(minor, currency), as_of

    def _transaction(
        self, fields: dict[str, str], currency: str | None, first: int, last: int
    ) -> Transaction:
        """A STMTTRN (section 11.4.4.1), from its leaf elements.

        The inner loop of a large file: the common amount and date shapes take their
        fast paths and the record is built from a tuple; what is rare (a currency first
        seen, a decimal comma, an error) goes through the general readers.
        """
        get = fields.get
        # Values keep their line ends (SGML leaves are unclosed): stripped as they are used.
        symbol = get("CURSYM")
        if symbol:
            currency = currency_code(symbol, self.file_name, first, "CURRENCY/CURSYM")
        if currency is None:
            raise syntax_error(self.file_name, first, "CURDEF", "a statement needs its currency")
        amount_text = get("TRNAMT", "").strip()
        if not amount_text:
            raise syntax_error(self.file_name, first, "TRNAMT", "a transaction needs an amount")
        exponent = self.exponents.get(currency)
        minor = None if exponent is None else minor_units(amount_text, exponent)
        if minor is None:
            minor = self._minor(amount_text, currency, first, "TRNAMT")
        # TRNTYPE and DTPOSTED repeat: read once per value as written, then shared.
        kind_text = get("TRNTYPE", "")
        kind = self.kinds.get(kind_text)
        if kind is None:
            kind = self.kinds[kind_text] = kind_text.strip().upper()
        if minor < 0 or (minor == 0 and kind in _DEBIT_TYPES):
            direction = Direction.DEBIT
            minor = -minor
            payer = None
        else:
            direction = _CREDIT
            payer = get("NAME", "").strip() or None
            if payer is not None:  # payers repeat: one copy of each name for the records held
                payer = self.shared.setdefault(payer, payer)
        posted_text = get("DTPOSTED", "")
        posted = self.dates.get(posted_text)
        if posted is None:
            posted = self.dates[posted_text] = self._date(posted_text.strip(), first, "DTPOSTED")
        available = get("DTAVAIL", "").strip()
        value = self._date(available, first, "DTAVAIL") if available else posted
        reference = get("CHECKNUM", "").strip() or get("REFNUM", "").strip() or None
        return Transaction(
            new_money(minor, currency), direction, first, last, value, posted, kind or None,
            get("FITID", "").strip() or None, reference, None, payer, None,
            get("MEMO", "").strip(), (), False,
        )  # fmt: skip

    def _minor(self, text: str, currency: str, line: int, field: str) -> int:
        exponent = self.exponents.get(currency)
        if exponent is None:
            exponent = self.exponents[currency] = currency_exponent(currency)
        minor = minor_units(text, exponent)
        if minor is None and "," in text and "." not in text:
            minor = minor_units(text.replace(",", "."), exponent)  # quirk decimal-comma
        if minor is None:
            raise syntax_error(
                self.file_name, line, field,
                f"must be a decimal amount with at most {exponent} decimals for {currency},"
                f" found {text!r}",
            )  # fmt: skip
        return minor

    def _optional_date(self, text: str, line: int, field: str) -> date | None:
        return self._date(text, line, field) if text else None

    def _date(self, text: str, line: int, field: str) -> date:
        """An OFX datetime YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]] as the date written."""
        value = self.dates.get(text)
        if value is not None:
            return value
        digits = text[:8]
        try:
            if not (digits.isdigit() and digits.isascii() and len(digits) == 8):
                raise ValueError
            value = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            message = (
                f"must be a date YYYYMMDD..., found {text!r}" if text else "a date is required"
            )
            raise self._error(line, field, message) from None
        self.dates[text] = value
        return value

    def _error(self, line: int, field: str, message: str) -> BankFileSyntaxError:
        return syntax_error(self.file_name, line, field, message)


_HEAD = re.compile(rb"OFXHEADER:|<\?OFX|<OFX>", re.IGNORECASE)


def looks_like_ofx(head: bytes) -> bool:
    """Whether a file's first bytes are OFX: the 1.x header, the 2.x `<?OFX ?>`, or `<OFX>`."""
    return _HEAD.search(head) is not None
