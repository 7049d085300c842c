"""Pull throughput of the books connectors: 100k open invoices from each host's test server.

    python -m bench.connector_pull [--invoices 100000] [--customers 2000] [--page-size 500]
                                   [--hosts odoo-xmlrpc odoo-jsonrpc ...]
    python -m bench.connector_pull --writes 2000 [--customers 200]

Each host's test server (tests/servers/) runs in a child process, seeded directly in its
memory (no RPC) with the customers and posted open invoices, so the pull's client side
is alone in this process. For each host the real connector pulls every open invoice
(`pull_open_invoices(None)`, the host's own paging) and the benchmark reports:

- `records_per_s`: invoices over wall seconds, end to end (server time included);
- `client_cpu_s`: CPU seconds this process spent (the client library decoding the wire
  format, plus arlink);
- `arlink_cpu_s`: of those, arlink's own mapping of host rows into canonical records,
  timed by mapping the same rows again with the connector's row reader;
- `client_share` and `arlink_share`: those CPU seconds over wall seconds.

With `--writes N` it measures write-back instead: the Salesforce test org is seeded with
N open invoices, each paid in full by its own bank payment, and the connector pushes the
N applications in one `push_applications` call (`records_per_s`: applications over wall
seconds, lookups included; `requests`: data-API calls the org answered, the pull of the
open invoices included).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


@dataclass(frozen=True, slots=True)
class Pulled:
    """What one pull measured."""

    invoices: int
    wall_s: float
    client_cpu_s: float
    arlink_cpu_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "invoices": self.invoices,
            "wall_s": round(self.wall_s, 2),
            "records_per_s": round(self.invoices / self.wall_s, 1),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "arlink_cpu_s": round(self.arlink_cpu_s, 2),
            "client_share": round(self.client_cpu_s / self.wall_s, 3),
            "arlink_share": round(self.arlink_cpu_s / self.wall_s, 3),
        }


def _serve_odoo(invoices: int, customers: int, answer: Connection) -> None:
    """Child process: an Odoo test server seeded with `invoices` posted open invoices."""
    from servers.odoo import OdooServer

    server = OdooServer(version=17)
    db, uid = server.db, 2
    usd = db.table("res.currency")
    usd_id = next(rid for rid, row in usd.items() if row["name"] == "USD")
    partners = [
        server._create(uid, "res.partner", {"name": f"Customer {n:05d}", "is_company": True}, {})
        for n in range(customers)
    ]
    for n in range(invoices):
        move = server._create(
            uid,
            "account.move",
            {
                "move_type": "out_invoice",
                "partner_id": partners[n % customers],
                "currency_id": usd_id,
                "invoice_date": "2026-10-01",
                "invoice_line_ids": [
                    (0, 0, {"quantity": 1, "price_unit": float(Decimal(100 + n % 9000) / 4)})
                ],
            },
            {},
        )
        server._m_account_move_action_post(uid, [move], {})
    server.start()
    answer.send(server.url)
    answer.recv()  # the parent says when it is done
    server.stop()


def _pull_odoo(url: str, page_size: int, protocol: str) -> Pulled:
    from connectors.odoo import TRANSPORTS, OdooBooks, OdooSettings
    from mappings.odoo import OdooMapping, invoice_from

    mapping = OdooMapping.load()
    settings = OdooSettings(
        url=url, database="arlink", username="admin", password="admin", page_size=page_size
    )
    rpc = TRANSPORTS[protocol](url, 300.0)
    books = OdooBooks("bench", rpc, settings, mapping)
    wall, cpu = time.perf_counter(), time.process_time()
    pulled = books.pull_open_invoices(None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # The same rows again in one call, to time arlink's own mapping of them alone.
    rows = rpc.execute_kw(
        "arlink", 2, "admin", mapping.invoice_model, "search_read", [mapping.open_domain],
        {"fields": mapping.invoice_read_fields()},
    )  # fmt: skip
    mapped = time.process_time()
    for row in rows:
        invoice_from(row, mapping)
    return Pulled(len(pulled), wall, cpu, time.process_time() - mapped)


def _serve_salesforce(invoices: int, customers: int, answer: Connection) -> None:
    """Child process: a Salesforce Billing test org seeded with `invoices` posted invoices."""
    from servers.salesforce import BILLING, SalesforceServer

    server = SalesforceServer(BILLING)
    org = server.org
    accounts = [org.create("Account", {"Name": f"Customer {n:05d}"}) for n in range(customers)]
    for n in range(invoices):
        org.create(
            "blng__Invoice__c",
            {
                "Name": f"INV-{n:06d}",
                "blng__Account__c": accounts[n % customers],
                "blng__TotalAmount__c": str(Decimal(100 + n % 9000) / 4),
                "blng__InvoiceDate__c": "2026-10-01",
                "blng__InvoiceStatus__c": "Posted",
            },
        )
    server.start()
    answer.send(f"{server.url} {server.ca_file}")
    answer.recv()
    answer.send(server.api_calls)
    server.stop()


def _salesforce_books(address: str, page_size: int, bulk: bool) -> Any:
    """The real connector pointed at the seeded test org, no retries."""
    from connectors.errors import RetryPolicy
    from connectors.salesforce import (
        SalesforceBooks,
        SalesforceClient,
        SalesforceSettings,
        http_session,
    )

    url, ca_file = address.split(" ")
    settings = SalesforceSettings(
        login_url=url, client_id="arlink-client", client_secret="s3cret", ca_file=ca_file,
        page_size=min(page_size, 2000), bulk_threshold=1 if bulk else 0, bulk_poll_seconds=0.2,
        timeout=300.0, retry=RetryPolicy(attempts=1),
    )  # fmt: skip
    return SalesforceBooks("bench", SalesforceClient(settings, http_session(settings)), settings)


def _pull_salesforce(address: str, page_size: int, bulk: bool) -> Pulled:
    """REST pages through `nextRecordsUrl` (at most 2,000 a page), or one Bulk 2.0 job."""
    from mappings.salesforce import SalesforceMapping, invoice_from

    mapping = SalesforceMapping.load()
    books = _salesforce_books(address, page_size, bulk)
    wall, cpu = time.perf_counter(), time.process_time()
    pulled = books.pull_open_invoices(None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # The same rows again, to time arlink's own mapping of them alone.
    fields = ", ".join(sorted(set(mapping.invoices.fields.values()) | {"Id"}))
    rows = list(books.client.sf.query_all_iter(f"SELECT {fields} FROM blng__Invoice__c"))
    mapped = time.process_time()
    for row in rows:
        invoice_from(row, mapping, "USD")
    return Pulled(len(pulled), wall, cpu, time.process_time() - mapped)


HOSTS: dict[str, tuple[Callable[[int, int, Connection], None], Callable[[str, int], Pulled]]] = {
    "odoo-xmlrpc": (_serve_odoo, functools.partial(_pull_odoo, protocol="xmlrpc")),
    "odoo-jsonrpc": (_serve_odoo, functools.partial(_pull_odoo, protocol="jsonrpc")),
    "salesforce-rest": (_serve_salesforce, functools.partial(_pull_salesforce, bulk=False)),
    "salesforce-bulk": (_serve_salesforce, functools.partial(_pull_salesforce, bulk=True)),
}


def _push_salesforce(address: str, count: int) -> dict[str, Any]:
    """Push one full application per open invoice in a single `push_applications` call."""
    from datetime import date

    from mappings.records import Application, ApplicationWrite, Payment, SourceRef
    from mappings.records import idempotency_key as key

    books = _salesforce_books(address, 2000, False)
    open_invoices = books.pull_open_invoices(None)[:count]
    source = SourceRef("b" * 64, "bench.bai2", "bai2", 1, 1)
    writes = []
    for n, invoice in enumerate(open_invoices):
        paid = Payment(
            f"bench-{n:06d}", "4021558830", date(2026, 11, 2), invoice.open_amount, source,
            bank_reference=f"REF-{n:06d}",
        )  # fmt: skip
        application = Application(invoice.invoice_id, invoice.open_amount)
        writes.append(ApplicationWrite(key(paid.payment_id, invoice.invoice_id), paid,
                                       application, 1.0))  # fmt: skip
    wall = time.perf_counter()
    results = books.push_applications(writes)
    wall = time.perf_counter() - wall
    written = sum(1 for r in results if not r.already_present and not r.refused)
    return {"applications": written, "wall_s": round(wall, 2),
            "records_per_s": round(written / wall, 1)}  # fmt: skip


def measure_writes(count: int, customers: int) -> dict[str, Any]:
    """Seed the Salesforce test org in a child process and time one write-back of `count`."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_serve_salesforce, args=(count, customers, theirs), daemon=True
    )
    child.start()
    address = ours.recv()
    try:
        result = _push_salesforce(address, count)
    finally:
        ours.send("done")
        requests = ours.recv()
        child.join(timeout=30)
    return {**result, "requests": requests}


def measure(host: str, invoices: int, customers: int, page_size: int) -> dict[str, Any]:
    """Start the host's seeded server in a child process and time one full pull."""
    serve, pull = HOSTS[host]
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=serve, args=(invoices, customers, theirs), daemon=True
    )
    seeding = time.perf_counter()
    child.start()
    url = ours.recv()
    seeded = time.perf_counter() - seeding
    try:
        result = pull(url, page_size).to_json()
    finally:
        ours.send("done")
        child.join(timeout=30)
    return {**result, "seed_s": round(seeded, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--hosts", nargs="+", default=sorted(HOSTS), choices=sorted(HOSTS))
    parser.add_argument("--writes", type=int, default=0, help="measure N Salesforce writes")
    args = parser.parse_args()
    if args.writes:
        print(json.dumps({"salesforce_writes": measure_writes(args.writes, args.customers)}))
        return
    hosts = {
        host: measure(host, args.invoices, args.customers, args.page_size) for host in args.hosts
    }
    print(
        json.dumps(
            {
                "invoices": args.invoices,
                "page_size": args.page_size,
                "cpus": os.cpu_count(),
                "hosts": hosts,
            }
        )
    )


if __name__ == "__main__":
    main()
