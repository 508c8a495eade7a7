"""The canonical form and the v2 fingerprint: pinned vectors, invariances and cross-process stability."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import unicodedata
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from chalicelib.domain import (
    Formula,
    Material,
    canonical_decimal,
    canonical_encoding,
    fingerprint,
    normalise_name,
    parse_request_body,
)


def make(*pairs: tuple[str, str], name: str = "Any name") -> Formula:
    return Formula.create(name, [Material(n, Decimal(c)) for n, c in pairs])


REPO_ROOT = Path(__file__).resolve().parents[3]

SUMMER_BREEZE = (("Bergamot Oil", "15.5"), ("Lavender Absolute", "10.0"), ("Sandalwood", "5.2"))

# Each vector: the materials, their canonical encoding and their fingerprint, all pinned. A change
# to any of these breaks every stored fingerprint, so it needs a new version prefix, not an edit.
# Names without invisible characters have the same encoding, and so the same digest, as in v1.
GOLDEN = [
    pytest.param(
        SUMMER_BREEZE,
        b'[["bergamot oil","15.5"],["lavender absolute","10"],["sandalwood","5.2"]]',
        "v2:4b61331334d7a4a34a6f6a45e357fdd0aa1e9a9352304c6b8a1695fc4fa42b8c",
        id="summer-breeze",
    ),
    pytest.param(
        (("Rose Absolute", "1"),),
        b'[["rose absolute","1"]]',
        "v2:d92a94062555f19db42a1cc6b622d90938fb651ed4c756fe17e0a9f2ca88762b",
        id="single-material",
    ),
    pytest.param(
        (("Iso E Super", "12.34567890123456789012345"), ("Hedione", "3E+1")),
        b'[["hedione","30"],["iso e super","12.34567890123456789012345"]]',
        "v2:f924419c4eccf2595b9302fa880df7eaec54589d660e592598ca8e6099a9c6e0",
        id="25-digits-and-exponent",
    ),
    pytest.param(
        (
            ("Rose\u0301 de Mai", "2.50"),
            ("Strauß", "1"),
            ("沈香", "0.75"),
            ("Ylang\u3000Ylang", "12"),
            ("Ｏｕｄ", ".5"),
        ),
        '[["oud","0.5"],["rosé de mai","2.5"],["strauss","1"],["ylang ylang","12"],["沈香","0.75"]]'.encode(),
        "v2:52886797924e374cf071bd19684d794e5c687b6ecf4813e8d9f68bdea78a8d7f",
        id="unicode-names",
    ),
    pytest.param(
        (('Oud "Royal" \\ blend', "7"),),
        b'[["oud \\"royal\\" \\\\ blend","7"]]',
        "v2:910ecd5057ccc2158be654601ea06be75f019fc4cde4c6fce6a2c139f487baf6",
        id="json-escapes",
    ),
    pytest.param(
        (("Rose\u034f", "2"), ("Ro\u200dse Absolute\ufe0f", "1.50"), ("Oud\u3164", "3")),
        b'[["oud","3"],["rose","2"],["rose absolute","1.5"]]',
        "v2:6d8fc533e74feebc6c2f1c3e43389c47c13e33af059c601e9772a9cfba114e22",
        id="invisible-characters",
    ),
    pytest.param(
        (("Jasmin d\u2019Inde", "2"), ("C\u201312 Aldehyde", "0.5"), ("\u201cOud\u201d accord", "1")),
        b'[["\\"oud\\" accord","1"],["c-12 aldehyde","0.5"],["jasmin d\'inde","2"]]',
        "v2:603029d98de0d57fc1bbb5658415f4135655d0cd95e273df83c685180830893b",
        id="typographic-quotes-and-dashes",
    ),
]


@pytest.mark.parametrize(("pairs", "encoding", "expected"), GOLDEN)
def test_golden_vectors(pairs: tuple[tuple[str, str], ...], encoding: bytes, expected: str) -> None:
    formula = make(*pairs)
    assert canonical_encoding(formula.materials) == encoding
    assert formula.fingerprint == expected
    assert fingerprint(formula.materials) == expected


def test_the_fingerprint_is_v2_and_64_hex_digits() -> None:
    value = make(*SUMMER_BREEZE).fingerprint
    prefix, digest = value.split(":")
    assert prefix == "v2"
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


# --- canonical_decimal -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15.5", "15.5"),
        ("15.50", "15.5"),
        ("1.55E+1", "15.5"),
        ("155E-1", "15.5"),
        ("100", "100"),
        ("1E+2", "100"),
        ("100.000", "100"),
        ("0.10E+3", "100"),
        ("10", "10"),
        ("0.5", "0.5"),
        (".50", "0.5"),
        ("1E-38", "0.00000000000000000000000000000000000001"),
        ("5.20", "5.2"),
        ("-2.50", "-2.5"),
        ("0", "0"),
        ("0.000", "0"),
        ("-0", "0"),
    ],
)
def test_canonical_decimal(value: str, expected: str) -> None:
    assert canonical_decimal(Decimal(value)) == expected


def test_canonical_decimal_is_exact_beyond_the_context_precision() -> None:
    digits = "12.345678901234567890123456789012345678901234567891"
    with localcontext() as ctx:
        ctx.prec = 5
        assert canonical_decimal(Decimal(digits + "000")) == digits
    assert canonical_decimal(Decimal("9" * 40 + "E-38")) == "99." + "9" * 38


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_canonical_decimal_refuses_non_finite_values(value: str) -> None:
    with pytest.raises(ValueError):
        canonical_decimal(Decimal(value))


# --- normalise_name --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Bergamot Oil", "bergamot oil"),
        ("  Bergamot   OIL\t", "bergamot oil"),
        ("Ｂｅｒｇａｍｏｔ\u3000Ｏｉｌ", "bergamot oil"),
        ("Bergamot\u00a0Oil", "bergamot oil"),
        ("Strauß", "strauss"),
        ("ﬁg", "fig"),
        ("Cafe\u0301", "café"),
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
        ("Ⅻ", "xii"),
        ("𝐁𝐄𝐑𝐆𝐀𝐌𝐎𝐓", "bergamot"),
        ("ᴬ", "a"),
        ("\u01f0", "\u01f0"),
        ("J\u030c", "\u01f0"),
    ],
)
def test_normalise_name(name: str, expected: str) -> None:
    assert normalise_name(name) == expected


# --- what the fingerprint depends on, and what it does not -----------------------------------


def test_material_order_does_not_matter() -> None:
    shuffled = list(SUMMER_BREEZE)
    random.Random(7).shuffle(shuffled)
    assert make(*shuffled).fingerprint == make(*SUMMER_BREEZE).fingerprint
    assert make(*reversed(SUMMER_BREEZE)).fingerprint == make(*SUMMER_BREEZE).fingerprint


def test_the_formula_name_does_not_matter() -> None:
    assert make(*SUMMER_BREEZE, name="A").fingerprint == make(*SUMMER_BREEZE, name="B").fingerprint


def test_equal_values_in_any_notation_give_the_same_fingerprint() -> None:
    def body(concentration: str) -> str:
        return (
            '{"name": "x", "materials": [{"name": "Bergamot Oil", "concentration": ' + concentration + "}]}"
        )

    found = {
        parse_request_body(body(text)).formulas[0].fingerprint
        for text in ["15.5", "15.50", "1.55e1", "155E-1", '"15.5"', '"15.500"']
    }
    assert len(found) == 1


def test_material_names_are_compared_normalised() -> None:
    spelled = make(("BERGAMOT  oil", "15.5"), ("lavender absolute", "10"), ("ＳＡＮＤＡＬＷＯＯＤ", "5.20"))
    assert spelled.fingerprint == make(*SUMMER_BREEZE).fingerprint


@pytest.mark.parametrize(
    "pairs",
    [
        (("Bergamot Oil", "15.6"), ("Lavender Absolute", "10.0"), ("Sandalwood", "5.2")),
        (("Bergamot Oil", "15.5"), ("Lavender Absolute", "10.0"), ("Sandalwood", "5.2000000000000000001")),
        (("Bergamot Oil", "15.5"), ("Lavender Concrete", "10.0"), ("Sandalwood", "5.2")),
        (("Bergamot Oil", "15.5"), ("Lavender Absolute", "10.0")),
        (("Bergamot Oil", "15.5"), ("Lavender Absolute", "10.0"), ("Sandalwood", "5.2"), ("Musk", "1")),
        (("Bergamot Oil", "10.0"), ("Lavender Absolute", "15.5"), ("Sandalwood", "5.2")),
    ],
)
def test_a_different_make_up_gives_a_different_fingerprint(pairs: tuple[tuple[str, str], ...]) -> None:
    assert make(*pairs).fingerprint != make(*SUMMER_BREEZE).fingerprint


def test_names_that_would_collide_in_a_naive_encoding_do_not() -> None:
    assert make(("a,b", "1"), ("c", "2")).fingerprint != make(("a", "1"), ("b,c", "2")).fingerprint
    assert make(('a"', "1")).fingerprint != make(("a", "1")).fingerprint


def test_the_fingerprint_is_the_same_in_another_process_with_another_hash_seed() -> None:
    script = (
        "from decimal import Decimal\n"
        "from chalicelib.domain import Formula, Material\n"
        "pairs = [('Bergamot Oil', '15.5'), ('Lavender Absolute', '10.0'), ('Sandalwood', '5.2'),"
        " ('沈香', '0.75'), ('Strauß', '1')]\n"
        "print(Formula.create('x', [Material(n, Decimal(c)) for n, c in pairs]).fingerprint)\n"
    )
    here = make(*SUMMER_BREEZE, ("沈香", "0.75"), ("Strauß", "1")).fingerprint
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONIOENCODING": "utf-8"}
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
            cwd=REPO_ROOT,
        )
        assert result.stdout.strip() == here


def test_the_key_of_a_key_is_itself_for_every_code_point() -> None:
    """Alone, every code point; between a base and a mark or two jamo, every one that can interact."""
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        names = [char]
        if not normalise_name(char) or unicodedata.combining(char) or 0x1100 <= code <= 0x11FF:
            names += ["e" + char + "\u0301", "\u1100" + char + "\u1161"]
        for name in names:
            key = normalise_name(name)
            assert normalise_name(key) == key, hex(code)


class _Pair:
    """A canonical material given directly by its key and concentration (any text as the key)."""

    def __init__(self, key: str, concentration: str) -> None:
        self.key = key
        self.concentration = Decimal(concentration)


def test_the_encoding_is_the_compact_json_array_the_definition_names() -> None:
    """Step 3, for any text: ``json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))``."""
    alphabet = 'ab "\\/\u00e9\u4e2d\U0001f600\u2028\x00\x1f\x7f'
    rng = random.Random(7)
    for _ in range(500):
        keys = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 5))
        }
        materials = [_Pair(key, rng.choice(["1", "15.50", "0.001", "100"])) for key in keys]
        pairs = sorted((m.key, canonical_decimal(m.concentration)) for m in materials)
        expected = json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert canonical_encoding(materials) == expected
