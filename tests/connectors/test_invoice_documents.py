"""Invoice documents from the books host (`pull_invoice_documents`): the files contract's
`invoice_lines.csv`, read into the canonical `InvoiceDocument` the EDI builders take."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from odbc_harness import Erp, odbc_books, odbc_settings
from odoo_harness import OdooAdmin, odoo_settings
from salesforce_harness import SalesforceHarness, salesforce_harness
from servers.odbc import OdbcDatabase, postgres_database, sqlite_database
from servers.odoo import OdooServer
from servers.soap import SoapServer
from soap_harness import SoapHarness, soap_settings

from connectors.errors import FixConfigError
from connectors.files import BooksDataError, FilesBooks, read_invoices
from connectors.odbc import OdbcBooks, OdbcRecordError, PyOdbc
from connectors.odoo import TRANSPORTS, OdooBooks
from connectors.protocols import EdiBooksHost
from connectors.soap import SoapRecordError, connect
from edi.build_x12 import Envelope, render_810
from edi.findings import has_reject
from edi.validate import validate
from mappings.invoice_document import AllowanceCharge, Party, PaymentTerms, TaxAmount
from mappings.money import Money
from mappings.odbc import DEFAULT_MAPPING, sql_timestamp
from mappings.records import Customer, EdiStatusWrite, Invoice, idempotency_key
from mappings.soap import MAPPINGS as SOAP_MAPPINGS
from mappings.soap import SoapMapping

SOAP_GENERIC = SOAP_MAPPINGS / "generic_invoice_service.toml"

INVOICES = (
    "invoice_id,invoice_number,customer_id,currency,amount_total,amount_open,"
    "issue_date,due_date,po_number,discount_terms\n"
    "I1,INV-1001,C1,USD,1094.51,1094.51,2026-11-02,2026-12-02,PO-77,2/10 net 30\n"
    "I2,INV-1002,C1,USD,10.00,10.00,2026-11-03,2026-12-03,,\n"
)
LINES = (
    "invoice_id,record,line_number,product_qualifier,product_id,quantity,unit,unit_price,"
    "description,code,amount,percent,role,name,id_qualifier,party_id,net_days,discount_days\n"
    "I1,line,1,VN,SKU-1,10,EA,99.95,Widget,,,,,,,,,\n"
    "I1,line,2,UP,012345678905,2,CA,12.5,,,,,,,,,,\n"
    "I1,charge,2,,,,,,,D240,5.00,,,,,,,\n"
    "I1,allowance,,,,,,,Promo,C310,23.50,,,,,,,\n"
    "I1,tax,,,,,,,,ST,88.51,8.875,,,,,,\n"
    "I1,party,,,,,,,,,,,ST,ACME STORE 12,UL,0614141000012,,\n"
    "I1,terms,,,,,,,,,,2,,,,,30,10\n"
    "I2,line,1,VN,SKU-9,1,EA,10,,,,,,,,,,\n"
)


def books(folder: Path, lines: str = LINES) -> FilesBooks:
    (folder / "customers.csv").write_text(
        "customer_id,name,parent_id,aliases,bank_accounts\nC1,Acme,,,\n", encoding="utf-8"
    )
    (folder / "open_invoices.csv").write_text(INVOICES, encoding="utf-8")
    (folder / "invoice_lines.csv").write_text(lines, encoding="utf-8")
    return FilesBooks("main", folder)


def test_reads_lines_allowances_charges_taxes_parties_and_terms(tmp_path: Path) -> None:
    documents = books(tmp_path).pull_invoice_documents(["I1", "I2", "I-unknown"])
    assert sorted(documents) == ["I1", "I2"]
    first = documents["I1"]
    assert (first.invoice_number, first.invoice_date, first.currency, first.po_number) == (
        "INV-1001",
        date(2026, 11, 2),
        "USD",
        "PO-77",
    )
    assert [(line.product_id, line.quantity, line.unit_price) for line in first.lines] == [
        ("SKU-1", Decimal("10"), Decimal("99.95")),
        ("012345678905", Decimal("2"), Decimal("12.5")),
    ]
    assert first.lines[1].allowances_charges == (
        AllowanceCharge("C", "D240", Money.parse("5.00", "USD")),
    )
    assert first.allowances_charges == (
        AllowanceCharge("A", "C310", Money.parse("23.50", "USD"), "Promo"),
    )
    assert first.taxes == (TaxAmount("ST", Money.parse("88.51", "USD"), Decimal("8.875")),)
    assert first.parties == (Party("ST", "ACME STORE 12", "UL", "0614141000012"),)
    assert first.terms == PaymentTerms(30, Decimal("2"), 10, date(2026, 12, 2))
    assert len(documents["I2"].lines) == 1


def test_a_document_read_from_the_folder_builds_a_valid_810(tmp_path: Path) -> None:
    document = books(tmp_path).pull_invoice_documents(["I1"])["I1"]
    envelope = Envelope("ZZ", "ARLINK", "ZZ", "ACME", 1, 1, 1, date(2026, 11, 2), time(0))
    data, segments = render_810(document, envelope)
    assert not has_reject(validate(data, today=date(2026, 11, 2)))
    # 999.50 + 25.00 lines + 5.00 charge - 23.50 allowance + 88.51 tax
    assert ["TDS", "109451"] in segments


def test_every_bad_row_is_named_with_line_and_field(tmp_path: Path) -> None:
    bad = (
        "invoice_id,record,line_number,product_id,quantity,unit,unit_price,code,amount\n"
        "I1,line,1,SKU-1,ten,EA,9.99,,\n"
        "I1,charge,7,,,,,D240,5.00\n"
        "I1,tax,,,,,,,1.00,spare cell\n"
        "I1,shipping,,,,,,,\n"
        "I2,line,1,SKU-9,1,EA,10,,\n"
    )
    with pytest.raises(BooksDataError) as raised:
        books(tmp_path, bad).pull_invoice_documents(["I1"])
    text = str(raised.value)
    assert "invoice_lines.csv:2: field `quantity`" in text
    assert "field `code`: must not be empty on a `tax` row" in text
    assert "invoice_lines.csv:5: field `record`" in text
    assert "invoice I1 has no line '7'" in text
    # Another invoice's good rows are read on their own.
    assert books(tmp_path, bad).pull_invoice_documents(["I2"])["I2"].lines[0].product_id == "SKU-9"


def test_edi_status_is_journaled_once_and_problems_reach_the_exception_queue(
    tmp_path: Path,
) -> None:
    host = books(tmp_path)
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    writes = [
        EdiStatusWrite("doc-1:sent", "I1", "INV-1001", "acme", "sent", "1", "sent to acme", at),
        EdiStatusWrite(
            "doc-2:invalid", "I2", "INV-1002", "acme", "invalid", "2", "line 1 has no price", at
        ),
    ]
    first = host.push_edi_status(writes)
    again = host.push_edi_status(writes)
    assert [r.already_present for r in first] == [False, False]
    assert [r.already_present for r in again] == [True, True]
    status_rows = (tmp_path / "edi_status.csv").read_text().splitlines()
    assert len(status_rows) == 3
    assert status_rows[1].startswith("I1,INV-1001,acme,sent,1,")
    exceptions = (tmp_path / "exceptions.csv").read_text().splitlines()
    assert len(exceptions) == 2
    assert "edi_invalid,I2,invoice INV-1002 to acme: line 1 has no price" in exceptions[1]


# ---------------------------------------------------------------- Odoo


@pytest.fixture(params=[17, 18])
def odoo(request: pytest.FixtureRequest) -> Iterator[OdooServer]:
    started = OdooServer(version=request.param)
    started.start()
    yield started
    started.stop()


def odoo_invoice(admin: OdooAdmin) -> int:
    """A posted invoice as a user enters it: a section, two product lines (one discounted),
    a note, 8.875 % sales tax on the first line, a delivery address."""
    customer = admin.add_customer("Acme Stores", ref="ACME-01")
    shop = admin.add_customer(
        "Acme Store 12", customer, type="delivery", ref="0614141000012", street="1 Main St"
    )
    tax = admin(
        "account.tax",
        "create",
        {"name": "NY 8.875%", "amount": 8.875, "amount_type": "percent", "type_tax_use": "sale"},
    )
    widget = admin("product.product", "create", {"name": "Widget", "default_code": "SKU-1"})
    boxed = admin("product.product", "create", {"name": "Boxed", "barcode": "012345678905"})
    units = admin("uom.uom", "create", {"name": "Units"})
    cases = admin("uom.uom", "create", {"name": "CA"})
    lines = [
        {"display_type": "line_section", "name": "Autumn order"},
        {"product_id": widget, "name": "Widget", "quantity": 10, "price_unit": 99.95,
         "product_uom_id": units, "tax_ids": [(6, 0, [tax])]},
        {"display_type": "line_note", "name": "Handle with care"},
        {"product_id": boxed, "name": "Boxed", "quantity": 2, "price_unit": 25.0,
         "discount": 50.0, "product_uom_id": cases},
    ]  # fmt: skip
    move = admin("account.move", "create", {
        "move_type": "out_invoice", "partner_id": customer, "partner_shipping_id": shop,
        "name": "INV/2026/00042", "ref": "PO-77", "invoice_date": "2026-11-02",
        "invoice_date_due": "2026-12-02", "currency_id": admin.currency("USD"),
        "invoice_line_ids": [(0, 0, line) for line in lines],
    })  # fmt: skip
    admin("account.move", "action_post", [move])
    return move


def test_odoo_invoice_documents_are_product_lines_taxes_and_parties(odoo: OdooServer) -> None:
    admin = OdooAdmin(odoo)
    move = odoo_invoice(admin)
    host = OdooBooks("erp", TRANSPORTS["xmlrpc"](odoo.url, 5.0), odoo_settings(odoo))
    documents = host.pull_invoice_documents([str(move), "999999", "not-an-id"])
    assert list(documents) == [str(move)]
    document = documents[str(move)]
    assert (document.invoice_number, document.po_number, document.invoice_date) == (
        "INV/2026/00042",
        "PO-77",
        date(2026, 11, 2),
    )
    assert [
        (line.line_number, line.product_qualifier, line.product_id, line.quantity, line.unit,
         line.unit_price)
        for line in document.lines
    ] == [
        ("1", "VN", "SKU-1", Decimal("10"), "EA", Decimal("99.95")),
        ("2", "UP", "012345678905", Decimal("2"), "CA", Decimal("12.5")),
    ]  # fmt: skip
    # 999.50 x 8.875 % = 88.705625, rounded on the line.
    assert document.taxes == (TaxAmount("ST", Money.parse("88.71", "USD"), Decimal("8.875")),)
    assert document.parties == (
        Party("BT", "Acme Stores", "92", "ACME-01"),
        Party("ST", "Acme Store 12", "92", "0614141000012"),
    )
    # The 810 built from it totals what Odoo says the invoice is.
    (total,) = admin("account.move", "read", [move], ["amount_total"])
    envelope = Envelope("ZZ", "ARLINK", "ZZ", "ACME", 1, 1, 1, date(2026, 11, 2), time(9))
    data, segments = render_810(document, envelope)
    assert ["TDS", str(round(total["amount_total"] * 100))] in segments
    assert not has_reject(validate(data, today=date(2026, 11, 2)))


def test_odoo_edi_status_lands_on_the_invoice_once(odoo: OdooServer) -> None:
    admin = OdooAdmin(odoo)
    move = odoo_invoice(admin)
    host = OdooBooks("erp", TRANSPORTS["xmlrpc"](odoo.url, 5.0), odoo_settings(odoo))
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    writes = [
        EdiStatusWrite(
            idempotency_key("edi", "acme", "1", "invalid"), str(move), "INV/2026/00042", "acme",
            "invalid", "000000001", "not sent to acme: line 2 has no unit price", at,
        ),
        EdiStatusWrite(
            idempotency_key("edi", "acme", "2", "sent"), str(move), "INV/2026/00042", "acme",
            "sent", "000000002", "sent to acme; waiting for the acknowledgment", at,
        ),
    ]  # fmt: skip
    first = host.push_edi_status(writes)
    again = host.push_edi_status(writes)
    assert [r.already_present for r in first] == [False, False]
    assert [r.already_present for r in again] == [True, True]
    (activity,) = admin("mail.activity", "search_read", [["res_id", "=", move]],
                        fields=["summary", "note", "res_model"])  # fmt: skip
    assert activity["res_model"] == "account.move"
    assert activity["summary"].startswith("EDI invoice INV/2026/00042 to acme: invalid [arlink-edi")
    assert "line 2 has no unit price" in activity["note"]
    notes = admin("mail.message", "search_read", [["body", "ilike", "[arlink-edi "]],
                  fields=["body", "model", "res_id"])  # fmt: skip
    assert [(n["model"], n["res_id"]) for n in notes] == [("account.move", move)]
    assert "INV/2026/00042 to acme: sent" in notes[0]["body"]
    # Not a cash exception: a clerk closing it is no resolution of a payment.
    assert host.pull_resolutions(None) == []


# ---------------------------------------------------------------- every host, one document

# The files host's I1 and I2 above, as the other hosts hold them.
ODBC_DOCUMENT_ROWS: list[tuple[str, tuple[Any, ...]]] = [
    (
        "INSERT INTO ar_invoice_lines (invoice_id, line_number, product_qualifier, product_id,"
        " quantity, unit, unit_price, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    for row in (
        ("I1", "1", "VN", "SKU-1", Decimal("10"), "EA", Decimal("99.95"), "Widget"),
        ("I1", "2", "UP", "012345678905", Decimal("2"), "CA", Decimal("12.5"), None),
        ("I2", "1", "VN", "SKU-9", Decimal("1"), "EA", Decimal("10"), None),
    )
] + [
    (
        "INSERT INTO ar_invoice_allowances (invoice_id, seq, line_number, kind, code, amount,"
        " description) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("I1", 1, "2", "C", "D240", Decimal("5.00"), None),
    ),
    (
        "INSERT INTO ar_invoice_allowances (invoice_id, seq, line_number, kind, code, amount,"
        " description) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("I1", 2, None, "A", "C310", Decimal("23.50"), "Promo"),
    ),
    (
        "INSERT INTO ar_invoice_taxes (invoice_id, tax_type, amount, percent) VALUES (?, ?, ?, ?)",
        ("I1", "ST", Decimal("88.51"), Decimal("8.875")),
    ),
    (
        "INSERT INTO ar_invoice_parties (invoice_id, role, name, id_qualifier, party_id)"
        " VALUES (?, ?, ?, ?, ?)",
        ("I1", "ST", "ACME STORE 12", "UL", "0614141000012"),
    ),
    (
        "INSERT INTO ar_invoice_terms (invoice_id, net_days, discount_percent, discount_days)"
        " VALUES (?, ?, ?, ?)",
        ("I1", 30, Decimal("2"), 10),
    ),
]


def files_invoices(tmp_path: Path) -> list[Invoice]:
    """The files host's I1 and I2 (`INVOICES`), for another host to hold."""
    folder = tmp_path / "files"
    folder.mkdir()
    return read_invoices(books(folder).folder / "open_invoices.csv")


def odbc_database(request: pytest.FixtureRequest, tmp_path: Path) -> OdbcDatabase:
    """The generic schema in SQLite or PostgreSQL (`odbc-<dialect>`), holding I1 and I2."""
    if request.param == "odbc-sqlite":
        database = sqlite_database(tmp_path / "odbc")
    else:
        database = postgres_database(request.getfixturevalue("postgres_server"))
    database.create_schema()
    erp = Erp(database)
    erp.add_customer(Customer("C1", "Acme"))
    for invoice in files_invoices(tmp_path):
        erp.add_invoice(invoice)
    erp.run(ODBC_DOCUMENT_ROWS)
    return database


def soap_harness(tmp_path: Path) -> SoapHarness:
    """The generic invoice service (a started server) holding I1 and I2: `invoice_lines.csv`
    rows are its `GetInvoiceLines` records, field for field."""
    server = SoapServer(flavour="generic")
    server.start()
    harness = SoapHarness(server)
    harness.seed([Customer("C1", "Acme")], files_invoices(tmp_path))
    documents = harness.mapping.documents
    assert documents is not None
    for row in csv.DictReader(LINES.splitlines()):
        values = {documents.fields[name]: value for name, value in row.items() if value}
        harness.books.insert("invoice_lines", harness.books.typed("invoice_lines", values))
    return harness


@pytest.fixture(params=["files", "odbc-sqlite", "odbc-postgresql", "soap-generic"])
def edi_host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EdiBooksHost]:
    """Each books host with EDI, holding the files host's I1 and I2."""
    if request.param == "files":
        yield books(tmp_path)
    elif request.param == "soap-generic":
        harness = soap_harness(tmp_path)
        yield harness.host
        harness.server.stop()
    else:
        host = odbc_books(odbc_database(request, tmp_path))
        yield host
        host.close()


def test_every_host_gives_the_same_document(edi_host: EdiBooksHost) -> None:
    documents = edi_host.pull_invoice_documents(["I1", "I2", "I-unknown"])
    assert sorted(documents) == ["I1", "I2"]
    first = documents["I1"]
    assert (first.invoice_number, first.invoice_date, first.currency, first.po_number) == (
        "INV-1001",
        date(2026, 11, 2),
        "USD",
        "PO-77",
    )
    assert [
        (line.line_number, line.product_qualifier, line.product_id, line.quantity, line.unit,
         line.unit_price, line.description, line.allowances_charges)
        for line in first.lines
    ] == [
        ("1", "VN", "SKU-1", Decimal("10"), "EA", Decimal("99.95"), "Widget", ()),
        ("2", "UP", "012345678905", Decimal("2"), "CA", Decimal("12.5"), "",
         (AllowanceCharge("C", "D240", Money.parse("5.00", "USD")),)),
    ]  # fmt: skip
    assert first.allowances_charges == (
        AllowanceCharge("A", "C310", Money.parse("23.50", "USD"), "Promo"),
    )
    assert first.taxes == (TaxAmount("ST", Money.parse("88.51", "USD"), Decimal("8.875")),)
    assert first.parties == (Party("ST", "ACME STORE 12", "UL", "0614141000012"),)
    assert first.terms == PaymentTerms(30, Decimal("2"), 10, date(2026, 12, 2))
    envelope = Envelope("ZZ", "ARLINK", "ZZ", "ACME", 1, 1, 1, date(2026, 11, 2), time(0))
    data, segments = render_810(first, envelope)
    assert ["IT1", "1", "10", "EA", "99.95", "", "VN", "SKU-1"] in segments
    assert ["TDS", "109451"] in segments
    assert not has_reject(validate(data, today=date(2026, 11, 2)))
    assert [line.product_id for line in documents["I2"].lines] == ["SKU-9"]


def test_every_host_journals_an_edi_status_once(edi_host: EdiBooksHost) -> None:
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    writes = [
        EdiStatusWrite("doc-1:sent", "I1", "INV-1001", "acme", "sent", "1", "sent to acme", at),
        EdiStatusWrite(
            "doc-2:invalid", "I2", "INV-1002", "acme", "invalid", "2", "line 1 has no price", at
        ),
    ]
    first = edi_host.push_edi_status(writes)
    again = edi_host.push_edi_status(writes)
    assert [r.already_present for r in first] == [False, False]
    assert [r.already_present for r in again] == [True, True]
    assert [r.external_id for r in again] == [r.external_id for r in first]


# ---------------------------------------------------------------- ODBC


@pytest.fixture(params=["odbc-sqlite", "odbc-postgresql"])
def odbc(request: pytest.FixtureRequest, tmp_path: Path) -> OdbcDatabase:
    return odbc_database(request, tmp_path)


def test_odbc_edi_problems_reach_the_exception_table_not_the_resolutions(
    odbc: OdbcDatabase,
) -> None:
    host = odbc_books(odbc)
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    host.push_edi_status(
        [
            EdiStatusWrite("k-sent", "I1", "INV-1001", "acme", "sent", "7", "sent to acme", at),
            EdiStatusWrite(
                "k-rejected", "I1", "INV-1001", "acme", "rejected", "7", "line 2: bad unit", at
            ),
        ]
    )
    erp = Erp(odbc)
    journal = erp.rows(
        "SELECT idempotency_key, invoice_id, status, interchange_control, message"
        " FROM ar_edi_status ORDER BY idempotency_key"
    )
    assert [tuple(row) for row in journal] == [
        ("k-rejected", "I1", "rejected", "7", "line 2: bad unit"),
        ("k-sent", "I1", "sent", "7", "sent to acme"),
    ]
    (exception,) = erp.rows(
        "SELECT idempotency_key, payment_id, reason, currency, suggestions, details"
        " FROM ar_exceptions"
    )
    assert tuple(exception)[:5] == ("k-rejected", "", "edi_rejected", "USD", "I1")
    assert exception[5].startswith("EDI invoice INV-1001 to acme: rejected: line 2: bad unit.")
    # A clerk closing it corrects the invoice: it is no resolution of a payment.
    erp.run([("UPDATE ar_exceptions SET resolved_at = ?", (sql_timestamp(at),))])
    assert host.pull_resolutions(None) == []
    host.close()


def test_odbc_names_every_bad_document_row(odbc: OdbcDatabase) -> None:
    Erp(odbc).run(
        [
            ("UPDATE ar_invoice_lines SET product_id = '' WHERE invoice_id = 'I2'", ()),
            ("UPDATE ar_invoice_allowances SET line_number = '9' WHERE seq = 1", ()),
        ]
    )
    host = odbc_books(odbc)
    with pytest.raises(OdbcRecordError) as raised:
        host.pull_invoice_documents(["I1", "I2"])
    text = str(raised.value)
    assert "documents.allowances invoice I1: no line '9'" in text
    assert "documents.lines invoice I2 line 1: column `product_id` is empty" in text
    host.close()


def test_an_odbc_mapping_without_edi_says_so(odbc: OdbcDatabase, tmp_path: Path) -> None:
    text = DEFAULT_MAPPING.read_text(encoding="utf-8")
    path = tmp_path / "before-edi.toml"
    path.write_text(text[: text.index("# -- EDI documents")], encoding="utf-8")
    settings = odbc_settings(odbc, mapping=path)
    host = OdbcBooks("odbc", PyOdbc(settings), settings)
    assert host.pull_open_invoices(None)  # the rest works as before
    with pytest.raises(FixConfigError, match=r"before-edi.toml has no documents.allowances, "):
        host.pull_invoice_documents(["I1"])
    with pytest.raises(FixConfigError, match="EDI documents are not available"):
        host.push_edi_status([])
    host.close()


# ---------------------------------------------------------------- SOAP


def test_soap_edi_problems_become_cases_not_resolutions(tmp_path: Path) -> None:
    harness = soap_harness(tmp_path)
    try:
        at = datetime(2026, 11, 2, 12, tzinfo=UTC)
        writes = [
            EdiStatusWrite("k-sent", "I1", "INV-1001", "acme", "sent", "7", "sent to acme", at),
            EdiStatusWrite(
                "k-overdue", "I1", "INV-1001", "acme", "overdue", "7", "no 997 in 24 hours", at
            ),
        ]
        harness.host.push_edi_status(writes)
        assert [r.already_present for r in harness.host.push_edi_status(writes)] == [True, True]
        journal = [
            (row["externalReference"], row["invoiceId"], row["status"], row["message"])
            for row in harness.books.rows["edi_statuses"]
        ]
        assert journal == [
            ("k-sent", "I1", "sent", "sent to acme"),
            ("k-overdue", "I1", "overdue", "no 997 in 24 hours"),
        ]
        (case,) = harness.books.rows["cases"]
        assert (case["externalReference"], case["reason"], case["customerId"]) == (
            "k-overdue",
            "edi_overdue",
            "C1",
        )
        assert case["details"].startswith("EDI invoice INV-1001 to acme: overdue: no 997")
        assert "ask the partner" in case["details"]
        harness.books.update("cases", case, {"status": "resolved", "resolution": "apply"})
        assert harness.host.pull_resolutions(None) == []
    finally:
        harness.server.stop()


def test_soap_names_a_bad_document_record(tmp_path: Path) -> None:
    harness = soap_harness(tmp_path)
    try:
        lines = harness.books.rows["invoice_lines"]
        lines[-1]["record"] = "shipping"  # I2's line
        lines[0]["unit"] = None  # I1's first line
        with pytest.raises(SoapRecordError) as raised:
            harness.host.pull_invoice_documents(["I1", "I2"])
        text = str(raised.value)
        assert "documents record `" in text
        assert "field `record`: expected one of line, allowance" in text
        assert "documents.lines invoice I1 line 1: column `unit` is empty" in text
    finally:
        harness.server.stop()


def test_a_soap_mapping_without_edi_says_so(tmp_path: Path) -> None:
    harness = soap_harness(tmp_path)
    try:
        text = SOAP_GENERIC.read_text(encoding="utf-8")
        path = tmp_path / "before-edi.toml"
        path.write_text(text[: text.index("# For EDI")], encoding="utf-8")
        host = connect("soap", soap_settings(harness.server), SoapMapping.load(path))
        assert host.pull_open_invoices(None)
        with pytest.raises(FixConfigError, match=r"before-edi.toml has no `\[documents\]`"):
            host.pull_invoice_documents(["I1"])
    finally:
        harness.server.stop()


# ---------------------------------------------------------------- Salesforce


def billing_org(request: pytest.FixtureRequest, tmp_path: Path) -> SalesforceHarness:
    """A Billing org holding I1 (two lines, sales tax on the first) and I2 (no lines), the
    account with its number."""
    harness = salesforce_harness(request, "billing")
    harness.seed([Customer("C1", "Acme")], files_invoices(tmp_path))
    harness.sf.Account.update(harness.customers["C1"], {"AccountNumber": "ACME-01"})
    for name, product, quantity, price, tax in (
        ("IL-2", "SKU-2", 2, 12.5, None),
        ("IL-1", "SKU-1", 10, 99.95, 88.51),
    ):
        harness.sf.blng__InvoiceLine__c.create(
            {"Name": name, "blng__Invoice__c": harness.invoices["I1"],
             "arlink_ProductCode__c": product, "blng__Quantity__c": quantity,
             "blng__UnitPrice__c": price, "blng__TaxAmount__c": tax}
        )  # fmt: skip
    return harness


def test_salesforce_billing_lines_taxes_and_the_account_as_bill_to(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    org = billing_org(request, tmp_path)
    first, second = org.invoices["I1"], org.invoices["I2"]
    documents = org.books.pull_invoice_documents([first, second, "not-an-id"])
    assert sorted(documents) == sorted([first, second])
    document = documents[first]
    assert (document.invoice_number, document.invoice_date, document.currency) == (
        "INV-1001",
        date(2026, 11, 2),
        "USD",
    )
    assert [
        (line.line_number, line.product_qualifier, line.product_id, line.quantity, line.unit,
         line.unit_price)
        for line in document.lines
    ] == [
        ("IL-1", "VN", "SKU-1", Decimal("10"), "EA", Decimal("99.95")),
        ("IL-2", "VN", "SKU-2", Decimal("2"), "EA", Decimal("12.5")),
    ]  # fmt: skip
    assert document.taxes == (TaxAmount("ST", Money.parse("88.51", "USD")),)
    assert document.parties == (Party("BT", "Acme", "92", "ACME-01"),)
    assert documents[second].lines == ()
    envelope = Envelope("ZZ", "ARLINK", "ZZ", "ACME", 1, 1, 1, date(2026, 11, 2), time(0))
    data, segments = render_810(document, envelope)
    assert ["TDS", "111301"] in segments  # 999.50 + 25.00 + 88.51 tax
    assert not has_reject(validate(data, today=date(2026, 11, 2)))


def test_salesforce_edi_status_is_a_task_on_the_invoice_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    org = billing_org(request, tmp_path)
    invoice = org.invoices["I1"]
    at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    writes = [
        EdiStatusWrite("k-sent", invoice, "INV-1001", "acme", "sent", "7", "sent to acme", at),
        EdiStatusWrite(
            "k-rejected", invoice, "INV-1001", "acme", "rejected", "7", "line 2: bad unit", at
        ),
    ]
    first = org.books.push_edi_status(writes)
    again = org.books.push_edi_status(writes)
    assert [r.already_present for r in first] == [False, False]
    assert [r.already_present for r in again] == [True, True]
    tasks = {
        row["arlink_Key__c"]: row
        for row in org.sf.query_all(
            "SELECT arlink_Key__c, WhatId, Subject, Status, Description FROM Task"
        )["records"]
    }
    assert sorted(tasks) == ["k-rejected", "k-sent"]
    assert {row["WhatId"] for row in tasks.values()} == {invoice}
    assert (tasks["k-sent"]["Status"], tasks["k-rejected"]["Status"]) == (
        "Completed",
        "Not Started",
    )
    assert tasks["k-rejected"]["Subject"] == "EDI invoice INV-1001 to acme: rejected"
    assert "line 2: bad unit. Correct the invoice" in tasks["k-rejected"]["Description"]
    # A completed EDI task is no clerk's resolution of a payment.
    assert org.books.pull_resolutions(None) == []


def test_an_org_without_invoice_lines_says_edi_is_not_available(
    request: pytest.FixtureRequest,
) -> None:
    org = salesforce_harness(request, "custom")
    with pytest.raises(FixConfigError, match=r"invoice_custom.toml has no `\[invoice_lines\]`"):
        org.books.pull_invoice_documents(["a0B000000000001AAA"])
    with pytest.raises(FixConfigError, match="EDI invoice documents are not available"):
        org.books.push_edi_status([])
