"""Parsing small JSON request bodies and query strings for the consumer endpoints.

Every problem is collected and reported at once as a `ValidationError` naming its field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from chalicelib import jsonio
from chalicelib.errors import FieldError, ValidationError

_INTEGER_TEXT = re.compile(r"-?[0-9]+")
"""An integer written as text (query parameters): ASCII digits with an optional minus sign."""


class Fields:
    """Reads typed fields from a JSON object (or query parameters), collecting every problem.

    Query parameters are text, so an integer may be written as digits there; in a JSON body it
    must be a JSON number (``"3"`` is refused, as the submission API refuses such coercions).
    """

    def __init__(self, values: dict[str, Any], *, allowed: set[str], from_text: bool = True) -> None:
        self.values = values
        self.from_text = from_text
        self.problems = [FieldError(name, "unknown field") for name in sorted(set(values) - allowed)]

    @classmethod
    def from_body(cls, raw: bytes | None, *, allowed: set[str]) -> Fields:
        """The fields of a JSON object body (an empty body has none)."""
        if raw is None or not raw.strip():
            return cls({}, allowed=allowed)
        try:
            doc = jsonio.loads(raw)
        except jsonio.JsonError as exc:
            raise ValidationError(
                [FieldError("body", str(exc))], "The request body is not valid JSON."
            ) from exc
        if not isinstance(doc, dict):
            raise ValidationError(
                [FieldError("body", "must be a JSON object")], "The request body is invalid."
            )
        return cls(doc, allowed=allowed, from_text=False)

    def integer(self, name: str, *, low: int, high: int, default: int | None = None) -> int:
        value = self.values.get(name)
        if value is None:
            if default is None:
                self.problems.append(FieldError(name, "is required"))
                return low
            return default
        if self.from_text and isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            value = Decimal(value)
        # Range first, int() last: int(Decimal("1e999999999")) would build a billion-digit int.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | Decimal)
            or not low <= value <= high
            or value != int(value)
        ):
            self.problems.append(FieldError(name, f"must be an integer from {low} to {high}"))
            return low
        return int(value)

    def string(self, name: str, *, max_length: int = 2048) -> str:
        value = self.values.get(name)
        if not isinstance(value, str) or not value:
            self.problems.append(FieldError(name, "is required and must be a non-empty string"))
            return ""
        if len(value) > max_length:
            self.problems.append(FieldError(name, f"must be at most {max_length} characters"))
            return ""
        return value

    def done(self) -> None:
        """Raise the collected problems, if any."""
        if self.problems:
            raise ValidationError(self.problems, "The request is invalid.")
