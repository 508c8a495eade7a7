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
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import rapidjson

JsonValue = Any
"""A parsed JSON document: dict, list, str, Decimal, int, bool or None."""

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonError(ValueError):
    """The text is not acceptable JSON; the message says why and where, for a human."""


def _reject_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a valid JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) < len(pairs):  # some key came twice: name the first one that did
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(f"duplicate object key {_quoted(key)}")
            seen.add(key)
    return out


def _quoted(text: str, limit: int = 40) -> str:
    """``text`` as a JSON string in ASCII, clipped to ``limit`` characters, for a message."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "...")


def _number_out_of_range(text: str) -> JsonValue:
    raise JsonError(f"the number {_quoted(text)[1:-1]} is out of range")


def loads(
    raw: bytes | str,
    *,
    max_depth: int = MAX_DEPTH,
    out_of_range: Callable[[str], JsonValue] = _number_out_of_range,
) -> JsonValue:
    """Parse JSON with every number as `Decimal` (so a 10,000-digit integer cannot trip Python's
    int-conversion limit); raise `JsonError` for anything not strict JSON (see the module
    docstring). One leading byte-order mark is allowed.

    A number whose exponent is beyond what `Decimal` holds (``1e99999999999999999999``) is a
    `JsonError`, unless ``out_of_range`` is given: it gets the number's text and its result stands
    for the number, so that a validator can name the field that holds it.
    """

    def number(text: str) -> JsonValue:
        try:
            return Decimal(text)
        except ArithmeticError:
            return out_of_range(text)

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
    if text.startswith("\ufeff"):
        raise JsonError("malformed JSON at line 1 column 1: a second byte-order mark (BOM)")
    try:
        value = json.loads(
            text,
            parse_float=number,
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
    except (ValueError, ArithmeticError) as exc:  # no known input gets here; keep its text out
        raise JsonError("malformed JSON: a value could not be read") from exc
    # The walk below can only find something when the text could hold it: nesting deeper than
    # ``max_depth`` needs more opening brackets than that, and a surrogate in a parsed string
    # needs a ``\\uD800``-``\\uDFFF`` escape in the text, or one in the text itself (which
    # text decoded from UTF-8 cannot hold: the codec refuses encoded surrogates).
    if (
        text.count("[") + text.count("{") > max_depth
        or ("\\u" in text and _SURROGATE_ESCAPE.search(text))
        or (not isinstance(raw, bytes) and _SURROGATE.search(text))
    ):
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
    """Serialise compactly; `Decimal` is written as a JSON number with exactly its digits.

    Raises `ValueError` for a non-finite number or a lone surrogate, `TypeError` for a value JSON
    cannot hold (a non-string key, a set, bytes, any other object) and `RecursionError` for a
    cycle. RapidJSON (python-rapidjson), a compiled encoder, writes it under these same rules.
    """
    text = _ENCODER(value)
    assert text is not None  # None only when given a stream to write to
    return text


_ENCODER = rapidjson.Encoder(
    number_mode=rapidjson.NM_DECIMAL, ensure_ascii=False, bytes_mode=rapidjson.BM_NONE
)
