"""Payer identification: which customer (or small group of customers) sent a payment.

Banks rarely carry the customer's name as the books know it: ACH cuts it to 16
characters, banks drop or abbreviate legal forms (MFG, INTL, CORP), a parent pays for its
subsidiaries, a factor pays for its clients, and some payments carry no name at all. The
payer is found through indexes built once per run: bank account (customer master, then
learned from clerks' resolutions), normalised name and alias (master, then learned),
prefix of a truncated name, and last a fuzzy name score (rapidfuzz) only among customers
sharing a word with the payer and only with a clear winner. The answer is a set of
customers (a parent with its known children, a factor's clients, near-identical names)
plus the kind of evidence, so later signals can narrow it; never a first hit.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from mappings.records import Customer, Reason

_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
LEGAL_FORMS = frozenset(
    [
        "INC",
        "INCORPORATED",
        "LLC",
        "LLP",
        "LP",
        "CORP",
        "CORPORATION",
        "CO",
        "COMPANY",
        "LTD",
        "LIMITED",
        "PLC",
        "GMBH",
        "AG",
        "SA",
        "BV",
        "NV",
        "SARL",
        "SAS",
        "SPA",
        "PTY",
    ]
)
# Words banks abbreviate, mapped to one spelling so both forms compare equal.
ABBREVIATIONS = {
    "MANUFACTURING": "MFG",
    "MANUFACTURERS": "MFG",
    "INTERNATIONAL": "INTL",
    "INDUSTRIES": "IND",
    "TECHNOLOGIES": "TECH",
    "TECHNOLOGY": "TECH",
    "DISTRIBUTION": "DIST",
    "SERVICES": "SVCS",
    "ASSOCIATES": "ASSOC",
    "BROTHERS": "BROS",
    "AND": "&",
}
MIN_PREFIX = 10  # shorter names are not searched as truncations
FUZZY_MIN_SCORE = 90.0
FUZZY_MARGIN = 5.0
FUZZY_MAX_CANDIDATES = 400
COMMON_WORD = 500  # a word shared by more customers than this does not pick candidates


def plain_name(text: str) -> str:
    """Upper case, letters and digits, single spaces: how the bank may have cut the name."""
    return " ".join(_NOT_ALNUM.sub(" ", text.upper().replace("&", " AND ")).split())


def _without_legal_form(words: list[str]) -> str:
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def name_key(text: str) -> str:
    """The comparable form of a company name: abbreviations unified, legal forms dropped."""
    return _without_legal_form([ABBREVIATIONS.get(word, word) for word in plain_name(text).split()])


def fuzzy_key(text: str) -> str:
    """The form a mistyped name is scored on: words as written, legal forms dropped."""
    return _without_legal_form(plain_name(text).split())


def account_key(text: str) -> str:
    return _NOT_ALNUM.sub("", text.upper())


@dataclass(frozen=True, slots=True)
class History:
    """What clerks resolved before: (payer name as the bank wrote it, payer account,
    customer id) for each past payment they applied, which teaches aliases and accounts;
    and (evidence path, whether the matcher's reading on it was what the clerk applied)
    for past decisions, which recalibrates which paths may apply on their own
    (`policy.calibrated`)."""

    resolutions: tuple[tuple[str, str, str], ...] = ()
    outcomes: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class PayerMatch:
    """The customers a payment may come from, and the evidence that says so."""

    customers: frozenset[str]
    # account, learned_account, name, alias, learned_alias, prefix, fuzzy, none; or named:
    # the one owner of the invoices a remittance lists, standing in for an unknown payer
    evidence: str
    reason: Reason | None = None

    @property
    def known(self) -> bool:
        return bool(self.customers)


UNKNOWN = PayerMatch(frozenset(), "none")


@dataclass(slots=True)
class PayerIndex:
    """Every way to recognise a customer from a payment, built once per run."""

    names: dict[str, str] = field(default_factory=dict)  # customer id -> name
    children: dict[str, set[str]] = field(default_factory=dict)
    accounts: dict[str, set[str]] = field(default_factory=dict)
    learned_accounts: dict[str, set[str]] = field(default_factory=dict)
    by_name: dict[str, set[str]] = field(default_factory=dict)
    by_alias: dict[str, set[str]] = field(default_factory=dict)
    by_learned_alias: dict[str, set[str]] = field(default_factory=dict)
    prefixes: list[tuple[str, str]] = field(default_factory=list)  # sorted (plain name, id)
    by_word: dict[str, set[str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # customer id -> fuzzy key
    by_fuzzy_key: dict[str, set[str]] = field(default_factory=dict)
    cache: dict[tuple[str, str], PayerMatch] = field(default_factory=dict)

    @classmethod
    def build(cls, customers: Iterable[Customer], history: History | None = None) -> PayerIndex:
        """Index customers (and what `history` taught) for `identify`."""
        index = cls()
        for customer in customers:
            cid = customer.customer_id
            index.names[cid] = customer.name
            if customer.parent_id:
                index.children.setdefault(customer.parent_id, set()).add(cid)
            for account in customer.bank_accounts:
                index.accounts.setdefault(account_key(account), set()).add(cid)
            index.by_name.setdefault(name_key(customer.name), set()).add(cid)
            key = fuzzy_key(customer.name)
            index.keys[cid] = key
            index.by_fuzzy_key.setdefault(key, set()).add(cid)
            for alias in customer.aliases:
                index.by_alias.setdefault(name_key(alias), set()).add(cid)
            plain = plain_name(customer.name)
            index.prefixes.append((plain, cid))
            index.prefixes.append((plain.replace(" ", ""), cid))
            for word in set(key.split()):
                index.by_word.setdefault(word, set()).add(cid)
        for payer_name, payer_account, cid in history.resolutions if history else ():
            if payer_account:
                index.learned_accounts.setdefault(account_key(payer_account), set()).add(cid)
            if payer_name:
                index.by_learned_alias.setdefault(name_key(payer_name), set()).add(cid)
        index.prefixes.sort()
        return index

    def group(self, customers: Iterable[str]) -> frozenset[str]:
        """The customers with their known subsidiaries (a parent pays for its children)."""
        found = set(customers)
        for cid in list(found):
            found |= self.children.get(cid, set())
        return frozenset(found)

    def identify(self, payer_name: str | None, payer_account: str | None) -> PayerMatch:
        """The payer's customers by account, name, alias, truncated prefix, then fuzzy name."""
        cache_key = (payer_name or "", payer_account or "")
        found = self.cache.get(cache_key)
        if found is None:
            found = self.cache[cache_key] = self._identify(payer_name, payer_account)
        return found

    def _identify(self, payer_name: str | None, payer_account: str | None) -> PayerMatch:
        if payer_account:
            account = account_key(payer_account)
            for evidence, table in (
                ("account", self.accounts),
                ("learned_account", self.learned_accounts),
            ):
                if account in table:
                    return self._match(table[account], evidence, "payer account")
        if not payer_name or not payer_name.strip():
            return UNKNOWN
        key = name_key(payer_name)
        for evidence, table in (
            ("name", self.by_name),
            ("alias", self.by_alias),
            ("learned_alias", self.by_learned_alias),
        ):
            if key in table:
                return self._match(table[key], evidence, f"payer name {payer_name!r}")
        plain = plain_name(payer_name)
        for probe in (plain, plain.replace(" ", "")):
            if len(probe) >= MIN_PREFIX:
                hits = self._prefix(probe)
                if hits and len(hits) <= 3:
                    return self._match(hits, "prefix", f"truncated payer name {payer_name!r}")
        return self._fuzzy(fuzzy_key(payer_name), payer_name)

    def _prefix(self, probe: str) -> set[str]:
        start = bisect.bisect_left(self.prefixes, (probe, ""))
        hits: set[str] = set()
        for plain, cid in self.prefixes[start:]:
            if not plain.startswith(probe) or len(hits) > 3:
                break
            hits.add(cid)
        return hits

    def _fuzzy(self, key: str, payer_name: str) -> PayerMatch:
        """A clear winner among customers sharing an uncommon word with the payer's name."""
        counts: dict[str, int] = {}
        for word in set(key.split()):
            owners = self.by_word.get(word, ())
            if len(owners) <= COMMON_WORD:
                for cid in owners:
                    counts[cid] = counts.get(cid, 0) + 1
        if not counts:
            return UNKNOWN
        plausible = sorted(counts, key=lambda cid: (-counts[cid], cid))[:FUZZY_MAX_CANDIDATES]
        scored: dict[str, float] = {}
        for cid in plausible:
            candidate_key = self.keys[cid]
            scored[candidate_key] = max(
                scored.get(candidate_key, 0.0), fuzz.ratio(key, candidate_key)
            )
        ranked = sorted(scored.items(), key=lambda item: -item[1])
        best_key, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if best < FUZZY_MIN_SCORE or best - runner_up < FUZZY_MARGIN:
            return UNKNOWN
        return self._match(
            self.by_fuzzy_key[best_key],
            "fuzzy",
            f"payer name {payer_name!r} ~ {best_key!r} ({best:.0f})",
        )

    def _match(self, customers: Iterable[str], evidence: str, what: str) -> PayerMatch:
        group = self.group(customers)
        shown = ", ".join(sorted(group)[:3]) + (" ..." if len(group) > 3 else "")
        reason = Reason(f"payer_{evidence}_known", f"{what} identifies {shown} ({evidence})")
        return PayerMatch(group, evidence, reason)
