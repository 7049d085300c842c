"""The `files` books host: a folder of CSV files, the embedded default.

The folder holds what an ERP export gives (`customers.csv`, `open_invoices.csv`, and
for EDI `invoice_lines.csv`) and what arlink writes back (`applications.csv`,
`exceptions.csv`, `edi_status.csv`); a clerk records what they did with an exception
in `resolutions.csv`. The shapes are the files contract in
the README: UTF-8, a header row, extra columns ignored.

`open_invoices.csv` is the opening position; `applications.csv` is arlink's journal
against it, so an invoice's open amount is `amount_open` minus what the journal
applied. Each write is one atomic file replacement that carries the idempotency key,
so a crash leaves either the old or the new file and a rerun finds what was written.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from connectors.protocols import CheckResult
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    PaymentTerms,
    TaxAmount,
)
from mappings.money import Money, MoneyError
from mappings.records import (
    EDI_EXCEPTION_STATUSES,
    Application,
    ApplicationWrite,
    Customer,
    EdiStatusWrite,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)

CUSTOMER_COLUMNS = ("customer_id", "name", "parent_id", "aliases", "bank_accounts")
INVOICE_COLUMNS = (
    "invoice_id", "invoice_number", "customer_id", "currency", "amount_total", "amount_open",
    "issue_date", "due_date", "po_number", "discount_terms",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "payment_id", "bank_reference", "invoice_id", "amount_applied", "discount_taken",
    "write_off", "confidence", "reasons",
)  # fmt: skip
EXCEPTION_COLUMNS = (
    "payment_id", "bank_reference", "amount", "currency", "payer_name", "reason",
    "suggestions", "remittance",
)  # fmt: skip
RESOLUTION_COLUMNS = ("payment_id", "action", "invoice_id", "amount", "currency", "note")
# One file for the whole EDI document: each row is one `record` of an invoice.
DOCUMENT_COLUMNS = ("invoice_id", "record")
DOCUMENT_RECORDS = ("line", "allowance", "charge", "tax", "party", "terms")
# Columns a row uses depending on its record; any may be left out of the header.
DOCUMENT_FIELDS = (
    "line_number", "product_qualifier", "product_id", "quantity", "unit", "unit_price",
    "description", "code", "amount", "percent", "role", "name", "id_qualifier", "party_id",
    "net_days", "discount_days",
)  # fmt: skip
EDI_STATUS_COLUMNS = (
    "invoice_id", "invoice_number", "partner", "status", "interchange_control", "message", "at",
)  # fmt: skip
KEY_COLUMN = "idempotency_key"
RESOLUTION_ACTIONS = ("apply", "on_account", "not_ours")


@dataclass(frozen=True, slots=True)
class RowProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: field `{self.field}`: {self.message}"


class BooksDataError(ValueError):
    """Rows of a books CSV that cannot be read; lists every bad row at once."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class _Rows:
    """Reads one CSV file row by row, collecting problems with file, line and field."""

    def __init__(self, path: Path, required: Sequence[str]) -> None:
        self.path = path
        self.problems: list[RowProblem] = []
        text = path.read_text(encoding="utf-8-sig")
        self.reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [column for column in required if column not in (self.reader.fieldnames or [])]
        if missing:
            raise BooksDataError(
                [RowProblem(path.name, 1, name, "column missing from header") for name in missing]
            )

    def __iter__(self) -> Iterable[tuple[int, dict[str, str]]]:
        for row in self.reader:
            # Cells past the header (key None) are extra columns: ignored, as the contract says.
            cells = {key: value for key, value in row.items() if key is not None}
            yield self.reader.line_num, {key: (value or "").strip() for key, value in cells.items()}

    def problem(self, line: int, field: str, message: str) -> None:
        self.problems.append(RowProblem(self.path.name, line, field, message))

    def money(self, line: int, row: Mapping[str, str], field: str, currency: str) -> Money | None:
        try:
            return Money.parse(row[field], currency)
        except MoneyError as exc:
            self.problem(line, field, str(exc))
            return None

    def decimal(self, line: int, row: Mapping[str, str], field: str) -> Decimal | None:
        text = row.get(field, "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            self.problem(line, field, f"expected a decimal number such as 12.50, found {text!r}")
            return None
        if not number.is_finite():
            self.problem(line, field, f"expected a finite number, found {text!r}")
            return None
        return number

    def optional_int(self, line: int, row: Mapping[str, str], field: str) -> int | None:
        text = row.get(field, "")
        if not text:
            return None
        if not text.isdigit():
            self.problem(line, field, f"expected a whole number of days, found {text!r}")
            return None
        return int(text)

    def day(self, line: int, row: Mapping[str, str], field: str) -> date | None:
        if not row[field]:
            return None
        try:
            return date.fromisoformat(row[field])
        except ValueError:
            self.problem(line, field, f"expected an ISO date (YYYY-MM-DD), found {row[field]!r}")
            return None

    def done(self) -> None:
        if self.problems:
            raise BooksDataError(self.problems)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def read_customers(path: Path) -> list[Customer]:
    """Read `customers.csv`; raise `BooksDataError` naming every bad row."""
    rows = _Rows(path, CUSTOMER_COLUMNS)
    customers = []
    for line, row in rows:
        if not row["customer_id"]:
            rows.problem(line, "customer_id", "must not be empty")
            continue
        customers.append(
            Customer(
                customer_id=row["customer_id"],
                name=row["name"],
                parent_id=row["parent_id"] or None,
                aliases=_split(row["aliases"]),
                bank_accounts=_split(row["bank_accounts"]),
                payment_terms=row.get("payment_terms") or None,
            )
        )
    rows.done()
    return customers


def read_invoices(path: Path) -> list[Invoice]:
    """Read `open_invoices.csv` as exported (before arlink's own applications)."""
    rows = _Rows(path, INVOICE_COLUMNS)
    invoices = []
    for line, row in rows:
        currency = row["currency"].upper()
        if len(currency) != 3 or not currency.isalpha():
            rows.problem(line, "currency", f"expected an ISO 4217 code, found {currency!r}")
            continue
        total = rows.money(line, row, "amount_total", currency)
        open_amount = rows.money(line, row, "amount_open", currency)
        issued, due = rows.day(line, row, "issue_date"), rows.day(line, row, "due_date")
        for field in ("invoice_id", "invoice_number", "customer_id"):
            if not row[field]:
                rows.problem(line, field, "must not be empty")
        if total is None or open_amount is None or rows.problems:
            continue
        invoices.append(
            Invoice(
                invoice_id=row["invoice_id"],
                number=row["invoice_number"],
                customer_id=row["customer_id"],
                total=total,
                open_amount=open_amount,
                issue_date=issued,
                due_date=due,
                po_number=row["po_number"] or None,
                discount_terms=row["discount_terms"] or None,
            )
        )
    rows.done()
    return invoices


@dataclass(slots=True)
class _DocumentParts:
    """The rows of one invoice in `invoice_lines.csv`, gathered before the document is built."""

    lines: list[DocumentLine]
    line_extras: dict[str, list[AllowanceCharge]]
    allowances_charges: list[AllowanceCharge]
    taxes: list[TaxAmount]
    parties: list[Party]
    terms: PaymentTerms | None = None


def _document_row(
    rows: _Rows, line: int, row: Mapping[str, str], invoice: Invoice, parts: _DocumentParts
) -> None:
    """Add one `invoice_lines.csv` row to its invoice's parts, or record its problems."""
    record, currency = row["record"], invoice.currency
    if record == "line":
        quantity, price = rows.decimal(line, row, "quantity"), rows.decimal(line, row, "unit_price")
        for field in ("line_number", "product_id", "unit"):
            if not row.get(field):
                rows.problem(line, field, "must not be empty on a `line` row")
        if quantity is not None and price is not None and row["line_number"]:
            parts.lines.append(
                DocumentLine(
                    line_number=row["line_number"],
                    product_qualifier=row["product_qualifier"] or "VN",
                    product_id=row["product_id"],
                    quantity=quantity,
                    unit=row["unit"],
                    unit_price=price,
                    description=row["description"],
                )
            )
    elif record in ("allowance", "charge"):
        amount = rows.money(line, row, "amount", currency)
        if not row["code"]:
            rows.problem(line, "code", f"must not be empty on an `{record}` row (X12 1300 code)")
        elif amount is not None:
            item = AllowanceCharge(record[0].upper(), row["code"], amount, row["description"])
            if row["line_number"]:
                parts.line_extras.setdefault(row["line_number"], []).append(item)
            else:
                parts.allowances_charges.append(item)
    elif record == "tax":
        amount = rows.money(line, row, "amount", currency)
        percent = rows.decimal(line, row, "percent") if row["percent"] else None
        if not row["code"]:
            rows.problem(line, "code", "must not be empty on a `tax` row (e.g. ST, VA)")
        elif amount is not None:
            parts.taxes.append(TaxAmount(row["code"], amount, percent))
    elif record == "party":
        if not row["role"] or not row["name"]:
            rows.problem(line, "role" if not row["role"] else "name", "must not be empty")
        else:
            parts.parties.append(
                Party(row["role"], row["name"], row["id_qualifier"], row["party_id"])
            )
    elif record == "terms":
        net_days = rows.optional_int(line, row, "net_days")
        percent = rows.decimal(line, row, "percent") if row["percent"] else None
        if net_days is None:
            rows.problem(line, "net_days", "must be given on a `terms` row")
        else:
            parts.terms = PaymentTerms(
                net_days, percent, rows.optional_int(line, row, "discount_days"), invoice.due_date
            )
    else:
        rows.problem(line, "record", f"expected one of {DOCUMENT_RECORDS}, found {record!r}")


def read_invoice_documents(
    path: Path, invoices: Mapping[str, Invoice], ids: Iterable[str]
) -> dict[str, InvoiceDocument]:
    """The EDI documents of invoices `ids` from `invoice_lines.csv`, keyed by invoice id.

    The header (number, date, currency, PO) comes from `open_invoices.csv` (`invoices`);
    an id not there is left out. Raise `BooksDataError` naming every bad row of the wanted
    invoices."""
    wanted = {invoice_id: _DocumentParts([], {}, [], [], []) for invoice_id in ids}
    wanted = {key: parts for key, parts in wanted.items() if key in invoices}
    rows = _Rows(path, DOCUMENT_COLUMNS)
    blank = dict.fromkeys(DOCUMENT_FIELDS, "")
    for line, row in rows:
        parts = wanted.get(row["invoice_id"])
        if parts is not None:
            _document_row(rows, line, {**blank, **row}, invoices[row["invoice_id"]], parts)
    for invoice_id, parts in wanted.items():
        if invoices[invoice_id].issue_date is None:
            rows.problem(0, "issue_date", f"invoice {invoice_id} needs an issue date for EDI")
        for number in set(parts.line_extras) - {item.line_number for item in parts.lines}:
            rows.problem(0, "line_number", f"invoice {invoice_id} has no line {number!r}")
    rows.done()
    documents = {}
    for invoice_id, parts in wanted.items():
        invoice = invoices[invoice_id]
        lines = tuple(
            replace(item, allowances_charges=tuple(parts.line_extras.get(item.line_number, ())))
            for item in parts.lines
        )
        documents[invoice_id] = InvoiceDocument(
            invoice_number=invoice.number,
            invoice_date=invoice.issue_date,
            currency=invoice.currency,
            lines=lines,
            po_number=invoice.po_number or "",
            allowances_charges=tuple(parts.allowances_charges),
            taxes=tuple(parts.taxes),
            parties=tuple(parts.parties),
            terms=parts.terms,
        )
    return documents


def edi_status_row(write: EdiStatusWrite) -> dict[str, str]:
    """One `edi_status.csv` row (the files contract)."""
    return {
        "invoice_id": write.invoice_id,
        "invoice_number": write.invoice_number,
        "partner": write.partner,
        "status": write.status,
        "interchange_control": write.interchange_control,
        "message": write.message,
        "at": write.at.isoformat(),
        KEY_COLUMN: write.idempotency_key,
    }


def edi_exception_row(write: EdiStatusWrite) -> dict[str, str]:
    """An `exceptions.csv` row for an invoice the clerk must correct: no payment, the reason
    `edi_<status>`, the invoice id as the suggestion and the findings as the text."""
    return {
        **dict.fromkeys(EXCEPTION_COLUMNS, ""),
        "reason": f"edi_{write.status}",
        "suggestions": write.invoice_id,
        "remittance": f"invoice {write.invoice_number} to {write.partner}: {write.message}",
        KEY_COLUMN: write.idempotency_key,
    }


def application_row(write: ApplicationWrite) -> dict[str, str]:
    """One `applications.csv` row (the files contract) for an application."""
    application = write.application
    zero = Money.zero(application.amount.currency)
    return {
        "payment_id": write.payment.payment_id,
        "bank_reference": write.payment.bank_reference or "",
        "invoice_id": application.invoice_id,
        "amount_applied": str(application.amount),
        "discount_taken": str(application.discount or zero),
        "write_off": str(application.write_off or zero),
        "confidence": f"{write.confidence:.3f}",
        "reasons": "; ".join(reason.text for reason in write.reasons),
        KEY_COLUMN: write.idempotency_key,
    }


def exception_row(write: ExceptionWrite) -> dict[str, str]:
    """One `exceptions.csv` row (the files contract) for an exception item."""
    item, payment = write.item, write.payment
    return {
        "payment_id": payment.payment_id,
        "bank_reference": payment.bank_reference or "",
        "amount": str(item.amount),
        "currency": item.amount.currency,
        "payer_name": payment.payer_name or "",
        "reason": item.reason.value,
        "suggestions": "|".join(suggestion.invoice_id for suggestion in item.suggestions),
        "remittance": payment.remittance,
        KEY_COLUMN: write.idempotency_key,
    }


def resolution_row(write: ResolutionWrite) -> dict[str, str]:
    """One `resolutions.csv` row for a decision taken in `arlink web`, as a clerk writes it
    (the amount left blank: the whole item), with who decided in the note."""
    return {
        "payment_id": write.payment_id,
        "action": write.action,
        "invoice_id": write.invoice_id or "",
        "amount": "",
        "currency": "",
        "note": write.text,
        KEY_COLUMN: write.idempotency_key,
    }


def write_csv_atomic(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    """Write a whole CSV to a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_journal(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _taken(application: Application) -> Money:
    """What an application takes off its invoice: the cash, the discount and the write-off."""
    zero = Money.zero(application.amount.currency)
    return application.amount + (application.discount or zero) + (application.write_off or zero)


def _refusal(application: Application, remaining: Money | None) -> str | None:
    """Why the books would refuse `application` (None: they take it), given what is still
    open on its invoice (None: the invoice is not in the export)."""
    invoice_id, taken = application.invoice_id, _taken(application)
    if remaining is None:
        return f"invoice {invoice_id} is not in open_invoices.csv"
    if taken.currency != remaining.currency:
        return f"invoice {invoice_id} is in {remaining.currency}, not {taken.currency}"
    if taken > remaining:
        return f"applying {taken} to invoice {invoice_id} is over its open amount {remaining}"
    return None


class FilesBooks:
    """Books host over a CSV folder (see the module docstring for the contract)."""

    # A CSV export has no modification times: every pull is a whole snapshot.
    incremental = False

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder

    @property
    def applications_path(self) -> Path:
        return self.folder / "applications.csv"

    @property
    def exceptions_path(self) -> Path:
        return self.folder / "exceptions.csv"

    def check(self) -> list[CheckResult]:
        if not self.folder.is_dir():
            return [CheckResult(f"books {self.name}", False, f"folder {self.folder} not found")]
        results = []
        for file, reader in (
            ("customers.csv", read_customers),
            ("open_invoices.csv", read_invoices),
        ):
            path = self.folder / file
            try:
                count = len(reader(path))
            except FileNotFoundError:
                results.append(CheckResult(f"books {self.name}", False, f"{path} not found"))
            except BooksDataError as exc:
                first = exc.problems[0]
                more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
                results.append(CheckResult(f"books {self.name}", False, f"{first}{more}"))
            else:
                results.append(CheckResult(f"books {self.name}", True, f"{file}: {count} rows"))
        writable = os.access(self.folder, os.W_OK)
        results.append(
            CheckResult(
                f"books {self.name}",
                writable,
                "folder writable" if writable else f"cannot write to {self.folder}",
            )
        )
        return results

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        # A CSV export has no modification times: every pull is a full snapshot.
        return read_customers(self.folder / "customers.csv")

    def _invoices_after_journal(self) -> list[Invoice]:
        """Every invoice of the export with its open amount less what the journal applied
        (an invoice paid in full is there with zero open)."""
        invoices = read_invoices(self.folder / "open_invoices.csv")
        by_id = {invoice.invoice_id: invoice for invoice in invoices}
        applied: dict[str, Money] = {}
        for row in _read_journal(self.applications_path):
            invoice = by_id.get(row["invoice_id"])
            if invoice is None:
                continue  # applied to an invoice no longer in the export: nothing to reduce
            for field in ("amount_applied", "discount_taken", "write_off"):
                amount = Money.parse(row[field] or "0", invoice.currency)
                applied[invoice.invoice_id] = (
                    applied.get(invoice.invoice_id, Money.zero(invoice.currency)) + amount
                )
        return [
            replace(invoice, open_amount=invoice.open_amount - applied[invoice.invoice_id])
            if invoice.invoice_id in applied
            else invoice
            for invoice in invoices
        ]

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        return [i for i in self._invoices_after_journal() if i.open_amount.minor > 0]

    def _append(
        self, path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]
    ) -> list[WriteResult]:
        existing = _read_journal(path)
        present = {row.get(KEY_COLUMN, ""): index for index, row in enumerate(existing, start=2)}
        results, new_rows = [], []
        for row in rows:
            key = row[KEY_COLUMN]
            if key in present:
                results.append(WriteResult(key, f"{path.name}:{present[key]}", True))
                continue
            present[key] = len(existing) + len(new_rows) + 2
            new_rows.append(row)
            results.append(WriteResult(key, f"{path.name}:{present[key]}", False))
        if new_rows:
            write_csv_atomic(path, (*columns, KEY_COLUMN), [*existing, *new_rows])
        return results

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        """Journal each application, refusing (as an ERP would) one whose invoice is not in
        `open_invoices.csv` or whose amount is over what is still open on it."""
        journaled = {row.get(KEY_COLUMN, "") for row in _read_journal(self.applications_path)}
        open_now = {i.invoice_id: i.open_amount for i in self._invoices_after_journal()}
        refusals: dict[str, str] = {}
        for write in writes:
            if write.idempotency_key in journaled:
                continue  # written before: `_append` reports it as already present
            invoice_id = write.application.invoice_id
            refused = _refusal(write.application, open_now.get(invoice_id))
            if refused is None:
                open_now[invoice_id] -= _taken(write.application)
            else:
                refusals[write.idempotency_key] = refused
        accepted = iter(
            self._append(
                self.applications_path,
                APPLICATION_COLUMNS,
                [application_row(w) for w in writes if w.idempotency_key not in refusals],
            )
        )
        return [
            WriteResult.refusal(w.idempotency_key, refusals[w.idempotency_key])
            if w.idempotency_key in refusals
            else next(accepted)
            for w in writes
        ]

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        return self._append(
            self.exceptions_path, EXCEPTION_COLUMNS, [exception_row(w) for w in writes]
        )

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        """Append each decision to `resolutions.csv` with its key, where a clerk records
        theirs: the next pull reads it back as the resolution of its payment."""
        return self._append(
            self.folder / "resolutions.csv", RESOLUTION_COLUMNS, [resolution_row(w) for w in writes]
        )

    def pull_invoice_documents(self, ids: Sequence[str]) -> dict[str, InvoiceDocument]:
        """The EDI documents of invoices `ids` (`invoice_lines.csv`), keyed by invoice id."""
        invoices = {i.invoice_id: i for i in read_invoices(self.folder / "open_invoices.csv")}
        return read_invoice_documents(self.folder / "invoice_lines.csv", invoices, ids)

    def push_edi_status(self, writes: Sequence[EdiStatusWrite]) -> list[WriteResult]:
        """Journal each status in `edi_status.csv`; one the clerk must act on (invalid,
        rejected, overdue) is also an `exceptions.csv` row."""
        results = self._append(
            self.folder / "edi_status.csv", EDI_STATUS_COLUMNS, [edi_status_row(w) for w in writes]
        )
        to_act_on = [w for w in writes if w.status in EDI_EXCEPTION_STATUSES]
        if to_act_on:
            self._append(
                self.exceptions_path, EXCEPTION_COLUMNS, [edi_exception_row(w) for w in to_act_on]
            )
        return results

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        path = self.folder / "resolutions.csv"
        if not path.exists():
            return []
        rows = _Rows(path, RESOLUTION_COLUMNS)
        resolutions = []
        for line, row in rows:
            if row["action"] not in RESOLUTION_ACTIONS:
                found = row["action"]
                rows.problem(
                    line, "action", f"expected one of {RESOLUTION_ACTIONS}, found {found!r}"
                )
                continue
            amount = None
            if row["amount"]:
                amount = rows.money(line, row, "amount", row["currency"] or "???")
            resolutions.append(
                Resolution(
                    row["payment_id"], row["action"], row["invoice_id"] or None, amount, row["note"]
                )
            )
        rows.done()
        return resolutions
