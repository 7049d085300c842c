"""The EDI steps end to end over the files host: invoices built with numbers from the
partner's control-number ledger, validated (an invalid one held back and sent to the clerk's
exception queue), delivered once through a folder, answered by a 997 that accepts one
invoice and rejects another, corrected and resent with new numbers, and flagged overdue
when the partner does not answer in time."""

from __future__ import annotations

import csv
import hashlib
import json
import xmlrpc.client
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from servers.odbc import OdbcDatabase, sqlite_database
from servers.odoo import OdooServer
from servers.sshd import SshdServer
from typer.testing import CliRunner
from workspace import ODOO_PASSWORD_ENV

from edi.findings import has_reject
from edi.profile import GENERIC
from edi.validate import validate
from sync_jobs.cli import app
from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.edi_steps import allocate_control_numbers
from sync_jobs.ledger import open_ledger
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.schema import audit_log, edi_documents
from sync_jobs.runner import RunResult, run_job
from sync_jobs.web.app import create_app
from sync_jobs.web.queries import edi_acceptance
from sync_jobs.wiring import ledger_url

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

CONFIG = """
var_dir = "var"
[books.main]
kind = "files"
path = "books"
[edi.partners.acme]
profile = "generic"
sender_id = "ARLINKSUPPLIER"
receiver_qualifier = "08"
receiver_id = "9251750000"
customers = ["C1"]
deliver_folder = "edi/out"
acks_folder = "edi/acks"
[jobs.billing]
books = "main"
steps = ["pull", "edi-build", "edi-validate", "edi-deliver", "edi-acks"]
edi_partner = "acme"
"""
CUSTOMERS = "customer_id,name,parent_id,aliases,bank_accounts\nC1,Acme,,,\nC2,Other Co,,,\n"
INVOICES = (
    "invoice_id,invoice_number,customer_id,currency,amount_total,amount_open,"
    "issue_date,due_date,po_number,discount_terms\n"
    "I1,INV-1001,C1,USD,999.50,999.50,2026-11-01,2026-12-01,PO-1,\n"
    "I2,INV-1002,C1,USD,25.00,25.00,2026-11-01,2026-12-01,PO-2,\n"
    "I3,INV-1003,C1,USD,10.00,10.00,2026-11-01,2026-12-01,PO-3,\n"
    "I4,INV-1004,C2,USD,10.00,10.00,2026-11-01,2026-12-01,PO-4,\n"
)
LINES = (
    "invoice_id,record,line_number,product_id,quantity,unit,unit_price,role,name\n"
    "I1,line,1,SKU-1,10,EA,99.95,,\n"
    "I1,party,,,,,,ST,ACME STORE 12\n"
    "I2,line,1,SKU-2,2,EA,12.50,,\n"
    "I4,line,1,SKU-4,1,EA,10,,\n"
)
# I3 has no lines in the export: an 810 without IT1 must not leave.
I3_CORRECTED = "I3,line,1,SKU-3,1,EA,10,,\n"


def ack_997(accepted_group: int, rejected_group: int, rejected_set: str) -> bytes:
    """One 997 interchange from the partner: one set accepting a group, one rejecting a
    document of another group (AK5 R 5: one or more segments in error)."""
    sets = [
        ["ST*997*0001", f"AK1*IN*{accepted_group}", "AK9*A*1*1*1"],
        [
            "ST*997*0002",
            f"AK1*IN*{rejected_group}",
            f"AK2*810*{rejected_set}",
            "AK5*R*5",
            "AK9*R*1*1*0",
        ],
    ]
    body = "".join(
        "".join(s + "~" for s in seg) + f"SE*{len(seg) + 1}*{seg[0].split('*')[2]}~" for seg in sets
    )
    return (
        "ISA*00*          *00*          *08*9251750000     *ZZ*ARLINKSUPPLIER "
        "*261102*1000*U*00401*000000900*0*P*>~"
        "GS*FA*9251750000*ARLINKSUPPLIER*20261102*1000*900*X*004010~"
        f"{body}GE*2*900~IEA*1*000000900~"
    ).encode("ascii")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    books = tmp_path / "books"
    books.mkdir()
    (books / "customers.csv").write_text(CUSTOMERS)
    (books / "open_invoices.csv").write_text(INVOICES)
    (books / "invoice_lines.csv").write_text(LINES)
    (tmp_path / "edi" / "acks").mkdir(parents=True)
    (tmp_path / "config.toml").write_text(CONFIG)
    return tmp_path


class Billing:
    """The `billing` job of a workspace, run at chosen times."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.loaded = load_config(workspace / "config.toml")
        self.engine = open_ledger(ledger_url(self.loaded.config))

    def run(self, at: datetime) -> RunResult:
        return run_job(self.engine, self.loaded, "billing", now=lambda: at)

    def documents(self) -> list[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    edi_documents.c.invoice_id,
                    edi_documents.c.interchange_control,
                    edi_documents.c.status,
                ).order_by(edi_documents.c.id)
            ).all()
        return [tuple(row) for row in rows]

    def delivered(self) -> list[str]:
        return sorted(p.name for p in (self.workspace / "edi" / "out").glob("*.x12"))

    def journal(self, name: str) -> list[dict[str, str]]:
        path = self.workspace / "books" / name
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def events(self, event: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                row.payload
                for row in conn.execute(
                    sa.select(audit_log.c.payload).where(audit_log.c.event == event)
                )
            ]


def test_build_validate_deliver_acknowledge_correct_and_resend(workspace: Path) -> None:
    job = Billing(workspace)
    first = job.run(T0)
    assert first.summary is not None
    # I4 is another customer's: not this partner's. I3 has no lines: held back.
    assert job.documents() == [
        ("I1", "000000001", "sent"),
        ("I2", "000000002", "sent"),
        ("I3", "000000003", "invalid"),
    ]
    assert job.delivered() == ["acme-000000001.x12", "acme-000000002.x12"]
    sent = (workspace / "edi" / "out" / "acme-000000001.x12").read_bytes()
    assert not has_reject(validate(sent, GENERIC, today=T0.date()))
    exceptions = job.journal("exceptions.csv")
    assert [(row["reason"], row["suggestions"]) for row in exceptions] == [("edi_invalid", "I3")]
    assert "invoice INV-1003 to acme: not sent to acme: " in exceptions[0]["remittance"]
    assert "IT1" in exceptions[0]["remittance"]

    (workspace / "edi" / "acks" / "ack-1.997").write_bytes(ack_997(1, 2, "0002"))
    (workspace / "edi" / "acks" / "notes.txt").write_text("not an acknowledgment")
    job.run(T0 + timedelta(hours=1))
    assert (workspace / "edi" / "acks" / "quarantine" / "notes.txt").is_file()
    (quarantined,) = job.events("edi_ack_quarantined")
    assert quarantined["reason"].startswith("not an EDI file")
    assert job.documents() == [
        ("I1", "000000001", "accepted"),
        ("I2", "000000002", "rejected"),
        ("I3", "000000003", "invalid"),
    ]
    statuses = [(r["invoice_id"], r["status"]) for r in job.journal("edi_status.csv")]
    assert statuses == [
        ("I3", "invalid"),
        ("I1", "sent"),
        ("I2", "sent"),
        ("I1", "accepted"),
        ("I2", "rejected"),
    ]
    assert [r["reason"] for r in job.journal("exceptions.csv")] == ["edi_invalid", "edi_rejected"]
    assert "rejected by the partner" in job.journal("exceptions.csv")[1]["remittance"]
    assert (workspace / "edi" / "acks" / "processed" / "ack-1.997").is_file()

    # A rerun with nothing corrected sends nothing, builds nothing, writes nothing twice.
    job.run(T0 + timedelta(hours=2))
    assert len(job.documents()) == 3
    assert job.delivered() == ["acme-000000001.x12", "acme-000000002.x12"]
    assert len(job.journal("edi_status.csv")) == 5

    # The clerk corrects both in the books: each goes again, with new numbers.
    with (workspace / "books" / "invoice_lines.csv").open("a") as lines:
        lines.write(I3_CORRECTED)
        lines.write("I2,party,,,,,,ST,ACME STORE 7\n")
    job.run(T0 + timedelta(hours=3))
    assert job.documents()[3:] == [("I2", "000000004", "sent"), ("I3", "000000005", "sent")]
    assert job.delivered() == [f"acme-00000000{n}.x12" for n in (1, 2, 4, 5)]

    # No answer for the resends within the generic profile's 24 hours: overdue.
    job.run(T0 + timedelta(hours=28))
    assert [d[2] for d in job.documents()[3:]] == ["overdue", "overdue"]
    overdue = job.events("edi_ack_overdue")
    assert [(e["invoice_number"], e["interchange_control"]) for e in overdue] == [
        ("INV-1002", "000000004"),
        ("INV-1003", "000000005"),
    ]
    assert [r["reason"] for r in job.journal("exceptions.csv")][2:] == [
        "edi_overdue",
        "edi_overdue",
    ]
    with job.engine.connect() as conn:
        assert verify_chain(conn).ok


def test_a_file_put_before_a_crash_is_recorded_not_sent_again(workspace: Path) -> None:
    job = Billing(workspace)
    config = CONFIG.replace(
        '"edi-build", "edi-validate", "edi-deliver", "edi-acks"', '"edi-build", "edi-validate"'
    )
    (workspace / "config.toml").write_text(config)
    Billing(workspace).run(T0)
    # The put happened, then the process died before the ledger recorded it.
    with job.engine.connect() as conn:
        name, content = conn.execute(
            sa.select(edi_documents.c.file_name, edi_documents.c.content).where(
                edi_documents.c.invoice_id == "I1"
            )
        ).one()
    out = workspace / "edi" / "out"
    out.mkdir()
    (out / name).write_bytes(content)
    stamp = (out / name).stat().st_mtime_ns
    (workspace / "config.toml").write_text(CONFIG)
    Billing(workspace).run(T0 + timedelta(minutes=5))
    assert (out / name).stat().st_mtime_ns == stamp
    assert hashlib.sha256((out / name).read_bytes()).digest() == hashlib.sha256(content).digest()
    sent = {e["file"]: e["already_present"] for e in job.events("edi_sent")}
    assert sent == {"acme-000000001.x12": True, "acme-000000002.x12": False}


def test_control_numbers_are_never_given_twice(workspace: Path) -> None:
    job = Billing(workspace)
    taken: list[int] = []
    for _ in range(3):
        with job.engine.begin() as conn:
            taken.append(allocate_control_numbers(conn, "acme", 41, T0).interchange)

    # A transaction that rolls back gives its numbers back: they were never used.
    def render_fails() -> None:
        with job.engine.begin() as conn:
            allocate_control_numbers(conn, "acme", 41, T0)
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError):
        render_fails()
    with job.engine.begin() as conn:
        taken.append(allocate_control_numbers(conn, "acme", 41, T0).interchange)
    with job.engine.begin() as conn:
        taken.append(allocate_control_numbers(conn, "other", 1, T0).interchange)
    assert taken == [41, 42, 43, 44, 1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c.replace('edi_partner = "acme"', 'edi_partner = "zenith"'),
            "jobs.billing.edi_partner: no [edi.partners.zenith] (known: acme)",
        ),
        (
            lambda c: c.replace('edi_partner = "acme"\n', ""),
            "jobs.billing.edi_partner: steps ['edi-build', 'edi-validate', 'edi-deliver', "
            "'edi-acks'] need the partner",
        ),
        (
            lambda c: c.replace('deliver_folder = "edi/out"', 'deliver_to = "partner_sftp"'),
            "edi.partners.acme.deliver_to: no [sources.partner_sftp] (known: none defined)",
        ),
        (
            lambda c: c.replace('profile = "generic"', 'profile = "nobody"\nversion = "D96A"'),
            "edi.partners.acme.profile: no partner profile 'nobody'",
        ),
        (
            lambda c: c.replace('profile = "generic"', 'version = "D96A"'),
            "`version` for x12 must be one of",
        ),
    ],
)
def test_edi_settings_are_checked_with_the_rest_of_the_config(
    workspace: Path, change: Callable[[str], str], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(change(CONFIG), file=workspace / "config.toml")
    assert expected in str(raised.value)


def arlink(workspace: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(workspace / "config.toml"), "edi", *args])


def test_arlink_run_runs_the_edi_steps_of_a_job(workspace: Path) -> None:
    result = CliRunner().invoke(
        app, ["--config", str(workspace / "config.toml"), "run", "billing", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    billing = Billing(workspace)
    assert billing.delivered(), "the valid invoice was delivered"
    statuses = Counter(status for _, _, status in billing.documents())
    assert statuses["sent"] >= 1
    # The dashboard's EDI acceptance chart and table carry the same numbers.
    page = TestClient(
        create_app(billing.loaded, require_login=False, engine=billing.engine),
        base_url="http://127.0.0.1:8000",
    ).get("/dashboard")
    table = page.text.split('id="edi"')[1].split("</table>")[0]
    for status, count in statuses.items():
        assert f'<td>acme</td><td>{status}</td><td class="num">{count}</td>' in table


def test_edi_build_previews_an_invoice_without_taking_its_numbers(workspace: Path) -> None:
    out = workspace / "preview.x12"
    result = arlink(workspace, "build", "I1", "--partner", "acme", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "preview.x12: 0 reject(s)" in result.stdout
    assert b"BIG*20261101*INV-1001**PO-1~" in out.read_bytes()
    assert b"*000000001*0*P*>~" in out.read_bytes()
    # Nothing was taken: the job's first document still gets number 1.
    job = Billing(workspace)
    job.run(T0)
    assert job.documents()[0] == ("I1", "000000001", "sent")
    # The next preview shows the next free numbers, and the invoice number already sent.
    again = arlink(workspace, "build", "I1", "--partner", "acme")
    assert again.exit_code == 1
    assert b"*000000004*0*P*>~" in again.stdout_bytes
    assert "X-B02" in again.stderr
    missing = arlink(workspace, "build", "I3", "--partner", "acme", "--out", str(out))
    assert missing.exit_code == 1
    assert "must not be sent" in missing.stdout


def test_edi_build_names_what_is_wrong_on_the_command_line(workspace: Path) -> None:
    unknown_partner = arlink(workspace, "build", "I1", "--partner", "zenith")
    assert unknown_partner.exit_code == 2
    assert "no [edi.partners.zenith] (known: acme)" in unknown_partner.stderr
    unknown_invoice = arlink(workspace, "build", "I9", "--partner", "acme")
    assert unknown_invoice.exit_code == 1
    assert "invoice `I9` not found in books host `main`" in unknown_invoice.stderr


def test_edi_status_lists_the_documents_with_their_status(workspace: Path) -> None:
    job = Billing(workspace)
    job.run(T0)
    (workspace / "edi" / "acks" / "ack-1.997").write_bytes(ack_997(1, 2, "0002"))
    job.run(T0 + timedelta(hours=1))
    result = arlink(workspace, "status", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["invoice_number"], r["status"]) for r in rows] == [
        ("INV-1001", "accepted"),
        ("INV-1002", "rejected"),
        ("INV-1003", "invalid"),
    ]
    assert rows[0]["sent_at"] == T0.isoformat()
    text = arlink(workspace, "status", "--partner", "acme")
    assert "INV-1002" in text.stdout
    assert "rejected by the partner" in text.stdout
    assert text.stdout.rstrip().endswith("3 document(s)")
    with job.engine.connect() as conn:
        assert edi_acceptance(conn) == [
            ("acme", "accepted", 1),
            ("acme", "invalid", 1),
            ("acme", "rejected", 1),
        ]


ODOO_EDI_CONFIG = """
var_dir = "var"
[books.erp]
kind = "odoo"
url = "{url}"
database = "arlink"
username = "admin"
password = {{ env = "ARLINK_TEST_ODOO_PASSWORD" }}
retry_attempts = 1
[edi.partners.acme]
sender_id = "ARLINKSUPPLIER"
receiver_id = "ACME"
customers = ["{customer}"]
deliver_folder = "edi/out"
[jobs.billing]
books = "erp"
steps = ["pull", "edi-build", "edi-validate", "edi-deliver"]
edi_partner = "acme"
"""


def test_over_odoo_an_invalid_invoice_becomes_an_activity_and_is_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(*ODOO_PASSWORD_ENV)
    server = OdooServer(version=17)
    server.start()
    try:
        models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")

        def admin(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
            return models.execute_kw(server.database, 2, "admin", model, method, list(args), kwargs)

        customer = admin("res.partner", "create", {"name": "Acme Stores", "is_company": True})
        (usd,) = admin("res.currency", "search", [["name", "=", "USD"]])
        widget = admin("product.product", "create", {"name": "Widget", "default_code": "SKU-1"})
        units = admin("uom.uom", "create", {"name": "Units"})
        priced = {"product_id": widget, "product_uom_id": units, "quantity": 2, "price_unit": 60}
        # The second invoice's line names no product and no unit: the partner cannot book it.
        unpriced = {"name": "Service", "quantity": 1, "price_unit": 50}
        moves = [
            admin("account.move", "create", {
                "move_type": "out_invoice", "partner_id": customer, "name": number,
                "invoice_date": "2026-11-02", "currency_id": usd,
                "invoice_line_ids": [(0, 0, {"display_type": "line_section", "name": "Order"}),
                                     (0, 0, line)],
            })
            for number, line in (("INV/2026/00001", priced), ("INV/2026/00002", unpriced))
        ]  # fmt: skip
        admin("account.move", "action_post", moves)
        (tmp_path / "config.toml").write_text(
            ODOO_EDI_CONFIG.format(url=server.url, customer=customer)
        )
        job = Billing(tmp_path)
        job.run(T0)
        assert [(d[0], d[2]) for d in job.documents()] == [
            (str(moves[0]), "sent"),
            (str(moves[1]), "invalid"),
        ]
        assert job.delivered() == ["acme-000000001.x12"]
        (activity,) = admin(
            "mail.activity", "search_read", [["summary", "ilike", "[arlink-edi "]],
            fields=["res_model", "res_id", "summary", "note"],
        )  # fmt: skip
        assert (activity["res_model"], activity["res_id"]) == ("account.move", moves[1])
        assert "INV/2026/00002 to acme: invalid" in activity["summary"]
        assert "not sent to acme" in activity["note"]
        notes = admin("mail.message", "search_read", [["body", "ilike", "[arlink-edi "]],
                      fields=["res_id", "body"])  # fmt: skip
        assert [(n["res_id"], "sent" in n["body"]) for n in notes] == [(moves[0], True)]
        # A rerun writes nothing twice into Odoo and sends nothing again.
        job.run(T0 + timedelta(hours=1))
        assert admin("mail.activity", "search_count", [["summary", "ilike", "[arlink-edi "]]) == 1
        assert job.delivered() == ["acme-000000001.x12"]
    finally:
        server.stop()


def test_an_edifact_partner_gets_invoic_files_with_its_own_numbers(workspace: Path) -> None:
    config = CONFIG.replace(
        'profile = "generic"',
        'profile = "generic"\nstandard = "edifact"\nversion = "D01B"\n'
        'sender_qualifier = "14"\nfirst_control_number = 500',
    ).replace(
        'receiver_qualifier = "08"\nreceiver_id = "9251750000"',
        'receiver_qualifier = "14"\nreceiver_id = "5412345000013"',
    )
    (workspace / "config.toml").write_text(config)
    (workspace / "books" / "invoice_lines.csv").write_text(
        "invoice_id,record,line_number,product_qualifier,product_id,quantity,unit,unit_price,"
        "role,name,id_qualifier,party_id\n"
        "I1,line,1,EN,4000862141404,10,PCE,99.95,,,,\n"
        "I1,party,,,,,,,BY,ACME BUYER,UL,5412345000013\n"
        "I1,party,,,,,,,SU,ARLINK SUPPLIER,UL,4012345000009\n"
    )
    job = Billing(workspace)
    job.run(T0)
    assert [d[1] for d in job.documents()] == ["500", "501", "502"]
    sent = workspace / "edi" / "out" / "acme-000000500.edi"
    data = sent.read_bytes()
    assert b"UNB+UNOC:3+ARLINKSUPPLIER:14+5412345000013:14+" in data
    assert b"UNH+500+INVOIC:D:01B:UN:EAN010'" in data
    assert not has_reject(validate(data, GENERIC, today=T0.date()))


def test_delivery_and_acknowledgments_through_the_partners_sftp(
    workspace: Path, sshd_server: SshdServer
) -> None:
    outbox, outbox_on_disk = sshd_server.new_inbox()
    acks, acks_on_disk = sshd_server.new_inbox()
    sources = "".join(
        f"""
[sources.{name}]
kind = "sftp"
host = "127.0.0.1"
port = {sshd_server.port}
username = "{sshd_server.user}"
known_hosts = "known_hosts"
private_key = {{ file = "{sshd_server.client_key}" }}
inbox = "{folder}"
pattern = "{pattern}"
retry_attempts = 1
connect_timeout = 5
"""
        for name, folder, pattern in (("acme_out", outbox, "acme-*"), ("acme_in", acks, "*"))
    )
    config = CONFIG.replace('deliver_folder = "edi/out"', 'deliver_to = "acme_out"').replace(
        'acks_folder = "edi/acks"', 'acks_from = "acme_in"'
    )
    (workspace / "config.toml").write_text(config + sources)
    sshd_server.known_hosts(workspace / "known_hosts")
    job = Billing(workspace)
    job.run(T0)
    assert sorted(p.name for p in outbox_on_disk.iterdir()) == [
        "acme-000000001.x12",
        "acme-000000002.x12",
    ]
    (acks_on_disk / "997-900.x12").write_bytes(ack_997(1, 2, "0002"))
    job.run(T0 + timedelta(hours=1))
    assert [d[2] for d in job.documents()] == ["accepted", "rejected", "invalid"]
    assert (acks_on_disk / "processed" / "997-900.x12").is_file()
    assert sorted(p.name for p in outbox_on_disk.iterdir()) == [
        "acme-000000001.x12",
        "acme-000000002.x12",
    ]


# ---------------------------------------------------------------- over an ODBC database

ODBC_EDI_CONFIG = CONFIG.replace(
    'kind = "files"\npath = "books"', 'kind = "odbc"\nconnection_string = "{connection}"'
)


def seed_odbc_erp(database: OdbcDatabase) -> None:
    """The files workspace's customers, invoices and `invoice_lines.csv`, as ERP tables."""
    at = datetime(2026, 11, 1, 8, 0)
    statements: list[tuple[str, tuple[Any, ...]]] = [
        ("INSERT INTO ar_customers (id, name, updated_at) VALUES (?, ?, ?)", (cid, name, at))
        for cid, name in (("C1", "Acme"), ("C2", "Other Co"))
    ]
    for row in csv.DictReader(INVOICES.splitlines()):
        statements.append(
            (
                "INSERT INTO ar_open_items (id, number, customer_id, currency, total,"
                " open_amount, issue_date, due_date, po_number, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row["invoice_id"], row["invoice_number"], row["customer_id"], row["currency"],
                 row["amount_total"], row["amount_open"], row["issue_date"], row["due_date"],
                 row["po_number"], at),
            )
        )  # fmt: skip
    statements += [odbc_document_row(row) for row in csv.DictReader(LINES.splitlines())]
    run_sql(database, statements)


def odbc_document_row(row: dict[str, str]) -> tuple[str, tuple[Any, ...]]:
    """One `invoice_lines.csv` row (a line or a party) as the ERP's table row."""
    if row["record"] == "party":
        return (
            "INSERT INTO ar_invoice_parties (invoice_id, role, name) VALUES (?, ?, ?)",
            (row["invoice_id"], row["role"], row["name"]),
        )
    return (
        "INSERT INTO ar_invoice_lines (invoice_id, line_number, product_id, quantity, unit,"
        " unit_price) VALUES (?, ?, ?, ?, ?, ?)",
        (row["invoice_id"], row["line_number"], row["product_id"], row["quantity"], row["unit"],
         row["unit_price"]),
    )  # fmt: skip


def run_sql(database: OdbcDatabase, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    with database.connect() as connection:
        cursor = connection.cursor()
        for sql, params in statements:
            cursor.execute(sql, *params)
        connection.commit()


def sql_rows(database: OdbcDatabase, sql: str) -> list[tuple[Any, ...]]:
    with database.connect() as connection:
        return [tuple(row) for row in connection.cursor().execute(sql).fetchall()]


def test_over_odbc_statuses_and_exceptions_land_in_the_erp_tables(workspace: Path) -> None:
    database = sqlite_database(workspace / "erp")
    database.create_schema()
    seed_odbc_erp(database)
    (workspace / "config.toml").write_text(
        ODBC_EDI_CONFIG.format(connection=database.connection_string)
    )
    job = Billing(workspace)
    job.run(T0)
    assert job.documents() == [
        ("I1", "000000001", "sent"),
        ("I2", "000000002", "sent"),
        ("I3", "000000003", "invalid"),
    ]
    assert job.delivered() == ["acme-000000001.x12", "acme-000000002.x12"]
    exceptions = "SELECT reason, suggestions, details FROM ar_exceptions ORDER BY created_at"
    ((reason, suggestion, details),) = sql_rows(database, exceptions)
    assert (reason, suggestion) == ("edi_invalid", "I3")
    assert details.startswith("EDI invoice INV-1003 to acme: invalid: not sent to acme: ")

    (workspace / "edi" / "acks" / "ack-1.997").write_bytes(ack_997(1, 2, "0002"))
    job.run(T0 + timedelta(hours=1))
    journal = "SELECT invoice_id, status FROM ar_edi_status ORDER BY created_at, invoice_id"
    assert sql_rows(database, journal) == [
        ("I3", "invalid"),
        ("I1", "sent"),
        ("I2", "sent"),
        ("I1", "accepted"),
        ("I2", "rejected"),
    ]
    assert [row[0] for row in sql_rows(database, exceptions)] == ["edi_invalid", "edi_rejected"]

    # The clerk corrects both in the ERP: each goes again, with new numbers, once.
    run_sql(
        database,
        [
            odbc_document_row(next(csv.DictReader([LINES.splitlines()[0], I3_CORRECTED]))),
            ("INSERT INTO ar_invoice_parties VALUES ('I2', 'ST', 'ACME STORE 7', NULL, NULL)", ()),
        ],
    )
    job.run(T0 + timedelta(hours=3))
    job.run(T0 + timedelta(hours=4))
    assert job.documents()[3:] == [("I2", "000000004", "sent"), ("I3", "000000005", "sent")]
    assert job.delivered() == [f"acme-00000000{n}.x12" for n in (1, 2, 4, 5)]
    assert len(sql_rows(database, journal)) == 7
