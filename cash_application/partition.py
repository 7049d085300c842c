"""Customer shards for matching: which payments can be decided apart from the others.

The matcher applies a payment only to invoices of its identified payer (all the customers
the payer may be: a parent with its subsidiaries, several customers whose names the bank
cut alike) or to invoices its remittance, or the remittance advice linked to it, names
by exact number (PO number too when the payer is unknown). Those customers are the
payment's reach (`reach`). Customers joined by a parent link or by one payment's reach
form a customer group (connected components), and a payment can only ever consume its
own group's open amounts: it is attributed to the group. A payment with no reach is left
unattributed: an unknown payer that names no invoice by exact or PO number (the matcher
then looks for a mistyped number among anyone's invoices).

Groups are independent, so `cash_application.matching.decide_payments` decides them
first, each against its own invoices, and the unattributed payments after them; a group
lands on shard `shard_of(key, shards)` (a stable digest, not Python's salted `hash`), so
any number of shards gives the same decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cash_application.book import Book
from mappings.records import Payment


@dataclass(frozen=True, slots=True)
class Partition:
    """Payments split for two-phase matching, each list in the order it was given."""

    groups: dict[str, list[Payment]]  # group key -> the payments attributed to it
    members: dict[str, frozenset[str]]  # group key -> its customer ids
    unattributed: list[Payment]


class _Components:
    """Union-find over customer ids; a component's key is its smallest id."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, cid: str) -> str:
        parent = self.parent
        parent.setdefault(cid, cid)
        while parent[cid] != cid:
            parent[cid] = parent[parent[cid]]  # path halving keeps chains short
            cid = parent[cid]
        return cid

    def join(self, customers: Iterable[str]) -> None:
        roots = {self.root(cid) for cid in customers}
        if len(roots) > 1:
            key = min(roots)
            for other in roots:
                self.parent[other] = key


def _texts(payment: Payment, book: Book) -> list[str]:
    """The texts the matcher reads for invoice references, the linked advice's included."""
    link = book.advice_links.get(payment.payment_id)
    lines = (*(link.advice.lines if link else ()), *payment.remittance_lines)
    return [payment.remittance, *(line.invoice_ref for line in lines)]


def reach(payment: Payment, book: Book) -> frozenset[str]:
    """Every customer whose invoice the matcher may apply `payment` to; empty when that
    may be anyone's."""
    payer = book.payers.identify(payment.payer_name, payment.payer_account)
    owners = set(payer.customers)
    # With the payer known, only exact numbers can reach another customer's invoices (and
    # typos are searched among the payer's); unknown, exact and PO numbers name them.
    kinds = ("exact",) if payer.known else ("exact", "po")
    for found in book.indexed_refs(_texts(payment, book)):
        if found.kind in kinds:
            owners.update(book.invoices[i].customer_id for i in book.with_key(found.key))
    return frozenset(owners)


def partition(payments: Iterable[Payment], book: Book) -> Partition:
    """Group the payments by the customer group their reach falls in, keeping the given
    order within each part."""
    components = _Components()
    for parent, children in book.payers.children.items():
        components.join((parent, *children))
    reached: list[tuple[Payment, frozenset[str]]] = []
    for payment in payments:
        customers = reach(payment, book)
        components.join(customers)
        reached.append((payment, customers))
    groups: dict[str, list[Payment]] = {}
    unattributed: list[Payment] = []
    for payment, customers in reached:
        if customers:
            groups.setdefault(components.root(next(iter(customers))), []).append(payment)
        else:
            unattributed.append(payment)
    found: dict[str, set[str]] = {}
    for cid in [*book.payers.names, *(i.customer_id for i in book.invoices.values())]:
        key = components.root(cid)
        if key in groups:
            found.setdefault(key, set()).add(cid)
    members = {key: frozenset(found.get(key, {key})) for key in groups}
    return Partition(groups, members, unattributed)


def shard_of(group_key: str, shards: int) -> int:
    """The shard (0 .. shards - 1) of a customer group: stable across processes and runs."""
    digest = hashlib.blake2b(group_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def select(part: Partition, shard: int, shards: int) -> dict[str, Sequence[Payment]]:
    """The groups of `part` that fall on `shard` of `shards`."""
    return {key: found for key, found in part.groups.items() if shard_of(key, shards) == shard}
