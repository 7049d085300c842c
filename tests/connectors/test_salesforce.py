"""What is particular to the `salesforce` books host, beyond the contract suite: check()
naming what the org lacks, the OAuth login refused, transient errors retried within the
bound (and a create never retried), an expired session rebuilt, REST paging and Bulk
API 2.0, the daily API budget, incremental pulls, writes in sObject Collections (a record
the org refuses is refused alone, a locked row sent again, 200 a call), the mapping
loader's errors, and the test org's own semantics (SOQL, upsert and collection answers,
roll-ups)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from salesforce_harness import SalesforceHarness, books_for
from servers.salesforce import BILLING, CUSTOM, SalesforceServer
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.errors import AuthError, FixConfigError, RetriesExhaustedError, RetryLaterError
from connectors.protocols import CheckResult
from connectors.salesforce import SalesforceSettings
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
    Reason,
    SourceRef,
    Suggestion,
    idempotency_key,
)
from mappings.salesforce import (
    MAPPINGS,
    SalesforceMapping,
    SalesforceMappingError,
    SalesforceRowError,
    invoice_from,
    money_from_sf,
    soql_datetime,
)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


CUSTOMERS = [Customer("C1", "Acme Manufacturing Inc."), Customer("C2", "Globex Corporation")]
INVOICES = [
    Invoice("I1", "INV-1001", "C1", usd("1500.00"), usd("1500.00"), date(2026, 10, 1)),
    Invoice("I2", "INV-1002", "C1", usd("250.00"), usd("100.00"), date(2026, 10, 2)),
    Invoice("I3", "INV-1003", "C2", usd("99.99"), usd("99.99"), date(2026, 10, 3)),
    Invoice("I4", "INV-1004", "C2", usd("400.00"), usd("400.00"), date(2026, 10, 4)),
]


def payment(pid: str, amount: str) -> Payment:
    source = SourceRef("d" * 64, "bank.bai2", "bai2", 7, 8)
    return Payment(
        pid, "4021558830", date(2026, 11, 2), usd(amount), source,
        payer_name="ACME MFG", bank_reference=f"REF-{pid}", remittance="INV-1001",
    )  # fmt: skip


def write(pid: str, invoice_id: str, amount: str, **kw: Money) -> ApplicationWrite:
    return ApplicationWrite(
        idempotency_key(pid, invoice_id), payment(pid, amount),
        Application(invoice_id, usd(amount), **kw), 1.0,
    )  # fmt: skip


@pytest.fixture
def org() -> Iterator[SalesforceHarness]:
    server = SalesforceServer(BILLING)
    server.start()
    try:
        made = SalesforceHarness(server, "billing")
        made.seed(CUSTOMERS, INVOICES)
        yield made
    finally:
        server.stop()


def _host(org: SalesforceHarness, invoice: str) -> str:
    return org.invoices[invoice]


def _queries(server: SalesforceServer, kind: str) -> int:
    return sum(1 for _, path in server.requests if f"/{kind}" in path)


# -- check ---------------------------------------------------------------------------


def test_check_names_a_missing_field_and_a_key_that_is_not_an_external_id(
    org: SalesforceHarness,
) -> None:
    org.server.drop_field("blng__Invoice__c", "blng__DueDate__c")
    org.server.org.profile.objects["blng__Payment__c"]["arlink_Key__c"] = type(
        org.server.org.profile.objects["blng__Payment__c"]["arlink_Key__c"]
    )("arlink_Key__c", "string")
    results = org.books.check()
    assert [r.ok for r in results] == [True, True, False, True]
    detail = results[2].detail
    assert "`blng__Invoice__c` fields blng__DueDate__c" in detail
    assert "mark `blng__Payment__c.arlink_Key__c` External ID" in detail


def _mapping_line(results: list[CheckResult]) -> CheckResult:
    (line,) = [r for r in results if r.detail.startswith("mapping ")]
    return line


def test_check_names_a_missing_object(org: SalesforceHarness) -> None:
    del org.server.org.profile.objects["blng__CreditNote__c"]
    mapping = _mapping_line(org.books.check())
    assert not mapping.ok
    assert "object `blng__CreditNote__c`" in mapping.detail


def test_check_names_a_condition_that_is_not_soql(org: SalesforceHarness, tmp_path: Path) -> None:
    text = (MAPPINGS / "billing.toml").read_text()
    text = text.replace('blng__Balance__c > 0"', 'blng__Balance__c >> 0"')
    (tmp_path / "typo.toml").write_text(text)
    books = books_for(org.server, SalesforceMapping.load(tmp_path / "typo.toml"))
    mapping = _mapping_line(books.check())
    assert not mapping.ok
    assert "`invoices.open_where` is not valid SOQL" in mapping.detail


def test_refused_client_credentials_are_an_auth_error(org: SalesforceHarness) -> None:
    books = books_for(org.server, client_secret="wrong")
    (result,) = books.check()
    assert not result.ok
    assert "invalid_grant" in result.detail
    assert "wrong" not in result.detail
    with pytest.raises(AuthError, match="client credentials"):
        books.pull_customers(None)


def test_the_secret_never_shows_in_settings() -> None:
    settings = SalesforceSettings("https://acme.my.salesforce.com", "key", "hunter2")
    assert "hunter2" not in repr(settings)
    assert settings.where == "acme.my.salesforce.com"


# -- retries, sessions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [(503, "SERVER_UNAVAILABLE"), (403, "REQUEST_LIMIT_EXCEEDED")]
)
def test_a_transient_error_is_retried(org: SalesforceHarness, status: int, code: str) -> None:
    org.server.fail(2, status, code)
    assert len(org.books.pull_open_invoices(None)) == 4


def test_retries_stop_at_the_bound(org: SalesforceHarness) -> None:
    org.books.pull_customers(None)  # logged in
    org.server.fail(10)
    before = len(org.server.requests)
    with pytest.raises(RetriesExhaustedError, match="3 attempt"):
        org.books.pull_customers(None)
    assert len(org.server.requests) - before == 3


def test_an_upsert_is_retried_but_a_create_never(org: SalesforceHarness) -> None:
    org.server.fail(1, only="PATCH")
    (result,) = org.books.push_applications([write("p1", _host(org, "I1"), "1500.00")])
    assert not result.already_present
    assert not org.server.faults  # the upsert met the fault and was sent again
    item = ExceptionItem("p9", ExceptionReason.NO_CANDIDATE, usd("5.00"))
    exception = ExceptionWrite(idempotency_key("p9", "x"), payment("p9", "5.00"), item)
    lookups = _queries(org.server, "query")
    org.server.fail(1, only="POST /services/data")
    with pytest.raises(RetryLaterError, match="outcome unknown"):
        org.books.push_exceptions([exception])
    posts = [r for r in org.server.requests if r == ("POST", f"{_data(org)}/composite/sobjects")]
    assert len(posts) == 1  # the failed create was not sent again
    assert _queries(org.server, "query") > lookups + 1  # looked up before and after
    (created,) = org.books.push_exceptions([exception])
    assert not created.already_present


def test_a_task_created_but_unconfirmed_is_found_not_created_again(
    org: SalesforceHarness,
) -> None:
    item = ExceptionItem("p9", ExceptionReason.NO_CANDIDATE, usd("5.00"))
    exception = ExceptionWrite(idempotency_key("p9", "x"), payment("p9", "5.00"), item)
    org.server.lose_answer("POST /services/data")
    (result,) = org.books.push_exceptions([exception])
    assert not result.already_present
    assert list(org.server.org.records["Task"]) == [result.external_id]
    (again,) = org.books.push_exceptions([exception])
    assert again.already_present
    assert again.external_id == result.external_id


def test_an_allocation_whose_answer_was_lost_is_upserted_once(org: SalesforceHarness) -> None:
    org.server.lose_answer(
        "PATCH /services/data/v62.0/composite/sobjects/blng__PaymentAllocationInvoice__c"
    )
    (result,) = org.books.push_applications([write("p1", _host(org, "I4"), "100.00")])
    assert len(org.server.org.records["blng__PaymentAllocationInvoice__c"]) == 1 + 1  # + seed's
    assert org.server.org.records["blng__Invoice__c"][_host(org, "I4")]["blng__Balance__c"] == 300
    assert result.external_id in org.server.org.records["blng__PaymentAllocationInvoice__c"]


def _data(org: SalesforceHarness) -> str:
    return f"/services/data/v{org.server.api_version}"


def test_an_expired_session_is_rebuilt(org: SalesforceHarness) -> None:
    org.books.pull_customers(None)
    org.server.expire_sessions()
    assert len(org.books.pull_customers(None)) == 2
    assert org.books.client.logins == 2


# -- pulls ---------------------------------------------------------------------------


def test_rest_pulls_follow_next_records_url(org: SalesforceHarness) -> None:
    before = _queries(org.server, "query/01g")
    invoices = org.books.pull_open_invoices(None)
    assert len(invoices) == 4  # page size 2: the first page and one more
    assert _queries(org.server, "query/01g") - before == 1
    amounts = {i.number: i.open_amount for i in invoices}
    assert amounts["INV-1002"] == usd("100.00")


def test_large_pulls_use_bulk_api_2(org: SalesforceHarness) -> None:
    books = books_for(org.server, org.mapping, bulk_threshold=3)
    rest = {i.invoice_id: i for i in org.books.pull_open_invoices(None)}
    bulk = {i.invoice_id: i for i in books.pull_open_invoices(None)}
    assert bulk == rest
    assert _queries(org.server, "jobs/query") >= 3  # create, poll, results


def test_pulls_stop_near_the_daily_api_budget(org: SalesforceHarness) -> None:
    org.server.daily_limit = org.server.api_calls + 2
    with pytest.raises(RetryLaterError, match="api_usage_stop"):
        org.books.pull_customers(None)


def test_an_incremental_pull_returns_changes_closed_ones_included(
    org: SalesforceHarness,
) -> None:
    since = org.server.org.stamp() + timedelta(seconds=1)
    org.server.org.last_stamp = since + timedelta(seconds=1)  # later writes land after `since`
    assert org.books.pull_open_invoices(since) == []
    org.books.push_applications([write("p1", _host(org, "I3"), "99.99")])
    org.touch_invoice("I4")
    changed = {org._ours(i.invoice_id): i for i in org.books.pull_open_invoices(since)}
    assert set(changed) == {"I3", "I4"}
    assert changed["I3"].open_amount == usd("0.00")
    assert changed["I3"].status == "Posted"
    assert org.books.pull_customers(since) == []


# -- write-back ----------------------------------------------------------------------


def test_a_write_off_is_written_once_and_closes_the_invoice(org: SalesforceHarness) -> None:
    writes = [write("p1", _host(org, "I3"), "99.90", write_off=usd("0.09"))]
    (first,) = org.books.push_applications(writes)
    (again,) = org.books.push_applications(writes)
    assert again.already_present
    assert again.external_id == first.external_id
    assert len(org.server.org.records["blng__CreditNote__c"]) == 1
    assert "I3" not in {org._ours(i.invoice_id) for i in org.books.pull_open_invoices(None)}


def test_more_than_the_balance_is_refused_before_writing(org: SalesforceHarness) -> None:
    (refused, applied) = org.books.push_applications(
        [write("p1", _host(org, "I2"), "250.00"), write("p2", _host(org, "I4"), "400.00")]
    )
    assert refused.external_id == ""
    assert "INV-1002 has 100.00 USD open" in (refused.refused or "")
    assert applied.refused is None
    assert applied.external_id
    keys = {r.get("arlink_Key__c") for r in org.server.org.records["blng__Payment__c"].values()}
    assert keys >= {"p2"}
    assert "p1" not in keys  # nothing written for the refused one


def _collections(server: SalesforceServer, obj: str = "") -> int:
    return sum(1 for _, path in server.requests if "/composite/sobjects" + obj in path)


def test_the_org_refusing_one_allocation_refuses_that_one_and_applies_the_rest(
    org: SalesforceHarness,
) -> None:
    org.refuse_writes_for("INV-1001")
    writes = [write("p1", _host(org, "I1"), "1500.00"), write("p2", _host(org, "I4"), "100.00")]
    refused, applied = org.books.push_applications(writes)
    assert refused.refused == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Invoice INV-1001 is on hold: "
        "no payment may be applied to it"
    )
    assert refused.external_id == ""
    assert applied.refused is None
    assert applied.external_id in org.server.org.records["blng__PaymentAllocationInvoice__c"]
    assert [a.invoice_id for a in org.applied()] == ["I4"]
    assert _collections(org.server) == 2  # the payment records, then the allocations
    again_refused, again_applied = org.books.push_applications(writes)
    assert again_refused.refused == refused.refused
    assert again_applied.already_present
    assert [a.invoice_id for a in org.applied()] == ["I4"]


def test_a_refused_write_off_refuses_its_application(org: SalesforceHarness) -> None:
    org.refuse_writes_for("INV-1003")
    (result,) = org.books.push_applications(
        [write("p1", _host(org, "I3"), "99.90", write_off=usd("0.09"))]
    )
    assert "INV-1003 is on hold" in (result.refused or "")
    assert not org.applied()
    assert not org.server.org.records["blng__CreditNote__c"]


def test_writes_go_in_collections_of_at_most_200(org: SalesforceHarness) -> None:
    account = org.customers["C2"]
    ids = [
        org.server.org.create(
            "blng__Invoice__c",
            {"Name": f"INV-9{n:03d}", "blng__Account__c": account,
             "blng__TotalAmount__c": "10.00", "blng__InvoiceStatus__c": "Posted"},
        )
        for n in range(201)
    ]  # fmt: skip
    results = org.books.push_applications([write(f"p{n}", i, "10.00") for n, i in enumerate(ids)])
    assert all(r.refused is None and not r.already_present for r in results)
    assert _collections(org.server, "/blng__PaymentAllocationInvoice__c") == 2
    assert _collections(org.server, "/blng__Payment__c") == 2
    allocations = org.server.org.records["blng__PaymentAllocationInvoice__c"].values()
    assert sum(1 for row in allocations if row["arlink_Key__c"]) == 201


def test_a_record_whose_row_was_locked_is_sent_again_alone(org: SalesforceHarness) -> None:
    org.server.lock_records(1)  # the first payment record
    results = org.books.push_applications(
        [write("p1", _host(org, "I1"), "1500.00"), write("p2", _host(org, "I4"), "100.00")]
    )
    assert all(r.refused is None for r in results)
    assert _collections(org.server, "/blng__Payment__c") == 2
    assert sorted(a.invoice_id for a in org.applied()) == ["I1", "I4"]


def test_a_field_the_org_lacks_stops_the_write_for_all(org: SalesforceHarness) -> None:
    org.server.drop_field("blng__PaymentAllocationInvoice__c", "blng__Amount__c")
    with pytest.raises(FixConfigError, match=r"blng__Amount__c.*fix the mapping file"):
        org.books.push_applications([write("p1", _host(org, "I1"), "1500.00")])


def test_an_exception_task_tells_the_clerk_what_to_do(org: SalesforceHarness) -> None:
    item = ExceptionItem(
        "p9", ExceptionReason.AMBIGUOUS, usd("250.00"),
        (Suggestion(_host(org, "I2"), 0.8, (Reason("amount", "amount equals open amount"),)),
         Suggestion(_host(org, "I4"), 0.4)),
    )  # fmt: skip
    key = idempotency_key("p9", "exception")
    (result,) = org.books.push_exceptions([ExceptionWrite(key, payment("p9", "250.00"), item)])
    task = org.server.org.records["Task"][result.external_id]
    assert task["WhatId"] == _host(org, "I2")
    assert task["Subject"] == "Unapplied payment 250.00 USD from ACME MFG (ambiguous)"
    assert "1. invoice INV-1002 (score 0.80): amount equals open amount" in task["Description"]
    assert "2. invoice INV-1004 (score 0.40)" in task["Description"]
    assert (
        'arlink_Resolution__c to one of "Applied", "On account", "Not ours"'
        in (task["Description"])
    )
    assert task["Status"] == "Not Started"
    assert task["arlink_Key__c"] == key


def test_resolutions_not_ours_and_on_account(org: SalesforceHarness) -> None:
    for pid, action in (("p7", "not_ours"), ("p8", "on_account")):
        item = ExceptionItem(pid, ExceptionReason.UNKNOWN_PAYER, usd("5.00"))
        org.books.push_exceptions(
            [ExceptionWrite(idempotency_key(pid, "x"), payment(pid, "5.00"), item)]
        )
        org.resolve(pid, action, None)
    found = {r.payment_id: r.action for r in org.books.pull_resolutions(None)}
    assert found == {"p7": "not_ours", "p8": "on_account"}
    later = datetime.now(UTC) + timedelta(days=1)
    assert org.books.pull_resolutions(later) == []


# -- the second mapping --------------------------------------------------------------


def test_the_custom_org_puts_exceptions_on_the_account_as_cases() -> None:
    server = SalesforceServer(CUSTOM)
    server.start()
    try:
        org = SalesforceHarness(server, "custom")
        org.seed(CUSTOMERS, INVOICES)
        item = ExceptionItem("p9", ExceptionReason.NO_CANDIDATE, usd("9.00"),
                             (Suggestion(_host(org, "I3"), 0.5),))  # fmt: skip
        (result,) = org.books.push_exceptions(
            [ExceptionWrite(idempotency_key("p9", "x"), payment("p9", "9.00"), item)]
        )
        case = server.org.records["Case"][result.external_id]
        assert case["AccountId"] == org.customers["C2"]
        assert (case["Origin"], case["Status"]) == ("arlink", "New")
        assert org.books.check()[-1].ok
    finally:
        server.stop()


# -- the mapping loader and values ---------------------------------------------------


def test_the_shipped_mappings_load() -> None:
    assert {p.name for p in MAPPINGS.glob("*.toml")} == {"billing.toml", "invoice_custom.toml"}
    for path in MAPPINGS.glob("*.toml"):
        assert SalesforceMapping.load(path).invoices.fields["open_amount"]
    assert SalesforceMapping.load("invoice_custom").exceptions.name == "Case"
    assert SalesforceMapping.load().source.name == "billing.toml"


def test_the_mapping_loader_reports_every_problem_with_its_key(tmp_path: Path) -> None:
    text = (MAPPINGS / "billing.toml").read_text()
    text = text.replace('open_amount = "blng__Balance__c"', "")
    text = text.replace('"Not ours" = "not_ours"', '"Not ours" = "refund"')
    text = text.replace('link_to = "invoice"', 'link_to = "contact"')
    text = text.replace('number = "Name"', 'number = "Name"\nnumbr = "X"')
    broken = tmp_path / "broken.toml"
    broken.write_text(text)
    with pytest.raises(SalesforceMappingError) as raised:
        SalesforceMapping.load(broken)
    message = str(raised.value)
    assert str(broken) in message
    for expected in (
        "`invoices.fields.open_amount`: expected a field name, found nothing",
        "`exceptions.resolutions.Not ours`: expected one of apply, on_account, not_ours",
        "`exceptions.link_to`: expected one of invoice, account, found 'contact'",
        "`invoices.fields.numbr`: not a field arlink knows",
    ):
        assert expected in message


def test_an_unreadable_mapping_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SalesforceMappingError, match=re.escape("missing.toml: cannot read")):
        SalesforceMapping.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[customers\n")
    with pytest.raises(SalesforceMappingError, match=re.escape("bad.toml")):
        SalesforceMapping.load(bad)


def test_money_is_read_exactly_from_json_numbers_and_bulk_text() -> None:
    assert money_from_sf(99.99, "USD", "x") == usd("99.99")
    assert money_from_sf("1500.00", "USD", "x") == usd("1500.00")
    assert money_from_sf(1234, "JPY", "x") == Money.parse("1234", "JPY")
    with pytest.raises(
        SalesforceRowError, match=re.escape("`blng__Balance__c`: 0.001 has more decimals")
    ):
        money_from_sf(0.001, "USD", "blng__Invoice__c a01 `blng__Balance__c`")
    with pytest.raises(SalesforceRowError, match="expected an amount"):
        money_from_sf("", "USD", "x")


def test_an_invoice_row_without_an_account_names_the_record_and_field() -> None:
    mapping = SalesforceMapping.load()
    row = {"Id": "a01", "Name": "INV-1", "blng__Account__c": None,
           "blng__TotalAmount__c": 1.0, "blng__Balance__c": 1.0}  # fmt: skip
    with pytest.raises(SalesforceRowError, match="blng__Invoice__c a01: field `blng__Account__c`"):
        invoice_from(row, mapping, "USD")


def test_a_cursor_is_a_second_resolution_utc_literal() -> None:
    moment = datetime(2026, 11, 2, 10, 15, 30, 999000, tzinfo=UTC)
    assert soql_datetime(moment) == "2026-11-02T10:15:30Z"
    with pytest.raises(SalesforceMappingError, match="timezone-aware"):
        soql_datetime(moment.replace(tzinfo=None))


# -- the test org itself -------------------------------------------------------------


def test_the_org_evaluates_soql_like_salesforce(org: SalesforceHarness) -> None:
    sf = org.sf
    rows = sf.query(
        "SELECT Name FROM blng__Invoice__c WHERE (blng__Balance__c >= 100 AND "
        "blng__InvoiceDate__c > 2026-10-01) OR Name IN ('INV-1001') "
        "ORDER BY Name DESC LIMIT 2"
    )["records"]
    assert [r["Name"] for r in rows] == ["INV-1004", "INV-1002"]
    nulls = sf.query("SELECT Id FROM Account WHERE ParentId = null")["totalSize"]
    assert nulls == 2
    assert sf.query("SELECT COUNT() FROM blng__Invoice__c WHERE Name != 'x'")["totalSize"] == 4


def test_the_org_answers_collections_per_record_in_order(org: SalesforceHarness) -> None:
    def record(key: str, invoice: str, amount: str) -> dict[str, object]:
        return {"attributes": {"type": "blng__PaymentAllocationInvoice__c"},
                "arlink_Key__c": key, "blng__Invoice__c": _host(org, invoice),
                "blng__Amount__c": amount}  # fmt: skip

    path = "composite/sobjects/blng__PaymentAllocationInvoice__c/arlink_Key__c"
    records = [record("k1", "I1", "10"), record("k2", "I2", "999"), record("k3", "I4", "5")]
    answer = org.sf.restful(path, method="PATCH", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in answer] == [True, False, True]
    assert answer[0]["created"]
    assert answer[1]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    records = [record("k4", "I1", "10"), record("k5", "I2", "999")]
    answer = org.sf.restful(path, method="PATCH", json={"allOrNone": True, "records": records})
    assert [e["statusCode"] for r in answer for e in r["errors"]] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    ]
    keys = {
        r["arlink_Key__c"]
        for r in org.server.org.records["blng__PaymentAllocationInvoice__c"].values()
    }
    assert keys >= {"k1", "k3"}
    assert not keys & {"k2", "k4", "k5"}
    with pytest.raises(SalesforceMalformedRequest) as too_many:
        org.sf.restful(path, method="PATCH", json={"records": [record("k", "I1", "1")] * 201})
    assert too_many.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_an_upsert_answers_201_then_204(org: SalesforceHarness) -> None:
    payments = org.sf.blng__Payment__c
    body = {"blng__Account__c": org.customers["C1"], "blng__Amount__c": 5.0}
    assert payments.upsert("arlink_Key__c/k1", body) == 201
    assert payments.upsert("arlink_Key__c/k1", body) == 204


def test_the_org_refuses_an_allocation_beyond_the_balance_and_keeps_nothing(
    org: SalesforceHarness,
) -> None:
    records = org.server.org.records
    before = len(records["blng__PaymentAllocationInvoice__c"])
    payment_id = next(iter(records["blng__Payment__c"]))
    with pytest.raises(SalesforceMalformedRequest) as refused:
        org.sf.blng__PaymentAllocationInvoice__c.create(
            {"blng__Payment__c": payment_id, "blng__Invoice__c": _host(org, "I2"),
             "blng__Amount__c": 100.01}
        )  # fmt: skip
    assert refused.value.content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert len(records["blng__PaymentAllocationInvoice__c"]) == before
    assert records["blng__Invoice__c"][_host(org, "I2")]["blng__Balance__c"] == Decimal("100.00")
