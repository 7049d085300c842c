"""The contract-test harness of the `odoo` books host, over the Odoo test server.

It seeds the server as an Odoo user would (partners, posted invoices, an earlier
payment for an invoice already part paid), reads back what Odoo holds, and plays the
clerk: registers the payment an exception was about, marks the To-Do activity done.

Odoo assigns its own integer ids, while the contract speaks of "C1" and "I1": the
harness's `host` is the real `OdooBooks` seen through `IdView`, which only renames ids
between the two (every call still goes over XML-RPC to the server).
"""

from __future__ import annotations

import re
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from books_harness import HeldApplication
from servers.odoo import OdooServer

from connectors.errors import RetryPolicy
from connectors.odoo import TRANSPORTS, OdooBooks, OdooSettings
from connectors.protocols import CheckResult
from mappings.money import Money
from mappings.records import (
    ApplicationWrite,
    Customer,
    ExceptionWrite,
    Invoice,
    Resolution,
    ResolutionWrite,
    WriteResult,
)

PAIR = re.compile(r"(arl-[0-9a-f]{24}):(\S+)")


def odoo_settings(server: OdooServer, **overrides: Any) -> OdooSettings:
    """Settings for the test server's admin, with small pages so paging is exercised."""
    values: dict[str, Any] = {
        "url": server.url,
        "database": server.database,
        "username": "admin",
        "password": "admin",
        "version": server.version,
        "write_off_account": "650000",
        "discount_account": "642000",
        "page_size": 2,
        "retry": RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.02),
    }
    values.update(overrides)
    return OdooSettings(**values)


class OdooAdmin:
    """A plain XML-RPC session as the admin user: how the harness plays an Odoo user."""

    def __init__(self, server: OdooServer) -> None:
        self.server = server
        self.models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")

    def __call__(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.models.execute_kw(
            self.server.database, 2, "admin", model, method, list(args), kwargs
        )

    def currency(self, code: str) -> int:
        (found,) = self("res.currency", "search", [["name", "=", code]])
        return found

    def add_customer(self, name: str, parent: int | None = None, **values: Any) -> int:
        return self(
            "res.partner",
            "create",
            {"name": name, "is_company": parent is None, "parent_id": parent or False, **values},
        )

    def add_invoice(
        self,
        partner: int,
        total: Money,
        number: str | None = None,
        open_amount: Money | None = None,
        **values: Any,
    ) -> int:
        """A posted customer invoice; part paid by an earlier payment if `open_amount` is less."""
        move = self(
            "account.move",
            "create",
            {
                "move_type": "out_invoice",
                "partner_id": partner,
                "currency_id": self.currency(total.currency),
                **({"name": number} if number else {}),
                "invoice_line_ids": [
                    (
                        0,
                        0,
                        {"name": "Goods", "quantity": 1, "price_unit": float(total.to_decimal())},
                    )
                ],
                **values,
            },
        )
        self("account.move", "action_post", [move])
        if open_amount is not None and open_amount != total:
            self.pay([move], total - open_amount, "earlier payment")
        return move

    def pay(self, moves: list[int], amount: Money, memo: str, **values: Any) -> None:
        """Register a payment as a clerk does in the invoice's Register Payment dialog."""
        context = {
            "active_model": "account.move",
            "active_ids": moves,
            "dont_redirect_to_payments": True,
        }
        wizard = self(
            "account.payment.register",
            "create",
            {
                "amount": float(amount.to_decimal()),
                "communication": memo,
                "group_payment": True,
                **values,
            },
            context=context,
        )
        self("account.payment.register", "action_create_payments", [wizard], context=context)


class IdView:
    """`OdooBooks` with the contract's ids ("C1", "I1") in place of Odoo's."""

    def __init__(
        self, books: OdooBooks, customers: dict[str, str], invoices: dict[str, str]
    ) -> None:
        self.books = books
        self.name = books.name
        self.customers = customers  # contract id -> Odoo id, per model: ids repeat across models
        self.invoices = invoices

    @staticmethod
    def _ours(to_host: dict[str, str], host_id: str | None) -> str | None:
        if host_id is None:
            return None
        back = {host: ours for ours, host in to_host.items()}
        return back.get(host_id, host_id)

    def _customer(self, host_id: str | None) -> str | None:
        return self._ours(self.customers, host_id)

    def _invoice(self, host_id: str | None) -> str | None:
        return self._ours(self.invoices, host_id)

    def _host(self, our_id: str) -> str:
        return self.invoices.get(our_id, our_id)

    def check(self) -> list[CheckResult]:
        return self.books.check()

    def pull_customers(self, since: datetime | None) -> list[Customer]:
        return [
            replace(
                c, customer_id=self._customer(c.customer_id), parent_id=self._customer(c.parent_id)
            )
            for c in self.books.pull_customers(since)
        ]

    def pull_open_invoices(self, since: datetime | None) -> list[Invoice]:
        return [
            replace(
                i, invoice_id=self._invoice(i.invoice_id), customer_id=self._customer(i.customer_id)
            )
            for i in self.books.pull_open_invoices(since)
        ]

    def push_applications(self, writes: Sequence[ApplicationWrite]) -> list[WriteResult]:
        return self.books.push_applications(
            [
                replace(
                    w,
                    application=replace(
                        w.application, invoice_id=self._host(w.application.invoice_id)
                    ),
                )
                for w in writes
            ]
        )

    def push_exceptions(self, writes: Sequence[ExceptionWrite]) -> list[WriteResult]:
        return self.books.push_exceptions(
            [
                replace(
                    w,
                    item=replace(
                        w.item,
                        suggestions=tuple(
                            replace(s, invoice_id=self._host(s.invoice_id))
                            for s in w.item.suggestions
                        ),
                    ),
                )
                for w in writes
            ]
        )

    def push_resolutions(self, writes: Sequence[ResolutionWrite]) -> list[WriteResult]:
        return self.books.push_resolutions(
            [
                replace(w, invoice_id=self._host(w.invoice_id) if w.invoice_id else None)
                for w in writes
            ]
        )

    def pull_resolutions(self, since: datetime | None) -> list[Resolution]:
        return [
            replace(r, invoice_id=self._invoice(r.invoice_id))
            for r in self.books.pull_resolutions(since)
        ]


class OdooHarness:
    def __init__(self, server: OdooServer, protocol: str = "xmlrpc") -> None:
        self.server = server
        self.admin = OdooAdmin(server)
        self.protocol = protocol
        rpc = TRANSPORTS[protocol](server.url, 10.0)
        self.books = OdooBooks("odoo", rpc, odoo_settings(server))
        self.customers: dict[str, str] = {}
        self.invoices: dict[str, str] = {}
        self.host = IdView(self.books, self.customers, self.invoices)

    def seed(self, customers: list[Customer], invoices: list[Invoice]) -> None:
        for customer in customers:
            parent = int(self.customers[customer.parent_id]) if customer.parent_id else None
            partner = self.admin.add_customer(customer.name, parent)
            for number in customer.bank_accounts:
                self.admin(
                    "res.partner.bank", "create", {"acc_number": number, "partner_id": partner}
                )
            self.customers[customer.customer_id] = str(partner)
        for invoice in invoices:
            values: dict[str, Any] = {}
            if invoice.issue_date:
                values["invoice_date"] = invoice.issue_date.isoformat()
            if invoice.due_date:
                values["invoice_date_due"] = invoice.due_date.isoformat()
            if invoice.po_number:
                values["ref"] = invoice.po_number
            move = self.admin.add_invoice(
                int(self.customers[invoice.customer_id]),
                invoice.total,
                invoice.number,
                invoice.open_amount,
                **values,
            )
            self.invoices[invoice.invoice_id] = str(move)

    def _invoice_by_number(self) -> dict[str, str]:
        rows = self.admin(
            "account.move", "search_read", [["move_type", "=", "out_invoice"]], fields=["name"]
        )
        back = {host: ours for ours, host in self.invoices.items()}
        return {row["name"]: back.get(str(row["id"]), str(row["id"])) for row in rows}

    def applied(self) -> list[HeldApplication]:
        memo = "memo" if self.server.version >= 18 else "ref"
        payments = self.admin(
            "account.payment",
            "search_read",
            [[memo, "ilike", "arl-"]],
            fields=[memo, "currency_id"],
            order="id asc",
        )
        by_number = self._invoice_by_number()
        held = []
        for payment in payments:
            for key, number in PAIR.findall(payment[memo]):
                ours = by_number[number]
                # Odoo shows what a payment settled per invoice in its reconciliation
                # (partials); the test server keeps them without an XML-RPC model.
                settled = sum(
                    p.amount
                    for p in self.server.db.partials
                    if p.payment_id == payment["id"]
                    and p.move_id == int(self.invoices[ours])
                    and not p.write_off
                )
                held.append(
                    HeldApplication(key, ours, Money.parse(str(settled), payment["currency_id"][1]))
                )
        return held

    def exception_keys(self) -> list[str]:
        rows = self.admin(
            "mail.activity",
            "search_read",
            [["summary", "ilike", "[arlink "]],
            fields=["summary"],
            order="id asc",
        )
        return [re.search(r"arl-[0-9a-f]{24}", row["summary"]).group(0) for row in rows]

    def open_exception_keys(self) -> list[str]:
        # Marking an activity done removes it (To-Do): what is left is still open.
        return self.exception_keys()

    def resolve(self, payment_id: str, action: str, invoice_id: str | None) -> None:
        (activity,) = self.admin(
            "mail.activity", "search", [["summary", "ilike", f"[arlink {payment_id} "]]
        )
        if action == "apply":
            assert invoice_id is not None
            move = int(self.invoices[invoice_id])
            (row,) = self.admin("account.move", "read", [move], ["amount_residual", "currency_id"])
            amount = Money.parse(f"{row['amount_residual']:.2f}", row["currency_id"][1])
            self.admin.pay([move], amount, f"arlink {payment_id}")
            feedback = "registered the payment on the invoice"
        else:
            feedback = "not ours" if action == "not_ours" else "left on account"
        self.admin("mail.activity", "action_feedback", [activity], feedback=feedback)

    def refuse_writes_for(self, invoice_number: str) -> None:
        """Cancel the invoice as an Odoo user does (reset to draft, cancel): Odoo's
        register-payment wizard then refuses it with a UserError."""
        (move,) = self.admin("account.move", "search", [["name", "=", invoice_number]])
        for method in ("button_draft", "button_cancel"):
            try:
                self.admin("account.move", method, [move])
            except xmlrpc.client.Fault as fault:
                # Both return None: Odoo commits, then cannot marshal the answer.
                if "cannot marshal None" not in fault.faultString:
                    raise

    def books_config(self) -> tuple[str, dict[str, str]]:
        table = (
            f'kind = "odoo"\nurl = "{self.server.url}"\ndatabase = "{self.server.database}"\n'
            'username = "admin"\npassword = { env = "ARLINK_TEST_ODOO_PASSWORD" }\n'
            f'version = {self.server.version}\nprotocol = "{self.protocol}"\n'
            'write_off_account = "650000"\ndiscount_account = "642000"\ntimeout = 10\n'
        )
        return table, {"ARLINK_TEST_ODOO_PASSWORD": "admin"}

    def touch_invoice(self, invoice_id: str) -> None:
        move = int(self.invoices[invoice_id])
        (row,) = self.admin("account.move", "read", [move], ["ref"])
        self.admin("account.move", "write", [move], {"ref": row["ref"] or "touched"})


def odoo_harness(
    request: pytest.FixtureRequest, version: int, protocol: str = "xmlrpc"
) -> OdooHarness:
    """A fresh Odoo test server of `version` for one test, stopped when the test ends; the
    connector talks to it over `protocol` (`xmlrpc` or `jsonrpc`)."""
    server = OdooServer(version=version)
    server.start()
    request.addfinalizer(server.stop)
    return OdooHarness(server, protocol)
