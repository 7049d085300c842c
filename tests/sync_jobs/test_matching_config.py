"""The `[matching]` section: the cash-application policy, money as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cash_application.policy import MatchPolicy, TiePolicy
from sync_jobs.config import ConfigError, parse_config

FILE = Path("/tmp/arlink-test/config.toml")


def test_defaults_are_the_policy_defaults() -> None:
    assert parse_config("", file=FILE).config.matching.policy() == MatchPolicy()


def test_settings_reach_the_policy() -> None:
    text = """
[matching]
write_off_limit = "25.00"
fx_tolerance = "0.005"
take_discount = false
discount_grace_days = 2
apply_short_pay = false
tie_policy = "oldest"
error_budget = 0.001
calibration_min_outcomes = 50
calibration_significance = 0.05
"""
    policy = parse_config(text, file=FILE).config.matching.policy()
    assert policy.write_off_limit == Decimal("25.00")
    assert policy.write_off_minor("USD") == 2500
    assert policy.fx_tolerance == Decimal("0.005")
    assert (policy.take_discount, policy.discount_grace_days) == (False, 2)
    assert policy.apply_short_pay is False
    assert policy.tie_policy is TiePolicy.OLDEST
    assert policy.error_budget == 0.001
    assert (policy.calibration_min_outcomes, policy.calibration_significance) == (50, 0.05)


def test_every_problem_is_reported_with_its_key() -> None:
    text = """
[matching]
write_off_limit = 25.5
fx_tolerance = "-1"
tie_policy = "first"
error_budget = 2
colour = "blue"
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file=FILE)
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {
        "matching.write_off_limit",
        "matching.fx_tolerance",
        "matching.tie_policy",
        "matching.error_budget",
        "matching.colour",
    }
    assert "decimal string" in str(caught.value)
