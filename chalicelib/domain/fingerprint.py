"""Canonical form and fingerprint of a formula's material make-up.

Two formulas have the same fingerprint exactly when they list the same materials (names compared
after `normalise_name`) at the same concentrations (compared by value), whatever the formula's
name and whatever the order of its materials. The fingerprint is what duplicate detection stores
and compares, so it must be identical across processes, machines and Python versions: it is a
SHA-256 of a byte string defined here, never Python's ``hash()``.

Canonical encoding, version 2 (``docs/fingerprints.md`` has the full definition and history)
------------------------------------------------------------------------------------------

1. Each material becomes a pair ``[key, value]`` (the rules live in `chalicelib.domain.canonical`):

   - ``key`` is the material's key, `normalise_name` of its name: invisible characters dropped,
     typographic apostrophes, quotation marks and dashes written as ``'``, ``"`` and ``-``,
     Unicode NFKC, case-folded, whitespace trimmed and every inner run collapsed to one U+0020.
   - ``value`` is `canonical_decimal` of the concentration: plain positional notation, no
     exponent, no sign, no trailing zeros after the point and no point when nothing follows it
     (``15.50``, ``1.55E+1`` -> ``"15.5"``; ``1E+2``, ``100.0`` -> ``"100"``).

2. The pairs are sorted by ``key`` in Unicode code-point order (then by ``value``; keys within a
   valid formula are unique, so this never decides anything).

3. The sorted pairs are written as a compact JSON array of two-string arrays, with no whitespace
   between tokens, each string in double quotes with only ``"``, ``\\`` and U+0000-U+001F
   escaped (Python's `json.dumps` with ``ensure_ascii=False``), encoded as UTF-8.
   Example: ``[["bergamot oil","15.5"],["sandalwood","5.2"]]``.

4. The fingerprint is ``"v2:"`` followed by the lower-case hex SHA-256 digest of those bytes.

A change to any step is a new version with a new prefix (version 1 neither dropped invisible
characters nor folded typographic variants); ``docs/fingerprints.md`` says how stored
fingerprints move to a new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Protocol

from chalicelib.domain.canonical import canonical_decimal

FINGERPRINT_VERSION = "v2"


class CanonicalMaterial(Protocol):
    """What the fingerprint reads of a material: its name key and its concentration."""

    @property
    def key(self) -> str: ...

    @property
    def concentration(self) -> Decimal: ...


def canonical_encoding(materials: Iterable[CanonicalMaterial]) -> bytes:
    """The canonical byte string of a material make-up (steps 1-3 of the module docstring)."""
    pairs = sorted((m.key, canonical_decimal(m.concentration)) for m in materials)
    text = ",".join(f"[{_string(key)},{_string(value)}]" for key, value in pairs)
    return f"[{text}]".encode()


_string = encode_basestring
"""A JSON string that keeps non-ASCII text as it is: the string writer of
``json.dumps(..., ensure_ascii=False)`` (step 3), applied to each string of the compact array."""


def fingerprint(materials: Iterable[CanonicalMaterial]) -> str:
    """``"v2:"`` + SHA-256 hex of `canonical_encoding`; independent of order and formula name."""
    return f"{FINGERPRINT_VERSION}:{hashlib.sha256(canonical_encoding(materials)).hexdigest()}"
