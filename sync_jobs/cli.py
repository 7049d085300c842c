"""The `arlink` command line (Typer + Rich).

Exit codes: 0 the command did its work (exceptions in the queue are normal work);
1 it could not (a failed job step, nothing processable, a broken audit chain);
2 the configuration or the command line is wrong. Reasons go to stderr.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from cash_application.bank_files.detect import PARSERS, parse_bank_file
from cash_application.bank_files.errors import BankFileError
from cash_application.bank_files.lockbox_csv import parse_lockbox_with_layout
from cash_application.bank_files.to_json import parsed_file_to_json
from cash_application.matching import match_payments
from cash_application.received_files import ReceivedFile, read_received_file
from cash_application.remittance_advices import DEFAULT_LAYOUT, advice_format
from cash_application.remittance_advices.to_json import advice_to_json
from connectors.files import (
    APPLICATION_COLUMNS,
    EXCEPTION_COLUMNS,
    BooksDataError,
    application_row,
    exception_row,
    read_customers,
    read_invoices,
    write_csv_atomic,
)
from mappings.records import (
    ApplicationWrite,
    ExceptionWrite,
    Payment,
    RemittanceAdvice,
    idempotency_key,
)
from sync_jobs import audit_export
from sync_jobs import trace as tracing
from sync_jobs.config import ConfigError, LoadedConfig, load_config
from sync_jobs.edi_cli import edi_app
from sync_jobs.ledger import open_ledger, runs
from sync_jobs.ledger.audit import verify_chain
from sync_jobs.ledger.locks import JobLockedError
from sync_jobs.ledger.schema import exception_items, payments
from sync_jobs.notify import Failure, notify_failure
from sync_jobs.runner import JobFailedError, RunResult, preview_job, run_job, run_step_here
from sync_jobs.schedule import run_scheduler
from sync_jobs.store import exception_from_row, forget_pull_cursors, refusals_of_run
from sync_jobs.summary import RunSummary
from sync_jobs.wiring import build_books, build_source, ledger_url

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="arlink: bank files in, cash applied, exceptions to the clerk, all traced.",
)
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")
app.add_typer(edi_app, name="edi")


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200  # a log or a pipe: keep table rows on one line each
    return console


out = _console(stderr=False)
err = _console(stderr=True)

_state: dict[str, Path] = {}


@app.callback()
def _main(
    config: Annotated[
        Path,
        typer.Option(
            "--config", "-c", envvar="ARLINK_CONFIG", help="config file (env ARLINK_CONFIG)"
        ),
    ] = Path("config.toml"),
) -> None:
    _state["config"] = config


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    return typer.Exit(code)


def _config() -> LoadedConfig:
    try:
        return load_config(_state["config"])
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


def _engine(loaded: LoadedConfig) -> sa.Engine:
    return open_ledger(ledger_url(loaded.config))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _plain_line(text: str) -> None:
    """A timestamped progress line on stderr, for logs and journals."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class _Reporter:
    """Where a job's progress goes: a bar over its steps on a terminal, plain timestamped
    lines on stderr elsewhere (cron, systemd, CI logs)."""

    line: Callable[[str], None]
    step: Callable[[str, int, int], None]


@contextmanager
def _reporter() -> Iterator[_Reporter]:
    if err.is_terminal:
        columns = (
            TextColumn("{task.fields[step]:>10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task("", total=None, step="starting")

            def step(name: str, index: int, total: int) -> None:
                progress.update(task, total=total, completed=index, step=name)

            yield _Reporter(lambda text: progress.update(task, description=text), step)
        return

    def plain_step(name: str, index: int, total: int) -> None:
        if index < total:
            _plain_line(f"step {index + 1}/{total}: {name}")

    yield _Reporter(_plain_line, plain_step)


def _summary_table(title: str, summary: RunSummary) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in summary.rows():
        table.add_row(label, value)
    return table


@app.command()
def check() -> None:
    """Validate the config, open the ledger, and reach every books host and bank source."""
    loaded = _config()
    config = loaded.config
    table = Table(title=f"arlink check ({loaded.file})")
    for column in ("target", "ok", "detail"):
        table.add_column(column)
    table.add_row("config", "yes", f"{len(config.jobs)} job(s), sha256 {loaded.sha256[:12]}")
    problems = 0
    try:
        _engine(loaded).dispose()
        table.add_row("ledger", "yes", "migrations at head")
    except Exception as exc:  # an unreachable ledger is a finding here, not a crash
        problems += 1
        table.add_row("ledger", "[red]no[/]", str(exc))
    results = [r for name in config.books for r in build_books(config, name).check()]
    results += [r for name in config.sources for r in build_source(config, name).check()]
    for result in results:
        problems += not result.ok
        table.add_row(result.target, "yes" if result.ok else "[red]no[/]", result.detail)
    out.print(table)
    if problems:
        raise _fail(f"{problems} check(s) failed")


@app.command()
def run(
    job: Annotated[str, typer.Argument(help="job name from config.toml")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would happen; write nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="pull everything from the books host, not just changes"),
    ] = False,
) -> None:
    """Run one job now (cron-friendly); an unfinished earlier run of it is continued."""
    loaded = _config()
    if job not in loaded.config.jobs:
        known = ", ".join(sorted(loaded.config.jobs)) or "none"
        raise _fail(f"no job `{job}` in {loaded.file} (known: {known})", 2)
    engine = _engine(loaded)
    if full and not dry_run:
        # Without cursors the pull reads everything and replaces the books snapshot.
        with engine.begin() as conn:
            forget_pull_cursors(conn, loaded.config.jobs[job].books)
    with _reporter() as progress:
        if dry_run:
            summary = preview_job(engine, loaded, job, report=progress.line)
            run_id, title = None, f"{job} (dry run: nothing written)"
        else:
            result = _run_and_notify(engine, loaded, job, progress)
            if result is None:
                raise typer.Exit(1)
            summary, run_id = result.summary, result.run_id
            title = f"{job} run {run_id}" + (" (continued)" if result.resumed else "")
            _print_refusals(engine, run_id)
    if as_json:
        _print_json({"job": job, "run_id": run_id, "dry_run": dry_run, **summary.to_json()})
    else:
        out.print(_summary_table(title, summary))


def _print_refusals(engine: sa.Engine, run_id: str) -> None:
    """One stderr line per record the books host refused in the run: the run still did its
    work (exit 0), but an admin must see that these went to the clerk instead."""
    with engine.connect() as conn:
        record = runs.get_run(conn, run_id)
        refusals = refusals_of_run(conn, run_id, record.started_at) if record else []
    for refusal in refusals:
        invoice = f", invoice {refusal.invoice_number}" if refusal.invoice_number else ""
        err.print(
            f"refused by the books host: {refusal.kind} of payment {refusal.payment_id}"
            f"{invoice}: {refusal.message}",
            markup=False,
        )


def _run_and_notify(
    engine: sa.Engine, loaded: LoadedConfig, job: str, progress: _Reporter
) -> RunResult | None:
    """Run a job; on failure say why on stderr, notify, and return None.

    With `[workers]` in the config, the steps' work is done by `arlink worker` processes.
    """
    run_step = run_step_here
    if loaded.config.workers is not None:
        # Imported here: Celery is needed only where [workers] is configured.
        from sync_jobs.workers import dispatcher

        run_step = dispatcher(loaded)
    try:
        return run_job(
            engine, loaded, job, report=progress.line, on_step=progress.step, run_step=run_step
        )
    except (JobFailedError, JobLockedError) as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True)
        run_id = exc.run_id if isinstance(exc, JobFailedError) else None
        notify_failure(
            loaded.config.notify,
            Failure(job, run_id, str(exc)),
            warn=lambda text: err.print(f"warning: {text}"),
        )
        return None


@app.command()
def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, help="tasks this worker runs at once (processes)")
    ] = 1,
) -> None:
    """Start a Celery worker for the `[workers]` broker; `arlink run` then sends it work.

    Every worker reads the same config file and shares the PostgreSQL ledger and
    `var_dir`. Stops cleanly on SIGTERM (the task in hand is finished first).
    """
    loaded = _config()
    if loaded.config.workers is None:
        raise _fail(f"{loaded.file}: no [workers] section (broker_url) to take work from", 2)
    from sync_jobs.workers import start_worker  # Celery is needed only here

    _engine(loaded).dispose()  # migrate the ledger (or fail on it) before taking work
    start_worker(loaded, concurrency=concurrency)


@app.command()
def schedule() -> None:
    """Run the jobs that have a `schedule`, in the foreground, until SIGTERM or Ctrl-C.

    Runs missed while stopped are not replayed; a run that overlaps later fire times is
    followed by one run, not one per missed slot. A failed run is recorded and notified
    and the scheduler goes on. Logs are plain lines on stderr (for systemd's journal).
    """
    loaded = _config()
    engine = _engine(loaded)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    progress = _Reporter(_plain_line, lambda name, index, total: None)

    def run_one(job: str) -> None:
        _run_and_notify(engine, loaded, job, progress)

    run_scheduler(
        loaded.config,
        now=lambda: datetime.now(UTC),
        wait=stop.wait,
        run=run_one,
        report=_plain_line,
    )


@app.command()
def parse(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="a bank file or remittance advice"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="the stable JSON shape")] = False,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help=f"skip detection: one of {', '.join(PARSERS)}"),
    ] = None,
    lockbox_layout: Annotated[
        str | None,
        typer.Option(
            "--lockbox-layout", help="a lockbox layout in mappings/lockbox/ or a .toml path"
        ),
    ] = None,
) -> None:
    """Parse one bank file and show its statements and transactions, or a remittance
    advice file (X12 820, CSV) and its advices, as a job would read it."""
    data = file.read_bytes()
    try:
        if lockbox_layout is not None:
            parsed = parse_lockbox_with_layout(data, file.name, lockbox_layout)
        elif file_format is None and advice_format(data) is not None:
            _show_advices(
                read_received_file(data, file.name, file_digest=hashlib.sha256(data).hexdigest()),
                as_json,
            )
            return
        else:
            parsed = parse_bank_file(data, file.name, file_format)
    except (BankFileError, ValueError) as exc:  # ValueError: a layout that cannot be used
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(parsed_file_to_json(parsed))
        return
    for statement in parsed.statements:
        table = Table(
            title=f"{parsed.format} account {statement.account} {statement.currency} "
            f"{statement.date or ''}  opening {statement.opening_balance or '-'}  "
            f"closing {statement.closing_balance or '-'}"
        )
        for column in ("line", "dir", "amount", "type", "bank ref", "payer", "remittance"):
            table.add_column(column)
        for t in statement.transactions:
            table.add_row(
                str(t.first_line),
                t.direction.value,
                str(t.amount),
                t.type_code or "",
                t.bank_reference or "",
                t.payer_name or "",
                t.remittance[:60],
            )
        out.print(table)


def _show_advices(received: ReceivedFile, as_json: bool) -> None:
    """`arlink parse` of a remittance advice file: each advice and the invoices it pays."""
    if as_json:
        _print_json(
            {"format": received.format, "advices": [advice_to_json(a) for a in received.advices]}
        )
        return
    for advice in received.advices:
        table = Table(
            title=f"{received.format} {advice.document}  {advice.amount} {advice.amount.currency}"
            f"  {advice.payment_date or ''}  payer {advice.payer_name or advice.payer_id or '-'}"
        )
        for column in ("invoice", "paid", "discount", "reason"):
            table.add_column(column)
        for line in advice.lines:
            table.add_row(
                line.invoice_ref,
                str(line.amount_paid or ""),
                str(line.discount or ""),
                line.reason_code or "",
            )
        out.print(table)


@app.command()
def match(
    bank_files: Annotated[
        list[Path], typer.Argument(help="bank files to apply, and remittance advices (820, CSV)")
    ],
    customers: Annotated[Path, typer.Option(help="customers.csv (files contract)")],
    invoices: Annotated[Path, typer.Option(help="open_invoices.csv (files contract)")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the two result CSVs")],
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Apply cash on exported CSVs, touching no host and no ledger: writes
    OUT/applications.csv and OUT/exceptions.csv."""
    started = time.perf_counter()
    try:
        known_customers = read_customers(customers)
        open_invoices = read_invoices(invoices)
    except (OSError, BooksDataError) as exc:
        raise _fail(str(exc)) from None
    summary = RunSummary()
    # The config's CSV remittance layout when there is a config; the shipped one otherwise.
    loaded = _config() if _state["config"].exists() else None
    layout = loaded.config.remittance.csv_layout() if loaded else DEFAULT_LAYOUT
    found: list[Payment] = []
    advices: list[RemittanceAdvice] = []
    for path in bank_files:
        try:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            received = read_received_file(data, path.name, file_digest=digest, layout=layout)
            found.extend(received.payments)
            advices.extend(received.advices)
        except (OSError, BankFileError) as exc:
            reason = exc if isinstance(exc, BankFileError) else f"{path}: {exc.strerror}"
            err.print(f"error: {reason}")
            summary.files_quarantined += 1
            continue
        summary.files_read += 1
    if not summary.files_read:
        raise _fail("no bank file could be processed")
    # The [matching] policy of the config file when there is one; defaults otherwise.
    policy = loaded.config.matching.policy() if loaded else None
    fx_rates = loaded.config.matching.fx_rates if loaded else None
    decisions = match_payments(
        found, open_invoices, known_customers, policy, fx_rates=fx_rates, advices=advices
    )
    by_id = {payment.payment_id: payment for payment in found}
    app_rows, exc_rows = [], []
    for decision in decisions:
        payment = by_id[decision.payment_id]
        for application in decision.applications:
            key = idempotency_key(payment.payment_id, application.invoice_id)
            write = ApplicationWrite(
                key, payment, application, decision.confidence, decision.reasons
            )
            app_rows.append(application_row(write))
        if decision.exception is not None:
            key = idempotency_key(payment.payment_id, "exception")
            exc_rows.append(exception_row(ExceptionWrite(key, payment, decision.exception)))
    write_csv_atomic(out_dir / "applications.csv", APPLICATION_COLUMNS, app_rows)
    write_csv_atomic(out_dir / "exceptions.csv", EXCEPTION_COLUMNS, exc_rows)
    summary.add_decisions(decisions)
    summary.seconds = time.perf_counter() - started
    if as_json:
        _print_json(summary.to_json())
    else:
        out.print(_summary_table(f"arlink match -> {out_dir}", summary))


@app.command()
def exceptions(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List the open exception queue, oldest first, with ranked suggestions."""
    loaded = _config()
    with _engine(loaded).connect() as conn:
        rows = conn.execute(
            sa.select(
                exception_items,
                payments.c.value_date,
                payments.c.payer_name,
                payments.c.remittance,
                payments.c.amount_minor.label("payment_minor"),
            )
            .join(payments, payments.c.payment_id == exception_items.c.payment_id)
            .where(exception_items.c.status == "open")
            .order_by(exception_items.c.created_at, exception_items.c.id)
        ).all()
    items = [(row, exception_from_row(row)) for row in rows]
    if as_json:
        _print_json(
            [
                {
                    "payment_id": item.payment_id,
                    "value_date": row.value_date.isoformat() if row.value_date else None,
                    "amount": str(item.amount),
                    "currency": item.amount.currency,
                    "payer_name": row.payer_name,
                    "reason": item.reason.value,
                    "suggestions": [s.invoice_id for s in item.suggestions],
                    "reasons": [r.text for r in item.reasons],
                    "remittance": row.remittance,
                }
                for row, item in items
            ]
        )
        return
    table = Table(title=f"open exceptions: {len(items)}")
    for column in ("payment", "date", "amount", "payer", "reason", "suggestions", "remittance"):
        table.add_column(column)
    for row, item in items:
        table.add_row(
            item.payment_id,
            str(row.value_date or ""),
            f"{item.amount.currency} {item.amount}",
            row.payer_name or "",
            item.reason.value,
            ", ".join(s.invoice_id for s in item.suggestions),
            (row.remittance or "")[:50],
        )
    out.print(table)


@app.command()
def trace(
    identifier: Annotated[
        str, typer.Argument(metavar="ID", help="payment id, invoice id, file digest or name")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The lineage of a payment, invoice or bank file: file line, decision, write-back, audit."""
    loaded = _config()
    engine = _engine(loaded)
    with engine.connect() as conn:
        found = tracing.trace(conn, identifier, loaded.config.var_dir)
    if found is None:
        raise _fail(f"nothing in the ledger is called {identifier!r}")
    if as_json:
        _print_json(found)
    else:
        tracing.render(out, found)


BRIEF_ITEMS = 20


def _brief(detail: Any) -> Any:
    """A step's detail for a table: long lists and maps (a sharded match's plan holds
    every payment id) shown by their size, not printed whole."""
    if isinstance(detail, dict | list) and len(detail) > BRIEF_ITEMS:
        return f"{len(detail)} items"
    if isinstance(detail, dict):
        return {key: _brief(value) for key, value in detail.items()}
    return detail


def _run_json(record: runs.RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "job": record.job,
        "status": record.status.value,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "seconds": (record.finished_at - record.started_at).total_seconds()
        if record.finished_at
        else None,
        "counts": record.counts,
        "error": record.error,
        "config_hash": record.config_hash,
    }


@app.command("runs")
def runs_command(
    target: Annotated[
        list[str] | None,
        typer.Argument(metavar="[JOB] | show RUN", help="a job to filter by, or `show RUN`"),
    ] = None,
    limit: Annotated[int, typer.Option(help="how many runs, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Run history: `arlink runs [JOB]` lists runs, `arlink runs show RUN` one run's steps."""
    loaded = _config()
    words = target or []
    with _engine(loaded).connect() as conn:
        if words[:1] == ["show"]:
            if len(words) != 2:
                raise _fail("usage: arlink runs show RUN", 2)
            record = runs.get_run(conn, words[1])
            if record is None:
                raise _fail(f"no run {words[1]!r} in the ledger")
            steps = runs.list_steps(conn, record.run_id)
            shown = {
                **_run_json(record),
                "steps": [
                    {
                        "step": step.step,
                        "status": step.status.value,
                        "started_at": step.started_at.isoformat(),
                        "finished_at": step.finished_at.isoformat() if step.finished_at else None,
                        "detail": step.detail,
                    }
                    for step in steps
                ],
            }
            if as_json:
                _print_json(shown)
                return
            out.print(f"run {record.run_id} of {record.job}: {record.status.value}")
            if record.error:
                out.print(f"error: {record.error}", markup=False)
            table = Table()
            for column in ("step", "status", "started", "finished", "detail"):
                table.add_column(column)
            for step in shown["steps"]:
                table.add_row(
                    step["step"],
                    step["status"],
                    step["started_at"],
                    step["finished_at"] or "",
                    json.dumps(_brief(step["detail"])),
                )
            out.print(table)
            return
        if len(words) > 1:
            raise _fail("usage: arlink runs [JOB] | arlink runs show RUN", 2)
        records = runs.list_runs(conn, words[0] if words else None, limit)
    if as_json:
        _print_json([_run_json(record) for record in records])
        return
    table = Table(title="runs, newest first")
    for column in ("run", "job", "status", "started", "seconds", "payments", "error"):
        table.add_column(column)
    for record in records:
        data = _run_json(record)
        summary = (record.counts or {}).get("summary", {})
        table.add_row(
            record.run_id,
            record.job,
            record.status.value,
            data["started_at"],
            f"{data['seconds']:.2f}" if data["seconds"] is not None else "",
            str(summary.get("payments", "")),
            record.error or "",
        )
    out.print(table)


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check that no audit event was edited, removed or reordered."""
    loaded = _config()
    with _engine(loaded).connect() as conn:
        report = verify_chain(conn)
    if as_json:
        _print_json(
            {
                "ok": report.ok,
                "events": report.events,
                "first_bad_seq": report.first_bad_seq,
                "problem": report.problem,
            }
        )
    elif report.ok:
        out.print(f"audit chain ok: {report.events} events verified")
    if not report.ok:
        raise _fail(f"audit chain broken at event {report.first_bad_seq}: {report.problem}")


@audit_app.command("export")
def audit_export_command(
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day (UTC)")
    ],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last day (UTC)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default stdout)")
    ] = None,
) -> None:
    """Every application in the period with its lineage and the chain's verification."""
    if fmt not in audit_export.FORMATS:
        raise _fail(f"--format: expected one of {audit_export.FORMATS}, found {fmt!r}", 2)
    loaded = _config()
    with _engine(loaded).connect() as conn:
        try:
            export = audit_export.export_rows(conn, start.date(), end.date())
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
    text = audit_export.render(export, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(export['applications'])} application(s) to {output}")
    if not export["chain"]["ok"]:
        raise _fail(f"audit chain broken: {export['chain']['problem']}")


web_app = typer.Typer(help="The web pages: exception queue, trace, dashboard, audit export.")
app.add_typer(web_app, name="web", invoke_without_command=True)


@web_app.callback()
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the pages (loopback by default; elsewhere a sign-in is required)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn  # the `web` extra: imported only when serving

    from sync_jobs.web import is_loopback
    from sync_jobs.web.app import create_app

    loaded = _config()
    require_login = not is_loopback(host)
    settings = loaded.config.web
    if require_login and not settings.users and settings.api_token is None:
        raise _fail(
            f"--host {host} is not loopback: add users under [web.users] "
            "(`arlink web hash-password`) or [web] api_token first",
            2,
        )
    uvicorn.run(create_app(loaded, require_login=require_login), host=host, port=port)


@web_app.command("hash-password")
def web_hash_password() -> None:
    """Print a hash for a web user's `password_hash` in config.toml (asks for the password)."""
    from sync_jobs.web.auth import hash_password

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    out.print(hash_password(password))


def main() -> None:
    """Console-script entry point."""
    app()
