"""Payer identification: accounts, names, legal forms, abbreviations, truncation, aliases,
parents, factors, fuzzy names with a clear winner, and history."""

from __future__ import annotations

import pytest

from cash_application.payer import History, PayerIndex, name_key
from mappings.records import Customer

CUSTOMERS = [
    Customer("C1", "Acme Manufacturing Inc.", bank_accounts=("555-1",)),
    Customer("C2", "Globex International Corporation", aliases=("GLX",)),
    Customer("C3", "Frontier Brook Metals LLC"),
    Customer("C4", "Frontier Brook Metals Inc"),  # a near-duplicate on purpose
    Customer("C5", "Wonka Industries Holding"),
    Customer("C6", "Wonka Confections West", parent_id="C5"),
    Customer("C7", "Summit Valley Logistics Co"),
    Customer("C8", "Summit Valley Freight Co"),
]


@pytest.fixture
def index() -> PayerIndex:
    return PayerIndex.build(CUSTOMERS)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Acme Manufacturing Inc.", "ACME MFG"),
        ("ACME MFG", "ACME MFG"),
        ("Globex Intl Corp", "GLOBEX INTL"),
        ("Smith & Sons, Ltd", "SMITH & SONS"),
        ("Company", "COMPANY"),  # a name that is only a legal form keeps it
    ],
)
def test_name_key_drops_legal_forms_and_unifies_abbreviations(text: str, key: str) -> None:
    assert name_key(text) == key


def test_bank_account_wins(index: PayerIndex) -> None:
    found = index.identify("SOMEONE ELSE", "5551")
    assert found.customers == {"C1"}
    assert found.evidence == "account"
    assert found.reason is not None
    assert found.reason.code == "payer_account_known"


@pytest.mark.parametrize("payer", ["ACME MFG", "Acme Manufacturing", "ACME MANUFACTURING INC"])
def test_name_with_or_without_legal_form_and_abbreviation(index: PayerIndex, payer: str) -> None:
    found = index.identify(payer, None)
    assert (found.customers, found.evidence) == ({"C1"}, "name")


def test_master_alias(index: PayerIndex) -> None:
    assert index.identify("GLX", None).evidence == "alias"


def test_ach_truncation_to_16_characters(index: PayerIndex) -> None:
    found = index.identify("GLOBEX INTERNATI", None)
    assert (found.customers, found.evidence) == ({"C2"}, "prefix")


def test_truncated_name_without_spaces(index: PayerIndex) -> None:
    assert index.identify("GLOBEXINTERNATIO", None).customers == {"C2"}


def test_near_identical_names_give_both_customers_never_the_first(index: PayerIndex) -> None:
    assert index.identify("FRONTIER BROOK METALS", None).customers == {"C3", "C4"}


def test_parent_pays_for_its_known_children(index: PayerIndex) -> None:
    assert index.identify("WONKA INDUSTRIES HOLDING", None).customers == {"C5", "C6"}


def test_fuzzy_name_with_a_clear_winner(index: PayerIndex) -> None:
    found = index.identify("ACME MANUFACTURNG INC", None)
    assert (found.customers, found.evidence) == ({"C1"}, "fuzzy")


def test_fuzzy_name_without_a_clear_winner_is_unknown(index: PayerIndex) -> None:
    # Equally far from "Summit Valley Logistics" and "Summit Valley Freight".
    assert not index.identify("SUMMIT VALLEY XYZ", None).known


def test_blank_and_unknown_payers(index: PayerIndex) -> None:
    assert not index.identify(None, None).known
    assert not index.identify("   ", "999").known
    assert not index.identify("TOTALLY DIFFERENT NAME", None).known


def test_history_teaches_accounts_aliases_and_factors() -> None:
    history = History(
        (
            ("SVL", "777", "C7"),  # initials a bank uses for Summit Valley Logistics
            ("RIVIERA FINANCE LLC", "888", "C3"),  # a factor paying for two clients
            ("RIVIERA FINANCE LLC", "888", "C8"),
        )
    )
    index = PayerIndex.build(CUSTOMERS, history)
    assert PayerIndex.build(CUSTOMERS).identify("SVL", None).known is False
    assert index.identify("SVL", None).evidence == "learned_alias"
    found = index.identify(None, "777")
    assert (found.customers, found.evidence) == ({"C7"}, "learned_account")
    assert index.identify("RIVIERA FINANCE", None).customers == {"C3", "C8"}
