"""The formula domain: immutable value objects, the validation rules, canonical form and fingerprint.

- `model`: `Material` and `Formula`, which check their own invariants, so an invalid one cannot
  exist.
- `validation`: an untrusted request body -> a `Submission` of formulas, or one `ValidationError`
  listing every problem with its path.
- `canonical`: the canonical form of a material (name key, value text) that "the same" compares.
- `fingerprint`: the ``v2:`` fingerprint of a make-up, which duplicate detection stores.
"""

from chalicelib.domain.canonical import canonical_decimal, normalise_name
from chalicelib.domain.fingerprint import canonical_encoding, fingerprint
from chalicelib.domain.model import (
    MAX_FRACTION_DIGITS,
    MAX_MATERIALS,
    MAX_SIGNIFICANT_DIGITS,
    NAME_MAX_CHARS,
    Formula,
    Material,
)
from chalicelib.domain.validation import MAX_BATCH, Submission, parse_document, parse_request_body

__all__ = [
    "MAX_BATCH",
    "MAX_FRACTION_DIGITS",
    "MAX_MATERIALS",
    "MAX_SIGNIFICANT_DIGITS",
    "NAME_MAX_CHARS",
    "Formula",
    "Material",
    "Submission",
    "canonical_decimal",
    "canonical_encoding",
    "fingerprint",
    "normalise_name",
    "parse_document",
    "parse_request_body",
]
