"""Decimal-exact JSON.

Concentrations are exact decimals, so JSON numbers are parsed as `Decimal` (never through `float`)
and `Decimal` values are written back as JSON numbers with exactly the digits they hold. The
standard library cannot write a `Decimal` as a number, and Chalice's own serialiser turns it into a
`float`, so responses are serialised here and handed to Chalice as text.

Parsing is strict, for untrusted bodies: invalid UTF-8, ``NaN``/``Infinity``, repeated object keys,
lone UTF-16 surrogates and nesting deeper than a limit are each a `JsonError`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

JsonValue = Any
"""A parsed JSON document: dict, list, str, Decimal, int, bool or None."""

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonError(ValueError):
    """The text is not acceptable JSON; the message says why and where, for a human."""


def _reject_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a valid JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonError(f"duplicate object key {key!r}")
        out[key] = value
    return out


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> JsonValue:
    """Parse JSON with every number as `Decimal`; raise `JsonError` for anything not strict JSON.

    Rejects invalid UTF-8, NaN/Infinity literals, duplicate object keys, lone surrogates and
    nesting deeper than ``max_depth``. Integers become `Decimal` too, so a 10,000-digit integer
    cannot trip Python's int-conversion limit. One leading byte-order mark is allowed.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"body is not valid UTF-8 (byte {exc.start})") from exc
    else:
        text = raw
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise JsonError("body is empty")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicate_keys,
        )
    except JsonError:
        raise
    except RecursionError as exc:
        raise JsonError(f"JSON nesting is deeper than {max_depth} levels") from exc
    except json.JSONDecodeError as exc:
        raise JsonError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except (ValueError, ArithmeticError) as exc:  # e.g. 1e999999999999999999999 overflows Decimal
        raise JsonError(f"malformed JSON: {exc}") from exc
    _check_tree(value, max_depth)
    return value


def _check_tree(value: JsonValue, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` and strings (keys too) that hold a lone surrogate."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JsonError(
                    "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text"
                )
        elif isinstance(item, dict | list):
            if level == max_depth:
                raise JsonError(f"JSON nesting is deeper than {max_depth} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)


def dumps(value: JsonValue) -> str:
    """Serialise compactly; `Decimal` is written as a JSON number with its exact digits."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(json.encoder.encode_basestring(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode non-finite Decimal {value}")
        parts.append(str(value))
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode non-finite float {value}")
        parts.append(float.__repr__(value))
    elif isinstance(value, Mapping):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            parts.append(f"{',' if index else ''}{json.encoder.encode_basestring(key)}:")
            _encode(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _encode(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
