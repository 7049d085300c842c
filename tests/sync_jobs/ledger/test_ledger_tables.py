"""Values keep their exact type through the ledger: money as ints, UTC timestamps, JSON, keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sync_jobs.ledger.schema import (
    applications,
    bank_files,
    bindings,
    cursors,
    decisions,
    exception_items,
    invoices,
    payments,
)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = "d" * 64


def _bank_file(conn: sa.Connection) -> None:
    conn.execute(
        sa.insert(bank_files).values(
            digest=DIGEST,
            name="lockbox-0601.bai",
            source="sftp:bank",
            format="bai2",
            size=2048,
            status="parsed",
            received_at=T0,
            parsed_at=T0,
        )
    )


def _payment(conn: sa.Connection, payment_id: str, amount_minor: int) -> None:
    conn.execute(
        sa.insert(payments).values(
            payment_id=payment_id,
            file_digest=DIGEST,
            first_line=3,
            last_line=4,
            format="bai2",
            bank_account="acct-1",
            value_date=date(2024, 6, 1),
            amount_minor=amount_minor,
            currency="USD",
            remittance="INV-1043",
            remittance_lines=[{"invoice_ref": "INV-1043", "amount_paid": "150.00"}],
        )
    )


APPLICATION = {
    "payment_id": "p1",
    "host": "odoo",
    "invoice_id": "42",
    "amount_minor": 1,
    "currency": "USD",
}

# 2**53 + 1 is the first integer a float cannot hold: it proves no float on the way.
AMOUNTS = [0, -1, 150_000, 2**53 + 1, 2**63 - 1, -(2**63)]


@pytest.mark.parametrize("amount_minor", AMOUNTS)
def test_money_columns_are_exact_integers(ledger: sa.Engine, amount_minor: int) -> None:
    with ledger.begin() as conn:
        _bank_file(conn)
        _payment(conn, "p1", amount_minor)
        conn.execute(
            sa.insert(invoices).values(
                host="odoo",
                invoice_id="42",
                number="INV-1043",
                customer_id="7",
                currency="USD",
                total_minor=amount_minor,
                open_minor=amount_minor,
                issue_date=date(2024, 5, 1),
                status="open",
                pulled_at=T0,
            )
        )
    with ledger.connect() as conn:
        paid = conn.execute(sa.select(payments.c.amount_minor)).scalar_one()
        total, open_amount = conn.execute(
            sa.select(invoices.c.total_minor, invoices.c.open_minor)
        ).one()
    for value in (paid, total, open_amount):
        assert type(value) is int
        assert value == amount_minor


def test_applications_default_discount_and_write_off_to_zero(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        _bank_file(conn)
        _payment(conn, "p1", 15_000)
        conn.execute(
            sa.insert(applications).values(
                payment_id="p1",
                host="odoo",
                invoice_id="42",
                amount_minor=15_000,
                currency="USD",
                idempotency_key="p1:42",
            )
        )
    with ledger.connect() as conn:
        row = conn.execute(sa.select(applications)).one()
    assert (row.id, row.discount_minor, row.write_off_minor, row.writeback_status) == (
        1,
        0,
        0,
        "pending",
    )


def test_idempotency_keys_are_unique(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        _bank_file(conn)
        _payment(conn, "p1", 15_000)
        conn.execute(sa.insert(applications).values(**APPLICATION, idempotency_key="p1:42"))
    with pytest.raises(sa.exc.IntegrityError), ledger.begin() as conn:
        conn.execute(sa.insert(applications).values(**APPLICATION, idempotency_key="p1:42"))


def test_bindings_are_unique_per_host_entity_and_local_id(ledger: sa.Engine) -> None:
    row = {
        "host": "odoo",
        "entity": "application",
        "local_id": "p1:42",
        "payload_hash": "a" * 64,
        "status": "intent",
        "created_at": T0,
        "updated_at": T0,
    }
    with ledger.begin() as conn:
        conn.execute(sa.insert(bindings).values(row))
    with pytest.raises(sa.exc.IntegrityError), ledger.begin() as conn:
        conn.execute(sa.insert(bindings).values(row))


def test_foreign_keys_are_enforced(ledger: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), ledger.begin() as conn:
        _payment(conn, "p1", 100)  # its bank file was never recorded


def test_status_checks_are_enforced(ledger: sa.Engine) -> None:
    with ledger.begin() as conn:
        _bank_file(conn)
        _payment(conn, "p1", 100)
    with pytest.raises(sa.exc.IntegrityError), ledger.begin() as conn:
        conn.execute(
            sa.insert(decisions).values(
                payment_id="p1",
                outcome="maybe",
                confidence=0.5,
                engine_version="1",
                reasons=[],
                decided_at=T0,
            )
        )


def test_json_columns_round_trip(ledger: sa.Engine) -> None:
    reasons = [{"code": "ref_found", "text": "invoice number INV-1043 found, edit distance 1"}]
    suggestions = [{"invoice_id": "42", "score": 0.8, "reasons": reasons}]
    with ledger.begin() as conn:
        _bank_file(conn)
        _payment(conn, "p1", 100)
        conn.execute(
            sa.insert(exception_items).values(
                payment_id="p1",
                host="odoo",
                reason="ambiguous",
                amount_minor=100,
                currency="USD",
                suggestions=suggestions,
                reasons=reasons,
                idempotency_key="p1:exception",
                created_at=T0,
            )
        )
    with ledger.connect() as conn:
        row = conn.execute(sa.select(exception_items)).one()
        lines = conn.execute(sa.select(payments.c.remittance_lines)).scalar_one()
    assert (row.suggestions, row.reasons, row.status, row.resolution) == (
        suggestions,
        reasons,
        "open",
        None,
    )
    assert lines == [{"invoice_ref": "INV-1043", "amount_paid": "150.00"}]


def test_timestamps_come_back_aware_in_utc(ledger: sa.Engine) -> None:
    cest = timezone(timedelta(hours=2))
    written = datetime(2024, 6, 1, 14, 30, 15, 123456, tzinfo=cest)
    with ledger.begin() as conn:
        conn.execute(
            sa.insert(cursors).values(host="odoo", entity="invoice", value="42", updated_at=written)
        )
    with ledger.connect() as conn:
        read = conn.execute(sa.select(cursors.c.updated_at)).scalar_one()
    assert read == written
    assert read.tzinfo == UTC
    assert read == datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_naive_timestamps_are_refused(ledger: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), ledger.begin() as conn:
        conn.execute(
            sa.insert(cursors).values(
                host="odoo", entity="invoice", value="42", updated_at=datetime(2024, 6, 1)
            )
        )
