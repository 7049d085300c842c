"""Trailer checks both standards share: a count and a reference that must match the header.

X12 SE/GE/IEA and EDIFACT UNT/UNE/UNZ all carry, in their first two elements, a
count of what they close and the control reference of their header. One function
checks that pair for all six, so the two standards report it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from edi.findings import Finding, Problem, finding_at
from edi.segments import Segment


def trailer_findings(
    rule: str,
    trailer: Segment,
    *,
    count: int,
    counted: str,
    reference: str,
    header: str,
    problems: tuple[Problem, Problem],
    where: Mapping[str, object] | None = None,
) -> list[Finding]:
    """Findings when `trailer`'s count (element 1) or reference (element 2) is wrong.

    `counted` names what is counted ("segments"), `header` the element the
    reference must match ("ST02"); `problems` are the count and reference problems.
    """
    count_problem, reference_problem = problems
    findings = []
    if trailer.get(1) != str(count):
        findings.append(
            finding_at(
                rule,
                count_problem,
                f"{trailer.tag} says {trailer.get(1) or 'nothing'} {counted} but there are {count}",
                trailer,
                "01",
                where=where,
            )
        )
    if trailer.get(2) != reference:
        findings.append(
            finding_at(
                rule,
                reference_problem,
                f"{trailer.tag} reference {trailer.get(2)!r} does not match {header} {reference!r}",
                trailer,
                "02",
                where=where,
            )
        )
    return findings
