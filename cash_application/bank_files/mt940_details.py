"""Who paid and for what, read from MT940 `:86:` (information to account owner).

SWIFT leaves `:86:` as six lines of 65 free characters; banks fill it with
their own structures, and the invoice reference cash application needs is in
there. Each structure is a named reader in `DETAIL_READERS`, picked by the
shape of the first line; a reader that does not recognise the text, and any
text of no known shape, falls back to plain text:

    reader            structure                                    sample file (corpus/bank/mt940)
    german-gvc        ``166?00posting?20purpose..?30BLZ?31account  sandermarechal..deutschebank.txt
                      ?32name``, SEPA ``EREF+``/``SVWZ+`` inside
                      ``?20``-``?29`` and ``?60``-``?63``
    triodos-gvc       the same with ``>`` for ``?``                wolph..jejik_triodos.sta
    brd-plus-gvc      the same with ``+`` (BRD, Romania)           oca..test_brd_940@8.0.txt
    raiffeisen-ro-    the same with ``^`` (Raiffeisen Romania)      oca..test_rffsn_940@14.0.txt
      caret-gvc
    ing-ro-tilde-gvc  the same with ``~`` (ING Romania)             oca..test_ing_940@14.0.txt
    dutch-slash       ``/TRTP/../IBAN/../NAME/../REMI/../EREF/``    webschik..abn-amro-1.STA,
                      (ABN AMRO), ``/CNTP/iban/bic/name/city/``      oca..test-ing@10.0.940,
                      (ING), ``/ORDP//NAME/`` (Rabobank)            dovadi..rabobank_sepa.txt
    mbank-semicolon   ``ID IPH: ..; Z RACH.: ..; OD: ..; TYT.: ..;``   wolph..mBank_mt940.sta
    free-text         anything else: the whole text is remittance

Danske Bank writes several `:86:` tags for one `:61:` (the parser joins them
before a reader sees them: quirk repeated-86 in `mt940`).

The payer fields are filled only for a credit: on a debit the counterparty
named in the text is the payee. Pure: text in, fields out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cash_application.bank_files.remittance_text import invoice_refs_from_rmr

# payer_name, payer_account, remittance, invoice_refs, end_to_end_id
DetailFields = tuple[str | None, str | None, str, tuple[str, ...], str | None]
DetailReader = Callable[[Sequence[str], bool], DetailFields | None]

# Width of a German purpose subfield (?20..?29, ?60..?63).
_GVC_WIDTH = 27
# SWIFT line width of `:86:`; a line this long was cut by the bank, not by the writer.
_LINE_WIDTH = 65

# German SEPA keywords inside the ?2x purpose lines (DFÜ-Agreement annex 6, "SEPA
# Verwendungszweck"); a value runs to the next keyword.
_SEPA_KEY = re.compile(
    r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|OAMT|COAM|IBAN|BIC|PURP|SQTP|RTRN)\+"
)
# Keys of the Dutch slash structure (ING, ABN AMRO, Rabobank, Triodos, ASN, SNS).
_SLASH_SPLIT = re.compile(
    r"/(TRTP|CNTP|REMI|EREF|IBAN|BIC|NAME|PURP|ORDP|BENM|ISDT|CSID|MARF|RTRN|ULTD|ULTC|ULTB"
    r"|ADDR|PREF|OCMT|CHGS|EXCH|SUM|TRCD|ACCW|BBAN|RFB|ID|CD|SVCL)/"
)
# Keys a Dutch `:86:` starts with.
_SLASH_START = frozenset({"TRTP", "CNTP", "REMI", "EREF", "IBAN", "ORDP", "BENM", "PREF", "MARF",
                          "RTRN", "PURP", "CSID", "NAME", "SUM", "TRCD", "BBAN",
                          "RFB"})  # fmt: skip
_GVC_PARTY = frozenset({"31", "32", "33"})  # account/IBAN, name, name continued (or IBAN)
# The subfield mark after the 3-digit business code names the GVC variant.
_GVC_MARKS = {
    "?": "german-gvc",
    ">": "triodos-gvc",
    "+": "brd-plus-gvc",
    "^": "raiffeisen-ro-caret-gvc",
    "~": "ing-ro-tilde-gvc",
}


def _gvc_scans(mark: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """For one subfield mark: a text whose every subfield starts with two ASCII digits,
    its purpose subfields (?20-?29, ?60-?69) and its party subfields (?31-?33)."""
    sep = re.escape(mark)
    return (
        re.compile(f"(?:{sep}[0-9]{{2}}[^{sep}]*)*"),
        re.compile(f"{sep}[26][0-9]([^{sep}]*)"),
        re.compile(f"{sep}(3[123])([^{sep}]*)"),
    )


_GVC_SCANS = {mark: _gvc_scans(mark) for mark in _GVC_MARKS}
_MBANK_KEY = re.compile(r"(ID IPH|Z RACH\.|OD|TYT\.|TNR|DO RACH\.|NA RACH\.):")
_NOT_PROVIDED = frozenset({"", "NOTPROVIDED", "NONREF"})


def read_details(lines: Sequence[str], credit: bool) -> DetailFields:
    """Payer, remittance, invoice references and end-to-end id of one `:86:` text.

    `lines` are the physical lines of the tag (the first without ``:86:``), in
    order, as the bank wrote them.
    """
    # One look at the first line picks the reader, instead of asking each in turn.
    first = lines[0]
    if first[:1] == " ":
        first = first.lstrip()  # `:86: 020?00` (railslove mt940.txt)
    mark = first[3:4]
    if mark in _GVC_MARKS and first[:3].isdecimal():
        fields = DETAIL_READERS[_GVC_MARKS[mark]](lines, credit)
    elif first[:1] == "/":
        fields = DETAIL_READERS["dutch-slash"](lines, credit)
    elif "; " in first:
        fields = DETAIL_READERS["mbank-semicolon"](lines, credit)
    else:
        fields = None
    return free_text(lines, credit) if fields is None else fields


def joined(lines: Sequence[str]) -> str:
    """The lines as one text: a full-width line was cut mid-word, a shorter one ended a word."""
    if len(lines) == 1:
        return " ".join(lines[0].split())
    parts: list[str] = []
    for line in lines:
        if parts and len(parts[-1]) < _LINE_WIDTH:
            parts.append(" ")
        parts.append(line)
    return " ".join("".join(parts).split())


def german_gvc(
    lines: Sequence[str], credit: bool, separator: str = "?", account_field: str = "31"
) -> DetailFields | None:
    """German structured `:86:`: business code, then ``?nn`` subfields (DFÜ-Agreement)."""
    first = lines[0]
    if first[3:4] != separator or not first[:3].isdecimal():
        first = first.lstrip()  # `:86: 020?00` (railslove mt940.txt)
        if first[3:4] != separator or not first[:3].isdecimal():
            return None
    # Subfields are wrapped anywhere, even inside `?2` + `1`: the lines join without gaps.
    text = first if len(lines) == 1 else first + "".join(lines[1:])
    well_formed, purpose_scan, party_scan = _GVC_SCANS[separator]
    if well_formed.fullmatch(text, 3):
        # Every subfield starts with its number (the usual case): three C-level scans
        # find the same subfields as the general loop, with fewer Python steps.
        purpose_parts = purpose_scan.findall(text, 3)
        party: dict[str, str] = {}
        for number, value in party_scan.findall(text, 3):
            party[number] = party.get(number, "") + value
    else:
        purpose_parts, party = _gvc_subfields(text[4:], separator)
    # A purpose subfield holds 27 characters: a full one was cut mid-word, a shorter
    # one ended where the words did (`SVWZ+Apple Pay` / `DATUM 19.02.2019`).
    if len(purpose_parts) <= 1:
        purpose = purpose_parts[0] if purpose_parts else ""
    else:
        pieces: list[str] = []
        for part in purpose_parts:
            if pieces and len(pieces[-1]) < _GVC_WIDTH:
                pieces.append(" ")
            pieces.append(part)
        purpose = "".join(pieces)
    remittance = purpose
    end_to_end_id = None
    if "+" in purpose:
        # One C-level split at the keywords: [before the first, keyword, value, ...];
        # backwards, so that the first of a keyword wins.
        parts = _SEPA_KEY.split(purpose)
        sepa = dict(zip(parts[-2:0:-2], parts[-1:1:-2], strict=True))
        remittance = _sepa_value(sepa, "SVWZ") or purpose
        end_to_end_id = _sepa_value(sepa, "EREF")
    name = party.get("32", "") + (party.get("33", "") if account_field != "33" else "")
    account = party.get(account_field, "").replace(" ", "")
    return _result(name, account, " ".join(remittance.split()), end_to_end_id, credit)


def _gvc_subfields(text: str, separator: str) -> tuple[list[str], dict[str, str]]:
    """The purpose subfields and the counterparty (?31-?33) of a GVC text after its first
    mark, for any text: a mark not followed by two digits belongs to the value before it."""
    party: dict[str, str] = {}
    purpose_parts: list[str] = []
    number = ""
    for piece in text.split(separator):
        if piece[:2].isdecimal() and len(piece) >= 2:
            number = piece[:2]
            if number[0] == "2" or number[0] == "6":  # ?20-?29, ?60-?63
                purpose_parts.append(piece[2:])
            elif number in _GVC_PARTY:
                party[number] = party.get(number, "") + piece[2:]
        elif not piece:
            continue  # a mark ending the text
        elif number[:1] == "2" or number[:1] == "6":  # the mark inside a value (`Ort?`)
            purpose_parts[-1] += separator + piece
        elif number in party:
            party[number] += separator + piece
    return purpose_parts, party


def triodos_gvc(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """Triodos: the German structure with ``>`` as the subfield mark (``000>100555``)."""
    return german_gvc(lines, credit, separator=">")


def brd_plus_gvc(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """BRD (Romania): the German structure with ``+`` as the subfield mark (``000+20Plata``)."""
    return german_gvc(lines, credit, separator="+")


def raiffeisen_ro_caret_gvc(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """Raiffeisen Romania: the German structure with ``^`` (``000^20F.2059628^31RO05..``)."""
    return german_gvc(lines, credit, separator="^")


def ing_ro_tilde_gvc(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """ING Romania: the German structure with ``~``, the payer's IBAN in ``~33``."""
    return german_gvc(lines, credit, separator="~", account_field="33")


def dutch_slash(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """Dutch SEPA `:86:`: ``/KEY/value`` pairs (ABN AMRO, ING, Rabobank, Triodos, SNS)."""
    first = lines[0]
    if first[:1] != "/":
        first = first.lstrip()
        if first[:1] != "/":
            return None
    key_end = first.find("/", 1)
    if first[1:key_end] not in _SLASH_START:
        return None
    text = joined(lines) if len(lines) > 1 else first.rstrip()
    # One C-level split at the keys: [before the first key, key, value, key, value, ...].
    parts = _SLASH_SPLIT.split(text)
    # Keys and values backwards, so that the first of a key wins; built in C, and only
    # the values read are cleaned (`_slash_value`).
    values = dict(zip(parts[-2:0:-2], parts[-1:1:-2], strict=True))
    name = _slash_value(values, "NAME")
    account = _slash_value(values, "IBAN") or _slash_value(values, "BBAN")
    if "CNTP" in values:  # ING: /CNTP/account/bic/name/city/
        cntp = values["CNTP"].strip().removesuffix("/").split("/")
        account = account or (cntp[0] if cntp else None)
        name = name or (cntp[2] if len(cntp) > 2 else None)
    remittance = _slash_value(values, "REMI") or ""
    invoice_refs: tuple[str, ...] = ()
    if remittance.startswith("USTD/"):  # unstructured: /REMI/USTD//text/
        remittance = remittance[5:].lstrip("/")
    elif remittance.startswith("STRD/"):  # structured: /REMI/STRD/CUR/reference/
        references = [part for part in remittance.split("/")[2:] if part]
        invoice_refs = tuple(references[:1])
        remittance = " ".join(references)
    remittance = remittance.rstrip("/").strip() or ("" if "REMI" in values else text)
    if not invoice_refs and "RMR*" in remittance:
        invoice_refs = invoice_refs_from_rmr(remittance)
    payer_name, payer_account, _, _, end_to_end_id = _result(
        name or "", (account or "").rstrip("/"), "", _slash_value(values, "EREF"), credit
    )
    return payer_name, payer_account, remittance, invoice_refs, end_to_end_id


def _slash_value(values: dict[str, str], key: str) -> str | None:
    """A value of the Dutch structure as meant: ING separates keys with `//`
    (`/EREF/ref//CNTP/..`), so a `/` ending a value goes."""
    value = values.get(key)
    return None if value is None else value.strip().removesuffix("/")


def mbank_semicolon(lines: Sequence[str], credit: bool) -> DetailFields | None:
    """Polish mBank: ``911 TRANSAKCJA; ID IPH: ..; Z RACH.: ..; OD: ..; TYT.: ..; TNR: ..``."""
    if "; " not in lines[0]:
        return None
    text = joined(lines)
    if "ID IPH:" not in text and "TNR:" not in text:
        return None
    values: dict[str, str] = {}
    matches = list(_MBANK_KEY.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        values.setdefault(match.group(1), text[match.end() : end].strip(" ;"))
    remittance = values.get("TYT.") or text
    account = values.get("Z RACH.") or values.get("NA RACH.")
    return _result(values.get("OD", ""), (account or "").replace(" ", ""), remittance, None, credit)


def free_text(lines: Sequence[str], credit: bool) -> DetailFields:
    """Any other text: all of it is the remittance; RMR segments still name invoices."""
    text = joined(lines)
    invoice_refs = invoice_refs_from_rmr(text) if "RMR*" in text else ()
    return None, None, text, invoice_refs, None


# Each reader returns None for a text it does not recognise; `read_details` then
# falls back to free text.
DETAIL_READERS: dict[str, DetailReader] = {
    "german-gvc": german_gvc,
    "triodos-gvc": triodos_gvc,
    "brd-plus-gvc": brd_plus_gvc,
    "raiffeisen-ro-caret-gvc": raiffeisen_ro_caret_gvc,
    "ing-ro-tilde-gvc": ing_ro_tilde_gvc,
    "dutch-slash": dutch_slash,
    "mbank-semicolon": mbank_semicolon,
}


def _sepa_value(values: dict[str, str], key: str) -> str | None:
    """The value of one SEPA keyword (``SVWZ``) in the purpose text, if any."""
    value = values.get(key)
    return (value.strip() or None) if value is not None else None


def _result(
    name: str, account: str, remittance: str, end_to_end_id: str | None, credit: bool
) -> DetailFields:
    name = " ".join(name.split())
    e2e = end_to_end_id.strip() if end_to_end_id else None
    invoice_refs = invoice_refs_from_rmr(remittance) if "RMR*" in remittance else ()
    return (
        (name or None) if credit else None,
        (account or None) if credit else None,
        remittance,
        invoice_refs,
        None if e2e is None or e2e.upper() in _NOT_PROVIDED else e2e,
    )
