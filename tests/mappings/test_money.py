from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.money import Money, MoneyError, currency_exponent, money_from_wire


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("eur", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)]
)
def test_iso_4217_exponents(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("text", "currency", "minor", "shown"),
    [
        ("1500.00", "USD", 150000, "1500.00"),
        ("1500", "USD", 150000, "1500.00"),
        ("-3.5", "EUR", -350, "-3.50"),
        ("1200", "JPY", 1200, "1200"),
        ("1.234", "KWD", 1234, "1.234"),
        (" 0.10 ", "USD", 10, "0.10"),
    ],
)
def test_parse_and_show_exactly(text: str, currency: str, minor: int, shown: str) -> None:
    money = Money.parse(text, currency)
    assert money.minor == minor
    assert str(money) == shown


@pytest.mark.parametrize(
    ("text", "currency"), [("1.001", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("NaN", "USD")]
)
def test_parse_rejects_what_it_cannot_hold_exactly(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, currency)


def test_floats_are_refused() -> None:
    with pytest.raises(MoneyError, match="float"):
        Money.parse(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1.0, "USD")  # type: ignore[arg-type]


def test_bad_currency_code() -> None:
    with pytest.raises(MoneyError, match="ISO 4217"):
        Money(1, "US")


def test_arithmetic_keeps_currency_and_refuses_mixing() -> None:
    total = Money.parse("10.10", "USD") + Money.parse("0.20", "USD")
    assert total == Money(1030, "USD")
    assert Money(5, "USD") < Money(6, "USD")
    with pytest.raises(MoneyError, match="mismatch"):
        _ = Money(1, "USD") + Money(1, "EUR")


def test_implied_decimals() -> None:
    assert str(Money.from_implied("+000000150000", "USD")) == "1500.00"
    assert str(Money.from_implied("1500", "JPY")) == "1500"


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_decimal_round_trip(value: Decimal) -> None:
    money = Money.parse(str(value), "USD")
    assert money.to_decimal() == value
    assert Money.parse(str(money), "USD") == money


def test_wire_numbers_become_exact_money_or_are_refused() -> None:
    # What hosts send as JSON/XML-RPC numbers: floats read through their shortest repr.
    assert money_from_wire(0.1 + 0.2, "USD") == Money.parse("0.30", "USD")
    assert money_from_wire(99.99, "USD") == Money.parse("99.99", "USD")
    assert money_from_wire(1234, "JPY") == Money.parse("1234", "JPY")
    assert money_from_wire("12.345", "KWD") == Money.parse("12.345", "KWD")
    with pytest.raises(MoneyError, match="more decimals than USD"):
        money_from_wire(0.001, "USD")
    for bad in (True, "12,50", float("nan"), float("inf")):
        with pytest.raises(MoneyError, match="expected an amount"):
            money_from_wire(bad, "USD")
