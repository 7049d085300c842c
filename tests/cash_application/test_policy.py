"""Calibration: an evidence path leaves its estimated error only on evidence, at the edges
of the minimum sample and of the binomial test against the error budget."""

from __future__ import annotations

import math

import pytest

from cash_application.policy import MatchPolicy, binomial_cdf, calibrated

CLEAN = "payer:account+ref:exact+amount:exact"  # estimate 0.00003, within the budget
HELD = "payer:account+ref:exact+amount:list_remainder"  # estimate over the budget
POLICY = MatchPolicy()  # budget 0.0005, 20 outcomes at least, significance 0.01


def error(policy: MatchPolicy, path: str) -> float:
    return policy.path_error(tuple(path.split("+")))


def judged(path: str, right: int, wrong: int) -> MatchPolicy:
    return calibrated(POLICY, [(path, True)] * right + [(path, False)] * wrong)


def test_one_wrong_reading_in_81_is_not_evidence_against_the_budget() -> None:
    # 1 - 0.9995 ** 81 = 4 %: a path at the budget errs once in 81 that often by chance.
    assert error(judged(CLEAN, 80, 1), CLEAN) == error(POLICY, CLEAN) <= POLICY.error_budget


def test_two_wrong_readings_in_81_hold_the_path_back_at_its_measured_rate() -> None:
    held = judged(CLEAN, 79, 2)
    assert error(held, CLEAN) == pytest.approx(2 / 81)
    assert error(held, CLEAN) > POLICY.error_budget


@pytest.mark.parametrize(("outcomes", "held"), [(19, False), (20, True)])
def test_a_path_is_judged_only_on_the_minimum_sample(outcomes: int, held: bool) -> None:
    policy = judged(CLEAN, 0, outcomes)  # every reading wrong
    assert (error(policy, CLEAN) > POLICY.error_budget) is held


def test_a_path_over_budget_is_promoted_only_when_clean_readings_are_evidence() -> None:
    # Clean readings are evidence once a path at the budget would show none with
    # probability under 1 %: 0.9995 ** n < 0.01.
    enough = math.ceil(math.log(POLICY.calibration_significance) / math.log1p(-0.0005))
    assert error(judged(HELD, enough - 1, 0), HELD) > POLICY.error_budget
    promoted = error(judged(HELD, enough, 0), HELD)
    assert promoted == pytest.approx(1 / (enough + 2))
    assert promoted <= POLICY.error_budget


def test_a_path_measured_clean_but_not_conclusively_keeps_its_estimate() -> None:
    assert error(judged(HELD, 1_000, 0), HELD) == error(POLICY, HELD)
    assert error(judged(CLEAN, 1_000, 0), CLEAN) == error(POLICY, CLEAN)


def test_other_paths_and_earlier_measurements_are_kept() -> None:
    before = MatchPolicy(path_error_measured={"x": 0.3})
    after = calibrated(before, [(CLEAN, False)] * 30)
    assert after.path_error_measured["x"] == 0.3
    assert error(after, HELD) == error(POLICY, HELD)


def test_binomial_cdf_matches_the_closed_forms_and_does_not_underflow() -> None:
    assert binomial_cdf(0, 81, 0.0005) == pytest.approx(0.9995**81)
    assert binomial_cdf(1, 3, 0.5) == pytest.approx(0.5)
    assert binomial_cdf(-1, 10, 0.1) == 0.0
    assert binomial_cdf(10, 10, 0.1) == 1.0
    assert binomial_cdf(3, 10, 0.0) == 1.0
    assert binomial_cdf(3, 10, 1.0) == 0.0
    # A million outcomes at the budget: about 500 wrong expected, half the mass at or below.
    assert binomial_cdf(500, 1_000_000, 0.0005) == pytest.approx(0.5, abs=0.02)
    assert binomial_cdf(5, 1_000_000, 0.0005) < 1e-100
