"""Who paid and for what: reading the conventions banks use in free transaction text.

A BAI2 16 record ends with free text, often continued by 88 records. Banks fill
it with structured fragments that cash application needs: the payer's name and
account, the remittance information and invoice numbers. This module reads the
conventions seen in real files; it is pure (strings in, fields out) and knows
nothing of BAI2 records, so other formats can reuse it.

Conventions read:

- ACH narrative (NACHA company/batch fields, as JPMorgan-style banks print them):
  ``ORIG CO NAME:ACME MFG ORIG ID:1234567890 ... IND ID:... IND NAME:...``. On an
  incoming credit the originator (``ORIG CO NAME``) is the payer; ``IND NAME``
  is the receiver, i.e. usually the account holder itself.
- ACH CCD+/CTX addenda, X12 ``RMR`` segments: ``RMR*IV*INV-1001*1500.00\\`` gives
  the invoice reference ``INV-1001``. The whole text stays the remittance.
- Fedwire-style keys: ``ORG=`` (originator, ``ORG=/123456789 NAME`` carries the
  account), ``B/O`` (by order of), ``OBI=`` (originator to beneficiary
  information, the remittance). SVB writes the same keys one per line as
  ``ORG:=NAME`` and ``OBI:=TEXT``.
- Goldman Sachs-style keyed lines (one per 88 record): ``DBNM:`` debtor name,
  ``DACT:`` debtor account, ``REMI:`` remittance, ``EREF:`` end-to-end id.
  ``CRNM:``/``CACT:`` name the creditor (the beneficiary) and are not the payer.

If no convention gives a remittance, the remittance is the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from cash_application.bank_files.builders import new_money
from cash_application.bank_files.values import minor_units
from mappings.money import Money, MoneyError, currency_exponent


class RemittanceFields(NamedTuple):
    """What the free text says about a payment."""

    payer_name: str | None
    payer_account: str | None
    remittance: str
    invoice_refs: tuple[str, ...]
    end_to_end_id: str | None


class RmrLine(NamedTuple):
    """One X12 RMR remittance segment: the referenced document and the amount paid."""

    qualifier: str  # IV: seller's invoice number; OI: original invoice number
    reference: str
    amount: str | None  # decimal string as written, if any


# Goldman Sachs-style keyed 88 lines that carry what cash application needs.
_KEYED_FIELDS = frozenset({"DBNM", "DACT", "REMI", "EREF"})

# ACH narrative keys as banks print them; a value runs to the next key.
_ACH_KEY = re.compile(
    r"(ORIG CO NAME|ORIG ID|DESC DATE|CO ENTRY DESCR|SEC|TRACE#|EED|IND ID|IND NAME|TRN"
    r"|ADDENDA|PMT DET|CO DISCR|CO ID):"
)
# Fedwire-style tag after a blank (`` OBI=``); the literal blank keeps the scan fast.
_WIRE_TAG = re.compile(r" ([A-Z]{3,4})=")
_BY_ORDER_OF = re.compile(r"(?<![A-Za-z0-9])B/O(?:\s+CUSTOMER)?\s*[:=]?\s*")
# Where a B/O name ends: another key (``REF:``, ``OBI=``), a wide gap, or the end.
_NAME_END = re.compile(r"\s{2,}|\s[A-Z][A-Z0-9#/]{1,14}[:=]|$")
# X12 RMR: RMR01 qualifier, RMR02 reference, then payment action code and/or amount.
_RMR = re.compile(r"RMR\*(IV|OI)\*([^*\\~]*)((?:\*[^*\\~]*)*)")
_RMR_REFERENCE = re.compile(r"RMR\*(?:IV|OI)\*([^*\\~]*)")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
# The common RMR shapes, whose first decimal element is an ASCII amount with two decimals
# right after the reference (``RMR*IV*INV-1*1500.00\\``) or after a two-letter payment
# action code (``RMR*IV*INV-1*PI*1500.00``): reference, whole units, cents.
_RMR_COMMON = re.compile(
    r"RMR\*(?:IV|OI)\*([^*\\~]*)\*(?:[A-Z]{2}\*)?([0-9]+)\.([0-9]{2})(?=[*\\~]|\Z)"
)


def extract_remittance(
    text: str, continuations: Sequence[str] = (), *, credit: bool = True
) -> RemittanceFields:
    """Read payer, remittance and invoice references from a transaction's text.

    `text` is the record's own text, `continuations` the texts of its 88
    continuation records, in order. The payer fields are filled only for a
    credit: on a debit the names in the text are the payee's.
    """
    return RemittanceFields(*remittance_values(text, continuations, credit))


def remittance_values(
    text: str, continuations: Sequence[str], credit: bool
) -> tuple[str | None, str | None, str, tuple[str, ...], str | None]:
    """`extract_remittance` as a plain tuple, for parsers' hot loops (no NamedTuple cost)."""
    payer_name, payer_account, remittance, invoice_refs, end_to_end_id, _ = detail_values(
        text, continuations, credit, None
    )
    return payer_name, payer_account, remittance, invoice_refs, end_to_end_id


def detail_values(
    text: str, continuations: Sequence[str], credit: bool, amount: Money | None
) -> tuple[str | None, str | None, str, tuple[str, ...], str | None, tuple[tuple[str, Money], ...]]:
    """`remittance_values` and then, given the transaction's `amount`, the RMR amounts in its
    currency (`rmr_amounts` of the whole text), with the RMR segments read once: a BAI2
    detail record's hot path. An RMR amount equal to `amount` is that same `Money`.

    Each convention is looked for only when its marker is in the text, and the payer's
    only on a credit (on a debit the names are the payee's).
    """
    if not continuations:
        full = text
    elif len(continuations) == 1 and text and continuations[0]:
        full = f"{text} {continuations[0]}"  # one 88: most continued records
    else:
        full = " ".join(filter(None, (text, *continuations)))
    # Fast path: no marker of any convention (most check, fee and transfer lines).
    if ":" not in full and "=" not in full and "*" not in full and "B/O" not in full:
        return None, None, full, (), None, ()

    payer_name: str | None = None
    payer_account: str | None = None
    remittance: str | None = None
    end_to_end_id: str | None = None

    if continuations:
        # Goldman-style keys sit at a fixed place: most single 88s are ruled out inline.
        keyed = (
            _keyed_lines(continuations)
            if len(continuations) > 1 or continuations[0][4:5] == ":"
            else None
        )
        if keyed:
            payer_name = keyed.get("DBNM") or None
            payer_account = keyed.get("DACT") or None
            remittance = keyed.get("REMI") or None
            end_to_end_id = keyed.get("EREF") or None
        if ":=" in full:
            tagged = _colon_equals_lines(text, continuations)
            if payer_name is None and tagged.get("ORG"):
                payer_account, payer_name = _account_and_name(tagged["ORG"])
            if remittance is None:
                remittance = tagged.get("OBI") or None

    if payer_name is None and credit:
        at = full.find("ORIG CO NAME:")
        if at >= 0:
            payer_name = _ach_originator(full, at + len("ORIG CO NAME:"))

    if (payer_name is None or remittance is None) and "=" in full:
        if payer_name is None and credit and "ORG=" in full:
            originator = _tag_value(full, "ORG")
            if originator:
                payer_account, payer_name = _account_and_name(originator)
        if remittance is None and "OBI=" in full:
            remittance = _tag_value(full, "OBI")

    if payer_name is None and credit and "B/O" in full:
        payer_account, payer_name = _by_order_of(full)

    if not credit:
        payer_name = payer_account = None
    rmr_at = full.find("RMR*")
    if rmr_at < 0:
        invoice_refs: tuple[str, ...] = ()
        invoice_amounts: tuple[tuple[str, Money], ...] = ()
    elif amount is None:
        invoice_refs, invoice_amounts = invoice_refs_from_rmr(full), ()
    else:
        invoice_refs, invoice_amounts = _rmr_values_from(full, rmr_at, amount.currency, amount)
    return (
        payer_name, payer_account, full if remittance is None else remittance, invoice_refs,
        end_to_end_id, invoice_amounts,
    )  # fmt: skip


def ach_fields(text: str) -> dict[str, str]:
    """The keyed fields of an ACH narrative (``ORIG CO NAME:ACME MFG ORIG ID:...``)."""
    matches = list(_ACH_KEY.finditer(text))
    fields: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(match.group(1), text[match.end() : end].strip())
    return fields


def wire_tags(text: str) -> dict[str, str]:
    """The Fedwire-style tags of a text (``ORG=/123 ACME OBI=INV 1``); the first of a tag wins.

    A tag is three or four capitals right before ``=``, at the start or after a
    blank; its value runs to the next tag or the end.
    """
    padded = " " + text
    matches = list(_WIRE_TAG.finditer(padded))
    tags: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(padded)
        tags.setdefault(match.group(1), padded[match.end() : end].strip())
    return tags


def _tag_value(text: str, tag: str) -> str | None:
    """The value of one Fedwire-style tag (``OBI=``), found without listing every tag."""
    key = f"{tag}="
    at = text.find(key)
    while at > 0 and text[at - 1] != " ":  # glued to a longer word (``XOBI=``): look on
        at = text.find(key, at + 1)
    if at < 0:
        return None
    start = at + len(key)
    following = _WIRE_TAG.search(text, start)
    return text[start : following.start() if following else len(text)].strip() or None


def parse_rmr(text: str) -> tuple[RmrLine, ...]:
    """Every ``RMR*IV*`` / ``RMR*OI*`` segment of a text, with its amount when one is given.

    The amount is the first decimal element after the reference: RMR04 in a
    standard segment (``RMR*IV*INV-1*PI*1500.00``), or RMR03 in the shortened form
    many originators write (``RMR*IV*INV-1*1500.00``).
    """
    lines: list[RmrLine] = []
    for match in _RMR.finditer(text):
        reference = match.group(2).strip()
        if not reference:
            continue
        lines.append(RmrLine(match.group(1), reference, _first_decimal(match.group(3))))
    return tuple(lines)


def rmr_amounts(text: str, currency: str) -> tuple[tuple[str, Money], ...]:
    """(reference, amount) of each RMR segment that gives an amount, the first per
    reference; an amount the currency cannot hold (too many decimals) is left out, as the
    reference alone still names the invoice."""
    amounts: dict[str, Money] = {}
    for line in parse_rmr(text):
        if line.amount is not None and line.reference not in amounts:
            money = _rmr_money(line.amount, currency)
            if money is not None:
                amounts[line.reference] = money
    return tuple(amounts.items())


def rmr_values(text: str, currency: str) -> tuple[tuple[str, ...], tuple[tuple[str, Money], ...]]:
    """`invoice_refs_from_rmr` and `rmr_amounts` of a text, together."""
    return _rmr_values_from(text, text.find("RMR*"), currency, None)


def _rmr_values_from(
    text: str, at: int, currency: str, paid: Money | None
) -> tuple[tuple[str, ...], tuple[tuple[str, Money], ...]]:
    """`rmr_values`, given where the first ``RMR*`` is (-1: nowhere); an amount equal to
    `paid` (the transaction's amount, when known) is that `Money`, not a copy.

    Fast path for a single segment in a common shape (`_RMR_COMMON`) and a currency
    with cents: one regex match at `at` gives both, where the general path scans the
    text twice and reads the amount through `Money.parse`.
    """
    if at < 0:
        return (), ()
    if text.find("RMR*", at + 4) < 0 and _exponent(currency) == 2:
        match = _RMR_COMMON.match(text, at)
        if match is not None:
            reference = match[1].strip()
            if not reference:
                return (), ()
            minor = int(match[2] + match[3])
            code = currency.upper()
            if paid is not None and paid.minor == minor and paid.currency == code:
                return (reference,), ((reference, paid),)  # one invoice paid in full
            return (reference,), ((reference, new_money(minor, code)),)
    return invoice_refs_from_rmr(text), rmr_amounts(text, currency)


def _first_decimal(elements: str) -> str | None:
    """The first decimal element of an RMR segment's elements after the reference."""
    for element in elements.split("*")[1:]:
        element = element.strip()
        if _DECIMAL.fullmatch(element):
            return element
    return None


def _rmr_money(amount: str, currency: str) -> Money | None:
    """An RMR amount (a decimal string) in `currency`; None when the currency cannot hold it.

    Plain ASCII decimals are read as integers (`minor_units`), a tenth of the cost of
    `Money.parse`, which reads the rest (equal results where both read).
    """
    exponent = _exponent(currency)
    if exponent is None:
        return None
    minor = minor_units(amount, exponent)
    if minor is not None:
        return new_money(minor, currency.upper())
    try:
        return Money.parse(amount, currency)
    except MoneyError:
        return None


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int | None:
    """`currency_exponent` of a code (any case), None for a code that is not ISO 4217;
    remembered, as a file names a handful of currencies."""
    try:
        return currency_exponent(currency)
    except MoneyError:
        return None


def invoice_refs_from_rmr(text: str) -> tuple[str, ...]:
    """Invoice references named by RMR segments, in order, without repeats."""
    refs = [ref.strip() for ref in _RMR_REFERENCE.findall(text)]
    if len(refs) == 1:
        return (refs[0],) if refs[0] else ()
    return tuple(dict.fromkeys(filter(None, refs)))


def _ach_originator(text: str, start: int) -> str | None:
    """The ``ORIG CO NAME`` value starting at `start`, without splitting the whole
    narrative (hot path).

    NACHA batch headers put the company id right after the company name, so the
    value usually ends at `` ORIG ID:``; any other key in between ends it sooner.
    """
    end = text.find(" ORIG ID:", start)
    if end < 0:
        end = len(text)
    # Every key ends with a colon: without one in the value, no key can end it sooner.
    following = _ACH_KEY.search(text, start, end) if text.find(":", start, end) >= 0 else None
    return text[start : following.start() if following else end].strip() or None


def _keyed_lines(continuations: Sequence[str]) -> dict[str, str] | None:
    """Goldman-style ``DBNM: NAME`` 88 lines that matter here; the first of a key wins.
    None when there are none (no dict for the common record)."""
    keyed: dict[str, str] | None = None
    for line in continuations:
        if line[4:5] == ":":
            key = line[:4]
            if key in _KEYED_FIELDS:
                if keyed is None:
                    keyed = {key: line[5:].strip()}
                elif key not in keyed:
                    keyed[key] = line[5:].strip()
    return keyed


def _colon_equals_lines(text: str, continuations: Sequence[str]) -> dict[str, str]:
    """SVB-style ``ORG:=NAME`` lines; a line without a key continues the previous value."""
    tagged: dict[str, str] = {}
    key: str | None = None
    for line in (text, *continuations):
        name, sep, value = line.partition(":=")
        name = name.strip()
        if sep and name and _is_tag_name(name):
            key = name
            tagged.setdefault(key, value.strip())
        elif key is not None and line:
            tagged[key] = f"{tagged[key]} {line.strip()}".strip()
    return tagged


def _is_tag_name(name: str) -> bool:
    return len(name) <= 24 and all(c.isupper() or c in " #/" for c in name)


def _account_and_name(value: str) -> tuple[str | None, str | None]:
    """Split ``/123456789 ACME CORP`` into account and name; a bare name has no account."""
    value = value.strip()
    if value.startswith("/"):
        account, _, name = value[1:].partition(" ")
        return account.strip() or None, name.strip() or None
    return None, value or None


def _by_order_of(text: str) -> tuple[str | None, str | None]:
    match = _BY_ORDER_OF.search(text)
    if match is None:
        return None, None
    rest = text[match.end() :]
    end = _NAME_END.search(rest)
    return _account_and_name(rest[: end.start() if end else len(rest)])
