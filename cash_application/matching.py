"""The cash-application matcher: from payments, open invoices and customers to decisions.

For each payment it gathers evidence along three axes, each a small named signal with its
reason: who paid (`payer`), which invoices the remittance names (`references`), and how
the amount accounts for them (`amounts`). The combination is an evidence path; the policy
gives each piece an estimated error rate, and the payment is applied on its own only when
the path's estimate stays within the policy's error budget. Everything else becomes an
exception item with ranked suggestions and the reasons for each. Ambiguity never picks a
winner.

Pure: no I/O and no clock. Indexes are built once per run (`build_book`); payments are then
decided in a fixed order (value date, then id), each application consuming the invoice's
open amount, so two payments never take the same cents and the result does not depend on
the order of the inputs. Time is close to linear in payments.

Remittance advices that arrived apart from the money (X12 820, CSV) are first linked to
their payments (`cash_application.remittance_advices.linking`: bank trace, else amount,
date and payer when the pair is mutually unique); a linked advice's invoice lines then
name the invoices as if the payment had carried them, under the same amount reconciliation,
with the link as the decision's first reason and as a piece of its evidence path.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from cash_application import references
from cash_application.amounts import (
    Fit,
    Open,
    deduction_code,
    discount_fits,
    due_date_runs,
    fit_listed,
    has_stand_in,
    in_full,
    subset_sum,
)
from cash_application.book import FAR, Book, build_book
from cash_application.partition import Partition, partition
from cash_application.payer import History, PayerMatch
from cash_application.policy import MatchPolicy, TiePolicy, path_name
from cash_application.remittance_advices.linking import AdviceLink, Linking, link_advices
from mappings.money import Money
from mappings.records import (
    Application,
    Customer,
    Decision,
    ExceptionItem,
    ExceptionReason,
    Invoice,
    Outcome,
    Payment,
    Reason,
    RemittanceAdvice,
    Suggestion,
)

ENGINE_VERSION = "arlink-match/0.2"
MAX_SUGGESTIONS = 5
PROPOSAL_SCORE = 0.95  # the score of a proposal the error budget held back
MAX_LISTED = 12  # the longest run of unlisted invoices a cut-short list is completed with
# Amount readings that a mistyped reference landing on another real invoice could also
# produce: they need the payer to own the invoice before they apply on their own.
NEEDS_PAYER = frozenset({"partial", "short_pay", "overpayment", "write_off", "fx"})


@dataclass(slots=True)
class _Evidence:
    """What is known about one payment while it is being decided."""

    payment: Payment
    payer: PayerMatch
    named: dict[str, str] = field(default_factory=dict)  # invoice id -> text that named it
    ref_kind: str = "none"
    other_customer: bool = False  # named invoices are not the identified payer's
    ambiguous: list[str] = field(default_factory=list)  # texts naming several customers
    # Invoices named only by a weaker kind (PO, sequence) next to stronger references: they
    # count only when the stronger ones leave a remainder they make up exactly.
    weaker: dict[str, str] = field(default_factory=dict)
    advice: AdviceLink | None = None  # the remittance advice that names the invoices

    @property
    def payer_reasons(self) -> tuple[Reason, ...]:
        """The reasons every outcome opens with: the advice link, then who paid."""
        advice = (self.advice.reason,) if self.advice else ()
        return (*advice, *((self.payer.reason,) if self.payer.reason else ()))


def _named_invoices(payment: Payment, payer: PayerMatch, book: Book) -> _Evidence:
    """The invoices the remittance names: exact keys first, then PO numbers, then the payer's
    own sequence numbers, then one-edit typos of the payer's (or, payer unknown, same-amount)
    invoices. With the payer known, numbers of other customers' invoices are set aside as
    likely typos unless nothing of the payer's is named."""
    evidence = _Evidence(payment, payer)
    texts = _texts(payment)
    by_kind: dict[str, dict[str, str]] = {"exact": {}, "po": {}, "sequence": {}}
    foreign: dict[str, str] = {}
    for found in book.indexed_refs(texts):
        hits = book.with_key(found.key)
        if payer.known:
            own = tuple(i for i in hits if book.invoices[i].customer_id in payer.customers)
            if not own:
                if found.kind == "exact":
                    for invoice_id in hits:
                        foreign.setdefault(invoice_id, found.text)
                continue
            hits = own
        elif found.kind == "sequence":
            continue  # a bare sequence number means something only among the payer's invoices
        if len({book.invoices[i].customer_id for i in hits}) > 1:
            evidence.ambiguous.append(found.text)
        for invoice_id in hits:
            by_kind[found.kind].setdefault(invoice_id, found.text)
    kinds = [kind for kind in ("exact", "po", "sequence") if by_kind[kind]]
    if kinds:
        evidence.named, evidence.ref_kind = by_kind[kinds[0]], kinds[0]
        evidence.weaker = {
            invoice_id: text
            for kind in kinds[1:]
            for invoice_id, text in by_kind[kind].items()
            if invoice_id not in evidence.named
        }
    if evidence.ambiguous or (evidence.named and not foreign):
        return evidence
    resolved = {book.comparable_number(i) for i in evidence.named}
    typos = _typos(texts, payment, payer, book, resolved)
    if typos:
        if not evidence.named:
            evidence.ref_kind = "one_edit"
        evidence.named = {**typos, **evidence.named}
        if evidence.ref_kind != "one_edit":
            evidence.ref_kind = "exact_and_one_edit"
    elif not evidence.named and foreign:
        evidence.named, evidence.ref_kind, evidence.other_customer = foreign, "exact", True
        if len({book.invoices[i].customer_id for i in foreign}) > 1:
            evidence.ambiguous.extend(sorted(set(foreign.values())))
    return evidence


def _typos(
    texts: Sequence[str],
    payment: Payment,
    payer: PayerMatch,
    book: Book,
    resolved: Collection[str] = (),
) -> dict[str, str]:
    """Invoices one edit away from a number-like token that named nothing: among the payer's
    open invoices, or with the payer unknown, among open invoices whose amount equals the
    payment's. Of several, the one whose open amount equals the payment is kept if unique."""
    tokens = [
        token
        for token in references.candidate_typos(texts)
        if token not in resolved and references.shape(token) in book.shapes
    ]
    if not tokens:
        return {}
    if payer.known:
        pool = sorted(
            {
                invoice_id
                for cid in payer.customers
                for token in tokens
                for invoice_id in book.one_edit_of(cid, token)
            }
        )
    else:
        pool = [
            i
            for i in book.with_open_amount(payment.amount.minor)
            if book.open_minor[i] == payment.amount.minor
        ]
    found: dict[str, str] = {}
    for invoice_id in pool:
        if book.open_minor[invoice_id] <= 0:
            continue
        number = book.comparable_number(invoice_id)
        for token in tokens:
            if references.one_edit(token, number):
                found.setdefault(invoice_id, token)
    if len(found) > 1:
        exact = {i: t for i, t in found.items() if book.open_minor[i] == payment.amount.minor}
        if len(exact) == 1:
            return exact
    return found


def _suggestions(payment: Payment, book: Book, evidence: _Evidence) -> tuple[Suggestion, ...]:
    """Rank invoices a clerk may want: those the remittance names, then invoices of the
    payer with the payment's amount, then anyone's invoices with that amount."""
    scored: dict[str, Suggestion] = {}
    for invoice_id, text in evidence.named.items():
        invoice = book.invoices[invoice_id]
        scored[invoice_id] = Suggestion(
            invoice_id,
            0.9,
            (Reason("invoice_ref_found", f"invoice number {invoice.number} found as {text!r}"),),
        )
    paid = payment.amount
    for invoice_id in sorted(book.with_open_amount(paid.minor)):
        invoice = book.invoices[invoice_id]
        if invoice_id in scored or invoice.currency != paid.currency:
            continue
        if book.open_minor[invoice_id] != paid.minor:
            continue  # an earlier payment of this run consumed it
        reasons = [Reason("amount_equals_open", f"open amount equals {paid}")]
        same_payer = invoice.customer_id in evidence.payer.customers
        if same_payer:
            reasons.append(Reason("payer_known", f"invoice belongs to payer {invoice.customer_id}"))
        scored[invoice_id] = Suggestion(invoice_id, 0.6 if same_payer else 0.3, tuple(reasons))
    ranked = sorted(
        scored.values(),
        key=lambda s: (-s.score, book.invoices[s.invoice_id].due_date or FAR, s.invoice_id),
    )
    return tuple(ranked[:MAX_SUGGESTIONS])


def _exception(
    payment: Payment,
    book: Book,
    evidence: _Evidence,
    reason: ExceptionReason,
    why: tuple[Reason, ...],
    proposal: Fit | None = None,
) -> Decision:
    reasons = (*evidence.payer_reasons, *why)
    suggestions = _suggestions(payment, book, evidence)
    if proposal is not None:
        # The proposal the budget held back goes first, with everything that supports it.
        first = tuple(
            Suggestion(a.invoice_id, PROPOSAL_SCORE, (*why, *proposal.reasons))
            for a in proposal.applications
        )
        held = {s.invoice_id for s in first}
        suggestions = (*first, *(s for s in suggestions if s.invoice_id not in held))[
            :MAX_SUGGESTIONS
        ]
    item = ExceptionItem(payment.payment_id, reason, payment.amount, suggestions, reasons)
    return Decision(
        payment.payment_id,
        Outcome.EXCEPTION,
        0.0,
        ENGINE_VERSION,
        exception=item,
        reasons=reasons,
    )


def _ref_reasons(book: Book, evidence: _Evidence, invoice_ids: Iterable[str]) -> tuple[Reason, ...]:
    kind = evidence.ref_kind
    reasons = []
    for invoice_id in invoice_ids:
        text = evidence.named.get(invoice_id)
        if text is None:
            continue
        number = book.invoices[invoice_id].number
        if kind == "exact":
            reasons.append(
                Reason("invoice_ref_found", f"invoice number {number} found in remittance")
            )
        elif kind == "one_edit":
            reasons.append(
                Reason(
                    "invoice_ref_one_edit",
                    f"invoice number {number} found as {text!r}, edit distance 1",
                )
            )
        elif kind == "po":
            reasons.append(Reason("po_number_found", f"PO number of {number} found as {text!r}"))
        else:
            reasons.append(Reason("sequence_found", f"sequence of {number} found as {text!r}"))
    if evidence.other_customer:
        reasons.append(
            Reason(
                "ref_other_customer",
                "named invoices belong to another customer than the identified payer",
            )
        )
    return tuple(reasons)


def _apply(
    payment: Payment, book: Book, evidence: _Evidence, fit: Fit, signals: tuple[str, ...]
) -> Decision:
    """Apply `fit` when its evidence path is within the error budget, else propose it."""
    policy = book.policy
    error = policy.path_error(signals)
    path = Reason(EVIDENCE_PATH, path_name(signals))
    why = (
        *_ref_reasons(book, evidence, (a.invoice_id for a in fit.applications)),
        *fit.reasons,
        path,
    )
    if error > policy.error_budget:
        over = Reason(
            "over_error_budget",
            f"evidence path {path.text} has estimated error {error:.2%}, budget "
            f"{policy.error_budget:.2%}",
        )
        return _exception(
            payment, book, evidence, ExceptionReason.LOW_CONFIDENCE, (over, path), fit
        )
    for application in fit.applications:
        book.open_minor[application.invoice_id] -= _settled(application, fit.kind, book)
    reasons = (*evidence.payer_reasons, *why)
    confidence = round(1.0 - error, 6)
    if fit.remainder == 0:
        return Decision(
            payment.payment_id,
            Outcome.APPLIED,
            confidence,
            ENGINE_VERSION,
            applications=fit.applications,
            reasons=reasons,
        )
    remainder = Money(fit.remainder, payment.amount.currency)
    item = ExceptionItem(payment.payment_id, ExceptionReason.OVERPAYMENT, remainder, (), reasons)
    return Decision(
        payment.payment_id,
        Outcome.PARTIALLY_APPLIED,
        confidence,
        ENGINE_VERSION,
        applications=fit.applications,
        exception=item,
        reasons=reasons,
    )


EVIDENCE_PATH = "evidence_path"  # the reason code that carries a decision's evidence path


def outcome(decision: Decision, applied_invoices: Collection[str]) -> tuple[str, bool] | None:
    """What a clerk's resolution teaches about `decision`'s evidence path: the path, and
    whether its reading (applied, or proposed and held back) named exactly the invoices
    the clerk applied. None when the decision had no reading to judge."""
    path = next((r.text for r in decision.reasons if r.code == EVIDENCE_PATH), None)
    if path is None:
        return None
    read = {a.invoice_id for a in decision.applications}
    if not read and decision.exception is not None:
        read = {s.invoice_id for s in decision.exception.suggestions if s.score == PROPOSAL_SCORE}
    return path, read == set(applied_invoices)


def _settled(application: Application, kind: str, book: Book) -> int:
    """How much of the invoice's open amount `application` settles."""
    open_minor = book.open_minor[application.invoice_id]
    if kind in ("partial", "short_pay"):
        return application.amount.minor
    invoice = book.invoices[application.invoice_id]
    if kind == "advice_lines" and application.amount.currency == invoice.currency:
        # Line by line: a short-paid line leaves its rest open, as a short pay does.
        settled = application.amount + (application.discount or Money.zero(invoice.currency))
        settled += application.write_off or Money.zero(invoice.currency)
        return min(settled.minor, open_minor)
    return open_minor


def _signals(
    evidence: _Evidence, amount_kind: str, *, typo_checked: bool = False
) -> tuple[str, ...]:
    """The evidence path of a reading: payer, reference and amount signals."""
    # A payer whose own invoice the remittance names is corroborated by it: its weaker
    # evidence (a fuzzy name) then no longer carries the decision.
    corroborated = evidence.payer.known and not evidence.other_customer
    named = evidence.ref_kind != "none"
    payer = "corroborated" if corroborated and named else evidence.payer.evidence
    signals = [f"payer:{payer}", f"ref:{evidence.ref_kind}", f"amount:{amount_kind}"]
    if evidence.other_customer:
        signals.append("ref:other_customer")
    if evidence.advice is not None:
        signals.append(f"advice:{evidence.advice.by}")
    if amount_kind in NEEDS_PAYER and not corroborated:
        # Unknown payer: safe only when no same-amount invoice is one edit from the number.
        unknown_checked = typo_checked and not evidence.payer.known
        signals.append("amount:no_typo_alternative" if unknown_checked else "amount:uncorroborated")
    return tuple(signals)


def decide(payment: Payment, book: Book) -> Decision:
    """Decide one payment against the book, consuming what it applies."""
    link = book.advice_links.get(payment.payment_id)
    if link is not None:
        # The advice's lines name the invoices; the payment's own text still counts.
        lines = (*link.advice.lines, *payment.remittance_lines)
        payment = replace(payment, remittance_lines=lines)
    payer = book.payers.identify(payment.payer_name, payment.payer_account)
    evidence = _named_invoices(payment, payer, book)
    evidence.advice = link
    if evidence.ambiguous:
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.AMBIGUOUS,
            (
                Reason(
                    "ambiguous_ref",
                    f"{', '.join(sorted(set(evidence.ambiguous)))} names invoices of "
                    "several customers",
                ),
            ),
        )
    if evidence.named:
        return _decide_named(payment, book, evidence)
    return _decide_by_amount(payment, book, evidence)


def _decide_named(payment: Payment, book: Book, evidence: _Evidence) -> Decision:
    """The remittance names invoices: read the amount against them."""
    named = sorted(evidence.named, key=lambda i: (book.invoices[i].due_date or FAR, i))
    still_open = [i for i in named if book.open_minor[i] > 0]
    paid = payment.amount
    if not still_open:
        paid_before = [i for i in named if book.invoices[i].status != "open"]
        what = "were paid before" if paid_before else "were already paid by earlier payments"
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.DUPLICATE,
            (
                *_ref_reasons(book, evidence, named),
                Reason("already_applied", f"named invoices {what}"),
            ),
        )
    items = book.open_items(still_open)
    convertible = all(
        item.invoice.currency == paid.currency or item.invoice.currency in book.fx_rates
        for item in items
    )
    if not convertible or (
        len(items) > 1 and any(i.invoice.currency != paid.currency for i in items)
    ):
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.CURRENCY_MISMATCH,
            (
                Reason(
                    "currency_differs",
                    f"named invoices are not in {paid.currency} and no rate applies",
                ),
            ),
        )
    code = deduction_code(payment.remittance) or next(
        (line.reason_code for line in payment.remittance_lines if line.reason_code), None
    )
    fit = fit_listed(items, paid, payment.value_date, book.policy, code, book.fx_rates)
    if fit is None and len(items) > 1 and evidence.advice is not None:
        fit = _fit_advice_lines(payment, book, evidence.advice, items)
    if fit is not None and fit.kind == "overpayment":
        fit = _complete_list(payment, book, evidence, items, fit)
    if fit is None:
        total = Money(sum(item.open_minor for item in items), items[0].invoice.currency)
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.AMOUNT_MISMATCH,
            (
                *_ref_reasons(book, evidence, still_open),
                Reason("amount_below_open", f"amount {paid} is less than the open amount {total}"),
            ),
        )
    if fit.kind in NEEDS_PAYER and _typo_alternative(payment, book, evidence):
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.AMBIGUOUS,
            (
                Reason(
                    "typo_alternative",
                    "another invoice, one edit away from the named number, has exactly this "
                    "amount: the named number may be mistyped",
                ),
            ),
            fit,
        )
    return _apply(payment, book, evidence, fit, _signals(evidence, fit.kind, typo_checked=True))


def _fit_advice_lines(
    payment: Payment, book: Book, link: AdviceLink, items: list[Open]
) -> Fit | None:
    """Several invoices paid short of their total: the advice's own lines, when each names
    one of them with its amount paid and the lines add up to the payment, are each read as
    a payment of that invoice (discount, write-off, short pay with the line's reason code,
    partial). Any line that does not read so sends the payment to review."""
    lines = link.advice.lines
    paid = payment.amount
    amounts = [line.amount_paid for line in lines]
    if any(a is None or a.currency != paid.currency for a in amounts):
        return None
    if sum(a.minor for a in amounts if a is not None) != paid.minor:
        return None
    by_id = {item.invoice.invoice_id: item for item in items}
    applications: list[Application] = []
    reasons: list[Reason] = []
    for line in lines:
        hits = {
            invoice_id
            for found in book.indexed_refs([line.invoice_ref])
            if found.kind == "exact"
            for invoice_id in book.with_key(found.key)
            if invoice_id in by_id
        }
        if len(hits) != 1 or line.amount_paid is None:
            return None
        (invoice_id,) = hits
        fit = fit_listed(
            [by_id.pop(invoice_id)],
            line.amount_paid,
            payment.value_date,
            book.policy,
            line.reason_code,
            book.fx_rates,
        )
        if fit is None or fit.remainder:
            return None
        applications.extend(fit.applications)
        number = book.invoices[invoice_id].number
        reasons.extend(Reason(r.code, f"{number}: {r.text}") for r in fit.reasons)
    if by_id:
        return None  # a named invoice no line pays
    return Fit("advice_lines", tuple(applications), 0, tuple(reasons))


def _texts(payment: Payment) -> list[str]:
    return [payment.remittance, *(line.invoice_ref for line in payment.remittance_lines)]


def _complete_list(
    payment: Payment, book: Book, evidence: _Evidence, listed: list[Open], fit: Fit
) -> Fit:
    """The named invoices leave a remainder: the remittance holds a number written another
    way or mistyped, or a list was cut short. Applied on its own only when a unique set
    makes up the remainder exactly: first of invoices the remittance names more weakly (PO
    or sequence number, one-edit typo of the payer's numbers), else, for a list, of the
    payer's other open invoices. With the payer unknown, the owner of every listed invoice
    stands in. A single invoice with nothing else named stays an over-payment. No weaker
    reference counts when a listed number has a same-amount twin (`_has_twin`)."""
    payer = evidence.payer
    if not payer.known:
        owners = frozenset(item.invoice.customer_id for item in listed)
        payer = PayerMatch(owners, "named") if len(owners) == 1 else payer
    listed_ids = [item.invoice.invoice_id for item in listed]
    completed = None
    if payer.known and not _has_twin(book, payer, listed_ids):
        completed = _with_weaker(payment, book, evidence, payer, listed, fit)
    if completed is None and payer.known and len(listed) > 1:
        completed = _with_unlisted(payment, book, payer, listed, fit)
    if completed is None and len(listed) > 1:
        completed = Fit("list_remainder", fit.applications, fit.remainder, fit.reasons)
    return completed or fit


MAX_WEAKER = 16  # more weakly named invoices than this are not searched for a set


def _with_weaker(
    payment: Payment,
    book: Book,
    evidence: _Evidence,
    payer: PayerMatch,
    listed: list[Open],
    fit: Fit,
) -> Fit | None:
    """The remainder is exactly one set of the payer's open invoices that the remittance
    names by PO or sequence number, or by a number one edit from theirs."""
    listed_ids = {item.invoice.invoice_id for item in listed}
    resolved = {book.comparable_number(i) for i in evidence.named}
    named = {**_typos(_texts(payment), payment, payer, book, resolved), **evidence.weaker}
    currency = payment.amount.currency
    pool = [
        Open(book.invoices[i], book.open_minor[i])
        for i in sorted(named)
        if i not in listed_ids
        and book.open_minor[i] > 0
        and book.invoices[i].customer_id in payer.customers
        and book.invoices[i].currency == currency
    ]
    if not pool or len(pool) > MAX_WEAKER:
        return None
    solutions, _ = subset_sum(pool, fit.remainder, len(pool), MAX_WEAKER, min_invoices=1)
    if len(solutions) != 1:
        return None
    extra = solutions[0]
    found = ", ".join(
        f"{item.invoice.number} as {named[item.invoice.invoice_id]!r}" for item in extra
    )
    return Fit(
        "listed_plus_named",
        (*fit.applications, *in_full(extra, currency)),
        0,
        (
            Reason(
                "weaker_refs",
                f"the listed invoices leave {Money(fit.remainder, currency)}, exactly the open "
                f"amount of {found} (the only such set of the other numbers named)",
            ),
        ),
    )


def _has_twin(book: Book, payer: PayerMatch, invoice_ids: Collection[str]) -> bool:
    """Whether one of `invoice_ids` has an unlisted twin: an open invoice of the payer one
    edit from its number with the same open amount. A list that holds a mistyped number
    may then have landed on the twin, and nothing in the amount tells them apart."""
    for invoice_id in invoice_ids:
        number = book.comparable_number(invoice_id)
        for cid in payer.customers:
            for other in book.one_edit_of(cid, number):
                same = book.open_minor[other] == book.open_minor[invoice_id]
                if same and other not in invoice_ids:
                    return True
    return False


def _with_unlisted(
    payment: Payment, book: Book, payer: PayerMatch, listed: list[Open], fit: Fit
) -> Fit | None:
    """A list cut short (ACH addenda stop at 80 characters): the rest of the amount may be
    exactly one set of the payer's other open invoices."""
    listed_ids = {item.invoice.invoice_id for item in listed}
    others = [
        item
        for item in _payer_open(book, payer, payment.amount.currency)
        if item.invoice.invoice_id not in listed_ids
    ]
    policy = book.policy
    currency = payment.amount.currency
    # The rest may be up to a whole list long: every set size up to that counts, both
    # in the search and in the chance of a set hitting the amount by accident.
    longest = max(1, MAX_LISTED - len(listed))
    solutions, exhaustive = subset_sum(
        others,
        fit.remainder,
        longest,
        policy.subset_sum_max_candidates,
        min_invoices=1,
        max_chance=policy.subset_sum_max_chance,
    )
    kind, what = "listed_plus_unlisted", "the only such set"
    if not exhaustive or len(solutions) != 1:
        # Not provably unique: a list is usually cut at the end of a run of invoices
        # adjacent by due date, so one such run (of any length up to a long list) may do.
        solutions = due_date_runs(others, fit.remainder, MAX_LISTED, min_invoices=1)
        kind, what = "listed_plus_run", "the only run of them adjacent by due date"
    if len(solutions) != 1 or has_stand_in(solutions[0], others):
        return None
    extra = solutions[0]
    numbers = ", ".join(item.invoice.number for item in extra)
    return Fit(
        kind,
        (*fit.applications, *in_full(extra, currency)),
        0,
        (
            Reason(
                "unlisted_invoices",
                f"the listed invoices leave {Money(fit.remainder, currency)}, exactly the open "
                f"amount of {numbers} ({what})",
            ),
        ),
    )


def _typo_alternative(payment: Payment, book: Book, evidence: _Evidence) -> bool:
    """An invoice one edit away from a named number whose open amount the payment equals
    (among the payer's invoices, or anyone's when the payer is unknown): then the named
    invoice may be a typo that landed on a real one."""
    texts = _texts(payment)
    neighbours = _typos(texts, payment, evidence.payer, book)
    return any(
        book.open_minor[i] == payment.amount.minor and i not in evidence.named for i in neighbours
    )


def _payer_open(book: Book, payer: PayerMatch, currency: str) -> list[Open]:
    return [
        Open(book.invoices[i], book.open_minor[i])
        for cid in sorted(payer.customers)
        for i in book.by_customer.get(cid, ())
        if book.open_minor[i] > 0 and book.invoices[i].currency == currency
    ]


def _decide_by_amount(payment: Payment, book: Book, evidence: _Evidence) -> Decision:
    """Nothing named: the amount alone, among the identified payer's open invoices."""
    paid = payment.amount
    no_ref = Reason("no_invoice_ref", "no invoice number found in remittance")
    if not evidence.payer.known:
        return _exception(payment, book, evidence, ExceptionReason.UNKNOWN_PAYER, (no_ref,))
    candidates = _payer_open(book, evidence.payer, paid.currency)
    singles = [item for item in candidates if item.open_minor == paid.minor]
    policy = book.policy
    if len(singles) > 1:
        if policy.tie_policy is TiePolicy.OLDEST:
            oldest = singles[0]  # candidates are in due-date order
            return _apply(
                payment,
                book,
                evidence,
                _exact_fit(oldest, paid, "oldest_of_equal", len(singles)),
                _signals(evidence, "oldest_of_equal"),
            )
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.AMBIGUOUS,
            (
                no_ref,
                Reason("equal_amounts", f"{len(singles)} open invoices of the payer equal {paid}"),
            ),
        )
    if len(singles) == 1:
        return _apply(
            payment,
            book,
            evidence,
            _exact_fit(singles[0], paid, "unique_amount", 1),
            _signals(evidence, "unique_amount"),
        )
    discounted = [
        item for item in candidates if discount_fits(item, paid.minor, payment.value_date, policy)
    ]
    if len(discounted) == 1:
        fit = fit_listed(discounted, paid, payment.value_date, policy, None, book.fx_rates)
        if fit is not None and fit.kind == "discount":
            return _apply(payment, book, evidence, fit, _signals(evidence, "discount"))
    if discounted:
        return _exception(
            payment,
            book,
            evidence,
            ExceptionReason.AMBIGUOUS,
            (
                no_ref,
                Reason(
                    "equal_discounts",
                    f"{len(discounted)} open invoices of the payer fit {paid} less a discount",
                ),
            ),
        )
    solutions, exhaustive = subset_sum(
        candidates,
        paid.minor,
        policy.subset_sum_max_invoices,
        policy.subset_sum_max_candidates,
        max_chance=policy.subset_sum_max_chance,
    )
    if len(solutions) == 1 and not has_stand_in(solutions[0], candidates):
        chosen = solutions[0]
        numbers = ", ".join(item.invoice.number for item in chosen)
        what = (
            "the only such set of the payer's open invoices"
            if exhaustive
            else "the only run of the payer's invoices adjacent by due date to do so"
        )
        fit = Fit(
            "subset_sum" if exhaustive else "due_date_run",
            in_full(chosen, paid.currency),
            0,
            (Reason("unique_subset", f"amount equals the sum of {numbers}, {what}"),),
        )
        return _apply(payment, book, evidence, fit, _signals(evidence, fit.kind))
    why = (
        "several sets of the payer's open invoices sum to it"
        if solutions
        else "no open invoice or set of them fits"
    )
    return _exception(
        payment,
        book,
        evidence,
        ExceptionReason.AMBIGUOUS if solutions else ExceptionReason.NO_CANDIDATE,
        (no_ref, Reason("amount_unmatched", f"amount {paid}: {why}")),
    )


def _exact_fit(item: Open, paid: Money, kind: str, among: int) -> Fit:
    text = (
        f"amount equals the open amount of {item.invoice.number}, the payer's only such invoice"
        if among == 1
        else f"amount equals {among} open invoices of the payer; the oldest is taken (tie policy)"
    )
    return Fit(kind, in_full((item,), paid.currency), 0, (Reason("amount_equals_open", text),))


def _advice_payers(advice: RemittanceAdvice, book: Book) -> frozenset[str]:
    """The customers an advice may come from: its payer id when that is a customer's, its
    payer's name and account, and the owners of the invoices it names exactly."""
    found = set(book.payers.identify(advice.payer_name, advice.payer_account).customers)
    if advice.payer_id and advice.payer_id in book.payers.names:
        found.add(advice.payer_id)
    texts = [line.invoice_ref for line in advice.lines]
    for named in book.indexed_refs(texts):
        if named.kind == "exact":
            found.update(book.invoices[i].customer_id for i in book.with_key(named.key))
    return frozenset(found)


def link_to_payments(
    payments: Sequence[Payment], advices: Sequence[RemittanceAdvice], book: Book
) -> Linking:
    """Link `advices` to `payments` (see `remittance_advices.linking`) and keep the links in
    the book, so `decide` reads each linked payment with its advice's lines."""

    def payer_of(record: RemittanceAdvice | Payment) -> frozenset[str]:
        if isinstance(record, RemittanceAdvice):
            return _advice_payers(record, book)
        return book.payers.identify(record.payer_name, record.payer_account).customers

    def names_invoices(payment: Payment) -> bool:
        return any(found.kind in ("exact", "po") for found in book.indexed_refs(_texts(payment)))

    linking = link_advices(
        payments,
        advices,
        payer_of,
        window_days=book.policy.advice_date_window_days,
        names_invoices=names_invoices,
    )
    book.advice_links.update(linking.links)
    return linking


@dataclass(slots=True)
class PhaseOne:
    """The decisions of the payments attributed to customer groups, and the open amounts
    they left (invoice id -> open minor units, for the invoices they changed)."""

    decisions: list[Decision]
    after: dict[str, int]


def plan_two_phases(
    payments: Sequence[Payment], book: Book, advices: Sequence[RemittanceAdvice] = ()
) -> Partition:
    """Link `advices` to `payments` (`link_to_payments`), then split the payments, in
    decision order (value date, id), into customer groups and the unattributed rest."""
    if advices:
        link_to_payments(payments, advices, book)
    ordered = sorted(payments, key=lambda p: (p.value_date or FAR, p.payment_id))
    return partition(ordered, book)


def decide_groups(
    groups: Mapping[str, Sequence[Payment]], members: Mapping[str, Collection[str]], book: Book
) -> PhaseOne:
    """Phase one: each group's payments in order against the book as it was before phase
    one, so a group's decisions depend on nothing another group decided (whichever shard
    or order the groups come in); then every group's consumption is kept in the book."""
    found = PhaseOne([], {})
    for key, payments in groups.items():
        own = {i: book.open_minor[i] for cid in members[key] for i in book.by_customer.get(cid, ())}
        decided = [decide(payment, book) for payment in payments]
        for decision in decided:
            for application in decision.applications:
                if application.invoice_id not in own:
                    raise ValueError(
                        f"payment {decision.payment_id} of customer group {key} applied to "
                        f"invoice {application.invoice_id} outside it: not a valid partition"
                    )
        for invoice_id, minor in own.items():
            if book.open_minor[invoice_id] != minor:
                found.after[invoice_id] = book.open_minor[invoice_id]
                book.open_minor[invoice_id] = minor  # the next group sees it as it was
        found.decisions.extend(decided)
    book.open_minor.update(found.after)
    return found


def decide_payments(
    payments: Sequence[Payment], book: Book, advices: Sequence[RemittanceAdvice] = ()
) -> list[Decision]:
    """One decision per payment, in the order of `payments`, with `advices` linked to them
    first. Two phases (`plan_two_phases`): the payments attributed to a customer group,
    group by group (`decide_groups`), then the rest in order against what they left. The
    phases are the definition, so deciding the groups on any number of shards gives the
    same decisions."""
    plan = plan_two_phases(payments, book, advices)
    first = decide_groups(plan.groups, plan.members, book)
    rest = [decide(payment, book) for payment in plan.unattributed]
    decisions = {decision.payment_id: decision for decision in (*first.decisions, *rest)}
    return [decisions[payment.payment_id] for payment in payments]


def match_payments(
    payments: Sequence[Payment],
    invoices: Sequence[Invoice],
    customers: Sequence[Customer],
    policy: MatchPolicy | None = None,
    history: History | None = None,
    *,
    fx_rates: Mapping[str, Decimal] | None = None,
    advices: Sequence[RemittanceAdvice] = (),
) -> list[Decision]:
    """One decision per payment, in the order of `payments`; remittance `advices` that
    arrived apart from the money are linked to them first."""
    book = build_book(invoices, customers, policy, history, fx_rates=fx_rates)
    return decide_payments(payments, book, advices)
