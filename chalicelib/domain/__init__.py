"""The formula domain: immutable value objects, the validation rules, canonical form and fingerprint.

- `model`: `Material` and `Formula`, which check their own invariants, so an invalid one cannot
  exist.
- `validation`: an untrusted request body -> a `Submission` of formulas, or one `ValidationError`
  listing every problem with its path.
- `fingerprint`: the name normalisation, canonical decimal text and the ``v1:`` fingerprint that
  duplicate detection compares.
"""

from chalicelib.domain.fingerprint import canonical_decimal, canonical_encoding, fingerprint, normalise_name
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
