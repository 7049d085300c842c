"""Scale-out throughput: one generated day through `arlink run` on 1, 2 and 4 Celery workers.

    python -m bench.workers [--payments 3000] [--files 30] [--workers 1 2 4] [--shards 8]
                            [--check-equal]

Starts its own PostgreSQL (the ledger) and Redis (the broker) on loopback, generates a
day (`generate_day`: customers and open invoices in a `files` books folder, BAI2 files
over 20 bank accounts), and for each worker count runs the whole job (pull, fetch,
parse, match, write-back) on a fresh ledger with that many `arlink worker` processes
(each `--concurrency 1`). It also times the same job in-process, and the pure work
(parse and match in memory, no ledger), so the ledger's own overhead per payment is
`(in-process job - pure work) / payments`. Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DAY = date(2026, 11, 2)
ACCOUNTS = 20
_WORDS = (
    "Acme", "Apex", "Atlas", "Beacon", "Cedar", "Crown", "Delta", "Eagle", "Falcon", "Global",
    "Granite", "Harbor", "Horizon", "Keystone", "Liberty", "Maple", "Meridian", "Summit",
    "Pioneer", "Quantum", "Sterling", "Titan", "Vanguard", "Zenith",
)  # fmt: skip


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def generate_day(
    folder: Path, *, payments: int = 3000, files: int = 30, accounts: int = ACCOUNTS, seed: int = 6
) -> dict[str, int]:
    """Write a day: `folder/books` (customers.csv, open_invoices.csv) and `folder/bank`
    (`files` BAI2 files over `accounts` bank accounts, `payments` credits in all).

    The mix: exact ACH payments of one invoice (RMR addenda), CTX payments of two, short
    pays, wires naming the invoice, payments with no reference whose amount equals an open
    invoice, second payments of an invoice already paid from another file (they compete
    for the same open amount across files), unknown payers, and references to invoices
    that do not exist. The same arguments always give the same bytes.
    """
    rng = random.Random(seed)
    books, bank = folder / "books", folder / "bank"
    books.mkdir(parents=True, exist_ok=True)
    bank.mkdir(parents=True, exist_ok=True)
    n_customers = max(payments // 10, 10)
    customers = []
    for n in range(n_customers):
        name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {n:04d} Inc"
        customers.append((f"C{n:05d}", name, name.upper()[:16], f"{7_000_000_000 + n}"))
    invoices: list[tuple[str, str, str, int]] = []  # id, number, customer id, open minor
    for n in range(int(payments * 1.4)):
        customer = customers[rng.randrange(n_customers)][0]
        minor = rng.randrange(5_000, 900_000)
        invoices.append((f"{10_000 + n}", f"INV-{50_000 + n}", customer, minor))
    with (books / "customers.csv").open("w", encoding="utf-8") as out:
        out.write("customer_id,name,parent_id,aliases,bank_accounts\n")
        for customer_id, name, ach_name, account in customers:
            out.write(f"{customer_id},{name},,{ach_name},{account}\n")
    with (books / "open_invoices.csv").open("w", encoding="utf-8") as out:
        out.write(
            "invoice_id,invoice_number,customer_id,currency,amount_total,amount_open,"
            "issue_date,due_date,po_number,discount_terms\n"
        )
        for invoice_id, number, customer_id, minor in invoices:
            issued = DAY - timedelta(days=30 + int(invoice_id) % 40)
            out.write(
                f"{invoice_id},{number},{customer_id},USD,{_money(minor)},{_money(minor)},"
                f"{issued},{issued + timedelta(days=30)},,NET 30\n"
            )
    by_customer = {c[0]: c for c in customers}
    unused = list(range(len(invoices)))
    rng.shuffle(unused)
    paid: list[int] = []
    credits: list[list[str]] = []  # the 16 and 88 records of each credit
    for n in range(payments):
        kind = rng.random()
        index = unused.pop()
        invoice_id, number, customer_id, minor = invoices[index]
        _, name, ach_name, account = by_customer[customer_id]
        ref = f"ACH{n:09d}"
        if kind < 0.05 and paid:  # a second payment of an invoice paid elsewhere
            invoice_id, number, customer_id, minor = invoices[rng.choice(paid)]
            _, name, ach_name, account = by_customer[customer_id]
            credits.append(_ach(ref, minor, ach_name, f"RMR*IV*{number}*{_money(minor)}\\"))
        elif kind < 0.10:  # two invoices of the payer in one CTX payment
            other = next((i for i in unused[-50:] if invoices[i][2] == customer_id), None)
            if other is None:
                credits.append(_ach(ref, minor, ach_name, f"RMR*IV*{number}*{_money(minor)}\\"))
            else:
                unused.remove(other)
                second = invoices[other]
                paid.append(other)
                addenda = (
                    f"RMR*IV*{number}*{_money(minor)}\\RMR*IV*{second[1]}*{_money(second[3])}\\"
                )
                credits.append(_ach(ref, minor + second[3], ach_name, addenda))
        elif kind < 0.18:  # a short pay
            short = minor - max(minor // 20, 100)
            credits.append(_ach(ref, short, ach_name, f"RMR*IV*{number}*{_money(short)}\\"))
        elif kind < 0.26:  # a wire naming the invoice
            credits.append(
                [
                    f"16,195,{minor},0,FW{n:010d},,WIRE IN ORG=/{account} {name.upper()}/",
                    f"88,OBI=PAYMENT FOR {number}/",
                ]
            )
        elif kind < 0.32:  # no reference: the amount equals an open invoice of the payer
            credits.append(_ach(ref, minor, ach_name, None))
        elif kind < 0.36:  # an unknown payer naming nothing
            credits.append([f"16,115,{minor},1,LBX{n:09d},4471,LOCKBOX DEPOSIT 1 ITEM/"])
            unused.append(index)
            continue
        elif kind < 0.40:  # a reference to an invoice that does not exist
            credits.append(_ach(ref, minor, ach_name, f"RMR*IV*INV-9{n:06d}*{_money(minor)}\\"))
            unused.append(index)
            continue
        else:  # one invoice, paid exactly
            credits.append(_ach(ref, minor, ach_name, f"RMR*IV*{number}*{_money(minor)}\\"))
        paid.append(index)
    for f in range(files):
        chunk = credits[f::files]
        by_account: dict[int, list[list[str]]] = {}
        for k, credit in enumerate(chunk):
            by_account.setdefault((f + k) % accounts, []).append(credit)
        _write_bai2(bank / f"{DAY:%Y-%m-%d}-{f:03d}.bai2", DAY + timedelta(days=f % 3), by_account)
    return {"payments": payments, "files": files, "invoices": len(invoices)}


def _ach(ref: str, minor: int, ach_name: str, addenda: str | None) -> list[str]:
    records = [
        f"16,165,{minor},0,{ref},,ORIG CO NAME:{ach_name:<16} ORIG ID:1{ref[3:]} "
        f"DESC DATE:{DAY:%y%m%d} CO ENTRY DESCR:PAYMENT    SEC:CCD/",
        f"88,TRACE#:0210000210{ref[3:]} EED:{DAY:%y%m%d} IND NAME:ARLINK DEMO CO/",
    ]
    if addenda is not None:
        records.append(f"88,ADDENDA:{addenda}/")
    return records


def _write_bai2(path: Path, as_of: date, by_account: dict[int, list[list[str]]]) -> None:
    """One BAI2 file, one group, with correct control totals and record counts."""
    lines = [
        f"01,121000248,ARLINKBENCH,{as_of:%y%m%d},0600,1,,,2/",
        f"02,ARLINKBENCH,121000248,1,{as_of:%y%m%d},2400,USD,2/",
    ]
    group_total, group_records = 0, 2  # the 02 and the 98
    for account, credits in sorted(by_account.items()):
        records = [f"03,{4_021_558_800 + account},USD/"]
        total = 0
        for credit in credits:
            records.extend(credit)
            total += int(credit[0].split(",")[2])
        records.append(f"49,{total},{len(records) + 1}/")
        lines.extend(records)
        group_total += total
        group_records += len(records)
    lines.append(f"98,{group_total},{len(by_account)},{group_records}/")
    lines.append(f"99,{group_total},1,{group_records + 2}/")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


@dataclass(frozen=True, slots=True)
class Worker:
    """A running `arlink worker`: its main process and its log file."""

    process: subprocess.Popen[bytes]
    log: Path

    def pool_pids(self) -> list[int]:
        """The pids of its pool processes (the ones that run the tasks)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in children.split()]


@contextlib.contextmanager
def running_workers(config: Path, count: int, *, timeout: float = 60) -> Iterator[list[Worker]]:
    """Start `count` `arlink worker` processes (`--concurrency 1` each) for `config`, wait
    until all answer a ping, yield them; stop them with SIGTERM at the end."""
    command = shutil.which("arlink", path=str(Path(sys.executable).parent))
    if command is None:
        raise RuntimeError("the `arlink` command is not installed beside this Python")
    from sync_jobs.config import load_config
    from sync_jobs.workers import make_celery

    logs = [config.parent / f"worker-{n}.log" for n in range(count)]
    processes = []
    for log in logs:
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [command, "--config", str(config), "worker", "--concurrency", "1"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=config.parent,
                )
            )
    celery = make_celery(load_config(config))
    try:
        deadline = time.monotonic() + timeout
        while len(celery.control.ping(timeout=0.5)) < count:
            for log, process in zip(logs, processes, strict=True):
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} worker(s) did not answer within {timeout} s")
        yield [Worker(process, log) for process, log in zip(processes, logs, strict=True)]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # warm shutdown: finish the task in hand
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def end_state(config: Path) -> dict[str, Any]:
    """What the day left behind: the books host's journal files, in order, and the ledger
    (`--check-equal`; tests/sync_jobs/test_workers.py)."""

    import sqlalchemy as sa

    from sync_jobs.config import load_config
    from sync_jobs.ledger import open_ledger
    from sync_jobs.ledger.audit import verify_chain
    from sync_jobs.ledger.schema import (
        applications,
        bank_files,
        decisions,
        exception_items,
        payments,
    )
    from sync_jobs.wiring import ledger_url

    def journal(name: str) -> list[dict[str, str]]:
        path = config.parent / "books" / name
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    engine = open_ledger(ledger_url(load_config(config).config))
    try:
        with engine.connect() as conn:

            def query(table: sa.Table, *columns: str) -> list[tuple[str, ...]]:
                # Through the table's types, so JSON columns compare as values on any backend.
                rows = conn.execute(sa.select(*(table.c[name] for name in columns)))
                return sorted(tuple(map(repr, row)) for row in rows)

            return {
                "applications.csv": journal("applications.csv"),
                "exceptions.csv": journal("exceptions.csv"),
                "bank_files": query(bank_files, "name", "status"),
                "payments": query(payments, "payment_id", "file_digest", "amount_minor"),
                "decisions": query(
                    decisions, "payment_id", "outcome", "confidence", "engine_version", "reasons"
                ),
                "applications": query(
                    applications,
                    *("payment_id", "invoice_id", "amount_minor", "discount_minor"),
                    *("write_off_minor", "reason_code", "idempotency_key"),
                    *("writeback_status", "external_id"),
                ),
                "exception_items": query(
                    exception_items,
                    *("payment_id", "reason", "amount_minor", "suggestions", "reasons"),
                    *("idempotency_key", "writeback_status", "external_id"),
                ),
                "chain_ok": verify_chain(conn).ok,
            }
    finally:
        engine.dispose()


_JOB = """
var_dir = "var"
[books.main]
kind = "files"
path = "books"
[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"
[jobs.daily]
books = "main"
sources = ["operating"]
[ledger]
url = "{ledger}"
"""


def _workspace(folder: Path, day: Path, ledger: str, broker: str | None, shards: int) -> Path:
    shutil.copytree(day / "books", folder / "books")
    shutil.copytree(day / "bank", folder / "bank")
    text = _JOB.format(ledger=ledger)
    if broker is not None:
        text += f'[workers]\nbroker_url = "{broker}"\nmatch_shards = {shards}\n'
    (folder / "config.toml").write_text(text)
    return folder / "config.toml"


def _pure_seconds(day: Path) -> float:
    """Parse and match the day in memory: the work itself, without ledger or host writes."""
    from cash_application.bank_files.detect import parse_bank_file
    from cash_application.bank_files.payments import payments_from
    from cash_application.matching import match_payments
    from connectors.files import read_customers, read_invoices

    started = time.perf_counter()
    found = []
    for path in sorted((day / "bank").glob("*.bai2")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        parsed = parse_bank_file(data, path.name)
        found.extend(payments_from(parsed, file_digest=digest, file_name=path.name))
    invoices = read_invoices(day / "books" / "open_invoices.csv")
    match_payments(found, invoices, read_customers(day / "books" / "customers.csv"))
    return time.perf_counter() - started


def _run_job(config: Path) -> dict[str, object]:
    """Run the day's job (on the workers when the config has [workers]); time each step."""
    from sync_jobs.config import load_config
    from sync_jobs.ledger import open_ledger, runs
    from sync_jobs.runner import run_job, run_step_here
    from sync_jobs.wiring import ledger_url
    from sync_jobs.workers import dispatcher

    loaded = load_config(config)
    engine = open_ledger(ledger_url(loaded.config))
    run_step = dispatcher(loaded) if loaded.config.workers else run_step_here
    started = time.perf_counter()
    result = run_job(engine, loaded, "daily", run_step=run_step)
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        steps = {
            step.step: round((step.finished_at - step.started_at).total_seconds(), 2)
            for step in runs.list_steps(conn, result.run_id)
            # The match step's parts on the workers are checkpoints, not timed steps.
            if step.finished_at is not None and not step.step.startswith("match.")
        }
    engine.dispose()
    payments = result.summary.to_json()["payments"]
    return {
        "seconds": round(seconds, 2),
        "payments_per_s": round(payments / seconds, 1),
        "step_seconds": steps,
    }


def run(
    payments: int, files: int, worker_counts: list[int], *, shards: int = 8, check_equal: bool
) -> dict[str, object]:
    """Generate the day, then time it pure, in-process and on each number of workers; with
    `check_equal`, also say whether each worker run left exactly the in-process end state."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from servers.postgres import start_postgres
    from servers.redis import start_redis

    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arlink-bench-")))
        postgres = stack.enter_context(contextlib.contextmanager(start_postgres)())
        redis = stack.enter_context(contextlib.contextmanager(start_redis)())
        day = base / "day"
        generate_day(day, payments=payments, files=files)
        pure = _pure_seconds(day)
        alone_config = _workspace(base / "alone", day, postgres.new_database(), None, shards)
        alone = _run_job(alone_config)
        overhead_ms = (alone["seconds"] - pure) / payments * 1000  # type: ignore[operator]
        expected = end_state(alone_config) if check_equal else None
        scaled = {}
        for db, count in enumerate(worker_counts, start=1):
            config = _workspace(
                base / f"w{count}", day, postgres.new_database(), redis.url(db), shards
            )
            # A loaded machine may take a while to start four Celery workers.
            with running_workers(config, count, timeout=300):
                scaled[str(count)] = _run_job(config)
            if expected is not None:
                scaled[str(count)]["equal_to_in_process"] = end_state(config) == expected
    return {
        "payments": payments,
        "files": files,
        "match_shards": shards,
        "cpus": os.cpu_count(),
        "pure_parse_and_match_seconds": round(pure, 2),
        "in_process": alone,
        "workers": scaled,
        "ledger_overhead_ms_per_payment": round(overhead_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--shards", type=int, default=8, help="[workers] match_shards")
    parser.add_argument(
        "--check-equal",
        action="store_true",
        help="compare each worker run's end state (ledger and host) with the in-process run",
    )
    args = parser.parse_args()
    found = run(
        args.payments, args.files, args.workers, shards=args.shards, check_equal=args.check_equal
    )
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
