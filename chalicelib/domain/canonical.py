"""The canonical form of a material: its name key and its concentration's value text.

Two materials are "the same" (a duplicate within a formula, the same make-up across formulas)
exactly when their canonical forms are equal. `chalicelib.domain.model` uses these rules to derive
a material's ``key`` and `chalicelib.domain.fingerprint` to encode a make-up; this module depends
on neither, so the two can share it without importing each other.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal


def normalise_name(name: str) -> str:
    """The comparison key of a material name: NFKC, case-folded, whitespace trimmed and collapsed.

    ``"  Bergamot   OIL "``, ``"bergamot oil"`` and the full-width ``"Ｂｅｒｇａｍｏｔ Ｏｉｌ"``
    all give ``"bergamot oil"``. NFKC is applied again after case folding because folding can
    produce sequences that are not in NFKC.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


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
