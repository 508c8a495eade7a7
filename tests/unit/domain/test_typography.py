"""Typographic variants: every apostrophe, quotation mark and dash of the folded classes gives the
ASCII character in a material's key, so word-processor substitutions are not new materials."""

from __future__ import annotations

import sys
import unicodedata
from decimal import Decimal

import pytest

from chalicelib.domain import Formula, Material, normalise_name, parse_document
from chalicelib.domain.canonical import APOSTROPHES, DASHES, DOUBLE_QUOTES
from chalicelib.errors import ValidationError

NOT_FOLDED_DASHES = "\u1400\u2e17\u2e1a\u2e40\u30a0\u301c\u3030"


def ids(char: str) -> str:
    return f"U+{ord(char):04X}"


@pytest.mark.parametrize("char", [*APOSTROPHES, "'"], ids=ids)
def test_every_apostrophe_variant_is_an_apostrophe(char: str) -> None:
    assert normalise_name(f"Jasmin d{char}Inde") == "jasmin d'inde"
    assert normalise_name(f"{char}Iliahi{char}") == "'iliahi'"


@pytest.mark.parametrize("char", [*DOUBLE_QUOTES, '"'], ids=ids)
def test_every_double_quote_variant_is_a_quotation_mark(char: str) -> None:
    assert normalise_name(f"{char}Royal{char} Oud") == '"royal" oud'


@pytest.mark.parametrize("char", [*DASHES, "-", "\u207b", "\u208b"], ids=ids)
def test_every_dash_variant_is_a_hyphen_minus(char: str) -> None:
    assert normalise_name(f"C{char}12") == "c-12"


def test_the_dash_class_is_every_single_dash_of_category_pd_and_the_minus_sign() -> None:
    pd = {chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Pd"}
    assert set(DASHES) == (pd - {"-"} - set(NOT_FOLDED_DASHES)) | {"\u2212"}
    assert set(NOT_FOLDED_DASHES) <= pd


@pytest.mark.parametrize("char", NOT_FOLDED_DASHES, ids=ids)
def test_double_hyphens_and_wave_dashes_stay_themselves(char: str) -> None:
    assert normalise_name(f"C{char}12") != "c-12"


@pytest.mark.parametrize("char", ["\u02bb", "\ua78c", "\u05f3", "\u00ab", "\u00bb"], ids=ids)
def test_look_alike_letters_and_guillemets_are_not_folded(char: str) -> None:
    assert "'" not in normalise_name(f"a{char}b") and '"' not in normalise_name(f"a{char}b")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Jasmin d'Inde", "Jasmin d\u2019Inde"),
        ("Jasmin d'Inde", "Jasmin d\u00b4Inde"),
        ("C-12", "C\u201312"),
        ("C-12", "C\u201112"),
        ("C-12", "C\u221212"),
        ('"Royal" Oud', "\u201cRoyal\u201d Oud"),
    ],
)
def test_a_typographic_variant_is_the_same_material(first: str, second: str) -> None:
    doc = {
        "name": "F",
        "materials": [
            {"name": first, "concentration": Decimal(1)},
            {"name": second, "concentration": Decimal(2)},
        ],
    }
    with pytest.raises(ValidationError) as info:
        parse_document(doc)
    assert [d.field for d in info.value.details] == ["materials[1].name"]
    one = Formula.create("A", [Material(first, Decimal(1))])
    other = Formula.create("B", [Material(second, Decimal(1))])
    assert one.fingerprint == other.fingerprint
    assert other.materials[0].name == second  # stored as sent
