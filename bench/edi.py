"""EDI validation speed: generate X12 810s with the builder and validate each one.

    python -m bench.edi [--count 10000] [--lines 20] [--json]

Every invoice has `--lines` IT1 lines (a product id, a description, a charge on
every other line), a summary allowance and a tax; each is rendered with its own
control numbers and validated through every layer (bytes, envelopes, structure,
elements, arithmetic). Prints documents per second; with `--json`, one JSON object.
Every generated document must validate clean, so a slow path cannot hide behind an
early reject.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import date
from datetime import time as clock
from decimal import Decimal

from edi.build_x12 import Envelope, render_810
from edi.findings import has_reject
from edi.validate import validate
from mappings.invoice_document import (
    AllowanceCharge,
    DocumentLine,
    InvoiceDocument,
    Party,
    TaxAmount,
)
from mappings.money import Money

ENVELOPE = Envelope("ZZ", "ARLINKBENCH", "ZZ", "RETAILER", 1, 1, 1, date(2026, 11, 2), clock(6))


def generate(count: int, lines: int) -> list[bytes]:
    """`count` distinct 810 interchanges of `lines` lines each."""
    documents = []
    for n in range(1, count + 1):
        document = InvoiceDocument(
            invoice_number=f"INV-{n:07d}",
            invoice_date=date(2026, 11, 2),
            currency="USD",
            po_number=f"PO{n:08d}",
            parties=(Party("ST", "STORE 100", "UL", "0078742000992"), Party("RE", "ARLINK")),
            lines=tuple(
                DocumentLine(
                    line_number=str(i),
                    product_qualifier="UP",
                    product_id=f"{n:06d}{i:06d}",
                    quantity=Decimal(1 + (n + i) % 48),
                    unit="EA",
                    unit_price=Decimal(99 + (n * i) % 9000).scaleb(-2),
                    description=f"ITEM {i}",
                    allowances_charges=(
                        (AllowanceCharge("C", "D360", Money(125, "USD")),) if i % 2 else ()
                    ),
                )
                for i in range(1, lines + 1)
            ),
            allowances_charges=(AllowanceCharge("A", "I410", Money(2350, "USD")),),
            taxes=(TaxAmount("ST", Money(1000 + n % 500, "USD")),),
        )
        envelope = replace(ENVELOPE, interchange_control=n, group_control=n, set_control=n)
        documents.append(render_810(document, envelope)[0])
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    documents = generate(args.count, args.lines)
    started = time.perf_counter()
    rejected = sum(has_reject(validate(data)) for data in documents)
    elapsed = time.perf_counter() - started
    result = {
        "documents": len(documents),
        "lines_per_document": args.lines,
        "megabytes": round(sum(map(len, documents)) / 1e6, 2),
        "seconds": round(elapsed, 3),
        "documents_per_second": round(len(documents) / elapsed, 1),
        "rejected": rejected,
    }
    if rejected:
        raise SystemExit(f"{rejected} generated documents were rejected: the benchmark is invalid")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['documents_per_second']} documents/s ({result})")


if __name__ == "__main__":
    main()
