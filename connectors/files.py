"""The `files` books host: a folder of CSV files, the embedded default.

The folder holds what an ERP export gives (`customers.csv`, `open_invoices.csv`) and
what arlink writes back (`applications.csv`, `exceptions.csv`); a clerk records what
they did with an exception in `resolutions.csv`. The shapes are the files contract in
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
from pathlib import Path

from connectors.protocols import CheckResult
from mappings.money import Money, MoneyError
from mappings.records import (
    ApplicationWrite,
    Customer,
    ExceptionWrite,
    Invoice,
    Resolution,
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
            yield self.reader.line_num, {key: (value or "").strip() for key, value in row.items()}

    def problem(self, line: int, field: str, message: str) -> None:
        self.problems.append(RowProblem(self.path.name, line, field, message))

    def money(self, line: int, row: Mapping[str, str], field: str, currency: str) -> Money | None:
        try:
            return Money.parse(row[field], currency)
        except MoneyError as exc:
            self.problem(line, field, str(exc))
            return None

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


class FilesBooks:
    """Books host over a CSV folder (see the module docstring for the contract)."""

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

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
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
        open_invoices = []
        for invoice in invoices:
            reduction = applied.get(invoice.invoice_id)
            remaining = invoice.open_amount - reduction if reduction else invoice.open_amount
            if remaining.minor > 0:
                open_invoices.append(replace(invoice, open_amount=remaining))
        return open_invoices

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
        return self._append(
            self.applications_path, APPLICATION_COLUMNS, [application_row(w) for w in writes]
        )

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        return self._append(
            self.exceptions_path, EXCEPTION_COLUMNS, [exception_row(w) for w in writes]
        )

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
