"""What the books-connector contract tests need from each host, besides the connector.

A harness seeds the host with customers and invoices the way its users would (CSV
export, records created through the host's API), reads back what the host holds (the
applications and exception items a clerk would see), and plays the clerk resolving an
exception inside the host. Each host's harness lives beside its test server; the
contract suite (`test_books_contract.py`) runs the same tests over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connectors.protocols import BooksHost
from mappings.money import Money
from mappings.records import Customer, Invoice


@dataclass(frozen=True, slots=True)
class HeldApplication:
    """An application as the host holds it."""

    idempotency_key: str
    invoice_id: str
    amount: Money


class BooksHarness(Protocol):
    host: BooksHost

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        """Put these customers and open invoices into the host (replacing earlier seeds)."""

    def applied(self) -> list[HeldApplication]:
        """Every application the host holds that arlink posted."""

    def exception_keys(self) -> list[str]:
        """The idempotency keys of the exception items the host holds (where a clerk looks)."""

    def open_exception_keys(self) -> list[str]:
        """The keys of the exception items still open where the clerk looks."""

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        """Do what a clerk does in the host with the exception on `payment_id`."""

    def touch_invoice(self, invoice_id: str) -> None:
        """Change an invoice in the host (as a user editing it), moving its modification time."""

    def refuse_writes_for(self, invoice_number: str) -> None:
        """Make the host itself refuse postings to this invoice from now on, by the host's
        own means (a cancelled or locked invoice, a constraint, a fault)."""

    def books_config(self) -> tuple[str, dict[str, str]]:
        """The `[books.NAME]` keys (TOML lines, `kind` included) an admin writes for this
        host, and the environment variables holding its secrets."""
