"""Reference extraction: separators, prefixes, zeros, compressed lists, POs, noise, typos."""

from __future__ import annotations

import pytest

from cash_application.references import (
    candidate_typos,
    comparable,
    extract,
    extract_known,
    invoice_keys,
    one_edit,
    one_edit_among,
)

NUMBER = "INV-2024-0012345"


def number_keys(number: str) -> set[str]:
    """The keys the remittance must produce to name `number` exactly."""
    return {key for key in invoice_keys(number) if key[0] in "AGD"}


def keys(text: str) -> set[str]:
    return {found.key for found in extract([text])}


@pytest.mark.parametrize(
    "text",
    [
        "INV-2024-0012345",
        "inv-2024-0012345",
        "INV20240012345",
        "INV 2024 0012345",
        "INV/2024/0012345",
        "2024-0012345",
        "INV-2024-12345",
        "RMR*IV*INV-2024-0012345*1500.00\\",
        "2349.92;INV-2024-0012345",
        "OBI PAYMENT FOR INV-2024-0012345 THANK YOU",
        "USTRD/INV-2024-0012345",
    ],
)
def test_the_number_is_found_whatever_the_separators(text: str) -> None:
    assert keys(text) & number_keys(NUMBER), text


def test_sequence_only_is_a_sequence_key_not_an_exact_one() -> None:
    found = {f.key: f.kind for f in extract(["12345"])}
    assert found["S:12345"] == "sequence"
    assert "S:12345" in invoice_keys(NUMBER)
    assert not set(found) & number_keys(NUMBER)


def test_compressed_list_rebuilds_every_number() -> None:
    found = keys("INV-2024-0012345/0012399/0012401")
    for number in ("INV-2024-0012345", "INV-2024-0012399", "INV-2024-0012401"):
        assert found & number_keys(number), number


def test_po_number() -> None:
    assert invoice_keys(NUMBER, "4512345678")[-1] in keys("PO 4512345678")


@pytest.mark.parametrize(
    "noise",
    ["06/27/2024", "2024-06-27", "1500.00", "12,345.67", "TRN 745538626819761"],
)
def test_dates_amounts_and_traces_name_no_sequence(noise: str) -> None:
    assert not {f for f in extract([noise]) if f.kind == "sequence"}


def test_years_are_not_sequences() -> None:
    assert "S:2024" not in keys("PAID 2024")


@pytest.mark.parametrize(
    "typo",
    [
        "INV-2024-0012346",  # substitution
        "INV-2024-0012354",  # adjacent transposition
        "INV-2024-001234",  # deletion
        "INV-2024-00123457",  # insertion
    ],
)
def test_one_edit_typos(typo: str) -> None:
    assert any(one_edit(token, comparable(NUMBER)) for token in candidate_typos([typo]))


def test_two_edits_or_none_are_not_typos() -> None:
    target = comparable(NUMBER)
    assert not one_edit(target, target)
    assert not any(one_edit(t, target) for t in candidate_typos(["INV-2024-0012543"]))


REMITTANCES = [
    "RMR*IV*INV-2024-0012345*PO*4512345678\\ INV 2024 0012348 PAID 12/05/2024 1,234.56",
    "INV-2024-0012345/0012399 TRACE 091000012345678 INV20240012351 0012354",
    "12345 2024-0012360 PO 4598765432",
]


@pytest.mark.parametrize("text", REMITTANCES)
def test_extract_known_keeps_the_indexed_keys_of_extract_in_order(text: str) -> None:
    everything = list(extract([text]))
    indexed = {k for number in ("INV-2024-0012345", "INV-2024-0012399", "INV-2024-0012351")
               for k in invoice_keys(number, "4512345678")}  # fmt: skip
    assert extract_known([text], indexed) == [f for f in everything if f.key in indexed]
    assert extract_known([text], set()) == []
    assert extract_known([text], {f.key for f in everything}) == everything


def test_one_edit_among_finds_exactly_the_numbers_one_edit_away() -> None:
    target = comparable(NUMBER)  # INV202412345
    numbers = [target, "INV202412346", "INV202412354", "INV20241234", "INV2024123457",
               "INV202412543", "XNV202412346", ""]  # fmt: skip
    assert one_edit_among(target, numbers) == [
        at for at, number in enumerate(numbers) if one_edit(target, number)
    ]
    assert one_edit_among(target, numbers) == [1, 2, 3, 4]
