"""Invoice documents from the books host (`pull_invoice_documents`): the files contract's
`invoice_lines.csv`, read into the canonical `InvoiceDocument` the EDI builders take."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from odoo_harness import OdooAdmin, odoo_settings
from servers.odoo import OdooServer

from connectors.files import BooksDataError, FilesBooks
from connectors.odoo import TRANSPORTS, OdooBooks
from edi.build_x12 import Envelope, render_810
from edi.findings import has_reject
from edi.validate import validate
from mappings.invoice_document import AllowanceCharge, Party, PaymentTerms, TaxAmount
from mappings.money import Money
from mappings.records import EdiStatusWrite, idempotency_key

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
