"""Invisible characters: the generated Default_Ignorable_Code_Point table and what the canonical
form and the name rule do with every code point of it."""

from __future__ import annotations

import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
import regex

from chalicelib.domain import Formula, Material, normalise_name, parse_document
from chalicelib.domain._ignorable import DEFAULT_IGNORABLE, UNICODE_VERSION
from chalicelib.domain.canonical import INVISIBLE_EXTRAS
from chalicelib.domain.model import name_problem
from chalicelib.errors import ValidationError

IGNORABLE = [code for start, end in DEFAULT_IGNORABLE for code in range(start, end + 1)]
DROPPED = sorted({*IGNORABLE, *map(ord, INVISIBLE_EXTRAS)})
ACCEPTED_IN_NAMES = [code for code in DROPPED if name_problem("Rose" + chr(code) + "x") is None]


def test_the_table_is_the_property_for_every_code_point() -> None:
    """The committed table says exactly what the `regex` package's Unicode data says."""
    prop = regex.compile(r"\p{Default_Ignorable_Code_Point}")
    expected = [code for code in range(sys.maxunicode + 1) if prop.match(chr(code))]
    assert IGNORABLE == expected


def test_the_table_is_sorted_disjoint_and_says_its_version() -> None:
    assert all(a[1] + 1 < b[0] for a, b in zip(DEFAULT_IGNORABLE, DEFAULT_IGNORABLE[1:], strict=False))
    assert UNICODE_VERSION.count(".") == 2
    source = Path(__file__).resolve().parents[3] / "chalicelib" / "domain" / "_ignorable.py"
    assert f"DerivedCoreProperties-{UNICODE_VERSION}.txt" in source.read_text(encoding="utf-8")


def test_the_generator_reads_ranges_and_merges_neighbours() -> None:
    from scripts.gen_ignorable import read_ranges

    text = (
        "# DerivedCoreProperties-15.0.0.txt\n"
        "00AD          ; Default_Ignorable_Code_Point # Cf       SOFT HYPHEN\n"
        "0300..036F    ; Grapheme_Extend # Mn [112] COMBINING GRAVE ACCENT..\n"
        "2060..2064    ; Default_Ignorable_Code_Point # Cf   [5] WORD JOINER..INVISIBLE PLUS\n"
        "2065          ; Default_Ignorable_Code_Point # Cn       <reserved-2065>\n"
    )
    assert read_ranges(text) == ("15.0.0", [(0xAD, 0xAD), (0x2060, 0x2065)])


def test_the_extras_are_braille_blank_and_the_hangul_fillers() -> None:
    assert INVISIBLE_EXTRAS == "\u2800\u115f\u1160\u3164\uffa0"


@pytest.mark.parametrize("code", DROPPED, ids=lambda code: f"U+{code:04X}")
def test_every_invisible_character_is_dropped_from_the_key(code: int) -> None:
    char = chr(code)
    assert normalise_name("Rose" + char) == "rose"
    assert normalise_name("Ro" + char + "se") == "rose"
    assert normalise_name(char + " Rose " + char * 3) == "rose"
    assert normalise_name(char) == ""


def test_which_invisible_characters_names_may_hold() -> None:
    """Format characters stay refused; the ones a name may hold are the printable ones and joiners."""
    for code in DROPPED:
        printable = chr(code).isprintable() or code in (0x200C, 0x200D)
        assert (code in ACCEPTED_IN_NAMES) is printable, hex(code)
    assert {0x034F, 0xFE0F, 0x3164, 0x2800, 0x200D, 0xE0100} <= set(ACCEPTED_IN_NAMES)


@pytest.mark.parametrize("code", ACCEPTED_IN_NAMES, ids=lambda code: f"U+{code:04X}")
def test_an_invisible_character_does_not_make_another_material(code: int) -> None:
    doc = {
        "name": "F",
        "materials": [
            {"name": "Rose", "concentration": Decimal(1)},
            {"name": "Rose" + chr(code), "concentration": Decimal(2)},
            {"name": "Ro" + chr(code) + "se", "concentration": Decimal(3)},
        ],
    }
    with pytest.raises(ValidationError) as info:
        parse_document(doc)
    assert [d.field for d in info.value.details] == ["materials[1].name", "materials[2].name"]
    alone = Formula.create("F", [Material("Rose" + chr(code), Decimal(1))])
    assert alone.fingerprint == Formula.create("F", [Material("Rose", Decimal(1))]).fingerprint
    assert alone.materials[0].name == "Rose" + chr(code)  # stored as sent


@pytest.mark.parametrize("code", ACCEPTED_IN_NAMES, ids=lambda code: f"U+{code:04X}")
def test_a_name_of_only_invisible_characters_is_refused(code: int) -> None:
    name = chr(code) * 3
    doc = {"name": name, "materials": [{"name": name, "concentration": Decimal(1)}]}
    with pytest.raises(ValidationError) as info:
        parse_document(doc)
    found = {d.field: d.message for d in info.value.details}
    assert set(found) == {"name", "materials[0].name"}
    assert found["name"].startswith("must contain a visible character")


def test_joiners_inside_a_word_and_emoji_sequences() -> None:
    assert normalise_name("Ro\u200dse") == normalise_name("Ro\u200cse") == normalise_name("Rose")
    assert normalise_name("👩\u200d🔬 accord") == "👩🔬 accord"
    assert normalise_name("e\u034f\u0301") == unicodedata.normalize("NFC", "é")
