"""The JSON shape of a parsed bank file (`arlink parse --json`, golden files)."""

from __future__ import annotations

import json
from datetime import date

from cash_application.bank_files.records import Direction, ParsedFile, Statement, Transaction
from cash_application.bank_files.to_json import parsed_file_to_json
from mappings.money import Money


def test_shape_and_value_types() -> None:
    txn = Transaction(
        amount=Money(150000, "USD"),
        direction=Direction.CREDIT,
        first_line=5,
        last_line=7,
        value_date=date(2026, 11, 2),
        type_code="165",
        payer_name="ACME MFG",
        remittance="RMR*IV*INV-1*1500.00\\",
        invoice_refs=("INV-1",),
        booked=False,
        ultimate_payer="ACME HOLDING",
        invoice_amounts=(("INV-1", Money(150000, "USD")),),
    )
    statement = Statement("4021558830", "USD", date(2026, 11, 2), Money(-5, "USD"), None, (txn,))
    document = parsed_file_to_json(ParsedFile("bai2", (statement,)))
    assert json.loads(json.dumps(document)) == document  # plain JSON, no floats or dates
    assert document == {
        "format": "bai2",
        "statements": [
            {
                "account": "4021558830",
                "currency": "USD",
                "date": "2026-11-02",
                "opening_balance": "-0.05",
                "closing_balance": None,
                "transactions": [
                    {
                        "amount": "1500.00",
                        "direction": "credit",
                        "currency": "USD",
                        "value_date": "2026-11-02",
                        "entry_date": None,
                        "type_code": "165",
                        "bank_reference": None,
                        "customer_reference": None,
                        "end_to_end_id": None,
                        "payer_name": "ACME MFG",
                        "payer_account": None,
                        "remittance": "RMR*IV*INV-1*1500.00\\",
                        "invoice_refs": ["INV-1"],
                        "reversal": False,
                        "booked": False,
                        "ultimate_payer": "ACME HOLDING",
                        "invoice_amounts": {"INV-1": "1500.00"},
                        "first_line": 5,
                        "last_line": 7,
                    }
                ],
            }
        ],
    }
