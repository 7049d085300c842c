"""Bank file parse speed: arlink against the peer libraries, on the same large file.

    python -m bench.parse [--size-mb 50] [--json]

Generates a BAI2 file of about `--size-mb` MB (ACH and wire credits with 88
continuations, debits, correct control totals), then parses it in a fresh process per
parser so peak RSS is each parser's own. Peers that are not installed are reported as
such; a peer that does not finish within `--timeout` seconds is measured on a file a
tenth of the size and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCOUNT_DETAILS = 200


def generate_bai2(path: Path, size_mb: float) -> int:
    """Write a valid BAI2 file of about `size_mb` MB; return the number of 16 records."""
    target = int(size_mb * 1_000_000)
    details = 0
    accounts = 0
    group_total = 0
    group_records = 0
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write("01,021000021,ARLINKBENCH,261102,0600,1,,,2/\n")
        out.write("02,ARLINKBENCH,021000021,1,261101,2400,USD,2/\n")
        group_records += 2  # the 02 and (later) the 98 record belong to the group count
        while out.tell() < target:
            accounts += 1
            records = 1
            account_total = 100000 + 100000
            out.write(f"03,{9000000000 + accounts},USD,010,100000,,,015,100000,,/\n")
            for n in range(ACCOUNT_DETAILS):
                details += 1
                amount = 1000 + (details * 7919) % 5_000_000
                if n % 4 == 3:
                    out.write(f"16,475,{amount},0,{details:010d},CHK{n},CHECK PAID/\n")
                    account_total += amount
                    records += 1
                elif n % 4 == 2:
                    out.write(
                        f"16,195,{amount},V,261101,,FW{details:08d},,"
                        f"ORG=/0{n:08d} GLOBEX CORPORATION OBI=INV-{details % 90000 + 10000}\n"
                    )
                    out.write("88,BNF=ARLINK BENCH INC, SENT VIA FEDWIRE/WIRE 12/31\n")
                    account_total += amount
                    records += 2
                else:
                    out.write(
                        f"16,165,{amount},1,{details:010d},,"
                        f"ORIG CO NAME:ACME MFG INC     ORIG ID:1234567890 DESC DATE:261101 "
                        f"ENTRY DESCR:PAYMENTS  SEC:CCD\n"
                    )
                    invoice = details % 90000 + 10000
                    paid = f"{amount // 100}.{amount % 100:02d}"
                    trace = f"021000020000{details:07d}"
                    out.write(f"88,TRACE#:{trace} RMR*IV*INV-{invoice}*{paid}\\\n")
                    account_total += amount
                    records += 2
            records += 1
            out.write(f"49,{account_total},{records}/\n")
            group_total += account_total
            group_records += records
        out.write(f"98,{group_total},{accounts},{group_records}/\n")
        out.write(f"99,{group_total},1,{group_records + 2}/\n")
    return details


def _parse_arlink(data: bytes, name: str) -> int:
    from cash_application.bank_files.bai2 import parse_bai2

    parsed = parse_bai2(data, name)
    return sum(len(statement.transactions) for statement in parsed.statements)


def _parse_moj_bai2(data: bytes, name: str) -> int:
    from bai2 import bai2

    document = bai2.parse_from_string(data.decode("ascii"), check_integrity=True)
    return sum(len(account.children) for group in document.children for account in group.children)


PARSERS = {
    "bai2": {"arlink": _parse_arlink, "bai2 (ministryofjustice)": _parse_moj_bai2},
}
PEER_MODULES = {"bai2 (ministryofjustice)": "bai2"}


def _worker(format_name: str, parser: str, file: Path) -> None:
    data = file.read_bytes()
    started = time.perf_counter()
    transactions = PARSERS[format_name][parser](data, file.name)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "transactions": transactions, "peak_rss_mb": peak_mb}))


def _measure(format_name: str, parser: str, file: Path, timeout: float) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.parse", "--worker", format_name, parser, str(file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    figures = json.loads(result.stdout)
    size_mb = file.stat().st_size / 1_000_000
    return {
        "mb_per_s": round(size_mb / figures["seconds"], 2),
        "tx_per_s": round(figures["transactions"] / figures["seconds"]),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "transactions": figures["transactions"],
        "file_mb": round(size_mb, 1),
    }


def _installed(module: str) -> bool:
    probe = [sys.executable, "-c", f"import {module}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def run(size_mb: float, timeout: float) -> dict[str, object]:
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "bench.bai2"
        small = Path(folder) / "bench-small.bai2"
        generate_bai2(big, size_mb)
        generate_bai2(small, size_mb / 10)
        for format_name, parsers in PARSERS.items():
            results[format_name] = {}
            for parser in parsers:
                module = PEER_MODULES.get(parser)
                if module and not _installed(module):
                    results[format_name][parser] = {
                        "error": f"not installed (pip install {module})"
                    }
                    continue
                try:
                    figures = _measure(format_name, parser, big, timeout)
                except subprocess.TimeoutExpired:
                    figures = _measure(format_name, parser, small, timeout)
                    figures["note"] = f"did not finish {size_mb} MB in {timeout} s; smaller file"
                results[format_name][parser] = figures
    return {"formats": results, "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("FORMAT", "PARSER", "FILE"))
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker[0], args.worker[1], Path(args.worker[2]))
        return
    report = run(args.size_mb, args.timeout)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for format_name, parsers in report["formats"].items():  # type: ignore[union-attr]
        for name, figures in parsers.items():
            print(f"{format_name:6} {name:28} {figures}")


if __name__ == "__main__":
    main()
