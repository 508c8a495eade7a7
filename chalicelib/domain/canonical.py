"""The canonical form of a material: its name key and its concentration's value text.

Two materials are "the same" (a duplicate within a formula, the same make-up across formulas)
exactly when their canonical forms are equal. `chalicelib.domain.model` uses these rules to derive
a material's ``key`` and `chalicelib.domain.fingerprint` to encode a make-up; this module depends
on neither, so the two can share it without importing each other.
"""

from __future__ import annotations

import functools
import unicodedata
from decimal import Decimal

from chalicelib.domain._ignorable import DEFAULT_IGNORABLE

INVISIBLE_EXTRAS = "\u2800\u115f\u1160\u3164\uffa0"
"""Blank characters dropped besides Default_Ignorable_Code_Point: U+2800 BRAILLE PATTERN BLANK and
the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0; all but U+2800 are default-ignorable too)."""

APOSTROPHES = "\u0060\u00b4\u02b9\u02bc\u2018\u2019\u201a\u201b\u2032\u2035\uff07\uff40"
"""Written as ``'``: what keyboards, word processors and fonts put where an apostrophe or single
quote was meant. Grave and acute accent, modifier letter prime and apostrophe, the four single
quotation marks, prime and reversed prime, full-width apostrophe and grave accent. Letters that
look alike but spell sounds (U+02BB okina, U+A78C saltillo, U+05F3 geresh) are not folded."""

DOUBLE_QUOTES = "\u02ba\u201c\u201d\u201e\u201f\u2033\u2036\uff02"
"""Written as ``"``: modifier letter double prime, the four double quotation marks, double prime
and reversed double prime, full-width quotation mark. Guillemets are punctuation of their own."""

DASHES = (
    "\u058a\u05be\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e3a\u2e3b\u2e5d"
    "\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead\u2212"
)
"""Written as ``-``: every dash punctuation character (general category Pd) that is drawn as one
hyphen or dash, and U+2212 MINUS SIGN (superscript and subscript minus reach it through NFKC).
The Pd characters drawn otherwise are not folded: the double hyphens (U+1400, U+2E17, U+2E40,
U+30A0), the hyphen with diaeresis (U+2E1A) and the wave dashes (U+301C, U+3030)."""

_CANONICAL_CHARACTERS: dict[int, str | None] = {
    **{code: None for start, end in DEFAULT_IGNORABLE for code in range(start, end + 1)},
    **{ord(char): None for char in INVISIBLE_EXTRAS},
    **{ord(char): "'" for char in APOSTROPHES},
    **{ord(char): '"' for char in DOUBLE_QUOTES},
    **{ord(char): "-" for char in DASHES},
}
"""`str.translate` table of the character-level steps of the canonical form: what is dropped,
and what is written as the ASCII apostrophe, quotation mark or hyphen-minus."""


@functools.lru_cache(maxsize=16_384)
def normalise_name(name: str) -> str:
    """The comparison key of a material name (see ``docs/fingerprints.md``).

    Material names come from a small vocabulary shared by many formulas, and each is keyed more
    than once per request (its validity, its key, duplicate detection), so recent keys are kept:
    a repeated name is one lookup, and every formula holding it shares one key string.

    Invisible characters are dropped (every Default_Ignorable_Code_Point, such as zero-width
    joiners and variation selectors, plus `INVISIBLE_EXTRAS`), then the name is NFKC-normalised,
    case-folded and NFKC-normalised again, and its whitespace trimmed and collapsed:
    ``"  Bergamot   OIL "``, ``"Ｂｅｒｇａｍｏｔ Ｏｉｌ"`` and ``"Berg\\u200damot oil"`` all give
    ``"bergamot oil"``. The character steps run before and after normalisation, because NFKC maps
    some characters onto dropped ones (U+3164 to U+1160) and dropping a character can leave a
    sequence that NFKC composes.
    """
    text = unicodedata.normalize("NFKC", name.translate(_CANONICAL_CHARACTERS)).casefold()
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).translate(_CANONICAL_CHARACTERS))
    return " ".join(text.split())


def canonical_decimal(value: Decimal) -> str:
    """The value-canonical text of a finite decimal: positional, no exponent, no trailing zeros.

    Exact for any number of digits (no context rounding is involved): ``Decimal("15.50")``,
    ``Decimal("1.55E+1")`` -> ``"15.5"``; ``Decimal("1E+2")`` -> ``"100"``; zero -> ``"0"``. The
    length of the result grows with the exponent, so call it on validated values only.
    """
    if not value.is_finite():
        raise ValueError(f"cannot canonicalise non-finite Decimal {value}")
    if not value:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
