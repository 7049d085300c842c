"""`arlink edi ...`: EDI commands for the billing team.

`arlink edi validate FILE [--partner P] [--json]` runs pre-delivery validation
on one X12 810 or EDIFACT INVOIC file and lists every finding in words a billing
clerk can act on. Exit codes: 0 no reject-level finding (warnings may remain);
1 at least one reject-level finding (the file must not be sent); 2 the command
line or the partner profile is wrong.
"""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

import mappings
from edi.findings import Finding, Severity, has_reject
from edi.profile import GENERIC, PartnerProfile
from edi.validate import detect_standard, validate

edi_app = typer.Typer(no_args_is_help=True, help="EDI invoices: validate before delivery.")

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
        for finding in findings:
            label = f"{finding.severity.value:<7} {finding.rule:<6}"
            print(f"{label} {_where(finding)}: {finding.message}")
        rejects = sum(f.severity is Severity.REJECT for f in findings)
        verdict = "must not be sent" if rejected else "can be sent"
        print(f"{file.name}: {rejects} reject(s), {len(findings) - rejects} warning(s); {verdict}")
    if rejected:
        raise typer.Exit(1)
