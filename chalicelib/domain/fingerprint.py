"""Canonical form and fingerprint of a formula's material make-up.

Two formulas have the same fingerprint exactly when they list the same materials (names compared
after `normalise_name`) at the same concentrations (compared by value), whatever the formula's
name and whatever the order of its materials. The fingerprint is what duplicate detection stores
and compares, so it must be identical across processes, machines and Python versions: it is a
SHA-256 of a byte string defined here, never Python's ``hash()``.

Canonical encoding, version 1
-----------------------------

1. Each material becomes a pair ``[key, value]``:

   - ``key`` is `normalise_name` of the material name: Unicode NFKC, case-folded, NFKC again,
     outer whitespace removed and every inner run of whitespace replaced by one U+0020 space.
   - ``value`` is `canonical_decimal` of the concentration: plain positional notation, no
     exponent, no sign, no trailing zeros after the point and no point when nothing follows it
     (``15.50``, ``1.55E+1`` -> ``"15.5"``; ``1E+2``, ``100.0`` -> ``"100"``).

2. The pairs are sorted by ``key`` in Unicode code-point order (then by ``value``; keys within a
   valid formula are unique, so this never decides anything).

3. The sorted pairs are written as a compact JSON array of two-string arrays, with no whitespace
   between tokens, each string in double quotes with only ``"``, ``\\`` and U+0000-U+001F
   escaped (as Python's `json.dumps` does with ``ensure_ascii=False``; validated names contain no
   control characters, so in practice only ``"`` and ``\\`` are ever escaped), encoded as UTF-8.
   Example: ``[["bergamot oil","15.5"],["sandalwood","5.2"]]``.

4. The fingerprint is ``"v1:"`` followed by the lower-case hex SHA-256 digest of those bytes.

A change to any step is a new version with a new prefix; stored ``v1:`` fingerprints stay valid.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.domain.model import Material

FINGERPRINT_VERSION = "v1"

_encode_str = json.encoder.encode_basestring
"""A JSON string literal with only ``"``, ``\\`` and U+0000-U+001F escaped (``ensure_ascii=False``)."""


def normalise_name(name: str) -> str:
    """The comparison key of a material name: NFKC, case-folded, whitespace trimmed and collapsed.

    ``"  Bergamot   OIL "``, ``"bergamot oil"`` and the full-width ``"Ｂｅｒｇａｍｏｔ Ｏｉｌ"``
    all give ``"bergamot oil"``. NFKC is applied again after case folding because folding can
    produce sequences that are not in NFKC.
    """
    if name.isascii():
        return " ".join(name.lower().split())
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


def canonical_encoding(materials: Iterable[Material]) -> bytes:
    """The version-1 canonical byte string of a material make-up (see the module docstring).

    Written directly rather than through `json.JSONEncoder`: ``_encode_str`` is the encoder's own
    C string writer for ``ensure_ascii=False``, so the bytes are the same (the golden vectors in
    ``tests/unit/domain/test_fingerprint.py`` pin them).
    """
    return _encode_pairs([(m.key, canonical_decimal(m.concentration)) for m in materials])


def fingerprint(materials: Iterable[Material]) -> str:
    """``"v1:"`` + SHA-256 hex of `canonical_encoding`; independent of order and formula name."""
    return fingerprint_of_pairs([(m.key, canonical_decimal(m.concentration)) for m in materials])


def fingerprint_of_pairs(pairs: list[tuple[str, str]]) -> str:
    """`fingerprint` of materials given as their ``(key, canonical_decimal(value))`` pairs (steps 2-4).

    For a caller that already has each pair (the validator's fast path); ``pairs`` is sorted in place.
    """
    digest = hashlib.sha256(_encode_pairs(pairs)).hexdigest()
    return f"{FINGERPRINT_VERSION}:{digest}"


def _encode_pairs(pairs: list[tuple[str, str]]) -> bytes:
    """The canonical encoding of ``(key, canonical_decimal)`` pairs; sorts ``pairs`` in place.

    A canonical decimal holds only digits, a point and a sign, which a JSON string holds as they
    are, so only the key goes through the string writer.
    """
    pairs.sort()
    return ("[" + ",".join([f'[{_encode_str(key)},"{value}"]' for key, value in pairs]) + "]").encode("utf-8")
