"""Money as integer minor units of an ISO 4217 currency.

Money is never a float. Amounts cross every boundary (CSV, JSON, SQL, host APIs)
as Decimal strings and live in memory as integers of the currency's minor unit,
so sums are exact and a cent is never lost to binary rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from the common 2 (list of the
# standard's current table; funds codes included where banks use them).
_EXPONENT_OTHER_THAN_2: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in its currency."""


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency code (JPY 0, USD 2, KWD 3)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise MoneyError(f"`currency` must be a 3-letter ISO 4217 code, found {currency!r}")
    return _EXPONENT_OTHER_THAN_2.get(code, 2)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: integer minor units plus an ISO 4217 currency code."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError(f"`minor` must be an int, found {type(self.minor).__name__}")
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency.upper())

    @classmethod
    def parse(cls, text: str | Decimal | int, currency: str) -> Money:
        """Read a decimal amount ("1500.00", "-3.5") exactly; reject floats and excess digits."""
        if isinstance(text, float):
            raise MoneyError("money must not be a float; pass a Decimal string")
        code = currency.upper()
        exponent = currency_exponent(code)
        try:
            value = Decimal(text.strip()) if isinstance(text, str) else Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"`amount` must be a decimal number, found {text!r}") from None
        if not value.is_finite():
            raise MoneyError(f"`amount` must be finite, found {text!r}")
        scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"`amount` {text!r} has more decimals than {code} allows ({exponent})")
        return cls(int(scaled), code)

    @classmethod
    def from_implied(cls, digits: str, currency: str) -> Money:
        """Read an amount written with implied decimals (BAI2 `150000` USD = 1500.00)."""
        text = digits.strip()
        if not text or not text.lstrip("+-").isdigit():
            raise MoneyError(f"`amount` must be digits with an optional sign, found {digits!r}")
        return cls(int(text), currency.upper())

    def to_decimal(self) -> Decimal:
        exponent = currency_exponent(self.currency)
        return Decimal(self.minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))

    def __str__(self) -> str:
        """The Decimal string used at every boundary: "1500.00", "-3.50", "1200" (JPY)."""
        return str(self.to_decimal())

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0


def money_from_wire(value: float | int | str | Decimal, currency: str) -> Money:
    """An amount a host sends as a number (JSON, XML-RPC: a float) or as text, exactly.

    A float is read through its shortest repr, then rounded to the currency's minor unit;
    anything further from that unit than float noise is refused (`MoneyError`), so a
    host's float never becomes money silently."""
    if isinstance(value, bool):
        raise MoneyError(f"expected an amount, found {value!r}")
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise MoneyError(f"expected an amount, found {value!r}") from None
    if not exact.is_finite():
        raise MoneyError(f"expected an amount, found {value!r}")
    code = currency.upper()
    unit = Decimal(1).scaleb(-currency_exponent(code))
    rounded = exact.quantize(unit)
    if abs(exact - rounded) > unit / 1000:
        raise MoneyError(f"{exact} has more decimals than {code} allows")
    return Money.parse(rounded, code)
