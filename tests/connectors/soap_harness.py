"""The contract-test harness of the `soap` books host, over the SOAP test server.

One harness serves both shipped mappings: `bc` (Business Central-style pages,
`business_central.toml`) and `generic` (`generic_invoice_service.toml`). It seeds the
server's books as a user of the ERP would (customers, posted open invoices), reads back
what the host holds (receipts and exception records), and plays the clerk resolving an
exception on its record. Field names come from the mapping, so the same code seeds and
reads either flavour; the connector under test talks to the server only over SOAP.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from books_harness import HeldApplication
from servers.soap import SoapServer

from connectors.errors import RetryPolicy
from connectors.soap import SoapBooks, SoapSettings, connect
from mappings.money import Money
from mappings.records import Customer, Invoice
from mappings.soap import SoapMapping

MAPPINGS = {"bc": "business_central", "generic": "generic_invoice_service"}
LOCAL_CURRENCY = "USD"


def soap_settings(server: SoapServer, **overrides: Any) -> SoapSettings:
    """Settings for the test server's integration user, with small pages so paging runs."""
    base = f"{server.url}/WS/CRONUS/" if server.flavour == "bc" else f"{server.url}/"
    values: dict[str, Any] = {
        "url": base,
        "username": server.username,
        "secret": server.password,
        "local_currency": LOCAL_CURRENCY,
        "timeout": 10.0,
        "operation_timeout": 10.0,
        "page_size": 2,
        "retry": RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.02),
    }
    values.update(overrides)
    return SoapSettings(**values)


class SoapHarness:
    """Seeds and inspects one `SoapServer` through its mapping's field names."""

    def __init__(self, server: SoapServer, mapping: SoapMapping | None = None) -> None:
        self.server = server
        self.mapping = mapping or SoapMapping.load(MAPPINGS[server.flavour])
        self.host: SoapBooks = connect("soap", soap_settings(server), self.mapping)

    @property
    def books(self) -> Any:
        return self.server.books

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        c = self.mapping.customers.fields
        for customer in customers:
            values = {c["id"]: customer.customer_id, c["name"]: customer.name}
            if customer.parent_id and "parent" in c:
                values[c["parent"]] = customer.parent_id
            if customer.bank_accounts and "bank_account" in c:
                values[c["bank_account"]] = customer.bank_accounts[0]
            self.books.insert("customers", values)
        query = self.mapping.invoices
        f = query.fields
        for invoice in invoices:
            blank = self.mapping.blank_currency_is_local and invoice.currency == LOCAL_CURRENCY
            currency = "" if blank else invoice.currency
            values = {
                f["id"]: invoice.invoice_id,
                f["number"]: invoice.number,
                f["customer"]: invoice.customer_id,
                f["currency"]: currency,
                f["total"]: invoice.total.to_decimal(),
                f["open_amount"]: invoice.open_amount.to_decimal(),
                f["issue_date"]: invoice.issue_date,
                f["due_date"]: invoice.due_date,
                f["po_number"]: invoice.po_number,
                **self.books.typed("invoices", query.where["open"]),
            }
            self.books.insert("invoices", values)

    def _invoice_ids_by_number(self) -> dict[str, str]:
        f = self.mapping.invoices.fields
        return {row[f["number"]]: row[f["id"]] for row in self.books.rows["invoices"]}

    def applied(self) -> list[HeldApplication]:
        f = self.mapping.applications.query.fields
        by_number = self._invoice_ids_by_number()
        held = []
        for row in self.books.rows["receipts"]:
            invoice = (
                row[f["invoice_id"]] if "invoice_id" in f else by_number[row[f["invoice_number"]]]
            )
            currency = row.get(f["currency"]) or LOCAL_CURRENCY
            amount = Money.parse(row[f["amount"]], currency)
            held.append(HeldApplication(row[f["key"]], invoice, amount))
        return held

    def exception_keys(self) -> list[str]:
        key = self.mapping.exceptions.query.fields["key"]
        return [row[key] for row in self.books.rows["cases"]]

    def open_exception_keys(self) -> list[str]:
        q = self.mapping.exceptions.query
        resolved = self.books.typed("cases", q.where["resolved"])
        return [
            row[q.fields["key"]]
            for row in self.books.rows["cases"]
            if any(row.get(name) != value for name, value in resolved.items())
        ]

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        """Set the resolution on the exception's record and mark it resolved, as a clerk
        does on the exceptions page."""
        q = self.mapping.exceptions.query
        f = q.fields
        (row,) = [r for r in self.books.rows["cases"] if r[f["payment_id"]] == payment_id]
        host_action = {ours: host for host, ours in self.mapping.actions.items()}[action]
        values: dict[str, Any] = {f["action"]: host_action, **q.where["resolved"]}
        if invoice_id is not None:
            i = self.mapping.invoices.fields
            invoice = self.books.find("invoices", i["id"], invoice_id)
            values[f["resolved_invoice_number"]] = invoice[i["number"]]
            values[f["resolved_amount"]] = Decimal(invoice[i["open_amount"]])
        self.books.update("cases", row, self.books.typed("cases", values))

    def refuse_writes_for(self, invoice_number: str) -> None:
        number = self.mapping.invoices.fields["number"]
        (invoice,) = [row for row in self.books.rows["invoices"] if row[number] == invoice_number]
        self.books.hold(invoice)

    def books_config(self) -> tuple[str, dict[str, str]]:
        settings = self.host.settings
        table = (
            f'kind = "soap"\nurl = "{settings.url}"\n'
            f'mapping = "{MAPPINGS[self.server.flavour]}"\nusername = "{settings.username}"\n'
            'password = { env = "ARLINK_TEST_SOAP_PASSWORD" }\n'
            f'local_currency = "{LOCAL_CURRENCY}"\ntimeout = 10\noperation_timeout = 10\n'
        )
        return table, {"ARLINK_TEST_SOAP_PASSWORD": self.server.password}

    def touch_invoice(self, invoice_id: str) -> None:
        i = self.mapping.invoices.fields
        row = self.books.find("invoices", i["id"], invoice_id)
        self.books.update("invoices", row, {})


def soap_harness(request: pytest.FixtureRequest, flavour: str) -> SoapHarness:
    """A fresh SOAP test server of `flavour` for one test, stopped when the test ends."""
    server = SoapServer(flavour=flavour)
    server.start()
    request.addfinalizer(server.stop)
    return SoapHarness(server)
