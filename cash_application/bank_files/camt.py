"""ISO 20022 camt.053 / camt.052 / camt.054 bank-to-customer messages to statements.

camt.053 (`BkToCstmrStmt/Stmt`, the end-of-day statement), camt.052
(`BkToCstmrAcctRpt/Rpt`, the intraday report) and camt.054
(`BkToCstmrDbtCdtNtfctn/Ntfctn`, the debit/credit notification) share one shape:
an account (`Acct`), balances (`Bal`) and entries (`Ntry`), each entry with
optional transaction details (`NtryDtls/TxDtls`). `parse_camt` returns one
`Statement` per `Stmt`/`Rpt`/`Ntfctn` and one `Transaction` per entry, except that
an entry carrying several details with their own amounts (a batch booking) gives
one transaction per detail: every credit the bank reports is one transaction.
Versions .01 to .14 of the three messages are read; the format is named from the
namespace (or, quirk unversioned-namespace, from the message element).

Where each transaction field comes from (first present wins; `TxDtls` of the
transaction, then its `Ntry`):

    amount, direction   Ntry/Amt, CdtDbtInd; in a batch TxDtls/Amt (.03+) or
                        AmtDtls/TxAmt|InstdAmt|CntrValAmt/Amt (.02), TxDtls/CdtDbtInd
    entry/value date    Ntry/BookgDt, Ntry/ValDt (Dt or DtTm)
    type_code           BkTxCd/Domn as "PMNT/RCDT/ESCT", else BkTxCd/Prtry/Cd
    bank_reference      TxDtls/Refs/AcctSvcrRef, Ntry/AcctSvcrRef, Refs/TxId, NtryRef
    customer_reference  Refs/ChqNb, Refs/InstrId
    end_to_end_id       Refs/EndToEndId (no reference is "NOTPROVIDED")
    payer (credits)     RltdPties/Dbtr[/Pty]/Nm, else UltmtDbtr[/Pty]/Nm; DbtrAcct/Id
    ultimate_payer      RltdPties/UltmtDbtr[/Pty]/Nm (credits)
    remittance          RmtInf/Ustrd (each), Strd/AddtlRmtInf; else AddtlTxInf;
                        else Ntry/AddtlNtryInf
    invoice_refs        RmtInf/Strd/CdtrRefInf/Ref (RF references), Strd/RfrdDocInf/Nb
    invoice_amounts     Strd/RfrdDocAmt/RmtdAmt, else DuePyblAmt, for the one document
                        (RfrdDocInf/Nb, else CdtrRefInf/Ref) of its `Strd`
    reversal            Ntry/RvslInd (CdtDbtInd is the reversal's own direction)

Integrity (on by default): where a statement has an opening (`OPBD`, else `PRCD`)
and a closing (`CLBD`) balance, opening + booked entries = closing; a batch's
detail amounts add up to its entry. Entries that are not booked (`Sts` PDNG,
INFO) are transactions but not movements of the booked balance.

The core follows the schema. Deviations seen in real files are named quirks:

    quirk                        what it tolerates                    sample file
    unversioned-namespace        no namespace, or one without the     (unit test)
                                 version: the message element names it
    balance-without-indicator    `Bal` without CdtDbtInd: a credit    subite-eu CAMT_053 (.08)
    entry-without-status         `Ntry` without Sts: booked           subite-eu CAMT_053 (.08)
    batch-details-without-amount a batch whose details carry no       genkgo camt054.v2
                                 amount stays one transaction, their
                                 references and remittance joined

Security: a document type declaration (where entities live) is refused before
anything is read, and the parser neither expands entities nor touches the
network (`resolve_entities=False, no_network=True, load_dtd=False`).

Speed and memory: lxml `iterparse` stops only at the message, statement and entry
elements; each entry is read as a small tree and then freed, so memory holds
the records, not the document. The root's default namespace declaration is
blanked out of the input (same length, so lines and columns stay), because lxml
builds the namespaced tag string of every element it hands out; the namespace is
still checked. Repeating values (type codes, party names, dates) are kept once per
file. Line numbers are libxml2's `sourceline` of the element's start tag;
`last_line` is the start tag of the last element inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any, BinaryIO, NamedTuple

from lxml import etree

from cash_application.bank_files.builders import new_money
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
from cash_application.bank_files.values import currency_code, minor_units, syntax_error
from mappings.money import Money, currency_exponent

# Message element -> (format, statement element). Version .01 names end in V01.
_MESSAGES = {
    "BkToCstmrStmt": ("camt.053", "Stmt"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
}
_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.(05[234])(?:\.001\.(\d\d))?")
_VERSIONS = range(1, 15)
# The root start tag with its default namespace declaration (group 1, its value group 3),
# after at most an XML declaration: the only shape whose declaration is blanked out.
_ROOT_DEFAULT_NAMESPACE = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?\s*<Document(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*?"
    rb"\s+(xmlns\s*=\s*([\"'])([^\"'<>]*)\2)"
)
_HEAD_BYTES = 1 << 16
_WATCHED = (
    "{*}Document",
    *(f"{{*}}{name}{suffix}" for name in _MESSAGES for suffix in ("", "V01")),
    "{*}Stmt",
    "{*}Rpt",
    "{*}Ntfctn",
    "{*}Ntry",
)
_STATEMENT_TAGS = frozenset({"Stmt", "Rpt", "Ntfctn"})
_DIRECTIONS = {"CRDT": Direction.CREDIT, "DBIT": Direction.DEBIT}
_NOT_BOOKED = frozenset({"PDNG", "INFO", "FUTR"})
_OPENING_CODES = ("OPBD", "PRCD")
# What a bank writes in a reference the payer did not give (EndToEndId above all).
_NOT_PROVIDED = "NOTPROVIDED"
_CREDIT = Direction.CREDIT
# AmtDtls amounts a detail may give instead of its `Amt` (.02), in order of preference.
_AMOUNT_DETAILS = {"TxAmt": 0, "InstdAmt": 1, "CntrValAmt": 2}
_AMOUNT_FIELDS = ("AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt", "AmtDtls/CntrValAmt/Amt")


def parse_camt(data: bytes, file_name: str, *, check_integrity: bool = True) -> ParsedFile:
    """Parse a camt.053, camt.052 or camt.054 file (format named from the namespace).

    Raises `BankFileSyntaxError` for anything that is not a well-formed camt
    message (including a DTD, which is never read) and, when `check_integrity`
    is true, `BankFileIntegrityError` where balances or batch totals disagree.
    """
    return hold(iter_camt(data, file_name, check_integrity=check_integrity))


def iter_camt(source: Source, file_name: str, *, check_integrity: bool = True) -> StatementStream:
    """Parse a camt file one statement at a time: `(StatementHeader, Statement)` each.

    `source` is the file's bytes or a binary stream, which lxml reads a block at a
    time: memory holds one statement's transactions, whatever the file size. Errors
    are those of `parse_camt`, raised when reached. Returns the file's `FileSummary`.
    """
    reader = _Reader(file_name, check_integrity)
    for statement in reader.statements(as_stream(source)):
        yield header_of(statement, reader.format), statement
    return FileSummary(reader.format)


class _Amount(NamedTuple):
    """An `Amt` element with its `Ccy` attribute (ActiveOrHistoricCurrencyAndAmount)."""

    minor: int
    currency: str


class _Detail(NamedTuple):
    """What one `TxDtls` (or an entry without details) says about its transaction."""

    amount: _Amount | None
    direction: Direction | None
    first_line: int
    last_line: int
    type_code: str | None
    bank_reference: str | None
    transaction_id: str | None
    customer_reference: str | None
    end_to_end_id: str | None
    payer_name: str | None
    payer_account: str | None
    remittance: str
    invoice_refs: tuple[str, ...]
    ultimate_payer: str | None = None
    invoice_amounts: tuple[tuple[str, Money], ...] = ()


class _LocalNames(dict[str, str]):
    """Element tag -> local name, filled as tags are met: "{namespace}Amt" -> "Amt" for
    the message's namespace (a prefix "" for un-namespaced tags), "" for any other tag."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def __missing__(self, tag: str) -> str:
        local = ""
        for prefix in self.prefixes:
            rest = tag[len(prefix) :] if tag.startswith(prefix) else None
            if rest and "}" not in rest:
                local = rest
                break
        self[tag] = local
        return local


class _Prepended:
    """A binary stream read from `head` first, then from `stream` (for lxml's `read`)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.stream.read(size)


_NO_DETAIL = _Detail(None, None, 0, 0, None, None, None, None, None, None, None, "", ())


class _Entry(NamedTuple):
    """What an `Ntry` gives each of its transactions (a detail's own value comes first)."""

    value_date: date | None
    entry_date: date | None
    type_code: str | None
    bank_ref: str | None
    entry_ref: str | None
    entry_info: str
    reversal: bool
    booked: bool


# RfrdDocAmt's amounts that say what is paid for the document, in order of preference.
_REFERRED_AMOUNTS = ("RmtdAmt", "DuePyblAmt")


class _Reader:
    """One parse: the file's namespace, format and caches, and the walk over its elements."""

    def __init__(self, file_name: str, check_integrity: bool) -> None:
        self.file_name = file_name
        self.check_integrity = check_integrity
        self.format = ""
        self.statement_tag = ""
        self.ns = ""  # "{namespace}" prefix of every element of the message
        self.blanked = ""  # the root's default namespace, when blanked out of the input
        self.names = _LocalNames(("",))
        self.detail_tags: tuple[str, ...] = ()
        self.dates: dict[str, date] = {}
        self.exponents: dict[str, int] = {}  # by ISO code
        self.currencies: dict[str, tuple[str, int]] = {}  # `Ccy` as written -> code, exponent
        # One copy of each type code and party name, which repeat, for the records held.
        self.shared: dict[str, str] = {}

    # ---- document level ----------------------------------------------------------

    def statements(self, stream: BinaryIO) -> Iterator[Statement]:
        """Yield each statement as its end tag is read; entries are freed once read."""
        events = etree.iterparse(
            self._without_default_namespace(stream),
            events=("start", "end"),
            tag=_WATCHED,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_blank_text=True,
            remove_pis=True,
            huge_tree=False,
        )
        transactions: list[Transaction] = []
        booked: list[tuple[int, str, int]] = []  # signed minor, currency, line per booked entry
        seen_document = seen_message = False
        count = 0
        try:
            for event, element in events:
                local = self._local(element)
                if event == "start":
                    if not seen_document:
                        self._start_document(element, local)
                        seen_document = True
                    elif local == self.statement_tag:
                        transactions = []
                        booked = []
                    elif local.removesuffix("V01") in _MESSAGES:
                        self._start_message(element, local)
                        seen_message = True
                    continue
                if not seen_message:
                    break  # a `Stmt` or `Ntry` before any message element: not camt
                if local == "Ntry":
                    self._check_parent(element, "Ntry")
                    self._read_entry(element, transactions, booked)
                    element.clear()
                    element.getparent().remove(element)
                elif local == self.statement_tag:
                    self._check_parent(element, local, message=True)
                    count += 1
                    yield self._read_statement(element, transactions, booked)
                    element.clear()
                    element.getparent().remove(element)
                elif local in _STATEMENT_TAGS:
                    raise self._error(
                        element.sourceline,
                        local,
                        f"a `{local}` does not belong in a {self.format} message",
                    )
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if exc.lineno else None
            raise syntax_error(
                self.file_name, line, None, f"not well-formed XML: {exc.msg}"
            ) from None
        if not seen_message:
            raise self._error(
                1,
                None,
                "not a camt message: no `BkToCstmrStmt`, "
                "`BkToCstmrAcctRpt` or `BkToCstmrDbtCdtNtfctn`",
            )
        if count == 0:
            raise self._error(
                None,
                self.statement_tag,
                f"a {self.format} message needs at least one `{self.statement_tag}`",
            )

    def _start_document(self, element: Any, local: str) -> None:
        tree = element.getroottree()
        if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
            # Entities (billion laughs, external files) are declared in a DTD; camt has none.
            raise self._error(1, "DOCTYPE", "a document type declaration is not allowed in camt")
        if local != "Document" or element.getparent() is not None:
            raise self._error(
                element.sourceline, None, f"not a camt message: the root element is `{local}`"
            )
        tag = element.tag
        self.ns = self.blanked or (tag[: tag.index("}") + 1] if tag.startswith("{") else "")
        # Elements in the namespace keep it where they declare it again (a prefix, say).
        prefixes = (self.ns, "") if self.blanked else (self.ns,)
        self.names = _LocalNames(prefixes)
        self.detail_tags = tuple(prefix + "TxDtls" for prefix in prefixes)

    def _without_default_namespace(self, stream: BinaryIO) -> BinaryIO:
        """`stream` with the root's default camt namespace declaration blanked out.

        lxml builds an element's tag string ("{urn:iso:...:camt.053.001.02}Amt") on each
        first access, which was about 14% of a large file's parse time; without the
        namespace the tag is the short local name. Blanks of the same length keep every
        line and column. The namespace is still checked (`_start_message`), and an
        element that declares it again is read by its namespaced tag (`_LocalNames`).
        Only a head the pattern recognises is changed: anything else is read as is.
        """
        head = stream.read(_HEAD_BYTES)
        match = _ROOT_DEFAULT_NAMESPACE.match(head)
        if match is None or _NAMESPACE.fullmatch(match.group(3).decode("latin-1")) is None:
            return _Prepended(head, stream)
        self.blanked = "{" + match.group(3).decode("latin-1") + "}"
        start, end = match.span(1)
        return _Prepended(head[:start] + b" " * (end - start) + head[end:], stream)

    def tags_named(self, local: str) -> tuple[str, ...]:
        """The tags an element named `local` of the message may have."""
        return tuple(prefix + local for prefix in self.names.prefixes)

    def _start_message(self, element: Any, local: str) -> None:
        name = local.removesuffix("V01")
        if element.getparent() is None or element.getparent().getparent() is not None:
            raise self._error(element.sourceline, name, "must be the child of `Document`")
        self.format, self.statement_tag = _MESSAGES[name]
        namespace = self.ns[1:-1]
        if not namespace:
            return  # quirk unversioned-namespace: the message element names the format
        match = _NAMESPACE.fullmatch(namespace)
        if match is None:
            raise self._error(element.sourceline, "xmlns", f"not a camt namespace: {namespace!r}")
        if f"camt.{match.group(1)}" != self.format:
            raise self._error(
                element.sourceline,
                "xmlns",
                f"namespace {namespace!r} does not match the message `{name}`",
            )
        version = match.group(2)
        if version is not None and int(version) not in _VERSIONS:
            raise self._error(
                element.sourceline,
                "xmlns",
                f"version .{version} is not one arlink reads (.01 to .14)",
            )

    def _local(self, element: Any) -> str:
        tag: str = element.tag
        return (
            tag[len(self.ns) :] if self.ns and tag.startswith(self.ns) else tag.rpartition("}")[2]
        )

    def _check_parent(self, element: Any, local: str, *, message: bool = False) -> None:
        parent = element.getparent()
        expected = self.statement_tag if not message else None
        if message:
            ok = parent is not None and self._local(parent).removesuffix("V01") in _MESSAGES
        else:
            ok = parent is not None and self._local(parent) == expected
        if not ok:
            where = "the message element" if message else f"a `{expected}`"
            raise self._error(element.sourceline, local, f"must be inside {where}")

    # ---- statement --------------------------------------------------------------------

    def _read_statement(
        self, stmt: Any, transactions: list[Transaction], booked: list[tuple[int, str, int]]
    ) -> Statement:
        """A `Stmt`/`Rpt`/`Ntfctn`: account, balances and the entries read so far."""
        names = self.names
        account = currency = None
        balances: dict[str, tuple[_Amount, int, date | None]] = {}
        created: date | None = None
        to_date: date | None = None
        for child in stmt:
            local = names[child.tag]
            if local == "Acct":
                account, currency = self._read_account(child)
            elif local == "Bal":
                code, amount, when = self._read_balance(child)
                if code is not None:
                    balances.setdefault(code, (amount, child.sourceline, when))
            elif local == "CreDtTm":
                created = self._date(child, "CreDtTm")
            elif local == "FrToDt":
                for part in child:
                    if names[part.tag] in ("ToDtTm", "ToDt"):
                        to_date = self._date(part, "FrToDt/ToDtTm")
        if account is None:
            raise self._error(stmt.sourceline, "Acct", f"a `{self.statement_tag}` needs an account")
        opening = next((balances[code] for code in _OPENING_CODES if code in balances), None)
        closing = balances.get("CLBD")
        if currency is None:
            for candidate in (opening, closing):
                if candidate is not None:
                    currency = candidate[0].currency
                    break
            else:
                currency = transactions[0].currency if transactions else None
        if currency is None:
            raise self._error(
                stmt.sourceline,
                "Acct/Ccy",
                "no currency: the account, its balances and entries name none",
            )
        if self.check_integrity and opening is not None and closing is not None:
            self._check_balances(opening, closing, booked)
        statement_date = closing[2] if closing is not None and closing[2] else to_date or created
        return Statement(
            account=account,
            currency=currency,
            date=statement_date,
            opening_balance=None if opening is None else Money(*opening[0]),
            closing_balance=None if closing is None else Money(*closing[0]),
            transactions=tuple(transactions),
        )

    def _check_balances(
        self,
        opening: tuple[_Amount, int, date | None],
        closing: tuple[_Amount, int, date | None],
        booked: list[tuple[int, str, int]],
    ) -> None:
        (open_amount, _, _), (close_amount, close_line, _) = opening, closing
        if open_amount.currency != close_amount.currency:
            raise BankFileIntegrityError(
                f"opening balance in {open_amount.currency}, closing in {close_amount.currency}",
                file=self.file_name,
                line=close_line,
                field="Bal/Amt",
            )
        total = open_amount.minor
        for minor, currency, line in booked:
            if currency != open_amount.currency:
                raise BankFileIntegrityError(
                    f"entry in {currency} on an account kept in {open_amount.currency}",
                    file=self.file_name,
                    line=line,
                    field="Ntry/Amt",
                )
            total += minor
        if total != close_amount.minor:
            exponent = self.exponents[close_amount.currency]
            raise BankFileIntegrityError(
                f"expected {_decimal(total, exponent)} (opening balance plus booked entries),"
                f" found {_decimal(close_amount.minor, exponent)}",
                file=self.file_name,
                line=close_line,
                field="Bal/Amt",
            )

    def _read_account(self, acct: Any) -> tuple[str, str | None]:
        """`Acct` (CashAccount): `Id/IBAN`, `Id/Othr/Id` (.01 `PrtryAcct/Id`, `BBAN`) and `Ccy`."""
        names = self.names
        account = currency = None
        for child in acct:
            local = names[child.tag]
            if local == "Id":
                account = self._account_id(child)
            elif local == "Ccy":
                currency = currency_code(
                    child.text or "", self.file_name, child.sourceline, "Acct/Ccy"
                )
        if not account:
            raise self._error(acct.sourceline, "Acct/Id", "an account needs an identification")
        return account, currency

    def _account_id(self, id_element: Any) -> str | None:
        names = self.names
        for choice in id_element:
            if len(choice):  # Othr, PrtryAcct: the identification is their `Id`
                for part in choice:
                    if names[part.tag] == "Id":
                        return _text(part)
            else:
                return _text(choice)  # IBAN, BBAN, UPIC
        return None

    def _read_balance(self, bal: Any) -> tuple[str | None, _Amount, date | None]:
        """`Bal` (CashBalance): `Tp/CdOrPrtry/Cd`, `Amt@Ccy`, `CdtDbtInd`, `Dt/Dt|DtTm`."""
        names = self.names
        code = None
        amount: _Amount | None = None
        sign = 1  # quirk balance-without-indicator: no CdtDbtInd reads as a credit
        when = None
        for child in bal:
            local = names[child.tag]
            if local == "Tp":
                for part in child.iter(*self.tags_named("Cd")):
                    code = _text(part)
                    break
            elif local == "Amt":
                amount = self._amount(child, "Bal/Amt")
            elif local == "CdtDbtInd":
                sign = -1 if self._direction(child, "Bal/CdtDbtInd") is Direction.DEBIT else 1
            elif local == "Dt":
                for part in child:
                    when = self._date(part, "Bal/Dt")
        if amount is None:
            raise self._error(bal.sourceline, "Bal/Amt", "a balance needs an amount")
        return code, _Amount(sign * amount.minor, amount.currency), when

    # ---- entries ----------------------------------------------------------------------
    # The entry and detail readers are the inner loop: next to libxml2's parse, the time
    # of a large file goes to lxml's element objects and to the Python work per element.
    # So each child is visited once and named through `_LocalNames` (one dict lookup),
    # values stay in locals until the record is built, and amounts are built by
    # `new_money` rather than through the Money constructor.

    def _read_entry(
        self, ntry: Any, transactions: list[Transaction], booked: list[tuple[int, str, int]]
    ) -> None:
        """An `Ntry` (ReportEntry): one transaction, or one per detail of a batch."""
        names = self.names
        line = ntry.sourceline
        amount: _Amount | None = None
        direction: Direction | None = None
        reversal = False
        status = "BOOK"  # quirk entry-without-status
        entry_date = value_date = None
        bank_ref = entry_ref = type_code = None
        entry_info = ""
        details: list[Any] = []
        for child in ntry:
            local = names[child.tag]
            if local == "Amt":
                amount = self._amount(child, "Ntry/Amt")
            elif local == "CdtDbtInd":
                direction = self._direction(child, "Ntry/CdtDbtInd")
            elif local == "Sts":
                # Text up to .04, `Sts/Cd` (or `Prtry`) from .08.
                status = _text(child[0] if len(child) else child) or ""
            elif local == "BookgDt":
                entry_date = self._date_choice(child, "Ntry/BookgDt")
            elif local == "ValDt":
                value_date = self._date_choice(child, "Ntry/ValDt")
            elif local == "AcctSvcrRef":
                bank_ref = _text(child)
            elif local == "BkTxCd":
                type_code = self._bank_transaction_code(child)
            elif local == "NtryDtls":
                details += child.iterchildren(*self.detail_tags)
            elif local == "RvslInd":
                reversal = self._indicator(child, "Ntry/RvslInd")
            elif local == "NtryRef":
                entry_ref = _text(child)
            elif local == "AddtlNtryInf":
                entry_info = _text(child) or ""
            elif local == "TxDtls":  # .01 puts the details straight under the entry
                details.append(child)
        if amount is None:
            raise self._error(line, "Ntry/Amt", "an entry needs an amount")
        if direction is None:
            raise self._error(line, "Ntry/CdtDbtInd", "an entry needs `CRDT` or `DBIT`")
        is_booked = status not in _NOT_BOOKED
        if is_booked:
            signed = amount.minor if direction is _CREDIT else -amount.minor
            booked.append((signed, amount.currency, line))
        last_line = _last_line(ntry)
        entry = _Entry(
            value_date, entry_date, type_code, bank_ref, entry_ref, entry_info, reversal, is_booked
        )
        if not details:
            transactions.append(
                self._transaction(_NO_DETAIL, amount, direction, line, last_line, entry)
            )
            return
        read = []
        count = len(details)
        for index, detail in enumerate(details, 1):
            # A detail ends where the next one starts (libxml2 keeps no end-tag line).
            end = max(details[index].sourceline - 1, line) if index < count else last_line
            read.append(self._read_detail(detail, amount.currency, end))
        if count > 1 and all(detail.amount is not None for detail in read):
            self._check_batch(line, amount, direction, read)
            # One transaction per detail, each with its own amount and lines.
            for detail in read:
                transactions.append(
                    self._transaction(
                        detail,
                        detail.amount,  # type: ignore[arg-type]
                        detail.direction or direction,
                        detail.first_line,
                        detail.last_line,
                        entry,
                    )
                )
        else:
            joined = _joined(read)
            transactions.append(
                self._transaction(joined, amount, direction, line, last_line, entry)
            )

    def _transaction(
        self,
        detail: _Detail,
        amount: _Amount,
        direction: Direction,
        first_line: int,
        last_line: int,
        entry: _Entry,
    ) -> Transaction:
        """The transaction of a detail (or of an entry without one) within its entry."""
        credit = direction is _CREDIT
        return Transaction(
            new_money(amount.minor, amount.currency),  # the currency is validated by `_amount`
            direction,
            first_line,
            last_line,
            entry.value_date,
            entry.entry_date,
            detail.type_code or entry.type_code,
            detail.bank_reference or entry.bank_ref or detail.transaction_id or entry.entry_ref,
            detail.customer_reference,
            detail.end_to_end_id,
            detail.payer_name if credit else None,
            detail.payer_account if credit else None,
            detail.remittance or entry.entry_info,
            detail.invoice_refs,
            entry.reversal,
            entry.booked,
            detail.ultimate_payer if credit else None,
            detail.invoice_amounts,
        )

    def _check_batch(
        self, line: int, amount: _Amount, direction: Direction, details: list[_Detail]
    ) -> None:
        """A batch's detail amounts, signed, in the entry's currency, add up to the entry."""
        if not self.check_integrity:
            return
        total = 0
        for detail in details:
            assert detail.amount is not None
            if detail.amount.currency != amount.currency:
                raise BankFileIntegrityError(
                    f"a detail of the batch is in {detail.amount.currency}, the entry in"
                    f" {amount.currency}: the split cannot be reconciled",
                    file=self.file_name,
                    line=detail.first_line,
                    field="TxDtls/Amt",
                )
            sign = 1 if (detail.direction or direction) is direction else -1
            total += sign * detail.amount.minor
        if total != amount.minor:
            exponent = self.exponents[amount.currency]
            raise BankFileIntegrityError(
                f"expected the entry amount {_decimal(amount.minor, exponent)},"
                f" found details adding up to {_decimal(total, exponent)}",
                file=self.file_name,
                line=line,
                field="TxDtls/Amt",
            )

    def _read_detail(self, tx: Any, currency: str, last_line: int) -> _Detail:
        """A `TxDtls` (EntryTransaction): amount, references, parties and remittance."""
        names = self.names
        amount: _Amount | None = None
        # AmtDtls/TxAmt, InstdAmt, CntrValAmt, in the order of `_AMOUNT_DETAILS`.
        amount_details: list[_Amount | None] = [None, None, None]
        direction = None
        type_code = bank_ref = tx_id = cust_ref = e2e = None
        payer_name = payer_account = ultimate_name = None
        texts: list[str] = []
        refs: list[str] = []
        amounts: list[tuple[str, Money]] = []
        extra = ""
        for child in tx:
            local = names[child.tag]
            if local == "Refs":
                for ref in child:
                    text = ref.text
                    if text is None:
                        continue
                    text = text.strip()
                    if not text or text == _NOT_PROVIDED:
                        continue
                    name = names[ref.tag]
                    if name == "EndToEndId":
                        e2e = text
                    elif name == "TxId":
                        tx_id = text
                    elif name == "AcctSvcrRef":
                        bank_ref = text
                    elif name == "ChqNb" or (name == "InstrId" and cust_ref is None):
                        cust_ref = text
            elif local == "RltdPties":
                for party in child:
                    name = names[party.tag]
                    if name == "Dbtr":
                        payer_name = self._party_name(party)
                    elif name == "DbtrAcct":
                        ident = self._child(party, "Id")
                        payer_account = None if ident is None else self._account_id(ident)
                    elif name == "UltmtDbtr":
                        ultimate_name = self._party_name(party)
            elif local == "RmtInf":
                self._read_remittance(child, texts, refs, amounts)
            elif local == "AmtDtls":
                for part in child:
                    index = _AMOUNT_DETAILS.get(names[part.tag])
                    if index is not None:
                        inner = self._child(part, "Amt")
                        if inner is not None:
                            amount_details[index] = self._amount(inner, _AMOUNT_FIELDS[index])
            elif local == "Amt":
                amount = self._amount(child, "TxDtls/Amt")
            elif local == "CdtDbtInd":
                direction = self._direction(child, "TxDtls/CdtDbtInd")
            elif local == "BkTxCd":
                type_code = self._bank_transaction_code(child)
            elif local == "AddtlTxInf":
                extra = _text(child) or ""
        # The amount in the entry's (the account's) currency, else the first one given.
        chosen = fallback = None
        for candidate in (amount, *amount_details):
            if candidate is not None:
                if candidate.currency == currency:
                    chosen = candidate
                    break
                if fallback is None:
                    fallback = candidate
        return _Detail(
            chosen or fallback,
            direction,
            tx.sourceline,
            last_line,
            type_code,
            bank_ref,
            tx_id,
            cust_ref,
            e2e,
            payer_name or ultimate_name,
            payer_account,
            " ".join(texts) or extra,
            tuple(dict.fromkeys(refs)),
            ultimate_name,
            tuple(dict(amounts).items()) if amounts else (),
        )

    def _read_remittance(
        self, rmt: Any, texts: list[str], refs: list[str], amounts: list[tuple[str, Money]]
    ) -> None:
        """`RmtInf`: each `Ustrd` is text; each `Strd` gives references, the amount referred
        to (`RfrdDocAmt`) when it names one document, and its `AddtlRmtInf`."""
        names = self.names
        for part in rmt:
            local = names[part.tag]
            if local == "Ustrd":
                text = _text(part)
                if text:
                    texts.append(text)
            elif local == "Strd":
                documents: list[str] = []
                creditor_refs: list[str] = []
                referred: Money | None = None
                for block in part:
                    name = names[block.tag]
                    if name == "RfrdDocInf":
                        number = _text(self._child(block, "Nb"))
                        if number:
                            refs.append(number)
                            documents.append(number)
                    elif name == "CdtrRefInf":
                        ref = _text(self._child(block, "Ref"))
                        if ref:
                            refs.append(ref)
                            creditor_refs.append(ref)
                    elif name == "RfrdDocAmt":
                        referred = self._referred_amount(block)
                    elif name == "AddtlRmtInf":
                        text = _text(block)
                        if text:
                            texts.append(text)
                # An amount for several documents cannot be split: it stays unassigned.
                named = documents or creditor_refs
                if referred is not None and len(named) == 1:
                    amounts.append((named[0], referred))

    def _referred_amount(self, amounts: Any) -> Money | None:
        """`RfrdDocAmt`: the remitted amount, else the amount due."""
        for local in _REFERRED_AMOUNTS:
            element = self._child(amounts, local)
            if element is not None:
                amount = self._amount(element, f"RfrdDocAmt/{local}")
                return new_money(amount.minor, amount.currency)
        return None

    def _party_name(self, party: Any) -> str | None:
        """`Nm` of a party (PartyIdentification), or of its `Pty` (.08+ Party40Choice)."""
        name = self._child(party, "Nm")
        if name is None:
            inner = self._child(party, "Pty")
            name = None if inner is None else self._child(inner, "Nm")
        text = _text(name)
        return None if text is None else self.shared.setdefault(text, text)

    def _bank_transaction_code(self, code: Any) -> str | None:
        """`BkTxCd`: the ISO domain/family/sub-family as "PMNT/RCDT/ESCT", else `Prtry/Cd`."""
        names = self.names
        proprietary = None
        for part in code:
            local = names[part.tag]
            if local == "Domn":
                parts = []
                for item in part:
                    if names[item.tag] == "Fmly":
                        parts += [_text(piece) for piece in item]  # Cd, SubFmlyCd
                    else:
                        parts.insert(0, _text(item))  # Cd
                code = "/".join([piece for piece in parts if piece])
                return self.shared.setdefault(code, code) if code else None
            if local == "Prtry":
                proprietary = _text(self._child(part, "Cd"))
        return None if proprietary is None else self.shared.setdefault(proprietary, proprietary)

    # ---- values -----------------------------------------------------------------------

    def _child(self, element: Any, local: str) -> Any:
        """The first child named `local` (a loop: lxml's `find` costs three times more)."""
        names = self.names
        for child in element:
            if names[child.tag] == local:
                return child
        return None

    def _amount(self, element: Any, field: str) -> _Amount:
        ccy = element.get("Ccy")
        if ccy is None:
            raise self._error(element.sourceline, field, "an amount needs its `Ccy` attribute")
        known = self.currencies.get(ccy)
        if known is None:
            code = currency_code(ccy, self.file_name, element.sourceline, f"{field}@Ccy")
            known = self.currencies[ccy] = (code, currency_exponent(code))
            self.exponents[code] = known[1]
        code, exponent = known
        text = (element.text or "").strip()
        # The schema allows no sign: the indicator next to the amount gives the direction.
        minor = minor_units(text, exponent) if text[:1] not in ("-", "+") else None
        if minor is None:
            raise self._error(
                element.sourceline,
                field,
                f"must be an unsigned decimal with at most {exponent} decimals for {code},"
                f" found {text!r}",
            )
        return _Amount(minor, code)

    def _direction(self, element: Any, field: str) -> Direction:
        direction = _DIRECTIONS.get(_text(element) or "")
        if direction is None:
            raise self._error(
                element.sourceline, field, f"must be `CRDT` or `DBIT`, found {element.text!r}"
            )
        return direction

    def _indicator(self, element: Any, field: str) -> bool:
        text = _text(element)
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise self._error(element.sourceline, field, f"must be `true` or `false`, found {text!r}")

    def _date_choice(self, element: Any, field: str) -> date | None:
        """A DateAndDateTimeChoice: its `Dt` or `DtTm` child."""
        for part in element:
            return self._date(part, field)
        return None

    def _date(self, element: Any, field: str) -> date:
        """An ISODate or ISODateTime as the date written (the local date of the bank)."""
        text = (element.text or "").strip()
        value = self.dates.get(text)
        if value is not None:
            return value
        head = text[:10]
        try:
            if len(text) < 10 or head[4] != "-" or (len(text) > 10 and text[10] != "T"):
                raise ValueError
            value = date.fromisoformat(head)
        except ValueError:
            raise self._error(
                element.sourceline, field, f"must be a date YYYY-MM-DD[Thh:mm:ss], found {text!r}"
            ) from None
        self.dates[text] = value
        return value

    def _error(self, line: int | None, field: str | None, message: str) -> BankFileSyntaxError:
        return syntax_error(self.file_name, line, field, message)


def _text(element: Any) -> str | None:
    """An element's text without the surrounding blanks; None when absent or empty."""
    if element is None:
        return None
    text = element.text
    if text is None:
        return None
    text = text.strip()
    return text or None


def _last_line(element: Any) -> int:
    """Line of the last start tag inside `element` (libxml2 keeps no end-tag line)."""
    while len(element):
        element = element[-1]
    line: int = element.sourceline
    return line


def _joined(details: list[_Detail]) -> _Detail:
    """Quirk batch-details-without-amount: one detail standing for all, where they agree."""
    if len(details) == 1:
        return details[0]

    def common(values: list[str | None]) -> str | None:
        present = set(values)
        return values[0] if len(present) == 1 else None

    return _Detail(
        amount=None,
        direction=None,
        first_line=details[0].first_line,
        last_line=details[-1].last_line,
        type_code=common([d.type_code for d in details]),
        bank_reference=common([d.bank_reference for d in details]),
        transaction_id=common([d.transaction_id for d in details]),
        customer_reference=common([d.customer_reference for d in details]),
        end_to_end_id=common([d.end_to_end_id for d in details]),
        payer_name=common([d.payer_name for d in details]),
        payer_account=common([d.payer_account for d in details]),
        remittance=" ".join(d.remittance for d in details if d.remittance),
        invoice_refs=tuple(dict.fromkeys(ref for d in details for ref in d.invoice_refs)),
        ultimate_payer=common([d.ultimate_payer for d in details]),
        invoice_amounts=tuple(dict(a for d in details for a in d.invoice_amounts).items()),
    )


def _decimal(minor: int, exponent: int) -> str:
    """Minor units as the decimal string written in error messages ("-12.50")."""
    whole, fraction = divmod(abs(minor), 10**exponent)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


_HEAD_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])")
_HEAD_MESSAGES = ((b"BkToCstmrAcctRpt", "camt.052"), (b"BkToCstmrDbtCdtNtfctn", "camt.054"),
                  (b"BkToCstmrStmt", "camt.053"))  # fmt: skip


def camt_message(head: bytes) -> str | None:
    """The camt format a file's first bytes announce ("camt.053"), or None if not camt."""
    if b"<Document" not in head and b":Document" not in head:
        return None
    match = _HEAD_NAMESPACE.search(head)
    if match is not None:
        return match.group(1).decode()
    return next((name for marker, name in _HEAD_MESSAGES if marker in head), None)
