"""`arlink edi ...`: EDI commands for the billing team.

`arlink edi validate FILE [--partner P] [--json]` runs pre-delivery validation
on one X12 810 or EDIFACT INVOIC file and lists every finding in words a billing
clerk can act on. Exit codes: 0 no reject-level finding (warnings may remain);
1 at least one reject-level finding (the file must not be sent); 2 the command
line or the partner profile is wrong.

`arlink edi build INVOICE_ID --partner P [--out FILE]` renders one invoice from the books
host for a configured partner (`[edi.partners.P]`) and validates it, as the job's
`edi-build` and `edi-validate` would: a preview, with the partner's next control numbers
shown but not taken (the job gives the invoice its own when it sends it). Same exit codes.
`arlink edi status [--partner P] [--json]` lists the documents the ledger holds with their
EDI status (sent, accepted, accepted_with_errors, rejected, overdue, ...).
"""

from __future__ import annotations

import contextlib
import json
import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import sqlalchemy as sa
import typer

import mappings
from edi.findings import Finding, Severity, has_reject
from edi.history import history_findings
from edi.profile import GENERIC, PartnerProfile
from edi.validate import detect_standard, validate

if TYPE_CHECKING:
    from sync_jobs.config import Config, LoadedConfig

edi_app = typer.Typer(
    no_args_is_help=True, help="EDI invoices: validate before delivery, build, follow their status."
)

PROFILES = Path(mappings.__file__).resolve().parent / "edi"


def load_partner_profile(partner: str | None) -> PartnerProfile:
    """The profile `mappings/edi/<partner>.toml`, or a TOML file path; generic when None."""
    if partner is None:
        return GENERIC
    path = Path(partner) if partner.endswith(".toml") else PROFILES / f"{partner}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.toml")))
        raise ValueError(f"no partner profile {partner!r} (known: {known})")
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return PartnerProfile.from_mapping(data)


def _where(finding: Finding) -> str:
    if finding.position is None:
        return "file"
    where = f"segment {finding.position}"
    if finding.segment:
        where += f" {finding.segment}{finding.element or ''}".replace(":", "-")
    if finding.set_control:
        where += f" (document {finding.set_control}, position {finding.set_position})"
    return where


def _print_findings(findings: list[Finding], name: str) -> None:
    for finding in findings:
        label = f"{finding.severity.value:<7} {finding.rule:<6}"
        print(f"{label} {_where(finding)}: {finding.message}")
    rejects = sum(f.severity is Severity.REJECT for f in findings)
    verdict = "must not be sent" if has_reject(findings) else "can be sent"
    print(f"{name}: {rejects} reject(s), {len(findings) - rejects} warning(s); {verdict}")


@edi_app.command("validate")
def validate_command(
    file: Annotated[Path, typer.Argument(help="an X12 810 or EDIFACT INVOIC file")],
    partner: Annotated[
        str | None,
        typer.Option("--partner", "-p", help="partner profile name in mappings/edi/, or a .toml"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
) -> None:
    """Validate one EDI file before delivery; exit 1 when it must not be sent."""
    try:
        profile = load_partner_profile(partner)
        data = file.read_bytes()
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    findings = validate(data, profile, today=date.today())
    rejected = has_reject(findings)
    if as_json:
        report = {
            "file": str(file),
            "standard": detect_standard(data),
            "partner": profile.name,
            "deliverable": not rejected,
            "findings": [f.to_json() for f in findings],
        }
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_findings(findings, file.name)
    if rejected:
        raise typer.Exit(1)


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _loaded(ctx: typer.Context) -> LoadedConfig:
    """The config named by `arlink --config` (the root command's option)."""
    # Imported here: the config validates partner profiles with `load_partner_profile`.
    from sync_jobs.config import ConfigError, load_config

    try:
        return load_config(Path(ctx.find_root().params["config"]))
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _partner_books(config: Config, partner: str) -> str:
    """The books host of the first job that sends to `partner` (or the only host)."""
    for job in config.jobs.values():
        if job.edi_partner == partner:
            return job.books
    if len(config.books) == 1:
        return next(iter(config.books))
    raise _fail(f"no job names `edi_partner = {partner!r}`: which books host has its invoices?")


@edi_app.command("build")
def build_command(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument(help="the invoice's id in the books host")],
    partner: Annotated[str, typer.Option("--partner", "-p", help="a [edi.partners] name")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write the file here (default: stdout)")
    ] = None,
) -> None:
    """Render one invoice for a partner and validate it (a preview: nothing is recorded)."""
    from connectors.errors import ConnectorError
    from sync_jobs.edi_steps import (
        EdiBooksHost,
        next_control_numbers,
        partner_history,
        render_document,
    )
    from sync_jobs.ledger import open_ledger
    from sync_jobs.wiring import build_books, ledger_url

    config = _loaded(ctx).config
    spec = config.edi.partners.get(partner)
    if spec is None:
        known = ", ".join(sorted(config.edi.partners)) or "none defined"
        raise _fail(f"no [edi.partners.{partner}] (known: {known})")
    books = build_books(config, _partner_books(config, partner))
    if not isinstance(books, EdiBooksHost):
        raise _fail(f"books host `{books.name}`: this host cannot give invoice documents yet")
    try:
        document = books.pull_invoice_documents([invoice_id]).get(invoice_id)
    except (ConnectorError, ValueError) as exc:
        raise _fail(str(exc), 1) from None
    if document is None:
        raise _fail(f"invoice `{invoice_id}` not found in books host `{books.name}`", 1)
    engine = open_ledger(ledger_url(config))
    try:
        with engine.connect() as conn:
            numbers = next_control_numbers(conn, partner, spec.first_control_number)
            history = partner_history(conn, partner, leave_out=-1)
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    rendered = render_document(document, partner, spec, numbers, now)
    findings = validate(rendered.data, load_partner_profile(spec.profile), today=now.date())
    findings += history_findings(rendered.data, history)
    if out is None:
        sys.stdout.buffer.write(rendered.data)
        sys.stdout.flush()
    else:
        out.write_bytes(rendered.data)
    # The findings go to stderr when the file itself goes to stdout.
    with contextlib.redirect_stdout(sys.stderr if out is None else sys.stdout):
        _print_findings(findings, out.name if out else rendered.file_name)
    if has_reject(findings):
        raise typer.Exit(1)


@edi_app.command("status")
def status_command(
    ctx: typer.Context,
    partner: Annotated[
        str | None, typer.Option("--partner", "-p", help="only this partner")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the documents as JSON")] = False,
) -> None:
    """The EDI documents in the ledger with their status, newest last."""
    from sync_jobs.ledger import open_ledger
    from sync_jobs.ledger.schema import edi_documents
    from sync_jobs.wiring import ledger_url

    engine = open_ledger(ledger_url(_loaded(ctx).config))
    columns = [
        edi_documents.c.partner,
        edi_documents.c.invoice_id,
        edi_documents.c.invoice_number,
        edi_documents.c.interchange_control,
        edi_documents.c.status,
        edi_documents.c.sent_at,
        edi_documents.c.acknowledged_at,
        edi_documents.c.message,
    ]
    query = sa.select(*columns).order_by(edi_documents.c.id)
    if partner is not None:
        query = query.where(edi_documents.c.partner == partner)
    try:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()
    for row in rows:
        for key in ("sent_at", "acknowledged_at"):
            row[key] = row[key].isoformat() if row[key] else None
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    for row in rows:
        print(
            f"{row['partner']:<12} {row['invoice_number']:<16} {row['interchange_control']:<10} "
            f"{row['status']:<21} {row['sent_at'] or '-':<25} {row['message'] or ''}"
        )
    print(f"{len(rows)} document(s)")
