"""Parsing the similar-formula routes: the query parameters, and the one formula of a POST body."""

from __future__ import annotations

import re
from decimal import Decimal

from chalicelib.domain import Formula, parse_request_body
from chalicelib.errors import FieldError, PayloadTooLarge, ValidationError
from chalicelib.services.similarity import DEFAULT_LIMIT, DEFAULT_MIN_SIMILARITY, MAX_LIMIT

_DECIMAL_TEXT = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")


def parse_similar_params(params: dict[str, str]) -> tuple[Decimal, int]:
    """``min_similarity`` (0 < x <= 1, default 0.8) and ``limit`` (1-100, default 10), or every problem."""
    problems = [
        FieldError(name, "unknown query parameter")
        for name in sorted(set(params) - {"min_similarity", "limit"})
    ]
    threshold = DEFAULT_MIN_SIMILARITY
    raw = params.get("min_similarity")
    if raw is not None:
        if _DECIMAL_TEXT.fullmatch(raw) and 0 < Decimal(raw) <= 1:
            threshold = Decimal(raw)
        else:
            problems.append(
                FieldError("min_similarity", "must be a decimal number greater than 0 and at most 1")
            )
    limit = DEFAULT_LIMIT
    raw = params.get("limit")
    if raw is not None:
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT:
            limit = int(raw)
        else:
            problems.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
    if problems:
        raise ValidationError(problems, "The query parameters are invalid.")
    return threshold, limit


def parse_one_formula(raw: bytes, *, max_body_bytes: int) -> Formula:
    """The formula of a body validated exactly as a submission; a batch is refused (400)."""
    if len(raw) > max_body_bytes:
        raise PayloadTooLarge("The request body is too large.", limit_bytes=max_body_bytes)
    submission = parse_request_body(raw)
    if submission.is_batch:
        raise ValidationError([FieldError("body", "must be one formula object, not an array")])
    return submission.formulas[0]
