"""The contract-test harness of the `files` books host (a CSV folder)."""

from __future__ import annotations

import csv
from pathlib import Path

from books_harness import HeldApplication

from connectors.files import (
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    KEY_COLUMN,
    RESOLUTION_COLUMNS,
    FilesBooks,
    write_csv_atomic,
)
from mappings.money import Money
from mappings.records import Customer, Invoice


class FilesHarness:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.host = FilesBooks("files", folder)
        self._currency: dict[str, str] = {}

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        write_csv_atomic(
            self.folder / "customers.csv",
            CUSTOMER_COLUMNS,
            [
                {
                    "customer_id": c.customer_id,
                    "name": c.name,
                    "parent_id": c.parent_id or "",
                    "aliases": "|".join(c.aliases),
                    "bank_accounts": "|".join(c.bank_accounts),
                }
                for c in customers
            ],
        )
        self._currency = {i.invoice_id: i.currency for i in invoices}
        write_csv_atomic(
            self.folder / "open_invoices.csv",
            INVOICE_COLUMNS,
            [
                {
                    "invoice_id": i.invoice_id,
                    "invoice_number": i.number,
                    "customer_id": i.customer_id,
                    "currency": i.currency,
                    "amount_total": str(i.total),
                    "amount_open": str(i.open_amount),
                    "issue_date": i.issue_date.isoformat() if i.issue_date else "",
                    "due_date": i.due_date.isoformat() if i.due_date else "",
                    "po_number": i.po_number or "",
                    "discount_terms": i.discount_terms or "",
                }
                for i in invoices
            ],
        )

    def _rows(self, name: str) -> list[dict[str, str]]:
        path = self.folder / name
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def applied(self) -> list[HeldApplication]:
        return [
            HeldApplication(
                row["idempotency_key"],
                row["invoice_id"],
                Money.parse(row["amount_applied"], self._currency[row["invoice_id"]]),
            )
            for row in self._rows("applications.csv")
        ]

    def exception_keys(self) -> list[str]:
        return [row["idempotency_key"] for row in self._rows("exceptions.csv")]

    def open_exception_keys(self) -> list[str]:
        # A clerk closes an exception by a `resolutions.csv` row for its payment.
        resolved = {row["payment_id"] for row in self._rows("resolutions.csv")}
        return [
            row["idempotency_key"]
            for row in self._rows("exceptions.csv")
            if row["payment_id"] not in resolved
        ]

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        rows = self._rows("resolutions.csv")
        rows.append(
            {"payment_id": payment_id, "action": action, "invoice_id": invoice_id or "",
             "amount": "", "currency": "", "note": "resolved by the clerk"}
        )  # fmt: skip
        # Keep the keys of rows arlink wrote, as a clerk's spreadsheet keeps every column.
        columns = (*RESOLUTION_COLUMNS, KEY_COLUMN)
        write_csv_atomic(self.folder / "resolutions.csv", columns, rows)

    def refuse_writes_for(self, invoice_number: str) -> None:
        # The next export no longer has the invoice (cancelled in the ERP): the files
        # host refuses applications to an invoice not in open_invoices.csv.
        path = self.folder / "open_invoices.csv"
        rows = [row for row in self._rows(path.name) if row["invoice_number"] != invoice_number]
        write_csv_atomic(path, INVOICE_COLUMNS, rows)

    def books_config(self) -> tuple[str, dict[str, str]]:
        return f'kind = "files"\npath = "{self.folder}"\n', {}

    def touch_invoice(self, invoice_id: str) -> None:
        # A CSV export has no modification times: every pull is a full snapshot.
        return None
