"""A workspace for `arlink` in a temporary folder: the demo's (or a generated day's)
books and bank folders copied in, beside a `config.toml`."""

from __future__ import annotations

import csv
import shutil
import xmlrpc.client
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from corpus import REPO

EXAMPLES = REPO / "examples"

# The demo on the files host: the folders `make_workspace` copies, one daily job.
DEMO_CONFIG = """
var_dir = "var"
[books.main]
kind = "files"
path = "books"
[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"
[jobs.daily]
books = "main"
sources = ["operating"]
"""


def make_workspace(
    folder: Path,
    config: str,
    *,
    source: Path = EXAMPLES,
    folders: Iterable[str] = ("books", "bank"),
) -> Path:
    """`folder` with a copy of each of `source`'s `folders` and `config` as its
    `config.toml`; returns `folder`."""
    for name in folders:
        shutil.copytree(source / name, folder / name)
    (folder / "config.toml").write_text(config)
    return folder


# The demo's bank folder over the Odoo test server (tests/servers/odoo.py) as the books:
# `url` is the server's. One attempt per XML-RPC call, so retries are the runner's alone.
ODOO_DEMO_CONFIG = """
var_dir = "var"
[books.erp]
kind = "odoo"
url = "{url}"
database = "arlink"
username = "admin"
password = {{ env = "ARLINK_TEST_ODOO_PASSWORD" }}
version = 17
write_off_account = "650000"
discount_account = "642000"
timeout = 10
retry_attempts = 1
[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"
[jobs.daily]
books = "erp"
sources = ["operating"]
"""
ODOO_PASSWORD_ENV = ("ARLINK_TEST_ODOO_PASSWORD", "admin")

# Bank files in an SFTP inbox of the sshd fixture (tests/servers/sshd.py), the files host
# as the books; `known_hosts` is written beside the config. One attempt per SFTP call.
SFTP_CONFIG = """
var_dir = "var"
[books.main]
kind = "files"
path = "books"
[sources.bank]
kind = "sftp"
host = "127.0.0.1"
port = {port}
username = "{user}"
known_hosts = "known_hosts"
private_key = {{ file = "{key}" }}
inbox = "{inbox}"
pattern = "*.bai2"
retry_attempts = 1
connect_timeout = 5
[jobs.daily]
books = "main"
sources = ["bank"]
"""


def seed_odoo_demo(url: str, database: str = "arlink") -> None:
    """Enter the demo's customers (with bank accounts) and posted open invoices into the
    Odoo test server at `url`, over XML-RPC as its admin, as an Odoo user would (amounts
    are floats on Odoo's wire)."""
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")

    def call(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return models.execute_kw(database, 2, "admin", model, method, list(args), kwargs)

    (usd,) = call("res.currency", "search", [["name", "=", "USD"]])
    partners: dict[str, int] = {}
    with (EXAMPLES / "books" / "customers.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            parent = partners.get(row["parent_id"])
            partner = call(
                "res.partner",
                "create",
                {"name": row["name"], "is_company": True, "parent_id": parent or False},
            )
            partners[row["customer_id"]] = partner
            for number in filter(None, row["bank_accounts"].split("|")):
                call("res.partner.bank", "create", {"acc_number": number, "partner_id": partner})
    with (EXAMPLES / "books" / "open_invoices.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            move = call(
                "account.move",
                "create",
                {
                    "move_type": "out_invoice",
                    "partner_id": partners[row["customer_id"]],
                    "currency_id": usd,
                    "name": row["invoice_number"],
                    "invoice_date": row["issue_date"],
                    "invoice_date_due": row["due_date"],
                    **({"ref": row["po_number"]} if row["po_number"] else {}),
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Goods",
                                "quantity": 1,
                                "price_unit": float(row["amount_total"]),
                            },
                        )
                    ],
                },
            )
            call("account.move", "action_post", [move])
            paid = Decimal(row["amount_total"]) - Decimal(row["amount_open"])
            if paid:  # an earlier payment, registered as a clerk does
                context = {"active_model": "account.move", "active_ids": [move]}
                wizard = call(
                    "account.payment.register",
                    "create",
                    {"amount": float(paid), "communication": "earlier payment"},
                    context=context,
                )
                call(
                    "account.payment.register", "action_create_payments", [wizard], context=context
                )
