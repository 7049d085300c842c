"""The labelled cash-application data set: a seeded world of customers, invoices and
payments, each payment carrying the truth a clerk would have recorded.

It follows the generator spec in `../shared/reference/cash-application-benchmark.md`:
customers = open invoices / 15 with near-duplicate names, bank-rendered payer names, parents
and factors; sequential invoice numbers with gaps so a typo often lands on another real
invoice; and a payment mix of 14 scenarios (clean and noisy references, no reference,
several invoices listed or not, partials, short pays, discounts, bank fees, FX, over- and
duplicate payments, unidentifiable payers, remittance sent apart from the money). For the
last (S14) it writes the remittance advices the customers sent apart from the money, as an
X12 820 interchange and a CSV upload: 70 % carry the payment's bank trace, the rest only
amount, date and payer, plus 20 % distractor advices for payments not in the bank file.

`generate` returns plain rows (strings and integers, what an export would hold) and the
advice files' bytes; `load` turns them into the canonical records (parsing the advice files
with arlink's parsers), so the benchmark can time loading on its own.
The same `seed` and size always give the same data.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from cash_application.remittance_advices import parse_advice_file
from mappings.money import Money
from mappings.records import Customer, Invoice, Payment, RemittanceAdvice, SourceRef

_T = TypeVar("_T")
STATEMENT_DATE = date(2024, 6, 28)
FX_RATES = {"EUR": Decimal("1.0712"), "GBP": Decimal("1.2645")}  # to USD, statement date


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SIZES = {"small": (1_000, 10_000), "medium": (10_000, 100_000), "large": (100_000, 1_000_000)}

_FIRST = _words(
    "Acme Apex Atlas Beacon Blue Bright Cedar Coastal Crown Delta Eagle Echo Evergreen "
    "Falcon First Frontier Global Golden Granite Great Harbor Highland Horizon Iron Keystone "
    "Lake Liberty Lincoln Lone Magnolia Maple Meridian Metro Midwest Mountain National "
    "North Northern Oak Ocean Omega Pacific Park Patriot Peak Pine Pinnacle Pioneer Prairie "
    "Premier Prime Quantum Red Regal River Rock Royal Saint Silver Sierra Southern Star "
    "Sterling Stone Summit Sun Superior Titan Tri Union United Valley Vanguard Victory Vista "
    "West Western White Wild Willow Zenith Allied Anchor Arrow Aspen Birch Cardinal Central "
    "Champion Clear Compass Copper Crescent Crystal Diamond Dominion Elm Empire Fair Fox "
    "Garden Gateway Heritage Hudson Imperial Jade Jupiter Legacy Lotus Mesa Monarch Nova"
)
_SECOND = _words(
    "Valley River Ridge Harbor Point Creek Field Bay Hill Lake Springs Grove Bridge Gate "
    "Crest View Stone Wood Brook Haven Park Forge Mill Port Rock Shore Trail Way Line Works "
    "Peak Mesa Plains Canyon Meadow Hollow Falls Glen Heights Landing Square Tower Cross "
    "Star Light Wave Wind Fire Frost Sky Sun Moon Coast Island Bluff Summit Dale Ford"
)
_INDUSTRY = _words(
    "Manufacturing International Logistics Foods Supply Industries Systems Technologies "
    "Distribution Services Holdings Partners Products Solutions Builders Electric Medical "
    "Packaging Plastics Metals Chemicals Textiles Motors Energy Farms Freight Labs Retail "
    "Marine Steel Paper Pharma Tools Apparel Brands Media Networks Outfitters Trading Group"
)
_LEGAL = ("Inc", "Inc.", "LLC", "Corp", "Corporation", "Co", "Ltd", "Company", "LP", "Incorporated")
_ABBREVIATIONS = {
    "MANUFACTURING": "MFG",
    "INTERNATIONAL": "INTL",
    "CORPORATION": "CORP",
    "COMPANY": "CO",
    "INDUSTRIES": "IND",
    "TECHNOLOGIES": "TECH",
    "DISTRIBUTION": "DIST",
    "SERVICES": "SVCS",
}
_FACTORS = (
    "Riviera Finance LLC",
    "Triumph Business Capital",
    "Crestmark Bank",
    "Altline Capital Inc",
    "Porter Capital Corp",
)
_STYLES = ("trunc16", "nosuffix", "abbrev", "nospace", "initials")

# Scenario shares (per cent of payments), from the spec's table.
SCENARIOS = (
    ("S01", 39.0), ("S02", 12.0), ("S03", 7.0), ("S04", 10.0), ("S05", 4.0), ("S06", 3.0),
    ("S07", 6.0), ("S08", 5.0), ("S09", 3.0), ("S10", 2.0), ("S11", 1.0), ("S12", 0.5),
    ("S13", 1.0), ("S14", 6.5),
)  # fmt: skip
_NOISE = (
    ("nosep", 12), ("spaced", 12), ("noprefix", 10), ("seqonly", 10), ("nozeros", 10),
    ("substitute", 13), ("transpose", 13), ("delete", 3), ("insert", 2), ("po", 15),
)  # fmt: skip


@dataclass(slots=True)
class CustomerRow:
    customer_id: str
    name: str
    parent_id: str  # "" when none is known in the CRM
    accounts: list[str]  # the customer's own accounts; `known` are in the master
    known: list[str]
    style: str
    currency: str
    true_parent: str = ""  # the parent even when the CRM does not know it
    factor: int = -1  # index into the factors, -1 when not factored


@dataclass(slots=True)
class InvoiceRow:
    invoice_id: str
    number: str
    customer_id: str
    currency: str
    total: int
    open: int
    issued: date
    due: date
    po: str
    discount: bool
    closed: bool


@dataclass(slots=True)
class PaymentRow:
    payment_id: str
    amount: int
    currency: str
    value_date: date
    payer_name: str
    payer_account: str
    remittance: str
    scenario: str
    trace: str = ""  # the bank trace the payment carries (S14: what an advice may quote)


@dataclass(frozen=True, slots=True)
class Truth:
    """What the payment really paid: cash per invoice, cash left on account, or an exception."""

    scenario: str
    apply: bool
    invoices: dict[str, int]  # invoice id -> cash applied (minor units of the payment)
    on_account: int = 0


@dataclass(slots=True)
class World:
    size: str
    customers: list[CustomerRow]
    invoices: list[InvoiceRow]  # open and closed
    payments: list[PaymentRow]
    truth: dict[str, Truth]
    # Past payments a clerk resolved: (payer name as the bank rendered it, account, customer).
    resolutions: list[tuple[str, str, str]] = field(default_factory=list)
    advice_files: list[tuple[str, bytes]] = field(default_factory=list)  # (name, bytes)


def _legal_free(name: str) -> str:
    words = name.split()
    return " ".join(words[:-1]) if words[-1] in _LEGAL else name


def bank_rendering(name: str, style: str) -> str:
    """How a customer's bank writes its name on every payment (stable per customer)."""
    upper = name.upper().replace(".", "")
    if style == "trunc16":
        return upper[:16]  # NACHA company name field
    if style == "nosuffix":
        return _legal_free(upper)
    if style == "abbrev":
        return " ".join(_ABBREVIATIONS.get(word, word) for word in upper.split())
    if style == "nospace":
        return _legal_free(upper).replace(" ", "")[:16]
    words = _legal_free(upper).split()
    return "".join(word[0] for word in words[:-1]) + " " + words[-1]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    at = rng.randrange(1, len(text) - 1)
    return text[:at] + rng.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ") + text[at + 1 :]


def _number(year: int, sequence: int) -> str:
    return f"INV-{year}-{sequence:07d}"


def _noisy_reference(rng: random.Random, invoice: InvoiceRow, kind: str) -> str:
    year, sequence = invoice.number[4:8], invoice.number[9:]
    if kind == "nosep":
        return f"INV{year}{sequence}"
    if kind == "spaced":
        return f"INV {year} {sequence}"
    if kind == "noprefix":
        return f"{year}-{sequence}"
    if kind == "seqonly":
        return sequence.lstrip("0")
    if kind == "nozeros":
        return f"INV-{year}-{sequence.lstrip('0')}"
    if kind == "po":
        return f"PO {invoice.po}"
    digits = list(sequence)
    at = rng.randrange(len(digits) - 4, len(digits))  # the significant digits
    if kind == "substitute":
        digits[at] = rng.choice([d for d in "0123456789" if d != digits[at]])
    elif kind == "transpose":
        at = min(at, len(digits) - 2)
        if digits[at] == digits[at + 1]:
            digits[at] = str((int(digits[at]) + 1) % 10)
        else:
            digits[at], digits[at + 1] = digits[at + 1], digits[at]
    elif kind == "delete":
        del digits[at]
    else:
        digits.insert(at, rng.choice("0123456789"))
    return f"INV-{year}-{''.join(digits)}"


def _light_noise(rng: random.Random, reference: str) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return reference.lower()
    if choice == 1:
        return reference.replace("-", "")
    return reference.replace("-", " ")


def _money_text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _render(
    rng: random.Random, source: str, refs: list[str], amounts: list[int] | None, code: str = ""
) -> str:
    """Remittance text as the payment's channel carries it, with unrelated noise tokens."""
    if source == "ctx":
        segments = []
        for n, ref in enumerate(refs):
            amount = f"*{_money_text(amounts[n])}" if amounts else ""
            segments.append(f"RMR*IV*{ref}{amount}{'*' + code if code else ''}\\")
        text = "".join(segments)
    elif source == "ccd":
        text = "RMR*IV*" + ",".join(refs) + (f"*{_money_text(amounts[0])}" if amounts else "")
        text = text[:80] + "\\"
    elif source == "wire":
        text = ("OBI " + " ".join(refs))[:140]
    elif source == "lockbox":
        pairs = [
            f"{ref} {_money_text(amounts[n])}" if amounts else ref for n, ref in enumerate(refs)
        ]
        text = "; ".join(pairs)
    else:  # SEPA unstructured remittance
        text = ("USTRD/" + "/".join(refs))[:140]
    if code and source != "ctx":
        text += f" {code}"
    noise = rng.random()
    if noise < 0.15:
        text = f"{STATEMENT_DATE - timedelta(days=rng.randrange(1, 9)):%m/%d/%Y} " + text
    elif noise < 0.30:
        text = f"TRN {rng.randrange(10**14, 10**15)} " + text
    elif noise < 0.40:
        text += f" VENDOR ID {rng.randrange(10000, 999999)}"
    return text


def _compressed(invoices: list[InvoiceRow]) -> list[str]:
    """`INV-2024-0012345/0012399`: later numbers of the same year written as their sequence."""
    first = invoices[0].number
    rest = [inv.number[9:] for inv in invoices[1:] if inv.number[:8] == first[:8]]
    others = [inv.number for inv in invoices[1:] if inv.number[:8] != first[:8]]
    return ["/".join([first, *rest]), *others]


def generate(size: str, seed: int = 20240628) -> World:
    """The labelled world for `size` ("small", "medium" or "large", or "tiny" for tests)."""
    n_payments, n_open = SIZES.get(size, (100, 1_000))
    rng = random.Random(seed)
    customers = _customers(rng, max(n_open // 15, 8))
    invoices = _invoices(rng, customers, n_open)
    payments, truth = _payments(rng, customers, invoices, n_payments)
    resolutions = _history(rng, customers)
    # Advices draw from their own stream, so the payments stay those of the spec's seed.
    advices = _advices(random.Random(seed + 820), customers, invoices, payments, truth)
    files = [
        ("advices.820", render_820(advices["820"])),
        ("advices.csv", render_csv(advices["csv"])),
    ]
    return World(size, customers, invoices, payments, truth, resolutions, files)


def _customers(rng: random.Random, count: int) -> list[CustomerRow]:
    names: set[str] = set()
    rows: list[CustomerRow] = []
    while len(rows) < count:
        if rows and rng.random() < 0.03:
            # A near-duplicate on purpose: the same words, another legal form.
            base = _legal_free(rows[rng.randrange(len(rows))].name)
        else:
            base = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_INDUSTRY)}"
        name = f"{base} {rng.choice(_LEGAL)}"
        if name in names:
            continue
        names.add(name)
        accounts = [str(rng.randrange(10**9, 10**12)) for _ in range(rng.choice((1, 1, 2)))]
        known = [account for account in accounts if rng.random() < 0.6]
        draw = rng.random()
        currency = "USD" if draw < 0.93 else "EUR" if draw < 0.98 else "GBP"
        rows.append(
            CustomerRow(
                f"C{len(rows) + 1:06d}", name, "", accounts, known, rng.choice(_STYLES), currency
            )
        )
    for row in rows:
        if rng.random() < 0.10:
            parent = rows[rng.randrange(len(rows))]
            if parent is not row and not parent.true_parent:
                row.true_parent = parent.customer_id
                row.parent_id = parent.customer_id if rng.random() < 0.7 else ""
        if rng.random() < 0.03:
            row.factor = rng.randrange(len(_FACTORS))
    return rows


def _invoices(rng: random.Random, customers: list[CustomerRow], n_open: int) -> list[InvoiceRow]:
    weights = [min(rng.paretovariate(1.3), 300.0) for _ in customers]
    scale = n_open / sum(weights)
    counts = [max(1, round(weight * scale)) for weight in weights]
    subscription = {row.customer_id: rng.random() < 0.15 for row in customers}
    draft: list[tuple[date, int, bool]] = []  # issue date, customer index, open
    for index, count in enumerate(counts):
        for _ in range(count):
            draft.append((STATEMENT_DATE - timedelta(days=rng.randrange(0, 150)), index, True))
        for _ in range(max(1, count // 4)):
            draft.append((STATEMENT_DATE - timedelta(days=rng.randrange(150, 400)), index, False))
    draft.sort(key=lambda item: item[0])
    recurring = {
        row.customer_id: round(math.exp(rng.gauss(math.log(1100), 0.8))) * 100 for row in customers
    }
    terms_of = {row.customer_id: rng.choice((30, 45, 60)) for row in customers}
    rows: list[InvoiceRow] = []
    sequence = 10_000
    for issued, index, is_open in draft:
        customer = customers[index]
        sequence += rng.choice((1, 2, 3, 4, 5))  # about a third of numbers are real
        if subscription[customer.customer_id] and rng.random() < 0.8:
            total = recurring[customer.customer_id]
        else:
            total = max(500, round(math.exp(rng.gauss(math.log(110_000), 1.0))))
        discount = rng.random() < 0.2
        open_amount = total if is_open else 0
        if is_open and rng.random() < 0.05:
            open_amount = total - total * rng.randrange(10, 60) // 100
        rows.append(
            InvoiceRow(
                f"{len(rows) + 1}",
                _number(issued.year, sequence),
                customer.customer_id,
                customer.currency,
                total,
                open_amount,
                issued,
                issued + timedelta(days=30 if discount else terms_of[customer.customer_id]),
                f"45{rng.randrange(10**7, 10**8)}",
                discount,
                not is_open,
            )
        )
    return rows


def _in_usd(invoice: InvoiceRow) -> bool:
    return invoice.currency == "USD"


class _Picker:
    """Draws unused open invoices (each invoice is paid by at most one payment)."""

    def __init__(self, rng: random.Random, invoices: list[InvoiceRow]) -> None:
        self.rng = rng
        self.open = [inv for inv in invoices if not inv.closed]
        self.closed = [inv for inv in invoices if inv.closed]
        self.used: set[str] = set()
        self.by_customer: dict[str, list[InvoiceRow]] = {}
        for inv in self.open:
            self.by_customer.setdefault(inv.customer_id, []).append(inv)

    def one(self, accept: Callable[[InvoiceRow], bool] = lambda inv: True) -> InvoiceRow:
        """An unused open invoice that `accept`s, or any unused one if none is found soon."""
        for attempt in range(100_000):
            inv = self.open[self.rng.randrange(len(self.open))]
            if inv.invoice_id not in self.used and (attempt > 50_000 or accept(inv)):
                self.used.add(inv.invoice_id)
                return inv
        raise ValueError("the world has too few open invoices for its payments")

    def several(self, low: int, high: int, contiguous: bool) -> list[InvoiceRow]:
        while True:
            first = self.one()
            own = [
                inv
                for inv in self.by_customer[first.customer_id]
                if inv.invoice_id not in self.used and inv.currency == first.currency
            ]
            if len(own) + 1 < low:
                continue
            want = min(self.rng.randrange(low, high + 1) - 1, len(own))
            if contiguous:
                own.sort(key=lambda inv: (inv.due, inv.invoice_id))
                start = self.rng.randrange(0, len(own) - want + 1)
                chosen = own[start : start + want]
            else:
                chosen = self.rng.sample(own, want)
            self.used.update(inv.invoice_id for inv in chosen)
            return [first, *chosen]


def _payer(
    rng: random.Random, customer: CustomerRow, by_id: dict[str, CustomerRow]
) -> tuple[str, str]:
    """Who the bank says paid: the overlay of the spec (alias, legal, parent, factor, ...)."""
    draw = rng.random()
    if draw < 0.08 and customer.true_parent:
        parent = by_id[customer.true_parent]
        return bank_rendering(parent.name, parent.style), rng.choice(parent.accounts)
    if draw < 0.10 and customer.factor >= 0:
        factor = _FACTORS[customer.factor]
        return factor.upper(), f"77{customer.factor:08d}"
    account = rng.choice(customer.accounts)
    if draw < 0.20:
        return "", account
    if draw < 0.25:
        return _typo(rng, customer.name.upper()), account
    if draw < 0.45:
        return customer.name.upper(), account
    return bank_rendering(customer.name, customer.style), account


def _payments(
    rng: random.Random, customers: list[CustomerRow], invoices: list[InvoiceRow], count: int
) -> tuple[list[PaymentRow], dict[str, Truth]]:
    by_id = {row.customer_id: row for row in customers}
    picker = _Picker(rng, invoices)
    # Exact shares (largest remainder), shuffled: the mix does not drift with the seed.
    shares = [(name, share * count / 100) for name, share in SCENARIOS]
    plan = [name for name, want in shares for _ in range(int(want))]
    by_remainder = sorted(shares, key=lambda pair: int(pair[1]) - pair[1])
    plan += [name for name, _ in by_remainder[: count - len(plan)]]
    rng.shuffle(plan)
    noise_kinds, noise_weights = zip(*_NOISE, strict=True)
    payments: list[PaymentRow] = []
    truth: dict[str, Truth] = {}
    for n in range(count):
        pid = f"P{n + 1:07d}"
        scenario = plan[n]
        source = rng.choice(("ccd", "ctx", "wire", "lockbox", "sepa"))
        value_date = STATEMENT_DATE - timedelta(days=rng.randrange(0, 5))
        code = ""
        if scenario == "S13":
            amount = rng.randrange(1, 200) * 5000
            payments.append(
                PaymentRow(pid, amount, "USD", value_date, "", f"99{n:09d}", "", scenario)
            )
            truth[pid] = Truth(scenario, False, {})
            continue
        if scenario == "S12":
            inv = picker.closed[rng.randrange(len(picker.closed))]
            while inv.currency != "USD":
                inv = picker.closed[rng.randrange(len(picker.closed))]
            chosen, amount, refs = [inv], inv.total, [inv.number]
            applied: dict[str, int] = {}
        elif scenario in ("S04", "S05"):
            chosen = picker.several(2, 12 if scenario == "S04" else 5, rng.random() < 0.65)
            amount = sum(inv.open for inv in chosen)
            applied = {inv.invoice_id: inv.open for inv in chosen}
            if scenario == "S05":
                refs = []
            elif rng.random() < 0.2:
                refs = _compressed(chosen)
            else:
                refs = [
                    _noisy_reference(rng, inv, rng.choices(noise_kinds, noise_weights)[0])
                    if rng.random() < 0.15
                    else inv.number
                    for inv in chosen
                ]
        elif scenario == "S14" and rng.random() < 0.3:
            chosen = picker.several(2, 3, True)
            amount = sum(inv.open for inv in chosen)
            applied = {inv.invoice_id: inv.open for inv in chosen}
            refs = []
        else:
            if scenario == "S08":
                inv = picker.one(
                    lambda inv, value_date=value_date: (
                        inv.discount
                        and inv.currency == "USD"
                        and inv.open == inv.total
                        and value_date - inv.issued <= timedelta(days=10)
                    )
                )
            elif scenario == "S10":
                inv = picker.one(lambda inv: inv.currency != "USD")
            elif scenario == "S03":
                inv = picker.one(_in_usd)
                same = [
                    other
                    for other in picker.by_customer[inv.customer_id]
                    if other.open == inv.open and other.invoice_id not in picker.used
                ]
                if same and rng.random() < 0.7:
                    oldest = min([*same, inv], key=lambda i: (i.due, i.invoice_id))
                    picker.used.discard(inv.invoice_id)
                    picker.used.add(oldest.invoice_id)
                    inv = oldest
            else:
                inv = picker.one(_in_usd)
            chosen = [inv]
            amount, cash = inv.open, inv.open
            on_account = 0
            if scenario == "S06":
                cash = amount = inv.open * rng.choice((25, 33, 40, 50)) // 100
            elif scenario == "S07":
                cut = (
                    inv.open * rng.randrange(1, 16) // 100
                    if rng.random() < 0.5
                    else rng.randrange(2500, 25001)
                )
                cash = amount = inv.open - min(cut, inv.open // 2)
                code = "DED" if rng.random() < 0.5 else ""
            elif scenario == "S08":
                cash = amount = inv.open - inv.open * 2 // 100
            elif scenario == "S09":
                cash = amount = inv.open - rng.randrange(1000, 4501)
            elif scenario == "S10":
                rate = FX_RATES[inv.currency] * (1 + Decimal(rng.randrange(-50, 51)) / 10_000)
                cash = amount = int((Decimal(inv.open) * rate).to_integral_value())
            elif scenario == "S11":
                extra = inv.open if rng.random() < 0.3 else rng.randrange(100, 20001)
                amount = inv.open + extra
                on_account = extra
            applied = {inv.invoice_id: cash}
            if scenario in ("S03", "S14") or (scenario == "S08" and rng.random() < 0.2):
                refs = []
            elif scenario == "S02":
                refs = [_noisy_reference(rng, inv, rng.choices(noise_kinds, noise_weights)[0])]
            elif rng.random() < 0.05:
                refs = [_light_noise(rng, inv.number)]
            else:
                refs = [inv.number]
            if scenario == "S11":
                truth[pid] = Truth(scenario, True, applied, on_account)
        customer = by_id[chosen[0].customer_id]
        payer_name, payer_account = _payer(rng, customer, by_id)
        line_amounts = None
        if rng.random() < 0.5 and len(refs) == len(chosen):
            line_amounts = [amount] if len(refs) == 1 else [inv.open for inv in chosen]
        remittance = _render(rng, source, refs, line_amounts, code) if refs else ""
        trace = ""
        if scenario == "S14":
            trace = str(rng.randrange(10**14, 10**15))
            remittance = f"TRN {trace}"
        # EUR and GBP customers pay their invoices in their currency, except in S10.
        currency = "USD" if scenario == "S10" else chosen[0].currency
        payments.append(
            PaymentRow(
                pid,
                amount,
                currency,
                value_date,
                payer_name,
                payer_account,
                remittance,
                scenario,
                trace,
            )
        )
        truth.setdefault(pid, Truth(scenario, scenario != "S12", applied))
    return payments, truth


def _history(rng: random.Random, customers: list[CustomerRow]) -> list[tuple[str, str, str]]:
    """Clerk resolutions of past payments: how each customer's bank named it, and from where."""
    resolutions = []
    for row in customers:
        if rng.random() < 0.7:
            resolutions.append(
                (bank_rendering(row.name, row.style), rng.choice(row.accounts), row.customer_id)
            )
    for index, factor in enumerate(_FACTORS):
        for row in customers:
            if row.factor == index:
                resolutions.append((factor.upper(), f"77{index:08d}", row.customer_id))
    return resolutions


@dataclass(slots=True)
class AdviceRow:
    """A remittance advice as its sender wrote it: lines are (invoice number, amount paid)."""

    amount: int
    currency: str
    payment_date: date
    trace: str
    payer_name: str
    payer_id: str
    lines: list[tuple[str, int]]


def _advices(
    rng: random.Random,
    customers: list[CustomerRow],
    invoices: list[InvoiceRow],
    payments: list[PaymentRow],
    truth: dict[str, Truth],
) -> dict[str, list[AdviceRow]]:
    """The S14 advices (70 % quoting the payment's trace), then 20 % distractors: advices of
    payments not in this bank file, half of them from a customer with an S14 payment."""
    by_id = {row.customer_id: row for row in customers}
    invoice_by_id = {row.invoice_id: row for row in invoices}
    paid = {i for t in truth.values() for i in t.invoices}
    unpaid: dict[str, list[InvoiceRow]] = {}
    for row in invoices:
        if not row.closed and row.invoice_id not in paid:
            unpaid.setdefault(row.customer_id, []).append(row)
    found: dict[str, list[AdviceRow]] = {"820": [], "csv": []}
    separate = [row for row in payments if row.scenario == "S14"]
    for row in separate:
        chosen = [invoice_by_id[i] for i in sorted(truth[row.payment_id].invoices)]
        customer = by_id[chosen[0].customer_id]
        shared = rng.random() < 0.7
        trace = row.trace if shared else f"PMT{rng.randrange(10**6, 10**7)}"
        found[rng.choice(("820", "csv"))].append(
            AdviceRow(
                row.amount,
                row.currency,
                row.value_date - timedelta(days=rng.randrange(0, 3)),
                trace,
                customer.name,
                customer.customer_id if rng.random() < 0.5 else "",
                [(inv.number, inv.open) for inv in chosen],
            )
        )
    for _ in range(round(len(separate) * 0.2)):
        if rng.random() < 0.5:
            some = truth[rng.choice(separate).payment_id].invoices
            owner = invoice_by_id[min(some)].customer_id
        else:
            owner = rng.choice(customers).customer_id
        pool = unpaid.get(owner, [])
        if not pool:
            continue
        lines = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2))))
        found[rng.choice(("820", "csv"))].append(
            AdviceRow(
                sum(inv.open for inv in lines),
                lines[0].currency,
                STATEMENT_DATE + timedelta(days=rng.randrange(-3, 6)),
                str(rng.randrange(10**14, 10**15)),
                by_id[owner].name,
                "",
                [(inv.number, inv.open) for inv in lines],
            )
        )
    return found


def render_820(advices: list[AdviceRow]) -> bytes:
    """One X12 interchange (one group) with an 820 transaction set per advice."""
    isa = (
        "ISA*00*          *00*          *ZZ*CUSTOMERS      *ZZ*ARLINK         *240628*0600*U*"
        "00401*000000820*0*P*>"
    )
    segments = [isa, "GS*RA*CUSTOMERS*ARLINK*20240628*0600*820*X*004010"]
    for n, advice in enumerate(advices, 1):
        body = [
            f"ST*820*{n:04d}",
            f"BPR*I*{_money_text(advice.amount)}*C*ACH*CTX*01*021000021*DA*123456789*1234567890"
            f"**01*021000021*DA*4021558830*{advice.payment_date:%Y%m%d}",
            f"TRN*1*{advice.trace}*1234567890",
        ]
        if advice.currency != "USD":
            body.append(f"CUR*PR*{advice.currency}")
        body.append(
            f"N1*PR*{advice.payer_name.upper()}"
            + (f"*91*{advice.payer_id}" if advice.payer_id else "")
        )
        body += ["N1*PE*ARLINK BENCH SUPPLIER", "ENT*1"]
        body += [f"RMR*IV*{number}**{_money_text(amount)}" for number, amount in advice.lines]
        body.append(f"SE*{len(body) + 1}*{n:04d}")
        segments += body
    segments += [f"GE*{len(advices)}*820", "IEA*1*000000820"]
    return ("~\n".join(segments) + "~\n").encode("ascii")


def render_csv(advices: list[AdviceRow]) -> bytes:
    """A portal upload: one row per invoice line, grouped by remittance id."""
    lines = [
        "Remittance ID,Customer,Customer Number,Payment Date,Payment Amount,Currency,"
        "Trace Number,Invoice Number,Amount Paid\n"
    ]
    for n, advice in enumerate(advices, 1):
        for number, amount in advice.lines:
            lines.append(
                _csv_line(
                    (
                        f"R-{n:06d}", advice.payer_name, advice.payer_id,
                        advice.payment_date.isoformat(), _money_text(advice.amount),
                        advice.currency, advice.trace, number, _money_text(amount),
                    )
                )
            )  # fmt: skip
    return "".join(lines).encode("utf-8")


@dataclass(slots=True)
class Loaded:
    """The world as canonical records, what a books host and a bank file would give."""

    customers: list[Customer]
    invoices: list[Invoice]  # open invoices, then the closed ones (status "paid")
    payments: list[Payment]
    open_count: int
    advices: list[RemittanceAdvice] = field(default_factory=list)


def load(world: World) -> Loaded:
    """Build the canonical records from the rows (what reading the exports would do)."""
    rows = (_invoice_fields(row) for row in world.invoices)
    return _records(world.customers, rows, world.payments, world.advice_files)


_InvoiceFields = tuple[str, str, str, str, int, int, date, date, str, bool, bool]
CHUNK = 65_536  # invoice rows per pickled chunk: the reader never holds them all at once


def _invoice_fields(row: InvoiceRow) -> _InvoiceFields:
    return (
        row.invoice_id,
        row.number,
        row.customer_id,
        row.currency,
        row.total,
        row.open,
        row.issued,
        row.due,
        row.po,
        row.discount,
        row.closed,
    )


def save(world: World, path: Path) -> None:
    """Write `world` to `path` as the export a books host would give: everything but the
    invoices first, then the invoices in chunks of `CHUNK` rows, so `read` can build the
    records while reading."""
    header = replace(world, invoices=[])
    with path.open("wb") as out:
        pickle.dump(header, out, protocol=pickle.HIGHEST_PROTOCOL)
        for start in range(0, len(world.invoices), CHUNK):
            chunk = [_invoice_fields(row) for row in world.invoices[start : start + CHUNK]]
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)


def generate_to(size: str, seed: int, path: Path) -> None:
    """`generate` and `save`: run in a child process, so that the generator's memory is
    never part of the process that loads and matches."""
    save(generate(size, seed), path)


def read(path: Path) -> tuple[World, Loaded]:
    """Read a world `save` wrote: the world without its invoice rows (scoring needs its
    payments and truth), and the canonical records, built chunk by chunk."""
    with path.open("rb") as stream:
        # The file this run's own child process just wrote, never one from elsewhere.
        world: World = pickle.load(stream)

        def rows() -> Iterator[_InvoiceFields]:
            while stream.peek(1):
                yield from pickle.load(stream)

        return world, _records(world.customers, rows(), world.payments, world.advice_files)


def _records(
    customer_rows: list[CustomerRow],
    invoice_rows: Iterable[_InvoiceFields],
    payment_rows: list[PaymentRow],
    advice_files: list[tuple[str, bytes]],
) -> Loaded:
    customers = [
        Customer(row.customer_id, row.name, row.parent_id or None, (), tuple(row.known))
        for row in customer_rows
    ]
    # A million invoices share a few hundred dates, a few currencies, the customers' ids
    # and, mostly, one amount for total and open: one object each, not one per invoice.
    shared: dict[object, object] = {c.customer_id: c.customer_id for c in customers}

    def one(value: _T) -> _T:
        return shared.setdefault(value, value)  # type: ignore[return-value]

    def amount(minor: int, currency: str) -> Money:
        key = (minor, currency)
        found = shared.get(key)
        if found is None:
            found = shared[key] = Money(minor, one(currency))
        return found  # type: ignore[return-value]

    opened: list[Invoice] = []
    closed: list[Invoice] = []
    for (
        invoice_id,
        number,
        customer_id,
        currency,
        total,
        open_,
        issued,
        due,
        po,
        discount,
        paid,
    ) in invoice_rows:
        (closed if paid else opened).append(
            Invoice(
                invoice_id,
                number,
                one(customer_id),
                amount(total, currency),
                amount(open_, currency),
                one(issued),
                one(due),
                po or None,
                "2/10 NET 30" if discount else None,
                "paid" if paid else "open",
            )
        )
    source = SourceRef("0" * 64, "bench", "bench", 0, 0)
    payments = [
        Payment(
            row.payment_id,
            "4021558830",
            row.value_date,
            Money(row.amount, row.currency),
            source,
            payer_name=row.payer_name or None,
            payer_account=row.payer_account or None,
            bank_reference=row.trace or None,
            remittance=row.remittance,
        )
        for row in payment_rows
    ]
    advices = [
        advice
        for name, data in advice_files
        for advice in parse_advice_file(data, name, file_digest=hashlib.sha256(data).hexdigest())
    ]
    open_count = len(opened)
    opened.extend(closed)  # open invoices, then the closed ones
    return Loaded(customers, opened, payments, open_count, advices)


def _csv_line(values: Iterable[str]) -> str:
    return ",".join(f'"{v}"' if "," in v or '"' in v else v for v in values) + "\n"


def write_files(world: World, folder: Path) -> list[Path]:
    """Write the world as the files contract gives it to `arlink match`: `customers.csv`,
    `open_invoices.csv` (open invoices only), one BAI2 file of the payments (wires, payer
    as `ORG=/account NAME`, remittance as `OBI=`) and the remittance advices that came
    apart from the money (X12 820, CSV). Returns the bank file, then the advice files."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "customers.csv").open("w", encoding="utf-8") as out:
        out.write("customer_id,name,parent_id,aliases,bank_accounts\n")
        for row in world.customers:
            out.write(
                _csv_line((row.customer_id, row.name, row.parent_id, "", "|".join(row.known)))
            )
    with (folder / "open_invoices.csv").open("w", encoding="utf-8") as out:
        out.write(
            "invoice_id,invoice_number,customer_id,currency,amount_total,amount_open,"
            "issue_date,due_date,po_number,discount_terms\n"
        )
        for inv in world.invoices:
            if not inv.closed:
                out.write(
                    _csv_line(
                        (
                            inv.invoice_id, inv.number, inv.customer_id, inv.currency,
                            _money_text(inv.total), _money_text(inv.open), inv.issued.isoformat(),
                            inv.due.isoformat(), inv.po, "2/10 NET 30" if inv.discount else "",
                        )
                    )
                )  # fmt: skip
    bank = folder / "bank.bai2"
    by_currency: dict[str, list[PaymentRow]] = {}
    for row in world.payments:
        by_currency.setdefault(row.currency, []).append(row)
    lines = [
        "01,021000021,ARLINKBENCH,240628,0600,1,,,2/",
        "02,ARLINKBENCH,021000021,1,240628,,USD,2/",
    ]
    group_total = group_records = 0
    for n, (currency, rows) in enumerate(sorted(by_currency.items())):
        account = [f"03,{4021558830 + n},{currency}/"]
        total = 0
        for row in rows:
            # A BAI2 text field cannot end a record early: the remittance keeps its slashes.
            account.append(
                f"16,195,{row.amount},0,{row.payment_id},,WIRE IN ORG=/{row.payer_account} "
                f"{row.payer_name}"
            )
            account.append(f"88,OBI={row.remittance or 'NONE'}")
            total += row.amount
        account.append(f"49,{total},{len(account) + 1}/")
        lines.extend(account)
        group_total += total
        group_records += len(account)
    lines.append(f"98,{group_total},{len(by_currency)},{group_records + 2}/")
    lines.append(f"99,{group_total},1,{group_records + 4}/")
    bank.write_text("\n".join(lines) + "\n", encoding="ascii")
    advices = []
    for name, data in world.advice_files:
        advices.append(folder / name)
        advices[-1].write_bytes(data)
    return [bank, *advices]
