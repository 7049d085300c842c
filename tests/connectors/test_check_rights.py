"""`check()` and `arlink check` name each write right the integration user lacks, one
actionable line per host and right: Odoo from `check_access_rights`, Salesforce from
describe (`createable`/`updateable`), PostgreSQL over ODBC from its privilege catalog,
SOAP from the operations the WSDLs publish. Each test takes a right away by the host's
own means and reads the line back, from the connector and from the command line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from odbc_harness import OdbcHarness, odbc_books, odbc_harness
from odoo_harness import OdooHarness, odoo_harness
from salesforce_harness import SalesforceHarness, salesforce_harness
from servers.odbc import OdbcDatabase
from soap_harness import SoapHarness, soap_harness
from typer.testing import CliRunner

from connectors.odbc import write_targets
from connectors.protocols import BooksHost
from mappings.odbc import OdbcMapping
from sync_jobs.cli import app

CONFIG = 'var_dir = "var"\n[books.erp]\n{books}'


def lacking(host: BooksHost) -> list[str]:
    return [result.detail for result in host.check() if not result.ok]


def arlink_check(
    books: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """`arlink check` over a config naming the host as an admin would: exit code, output
    (the table's cells joined, so a wrapped detail reads as one line)."""
    table, env = books
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(books=table))
    result = CliRunner().invoke(app, ["--config", str(config), "check"])
    text = " ".join(cell.strip() for line in result.stdout.splitlines() for cell in line.split("│"))
    return result.exit_code, " ".join(text.split()) + " " + result.stderr


# -- Odoo ----------------------------------------------------------------------------------


@pytest.fixture
def odoo(request: pytest.FixtureRequest) -> OdooHarness:
    return odoo_harness(request, 17)


def test_odoo_names_each_access_right_the_user_lacks(
    odoo: OdooHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odoo.server.denied |= {("account.payment", "create"), ("mail.activity", "write")}
    assert lacking(odoo.host) == [
        "odoo: user `admin` lacks create on `account.payment`: arlink cannot record payments "
        "(ask for group Invoicing / Billing (account.group_account_invoice))",
        "odoo: user `admin` lacks write on `mail.activity`: arlink cannot mark exception "
        "activities done (ask for group Internal User (base.group_user))",
    ]
    code, output = arlink_check(odoo.books_config(), tmp_path, monkeypatch)
    assert code == 1
    assert "odoo: user `admin` lacks create on `account.payment`" in output
    assert "2 check(s) failed" in output


def test_odoo_with_every_right_says_so(odoo: OdooHarness) -> None:
    results = odoo.host.check()
    assert all(r.ok for r in results), results
    assert any(r.detail.startswith("rights: ") for r in results)


# -- Salesforce ----------------------------------------------------------------------------


@pytest.fixture
def salesforce(request: pytest.FixtureRequest) -> SalesforceHarness:
    return salesforce_harness(request, "billing")


def test_salesforce_names_object_and_field_rights_from_describe(
    salesforce: SalesforceHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = salesforce.server
    server.deny("blng__PaymentAllocationInvoice__c", "updateable")
    server.deny("Task", "createable", "Description")
    server.deny("Task", "updateable", "arlink_Resolution__c")
    assert lacking(salesforce.books) == [
        "salesforce: the integration user cannot edit blng__PaymentAllocationInvoice__c "
        "records (give arlink's permission set the object permission Edit on "
        "blng__PaymentAllocationInvoice__c)",
        "salesforce: the integration user cannot create Task fields Description (give "
        "arlink's permission set Edit access to them in field-level security; a formula or "
        "roll-up field cannot be written: map another)",
        "salesforce: the integration user cannot edit Task fields arlink_Resolution__c (give "
        "arlink's permission set Edit access to them in field-level security; a formula or "
        "roll-up field cannot be written: map another)",
    ]
    code, output = arlink_check(salesforce.books_config(), tmp_path, monkeypatch)
    assert code == 1
    assert "cannot edit blng__PaymentAllocationInvoice__c records" in output
    assert "3 check(s) failed" in output


def test_salesforce_wants_the_key_to_be_an_external_id_usable_for_lookups(
    salesforce: SalesforceHarness,
) -> None:
    fields = salesforce.server.org.profile.objects["blng__CreditNote__c"]
    fields["arlink_Key__c"] = type(fields["arlink_Key__c"])("arlink_Key__c", "string")
    (problem,) = lacking(salesforce.books)
    assert "mark `blng__CreditNote__c.arlink_Key__c` External ID and Unique" in problem


def test_a_denied_object_right_is_also_what_the_org_enforces(
    salesforce: SalesforceHarness,
) -> None:
    salesforce.server.deny("Account", "createable")
    with pytest.raises(Exception, match="INSUFFICIENT_ACCESS_OR_READONLY"):
        salesforce.sf.Account.create({"Name": "Acme"})


# -- ODBC (PostgreSQL) ---------------------------------------------------------------------


@pytest.fixture
def postgres(request: pytest.FixtureRequest) -> OdbcHarness:
    return odbc_harness(request, "postgresql")


def limited_role(harness: OdbcHarness) -> tuple[str, OdbcDatabase]:
    """A login role with every right the README lists but INSERT on `ar_exceptions`."""
    role = f"arlink_{uuid.uuid4().hex[:8]}"
    tables = (
        "ar_customers, ar_customer_bank_accounts, ar_customer_aliases, ar_open_items,"
        " ar_cash_receipts, ar_receipt_applications, ar_exceptions, ar_edi_status"
    )
    harness.erp.run(
        [
            (f"CREATE ROLE {role} LOGIN", ()),
            (f"GRANT SELECT ON {tables} TO {role}", ()),
            (f"GRANT INSERT ON ar_cash_receipts, ar_receipt_applications TO {role}", ()),
            (f"GRANT INSERT ON ar_edi_status TO {role}", ()),
            (f"GRANT UPDATE (open_amount, status, updated_at) ON ar_open_items TO {role}", ()),
            (
                "GRANT UPDATE (status, resolution_action, resolution_invoice_id, "
                f"resolution_amount, resolution_note, resolved_at) ON ar_exceptions TO {role}",
                (),
            ),
        ]
    )
    return role, harness.database.as_user(role)


def test_postgres_names_the_table_the_role_cannot_insert_into(
    postgres: OdbcHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role, database = limited_role(postgres)
    host = odbc_books(database)
    try:
        assert lacking(host) == [
            f"odbc: user `{role}` cannot insert into `ar_exceptions` (`exceptions.insert`, "
            f"`edi_status.exception`; ask the DBA for GRANT INSERT ON ar_exceptions TO {role})"
        ]
    finally:
        host.close()
    books = (
        f'kind = "odbc"\nconnection_string = "{database.connection_string}"\n'
        "connect_timeout = 10\nstatement_timeout = 30\n",
        {},
    )
    code, output = arlink_check(books, tmp_path, monkeypatch)
    assert code == 1
    assert f"odbc: user `{role}` cannot insert into `ar_exceptions`" in output


def test_postgres_column_grants_are_enough_for_an_update(postgres: OdbcHarness) -> None:
    role, database = limited_role(postgres)
    postgres.erp.run([(f"GRANT INSERT ON ar_exceptions TO {role}", ())])
    host = odbc_books(database)
    try:
        assert lacking(host) == []
        postgres.erp.run([(f"REVOKE UPDATE (resolved_at) ON ar_exceptions FROM {role}", ())])
        (line,) = lacking(host)
    finally:
        host.close()
    assert line.startswith(f"odbc: user `{role}` cannot update `ar_exceptions`")
    assert "GRANT UPDATE (" in line


def test_write_targets_read_the_mappings_statements() -> None:
    targets = {(t.privilege, t.table): t for t in write_targets(OdbcMapping.load().statements)}
    settle = targets["UPDATE", "ar_open_items"]
    assert settle.columns == ("open_amount", "status", "updated_at")
    assert "invoices.settle" in settle.statements
    assert "payment_id" in targets["INSERT", "ar_cash_receipts"].columns
    assert all(privilege != "SELECT" for privilege, _ in targets)


def test_sqlite_has_no_user_rights_to_check(request: pytest.FixtureRequest) -> None:
    harness = odbc_harness(request, "sqlite")
    results = harness.host.check()
    assert all(r.ok for r in results), results
    assert results[-1].detail == "rights: SQLite has no user rights arlink can read"


# -- SOAP ----------------------------------------------------------------------------------


@pytest.fixture(params=["bc", "generic"])
def soap(request: pytest.FixtureRequest) -> SoapHarness:
    return soap_harness(request, request.param)


def test_soap_names_a_write_operation_the_wsdl_does_not_offer(
    soap: SoapHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if soap.server.flavour == "bc":
        soap.server.withhold("Create", "receipts")
        missing = "post applications: service `receipts` has no operation `Create`"
    else:
        soap.server.withhold("PostReceipt")
        missing = "post applications: service `invoice_service` has no operation `PostReceipt`"
    (line,) = lacking(soap.host)
    assert line.startswith(f"soap: user `arlink` cannot write through the WSDLs: {missing} (")
    assert "Insert/Modify on its table" in line
    code, output = arlink_check(soap.books_config(), tmp_path, monkeypatch)
    assert code == 1
    assert missing in output
