"""What is particular to the `soap` books host, beyond the contract suite: `check()` on a
mapping the WSDL does not match, refused credentials, token auth, SOAP Faults, transient
HTTP errors and their bounded retry, writes whose answer is lost after the host
committed, paging and incremental pulls in both styles, XML safety on both sides, and
the mapping loader's errors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import zeep.exceptions
from servers.soap import SoapServer
from soap_harness import MAPPINGS, SoapHarness, soap_settings

from connectors.errors import (
    AuthError,
    FixConfigError,
    RetriesExhaustedError,
    RetryLaterError,
    RetryPolicy,
)
from connectors.soap import SoapBooks, SoapRecordError, SoapSettings, connect
from mappings.money import Money
from mappings.records import (
    Application,
    ApplicationWrite,
    Customer,
    ExceptionItem,
    ExceptionReason,
    ExceptionWrite,
    Invoice,
    Payment,
    SourceRef,
    idempotency_key,
)
from mappings.soap import SoapMapping, SoapMappingError, SoapRowError, host_money

SHIPPED = Path(__file__).resolve().parents[2] / "mappings" / "soap"


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


CUSTOMERS = [Customer("C1", "Acme Manufacturing Inc."), Customer("C2", "Globex Corporation")]
INVOICES = [
    Invoice(f"I{n}", f"INV-10{n:02d}", "C1" if n % 2 else "C2", usd("100.00"), usd("100.00"))
    for n in range(1, 6)
]


def _seeded(flavour: str) -> Iterator[SoapHarness]:
    server = SoapServer(flavour=flavour)
    server.start()
    made = SoapHarness(server)
    made.seed(CUSTOMERS, INVOICES)
    yield made
    server.stop()


@pytest.fixture(params=sorted(MAPPINGS))
def harness(request: pytest.FixtureRequest) -> Iterator[SoapHarness]:
    yield from _seeded(request.param)


@pytest.fixture
def bc() -> Iterator[SoapHarness]:
    yield from _seeded("bc")


def books(
    harness: SoapHarness, mapping: SoapMapping | None = None, **settings: object
) -> SoapBooks:
    """Another connector on the harness's server: other settings or another mapping."""
    return connect("soap", soap_settings(harness.server, **settings), mapping or harness.mapping)


def application(pid: str, invoice_id: str, amount: str) -> ApplicationWrite:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 1, 2)
    payment = Payment(pid, "4021558830", date(2026, 11, 2), usd(amount), source)
    return ApplicationWrite(
        idempotency_key(pid, invoice_id), payment, Application(invoice_id, usd(amount)), 1.0
    )


def failures(harness: SoapHarness) -> list[str]:
    return [result.detail for result in harness.host.check() if not result.ok]


# -- check ---------------------------------------------------------------------------------


def test_check_names_a_mapped_field_the_wsdl_does_not_have(harness: SoapHarness) -> None:
    invoices = harness.mapping.invoices
    wrong = dataclasses.replace(
        invoices, fields={**invoices.fields, "open_amount": "Amount_Still_Open"}
    )
    host = books(harness, dataclasses.replace(harness.mapping, invoices=wrong))
    (problem,) = [r.detail for r in host.check() if not r.ok]
    assert "returns no field Amount_Still_Open" in problem
    assert "(invoices)" in problem


def test_check_names_a_missing_operation_and_parameter(harness: SoapHarness) -> None:
    writes = harness.mapping.applications
    wrong = dataclasses.replace(writes, operation="CreateMultiple", record="Nope")
    constants = dataclasses.replace(
        harness.mapping.exceptions,
        constants={**harness.mapping.exceptions.constants, "Assigned_To": "AR"},
    )
    mapping = dataclasses.replace(harness.mapping, applications=wrong, exceptions=constants)
    (problem,) = [r.detail for r in books(harness, mapping).check() if not r.ok]
    assert "has no operation `CreateMultiple`" in problem
    assert "takes no Assigned_To" in problem


def test_check_reports_refused_credentials_without_the_password(harness: SoapHarness) -> None:
    host = books(harness, secret="wrong-password")
    results = host.check()
    assert not any(r.ok for r in results)
    assert "HTTP 401" in results[0].detail
    assert "check `username` and the password" in results[0].detail
    assert "wrong-password" not in repr(host.settings)
    assert all("wrong-password" not in r.detail for r in results)


def test_token_auth(harness: SoapHarness) -> None:
    host = books(harness, auth="token", secret=harness.server.token, username="")
    assert all(r.ok for r in host.check())
    assert "t0ken" not in repr(host.settings) + repr(host.client.transport.session.auth)
    refused = books(harness, auth="token", secret="stale", username="")
    with pytest.raises(AuthError, match="check `username` and the token"):
        refused.pull_customers(None)


def test_check_reports_a_wsdl_path_that_is_not_published(harness: SoapHarness) -> None:
    services = {
        name: dataclasses.replace(service, wsdl=f"Unpublished/{name}")
        for name, service in harness.mapping.services.items()
    }
    host = books(harness, dataclasses.replace(harness.mapping, services=services))
    problems = [r.detail for r in host.check() if not r.ok]
    assert problems
    assert all("HTTP 404" in p and "`wsdl` paths" in p for p in problems)


def test_check_reports_a_service_the_wsdl_does_not_have(harness: SoapHarness) -> None:
    name, service = next(iter(harness.mapping.services.items()))
    services = {**harness.mapping.services, name: dataclasses.replace(service, service="Nope")}
    host = books(harness, dataclasses.replace(harness.mapping, services=services))
    (problem,) = [r.detail for r in host.check() if not r.ok]
    assert f"loading the WSDL of `{name}`: Service not found; fix the mapping file" in problem


def test_check_reports_an_unreachable_host(harness: SoapHarness) -> None:
    host = books(harness, retry=RetryPolicy(attempts=1))
    harness.server.stop()
    (problem, *_) = [r.detail for r in host.check() if not r.ok]
    assert "cannot reach 127.0.0.1" in problem


def test_a_wsdl_with_a_dtd_and_entities_is_refused(harness: SoapHarness) -> None:
    harness.server.wsdl_doctype = '<!DOCTYPE definitions [<!ENTITY boom "boom">]>'
    problems = failures(harness)
    assert problems
    assert "DTD, entities or external references" in problems[0]


def test_the_server_does_not_expand_entities(harness: SoapHarness) -> None:
    server = harness.server
    body = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&e;'
        "</s:Body></s:Envelope>"
    )
    answer = requests.post(
        server.url + server.path("customers"),
        data=body,
        auth=(server.username, server.password),
        timeout=10,
    )
    assert answer.status_code == 500
    assert "root:" not in answer.text


def test_bc_update_needs_the_current_key(bc: SoapHarness) -> None:
    """The test server's pages behave as BC's: `Key` changes on every modification."""
    harness = bc
    service = harness.mapping.services["invoices"]
    proxy = harness.host.client.bind(service)
    (row,) = proxy.ReadMultiple(filter=[{"Field": "No", "Criteria": "INV-1001"}], setSize=1)
    changed = proxy.Update(PostedSalesInvoices={"Key": row.Key, "External_Document_No": "PO-7"})
    assert changed.Key != row.Key
    assert changed.Last_Modified_Date_Time > row.Last_Modified_Date_Time
    with pytest.raises(zeep.exceptions.Fault, match="Another user has modified the record"):
        proxy.Update(PostedSalesInvoices={"Key": row.Key, "External_Document_No": "PO-8"})
    (invoice,) = [i for i in harness.host.pull_open_invoices(None) if i.invoice_id == "I1"]
    assert invoice.po_number == "PO-7"


# -- faults and transient errors --------------------------------------------------------


def test_a_fault_on_a_read_is_a_config_error_naming_the_field(harness: SoapHarness) -> None:
    invoices = harness.mapping.invoices
    wrong = dataclasses.replace(invoices, where={"open": {"Is_Open": "true"}})
    host = books(harness, dataclasses.replace(harness.mapping, invoices=wrong))
    if harness.server.flavour == "bc":
        with pytest.raises(FixConfigError, match="Is_Open is not found on page"):
            host.pull_open_invoices(None)
    else:  # an unknown parameter never leaves zeep: the WSDL says what the service takes
        with pytest.raises(FixConfigError, match=r"Is_Open.*fix the mapping file"):
            host.pull_open_invoices(None)


def create_of(harness: SoapHarness) -> str:
    return harness.mapping.applications.operation


def test_a_fault_on_a_write_refuses_that_record(harness: SoapHarness) -> None:
    harness.server.refuse("Applies-to Doc. No. must not be blocked", create_of(harness))
    (result,) = harness.host.push_applications([application("p1", "I1", "100.00")])
    assert re.search(r"refused .* must not be blocked", result.refused or ""), result
    assert not result.external_id
    assert harness.applied() == []


def test_an_over_application_is_refused_before_writing(harness: SoapHarness) -> None:
    (result,) = harness.host.push_applications([application("p1", "I1", "100.01")])
    assert re.search(r"INV-1001 has 100.00 open.*pull again", result.refused or ""), result
    assert create_of(harness) not in harness.server.calls


def test_transient_errors_are_retried_then_given_up(harness: SoapHarness) -> None:
    harness.server.fail(503)
    assert len(harness.host.pull_customers(None)) == 2
    harness.server.fail(503, times=2)
    with pytest.raises(RetriesExhaustedError, match=r"gave up after 2.*HTTP 503"):
        harness.host.pull_customers(None)
    harness.server.refuse("The record is locked by another user")
    assert len(harness.host.pull_customers(None)) == 2


def test_the_operation_timeout_bounds_each_call(harness: SoapHarness) -> None:
    host = books(harness, operation_timeout=0.2, retry=RetryPolicy(attempts=1))
    host.check()  # the WSDLs load within `timeout`: only operations are slow
    harness.server.answer_delay = 1.0
    with pytest.raises(RetriesExhaustedError, match="did not answer in time"):
        host.pull_customers(None)


def test_a_write_failing_before_the_commit_is_not_retried(harness: SoapHarness) -> None:
    write = application("p1", "I1", "100.00")
    harness.server.fail(503, operation=create_of(harness))
    with pytest.raises(RetryLaterError, match=r"outcome unknown.*looks its key up first"):
        harness.host.push_applications([write])
    assert harness.server.calls.count(create_of(harness)) == 1
    assert harness.applied() == []
    (result,) = harness.host.push_applications([write])
    assert not result.already_present
    assert len(harness.applied()) == 1


def test_a_write_whose_answer_is_lost_after_commit_is_found_by_key(harness: SoapHarness) -> None:
    write = application("p1", "I1", "60.00")
    harness.server.fail(504, after_commit=True, operation=create_of(harness))
    (first,) = harness.host.push_applications([write])
    assert not first.already_present
    (again,) = harness.host.push_applications([write])
    assert again.already_present
    assert again.external_id == first.external_id
    assert harness.server.calls.count(create_of(harness)) == 1
    assert [(a.invoice_id, a.amount) for a in harness.applied()] == [("I1", usd("60.00"))]


# -- pulls ----------------------------------------------------------------------------------


def test_pulls_page_through_every_record(harness: SoapHarness) -> None:
    read = harness.mapping.invoices.operation
    harness.server.calls.clear()
    invoices = harness.host.pull_open_invoices(None)
    assert sorted(i.invoice_id for i in invoices) == ["I1", "I2", "I3", "I4", "I5"]
    assert harness.server.calls.count(read) == 3  # pages of 2, 2 and 1
    big = books(harness, page_size=500)
    harness.server.calls.clear()
    assert len(big.pull_open_invoices(None)) == 5
    assert harness.server.calls.count(read) == 1


def test_incremental_pull_returns_only_what_changed_closed_ones_included(
    harness: SoapHarness,
) -> None:
    cursor = harness.server.books.clock
    harness.touch_invoice("I3")
    harness.host.push_applications([application("p1", "I5", "100.00")])
    changed = {i.invoice_id: i for i in harness.host.pull_open_invoices(cursor)}
    assert set(changed) == {"I3", "I5"}
    assert changed["I5"].status == "closed"
    assert not changed["I5"].open_amount
    assert "I5" not in {i.invoice_id for i in harness.host.pull_open_invoices(None)}
    assert harness.host.pull_customers(cursor) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        harness.host.pull_customers(datetime(2026, 11, 1))


def test_lookups_by_many_keys_go_in_chunks(harness: SoapHarness) -> None:
    writes = [application(f"p{n}", "I2", "1.00") for n in range(45)]
    harness.host.push_applications(writes[:3])
    lookup = harness.mapping.applications.query.operation
    big = books(harness, page_size=50)
    harness.server.calls.clear()
    results = big.push_applications(writes)  # 42 new ones: 45 keys looked up, 20 a call
    assert [r.already_present for r in results] == [True] * 3 + [False] * 42
    assert harness.server.calls[:3] == [lookup] * 3
    assert len(harness.applied()) == 45


def test_a_blank_currency_is_the_local_one_only_where_the_mapping_says_so(
    harness: SoapHarness,
) -> None:
    invoices = harness.server.books.rows["invoices"]
    currency = harness.mapping.invoices.fields["currency"]
    invoices[0][currency] = ""
    if harness.mapping.blank_currency_is_local:
        eur = books(harness, local_currency="EUR").pull_open_invoices(None)
        assert {i.currency for i in eur if i.invoice_id == "I1"} == {"EUR"}
    else:
        with pytest.raises(SoapRecordError, match="record `I1`: no currency"):
            harness.host.pull_open_invoices(None)


def test_resolutions_other_than_apply_and_since(harness: SoapHarness) -> None:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 1, 2)
    for pid in ("p7", "p8"):
        payment = Payment(pid, "4021558830", date(2026, 11, 2), usd("5.00"), source)
        item = ExceptionItem(pid, ExceptionReason.UNKNOWN_PAYER, usd("5.00"))
        harness.host.push_exceptions([ExceptionWrite(idempotency_key(pid, "x"), payment, item)])
    cursor = harness.server.books.clock
    assert harness.host.pull_resolutions(None) == []  # open exceptions are not resolutions
    harness.resolve("p7", "not_ours", None)
    harness.resolve("p8", "on_account", None)
    got = {r.payment_id: (r.action, r.invoice_id) for r in harness.host.pull_resolutions(cursor)}
    assert got == {"p7": ("not_ours", None), "p8": ("on_account", None)}
    assert harness.host.pull_resolutions(harness.server.books.clock + timedelta(seconds=1)) == []


# -- the mapping loader -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAPPINGS.values()))
def test_shipped_mappings_load(name: str) -> None:
    mapping = SoapMapping.load(name)
    assert mapping.source == SHIPPED / f"{name}.toml"
    assert set(mapping.actions.values()) == {"apply", "on_account", "not_ours"}


def test_a_mapping_with_problems_reports_all_of_them(tmp_path: Path) -> None:
    text = (SHIPPED / "business_central.toml").read_text(encoding="utf-8")
    text = text.replace('style = "page"', 'style = "pages"')
    text = text.replace('open_amount = "Remaining_Amount"', 'open_amont = "Remaining_Amount"')
    text = text.replace('service = "receipts"', 'service = "journal"')
    text = text.replace('Not_Ours = "not_ours"', 'Not_Ours = "ignore"')
    text = text.replace('keys = "Idempotency_Key"', "keys = 7")
    path = tmp_path / "bc.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SoapMappingError) as raised:
        SoapMapping.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    for expected in (
        "`paging.style`: expected one of page, operation, found 'pages'",
        "`invoices.fields.open_amount`: expected a field name, found nothing",
        "`invoices.fields.open_amont`: not a field arlink knows",
        "`applications.service`: no [services.journal] in the file",
        "`exceptions.actions.Not_Ours`: expected one of apply, on_account, not_ours",
        "`exceptions.filters.keys`: expected a name, found 7",
    ):
        assert expected in message


def test_a_mapping_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(SoapMappingError, match="cannot read"):
        SoapMapping.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[paging\nstyle =", encoding="utf-8")
    with pytest.raises(SoapMappingError, match=r"broken.toml"):
        SoapMapping.load(broken)


def test_amounts_are_never_floats() -> None:
    assert host_money("12.50", "USD", "x") == usd("12.50")
    with pytest.raises(SoapRowError, match="invoice 7 `Amount`: expected a decimal"):
        host_money(12.5, "USD", "invoice 7 `Amount`")
    with pytest.raises(SoapRowError, match="more decimals than USD"):
        host_money("1.005", "USD", "invoice 7 `Amount`")


def test_settings_refuse_an_unknown_auth_and_hide_the_secret() -> None:
    with pytest.raises(ValueError, match="`auth`"):
        SoapSettings(url="http://erp/", auth="ntlm")
    assert "hunter2" not in repr(SoapSettings(url="http://erp/", secret="hunter2"))
