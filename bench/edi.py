"""EDI validation speed: generate X12 810s and EDIFACT INVOICs with the builders, validate each.

    python -m bench.edi [--count 10000] [--lines 20] [--format x12|edifact|both] [--json]

Every invoice has `--lines` lines (a product id, a description, a charge on every
other line), a document-level allowance and a tax; each is rendered with its own
control numbers (an 810 004010, or an INVOIC D96A EANCOM with GLN parties) and
validated through every layer (bytes, envelopes, structure, elements, arithmetic).
Prints documents per second per format; with `--json`, one JSON object per format.
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

from edi.build_edifact import EdifactEnvelope, render_invoic
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
INVOIC_ENVELOPE = EdifactEnvelope(
    "5412345000013", "4012345000009", 1, 1, date(2026, 11, 2), clock(6)
)
# The EDIFACT profile (EANCOM) names buyer and supplier by GLN.
_GLN_PARTIES = (
    Party("BY", "BUYER", "UL", "4012345000009"),
    Party("SU", "ARLINK", "UL", "5412345000013"),
    Party("ST", "STORE 100", "UL", "0078742000992"),
)
_X12_PARTIES = (Party("ST", "STORE 100", "UL", "0078742000992"), Party("RE", "ARLINK"))


def generate(count: int, lines: int, standard: str = "x12") -> list[bytes]:
    """`count` distinct interchanges (`standard` "x12": 810s, "edifact": INVOICs) of `lines`."""
    currency = "USD" if standard == "x12" else "EUR"
    documents = []
    for n in range(1, count + 1):
        document = InvoiceDocument(
            invoice_number=f"INV-{n:07d}",
            invoice_date=date(2026, 11, 2),
            currency=currency,
            po_number=f"PO{n:08d}",
            parties=_X12_PARTIES if standard == "x12" else _GLN_PARTIES,
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
                        (AllowanceCharge("C", "D360", Money(125, currency)),) if i % 2 else ()
                    ),
                )
                for i in range(1, lines + 1)
            ),
            allowances_charges=(AllowanceCharge("A", "I410", Money(2350, currency)),),
            taxes=(TaxAmount("ST", Money(1000 + n % 500, currency)),),
        )
        if standard == "x12":
            envelope = replace(ENVELOPE, interchange_control=n, group_control=n, set_control=n)
            documents.append(render_810(document, envelope)[0])
        else:
            invoic = replace(INVOIC_ENVELOPE, interchange_control=n, message_reference=n)
            documents.append(render_invoic(document, invoic)[0])
    return documents


def measure(documents: list[bytes], lines: int, standard: str) -> dict[str, object]:
    """Validate every document once; documents per second, and how many were rejected."""
    started = time.perf_counter()
    rejected = sum(has_reject(validate(data)) for data in documents)
    elapsed = time.perf_counter() - started
    if rejected:
        raise SystemExit(f"{rejected} generated documents were rejected: the benchmark is invalid")
    return {
        "format": standard,
        "documents": len(documents),
        "lines_per_document": lines,
        "megabytes": round(sum(map(len, documents)) / 1e6, 2),
        "seconds": round(elapsed, 3),
        "documents_per_second": round(len(documents) / elapsed, 1),
        "rejected": rejected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--format", choices=("x12", "edifact", "both"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    standards = ("x12", "edifact") if args.format == "both" else (args.format,)
    for standard in standards:
        result = measure(generate(args.count, args.lines, standard), args.lines, standard)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{standard}: {result['documents_per_second']} documents/s ({result})")


if __name__ == "__main__":
    main()
