"""Cash-application quality and scale: arlink's matcher against the anchors' rules.

    python -m bench.matching --size small|large [--json] [--seed N]

Generates the labelled data set (`bench.matching_data`, the reference spec) in a child
process, which saves it to a temporary file; this process then loads it (reads the file
into canonical records: the spec's "load") and runs, on the same records, an Odoo-style
baseline, an ERPNext-style baseline and arlink's matcher, and scores each against the truth:
auto-apply rate, precision (set, strict, lenient), misapplied and incomplete per 10,000
applied, exception rate, load / index / match seconds (and CPU seconds) and peak RSS.
`--dump-decisions FILE` writes arlink's decisions, to show a change decides the same.

arlink runs three times: with the clerks' history (payer accounts and aliases they resolved,
and the outcomes of past periods, which recalibrate which evidence paths may apply on their
own), with the payer history only (`arlink_no_calibration`), and without history.
The past periods are small worlds of other seeds, decided by arlink and judged against
what the clerk applied (their truth). Peak RSS is the process high-water mark, reset before each
matcher where the kernel allows it (`/proc/self/clear_refs`), so it includes the data.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.matching_baselines import Applied, ERPNextLike, OdooLike
from bench.matching_data import FX_RATES, Loaded, World, generate, generate_to, load, read
from cash_application.book import build_book
from cash_application.matching import decide_payments, outcome
from cash_application.payer import History
from cash_application.policy import MatchPolicy
from mappings.records import Decision, Payment


def _reset_peak() -> None:
    # Not Linux, or not allowed: the peak is then the process's so far.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def applied_from(decisions: Sequence[Decision]) -> dict[str, Applied]:
    """arlink's decisions in the benchmark's terms: cash per invoice, and cash on account."""
    results = {}
    for decision in decisions:
        result = Applied()
        for application in decision.applications:
            result.invoices[application.invoice_id] = (
                result.invoices.get(application.invoice_id, 0) + application.amount.minor
            )
        if decision.applications and decision.exception is not None:
            result.on_account = decision.exception.amount.minor
        results[decision.payment_id] = result
    return results


def score(world: World, loaded: Loaded, results: dict[str, Applied]) -> dict[str, object]:
    """Score one matcher's results against the world's truth (rates as fractions)."""
    invoice_key = {
        inv.invoice_id: (inv.customer_id, inv.open_amount.minor) for inv in loaded.invoices
    }
    total = len(world.payments)
    applied = correct = strict = lenient = misapplied = incomplete = 0
    needed = avoidable = 0
    amount_all = amount_applied = 0
    wrong_by_scenario: Counter[str] = Counter()
    missed_by_scenario: Counter[str] = Counter()
    for payment in world.payments:
        truth = world.truth[payment.payment_id]
        result = results[payment.payment_id]
        amount_all += payment.amount
        if not result.invoices:
            if truth.apply:
                avoidable += 1
                missed_by_scenario[truth.scenario] += 1
            else:
                needed += 1
            continue
        applied += 1
        amount_applied += payment.amount
        got, want = set(result.invoices), set(truth.invoices)
        if not truth.apply or got - want:
            misapplied += 1
            wrong_by_scenario[truth.scenario] += 1
        elif got != want:
            incomplete += 1
        else:
            correct += 1
            exact = all(abs(result.invoices[i] - truth.invoices[i]) <= 1 for i in want)
            strict += exact and abs(result.on_account - truth.on_account) <= 1
        if truth.apply and Counter(invoice_key[i] for i in got) == Counter(
            invoice_key[i] for i in want
        ):
            lenient += 1
    per_10k = 10_000 / applied if applied else 0.0
    return {
        "auto_apply_rate": applied / total,
        "auto_apply_rate_by_amount": amount_applied / amount_all,
        "ceiling": sum(t.apply for t in world.truth.values()) / total,
        "precision_set": correct / applied if applied else 1.0,
        "precision_strict": strict / applied if applied else 1.0,
        "precision_lenient": lenient / applied if applied else 1.0,
        "misapplied_per_10k_applied": misapplied * per_10k,
        "incomplete_per_10k_applied": incomplete * per_10k,
        "exception_rate": (needed + avoidable) / total,
        "exception_rate_needed": needed / total,
        "exception_rate_avoidable": avoidable / total,
        "misapplied_by_scenario": dict(sorted(wrong_by_scenario.items())),
        "missed_by_scenario": dict(sorted(missed_by_scenario.items())),
    }


def _arlink(
    history: History | None, kept: list[Decision] | None = None
) -> Callable[[Loaded], Callable[[], dict[str, Applied]]]:
    """arlink with `history`; its decisions are also appended to `kept` when given."""

    def index(loaded: Loaded) -> Callable[[], dict[str, Applied]]:
        book = build_book(
            loaded.invoices, loaded.customers, MatchPolicy(), history, fx_rates=FX_RATES
        )

        def match() -> dict[str, Applied]:
            # Only arlink reads remittance advices: the anchors have no such feature.
            decisions = decide_payments(loaded.payments, book, loaded.advices)
            if kept is not None:
                kept.extend(decisions)
            return applied_from(decisions)

        return match

    return index


def dump_decisions(decisions: dict[str, list[Decision]], path: Path) -> None:
    """Write every arlink decision, whole (applications, exception, suggestions, reasons),
    one line per matcher and payment in sorted order: two runs decided the same iff their
    files are equal, which is how a speed-up is shown to change no decision."""
    with path.open("w", encoding="utf-8") as out:
        for name, kept in sorted(decisions.items()):
            for decision in sorted(kept, key=lambda d: d.payment_id):
                out.write(f"{name}\t{decision.payment_id}\t{decision!r}\n")


def _odoo(world: World) -> Callable[[Loaded], Callable[[], dict[str, Applied]]]:
    learned = [(account, customer) for _, account, customer in world.resolutions]

    def index(loaded: Loaded) -> Callable[[], dict[str, Applied]]:
        matcher = OdooLike.index(loaded.invoices, loaded.customers, learned)
        return lambda: matcher.match(_in_date_order(loaded.payments))

    return index


def _erpnext(loaded: Loaded) -> Callable[[], dict[str, Applied]]:
    matcher = ERPNextLike.index(loaded.invoices, loaded.customers)
    return lambda: matcher.match(_in_date_order(loaded.payments))


def _in_date_order(payments: Sequence[Payment]) -> list[Payment]:
    return sorted(payments, key=lambda p: (p.value_date, p.payment_id))


PAST_PERIODS = 5  # small worlds of past clerk work whose outcomes calibrate the paths


def history_of(world: World, outcomes: tuple[tuple[str, bool], ...] = ()) -> History:
    """The clerks' past resolutions (and past decisions' outcomes) as the learning input."""
    return History(tuple(world.resolutions), outcomes)


def past_outcomes(seed: int, periods: int = PAST_PERIODS) -> tuple[tuple[str, bool], ...]:
    """Each evidence path arlink took in `periods` past periods (small worlds of other
    seeds), and whether its reading was what the clerk applied (the period's truth)."""
    found = []
    for period in range(1, periods + 1):
        world = generate("small", seed * 31 + period)
        loaded = load(world)
        book = build_book(
            loaded.invoices, loaded.customers, MatchPolicy(), history_of(world), fx_rates=FX_RATES
        )
        for decision in decide_payments(loaded.payments, book, loaded.advices):
            truth = world.truth[decision.payment_id]
            judged = outcome(decision, truth.invoices if truth.apply else ())
            if judged is not None:
                found.append(judged)
    return tuple(found)


def run(
    size: str, seed: int, only: Sequence[str] = (), dump: Path | None = None
) -> dict[str, object]:
    """Generate, load, and run every matcher (or those in `only`); return the report. With
    `dump`, arlink's decisions are written there (`dump_decisions`)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arlink-bench-") as folder:
        path = Path(folder) / f"{size}-{seed}.pickle"
        # The generator runs in a child process: its memory (a million rows and the
        # bookkeeping that made them) is never part of what is measured here.
        child = multiprocessing.get_context("spawn").Process(
            target=generate_to, args=(size, seed, path)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"generating the {size} data set failed ({child.exitcode})")
        generate_seconds = time.perf_counter() - started
        started = time.perf_counter()
        load_cpu = time.process_time()
        world, loaded = read(path)
    # The records live as long as the run: the collector need not walk them again.
    gc.freeze()
    load_seconds = time.perf_counter() - started
    load_cpu = time.process_time() - load_cpu
    kept: dict[str, list[Decision]] = {}

    def keep(name: str) -> list[Decision] | None:
        return kept.setdefault(name, []) if dump is not None else None

    matchers = {
        "arlink": _arlink(history_of(world, past_outcomes(seed)), keep("arlink")),
        "arlink_no_calibration": _arlink(history_of(world), keep("arlink_no_calibration")),
        "arlink_no_history": _arlink(None, keep("arlink_no_history")),
        "odoo_like": _odoo(world),
        "erpnext_like": _erpnext,
    }
    world.customers.clear()  # scoring needs only the payments and the truth
    report: dict[str, object] = {}
    for name, index in matchers.items():
        if only and name not in only:
            continue
        _reset_peak()
        cpu = time.process_time()
        started = time.perf_counter()
        match = index(loaded)
        indexed = time.perf_counter()
        results = match()
        done = time.perf_counter()
        figures = score(world, loaded, results)
        figures.update(
            load_seconds=round(load_seconds, 3),
            index_seconds=round(indexed - started, 3),
            match_seconds=round(done - indexed, 3),
            seconds_total=round(load_seconds + done - started, 3),
            cpu_seconds=round(time.process_time() - cpu, 3),
            load_cpu_seconds=round(load_cpu, 3),
            peak_rss_mb=round(_peak_mb(), 1),
        )
        report[name] = figures
        del match, results  # free this matcher's indexes before the next one builds its own
    if dump is not None:
        dump_decisions(kept, dump)
    return {
        "size": size,
        "seed": seed,
        "payments": len(loaded.payments),
        "open_invoices": loaded.open_count,
        "generate_seconds": round(generate_seconds, 3),
        "matchers": report,
    }


def _table(report: dict[str, object]) -> str:
    rows = [
        f"cash application, {report['size']}: {report['payments']} payments x "
        f"{report['open_invoices']} open invoices",
        f"{'matcher':<18} {'auto':>7} {'p_set':>7} {'p_strict':>8} {'p_len':>7} {'mis/10k':>8} "
        f"{'inc/10k':>8} {'exc':>7} {'load':>6} {'index':>6} {'match':>6} {'total':>6} "
        f"{'RSS MB':>7}",
    ]
    for name, m in report["matchers"].items():  # type: ignore[union-attr]
        rows.append(
            f"{name:<18} {m['auto_apply_rate']:>7.2%} {m['precision_set']:>7.2%} "
            f"{m['precision_strict']:>8.2%} {m['precision_lenient']:>7.2%} "
            f"{m['misapplied_per_10k_applied']:>8.1f} {m['incomplete_per_10k_applied']:>8.1f} "
            f"{m['exception_rate']:>7.2%} {m['load_seconds']:>6.2f} {m['index_seconds']:>6.2f} "
            f"{m['match_seconds']:>6.2f} {m['seconds_total']:>6.2f} {m['peak_rss_mb']:>7.0f}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--size", choices=("tiny", "small", "medium", "large"), default="small")
    parser.add_argument("--seed", type=int, default=20240628)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--matchers", default="", help="comma-separated subset (default: all five)")
    parser.add_argument(
        "--dump-decisions",
        type=Path,
        metavar="FILE",
        help="write arlink's decisions to FILE, sorted, to compare two runs",
    )
    args = parser.parse_args(argv)
    only = [m for m in args.matchers.split(",") if m]
    report = run(args.size, args.seed, only, args.dump_decisions)
    print(json.dumps(report, indent=2) if args.json else _table(report))


if __name__ == "__main__":
    main()
