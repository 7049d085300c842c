"""Field values shared by the camt (XML) and OFX (SGML/XML) parsers.

Both formats write amounts as decimal strings ("1500.00", "-80.25") and name
currencies by ISO 4217 code; this module turns them into exact integer minor
units and validated codes, and builds the typed errors both parsers raise. It
knows nothing of either format's elements: callers pass the field name to cite.
"""

from __future__ import annotations

import codecs

from cash_application.bank_files.errors import BankFileSyntaxError
from mappings.money import MoneyError, currency_exponent

# Longest amount read: 30 digits is far beyond any balance and keeps `int` cheap.
_MAX_DIGITS = 30


def syntax_error(
    file_name: str, line: int | None, field: str | None, message: str
) -> BankFileSyntaxError:
    """A `BankFileSyntaxError` naming the file, the 1-based line and the field."""
    return BankFileSyntaxError(message, file=file_name, line=line, field=field)


def currency_code(text: str, file_name: str, line: int | None, field: str) -> str:
    """An ISO 4217 code, upper-cased; anything else is a syntax error."""
    code = text.strip().upper()
    try:
        currency_exponent(code)
    except MoneyError:
        raise syntax_error(
            file_name, line, field, f"must be a 3-letter ISO 4217 code, found {text!r}"
        ) from None
    return code


def minor_units(text: str, exponent: int) -> int | None:
    """A decimal amount ("1500.5", "-3", "+7.250") as integer minor units, or None.

    None means the text is not a plain decimal (no exponent, no thousands
    separators) or has more significant decimals than the currency allows:
    trailing zeros are exact ("8.850" EUR is 885 cents), a fifth cent digit is not.
    """
    if exponent == 2 and text[-3:-2] == ".":
        # Fast path for the common shape "-1234.56": one int() of the digits around the dot.
        digits = text[:-3] + text[-2:]
        unsigned = digits[1:] if digits[:1] in ("-", "+") else digits
        if unsigned.isdigit() and unsigned.isascii() and len(unsigned) <= _MAX_DIGITS:
            return -int(unsigned) if digits[0] == "-" else int(unsigned)
    sign = 1
    if text[:1] in ("-", "+"):
        if text[0] == "-":
            sign = -1
        text = text[1:]
    whole, dot, fraction = text.partition(".")
    if dot:
        fraction = fraction.rstrip("0")
        if len(fraction) > exponent or (
            fraction and not (fraction.isdigit() and fraction.isascii())
        ):
            return None
    if not whole:
        if not dot or text == ".":
            return None
        whole = "0"
    if len(whole) > _MAX_DIGITS or not (whole.isdigit() and whole.isascii()):
        return None
    return sign * int(whole + fraction.ljust(exponent, "0")) if exponent else sign * int(whole)


def decode_text(data: bytes, declared: str | None) -> str:
    """Bytes to text: UTF-8 when the bytes are valid UTF-8, else the declared charset.

    Valid UTF-8 wins over the label because banks mislabel it (`CHARSET:1252` over
    a UTF-8 body); anything else declared or not is read as Windows-1252 (its five
    undefined bytes as Latin-1, so no byte is refused), except an ISO 8859-1 label.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(*fallback_encoding(declared))


def fallback_encoding(declared: str | None) -> tuple[str, str]:
    """The codec and error handler `decode_text` reads text that is not UTF-8 with."""
    label = (declared or "").strip().upper().replace("_", "-")
    if label in ("8859-1", "ISO-8859-1", "ISO8859-1", "LATIN-1", "LATIN1"):
        return "latin-1", "strict"
    return "cp1252", _CP1252_GAPS


def _undefined_as_latin1(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte Windows-1252 leaves undefined reads as Latin-1."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


_CP1252_GAPS = "arlink-values-cp1252-gaps"
codecs.register_error(_CP1252_GAPS, _undefined_as_latin1)
