"""The contract-test harness of the `salesforce` books host, over the Salesforce test org.

It seeds the org as its users would (Accounts, posted invoices, an earlier payment and
allocation for an invoice already part paid), reads back what the org holds, and plays
the clerk: applies the cash of an exception to an invoice, then completes the Task (or
closes the Case) with a resolution. Every call goes over HTTPS through simple-salesforce.

Two orgs join the contract: Salesforce Billing with the shipped `billing.toml`, and an org
with its own `Invoice__c` and Cases with `invoice_custom.toml` (its pulls above three rows
go through Bulk API 2.0, so both read paths run the whole contract). Salesforce assigns
its own Ids; `IdView` renames them to the contract's "C1" and "I1".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from books_harness import HeldApplication
from odoo_harness import IdView
from servers.salesforce import BILLING, CUSTOM, OrgProfile, SalesforceServer

from connectors.errors import RetryPolicy
from connectors.salesforce import (
    SalesforceBooks,
    SalesforceClient,
    SalesforceSettings,
    http_session,
)
from mappings.money import Money
from mappings.records import Customer, Invoice
from mappings.salesforce import MAPPINGS, SalesforceMapping, money_to_sf

# Per org: its profile, mapping file, the status of a posted open invoice, bulk threshold.
ORGS: dict[str, tuple[OrgProfile, str, str, int]] = {
    "billing": (BILLING, "billing.toml", "Posted", 0),
    "custom": (CUSTOM, "invoice_custom.toml", "Open", 3),
}


def salesforce_settings(server: SalesforceServer, **overrides: Any) -> SalesforceSettings:
    """Settings for the test org, with tiny pages (the real minimum is 200) so paging runs."""
    values: dict[str, Any] = {
        "login_url": server.url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "api_version": server.api_version,
        "page_size": 2,
        "bulk_threshold": 0,
        "bulk_poll_seconds": 0.01,
        "ca_file": str(server.ca_file),
        "retry": RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02),
    }
    values.update(overrides)
    return SalesforceSettings(**values)


def books_for(
    server: SalesforceServer, mapping: SalesforceMapping | None = None, **overrides: Any
) -> SalesforceBooks:
    """The real connector and client, pointed at the test org."""
    settings = salesforce_settings(server, **overrides)
    return SalesforceBooks(
        "salesforce", SalesforceClient(settings, http_session(settings)), settings, mapping
    )


class SalesforceHarness:
    def __init__(self, server: SalesforceServer, org: str) -> None:
        _, mapping_file, self.open_status, threshold = ORGS[org]
        self.server = server
        self.mapping = SalesforceMapping.load(MAPPINGS / mapping_file)
        self.books = books_for(server, self.mapping, bulk_threshold=threshold)
        # The harness plays org users through a client of its own.
        self.sf = books_for(server, self.mapping).client.sf
        self.customers: dict[str, str] = {}
        self.invoices: dict[str, str] = {}
        self.currency: dict[str, str] = {}
        self.host = IdView(self.books, self.customers, self.invoices)  # type: ignore[arg-type]

    def _create(self, obj: str, values: dict[str, Any]) -> str:
        return str(getattr(self.sf, obj).create(values)["id"])

    def _rows(self, soql: str) -> list[dict[str, Any]]:
        return list(self.sf.query_all_iter(soql))

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        m = self.mapping
        for customer in customers:
            values = {m.customers.fields["name"]: customer.name, "Type": "Customer"}
            if customer.parent_id:
                values[m.customers.fields["parent"]] = self.customers[customer.parent_id]
            self.customers[customer.customer_id] = self._create(m.customers.name, values)
        f = m.invoices.fields
        for invoice in invoices:
            values = {
                f["number"]: invoice.number,
                f["customer"]: self.customers[invoice.customer_id],
                f["total"]: money_to_sf(invoice.total),
                f["status"]: self.open_status,
            }
            if invoice.issue_date:
                values[f["issue_date"]] = invoice.issue_date.isoformat()
            if invoice.due_date:
                values[f["due_date"]] = invoice.due_date.isoformat()
            if "currency" in f:
                values[f["currency"]] = invoice.currency
            if invoice.po_number and "po_number" in f:
                values[f["po_number"]] = invoice.po_number
            host_id = self._create(m.invoices.name, values)
            self.invoices[invoice.invoice_id] = host_id
            self.currency[invoice.invoice_id] = invoice.currency
            if invoice.open_amount != invoice.total:
                self.pay(host_id, invoice.total - invoice.open_amount, "earlier payment")

    def pay(self, invoice_host_id: str, amount: Money, reference: str) -> None:
        """Record a payment and allocate it to the invoice, as an AR user does by hand."""
        m = self.mapping
        (row,) = self._rows(
            f"SELECT {m.invoices.fields['customer']} FROM {m.invoices.name} "
            f"WHERE Id = '{invoice_host_id}'"
        )
        pf, af = m.payments.fields, m.allocations.fields
        payment = self._create(
            m.payments.name,
            {
                **dict(m.payments.values),
                pf["account"]: row[m.invoices.fields["customer"]],
                pf["amount"]: money_to_sf(amount),
                pf["reference"]: reference,
            },
        )
        self._create(
            m.allocations.name,
            {
                **dict(m.allocations.values),
                af["payment"]: payment,
                af["invoice"]: invoice_host_id,
                af["amount"]: money_to_sf(amount),
            },
        )

    def _ours(self, host_id: str) -> str:
        back = {host: ours for ours, host in self.invoices.items()}
        return back.get(host_id, host_id)

    def applied(self) -> list[HeldApplication]:
        a = self.mapping.allocations
        f = a.fields
        rows = self._rows(
            f"SELECT {a.key}, {f['invoice']}, {f['amount']} FROM {a.name} "
            f"WHERE {a.key} != null ORDER BY CreatedDate"
        )
        return [
            HeldApplication(
                row[a.key],
                self._ours(row[f["invoice"]]),
                Money.parse(
                    Decimal(repr(row[f["amount"]])).quantize(Decimal("0.01")),
                    self.currency[self._ours(row[f["invoice"]])],
                ),
            )
            for row in rows
        ]

    def exception_keys(self) -> list[str]:
        ex = self.mapping.exceptions
        rows = self._rows(
            f"SELECT {ex.key} FROM {ex.name} WHERE {ex.key} != null ORDER BY CreatedDate"
        )
        return [row[ex.key] for row in rows]

    def open_exception_keys(self) -> list[str]:
        ex = self.mapping.exceptions
        rows = self._rows(
            f"SELECT {ex.key} FROM {ex.name} WHERE {ex.key} != null "
            f"AND {ex.fields['status']} != '{self.mapping.done_status}' ORDER BY CreatedDate"
        )
        return [row[ex.key] for row in rows]

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        m = self.mapping
        ex = m.exceptions
        f = ex.fields
        (row,) = self._rows(f"SELECT Id FROM {ex.name} WHERE {f['payment']} = '{payment_id}'")
        choice = next(value for value, act in m.resolutions.items() if act == action)
        values = {f["status"]: m.done_status, f["resolution"]: choice}
        if action == "apply":
            assert invoice_id is not None
            host_id = self.invoices[invoice_id]
            (invoice,) = self._rows(
                f"SELECT {m.invoices.fields['open_amount']} FROM {m.invoices.name} "
                f"WHERE Id = '{host_id}'"
            )
            balance = Decimal(repr(invoice[m.invoices.fields["open_amount"]])).quantize(
                Decimal("0.01")
            )
            self.pay(host_id, Money.parse(balance, self.currency[invoice_id]), f"{payment_id}")
            values[f["resolved_invoice"]] = host_id
        getattr(self.sf, ex.name).update(row["Id"], values)

    def refuse_writes_for(self, invoice_number: str) -> None:
        """Put the invoice on hold as an admin's validation rule does: the org refuses
        every allocation and write-off on it (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
        self.server.refuse_writes_for(invoice_number)

    def books_config(self) -> tuple[str, dict[str, str]]:
        mapping = self.mapping.source.stem
        table = (
            f'kind = "salesforce"\nlogin_url = "{self.server.url}"\n'
            f'client_id = "{self.server.client_id}"\n'
            'client_secret = { env = "ARLINK_TEST_SF_SECRET" }\n'
            f'api_version = "{self.server.api_version}"\nmapping = "{mapping}"\n'
            f'ca_file = "{self.server.ca_file}"\ncurrency = "USD"\ntimeout = 10\n'
            f"page_size = 2\nbulk_threshold = {self.books.settings.bulk_threshold}\n"
        )
        return table, {"ARLINK_TEST_SF_SECRET": self.server.client_secret}

    def touch_invoice(self, invoice_id: str) -> None:
        due = self.mapping.invoices.fields["due_date"]
        getattr(self.sf, self.mapping.invoices.name).update(
            self.invoices[invoice_id], {due: "2026-12-31"}
        )


def salesforce_harness(request: pytest.FixtureRequest, org: str) -> SalesforceHarness:
    """A fresh test org of `org` ("billing" or "custom") for one test, stopped at its end."""
    profile = ORGS[org][0]
    server = SalesforceServer(profile)
    server.start()
    request.addfinalizer(server.stop)
    return SalesforceHarness(server, org)
