"""Decimal-exact JSON.

Concentrations are exact decimals, so JSON numbers are parsed as `Decimal` (never through `float`)
and `Decimal` values are written back as JSON numbers with exactly the digits they hold. The
standard library cannot write a `Decimal` as a number, and Chalice's own serialiser turns it into a
`float`, so responses are serialised here and handed to Chalice as text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

JsonValue = Any
"""A parsed JSON document: dict, list, str, Decimal, int, bool or None."""

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body."""

_encode_str = json.encoder.encode_basestring


class JsonError(ValueError):
    """The text is not acceptable JSON; ``message`` says why and where."""


@dataclass(frozen=True, slots=True)
class RawJson:
    """JSON text that is already serialised: `dumps` writes ``text`` verbatim, wherever it sits.

    For a message body (or part of one) written once from a template instead of being built as
    a dict and then serialised: ``dumps(RawJson(dumps(value)))`` is ``dumps(value)``. Nothing
    checks ``text``: whoever makes a `RawJson` vouches that it is exactly what `dumps` writes for
    some value, which is what lets a queue store or send it as it is.
    """

    text: str


def _reject_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a valid JSON number")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise JsonError(f"duplicate object key {key!r}")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means a key repeats")


_decode = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=_reject_constant,
    object_pairs_hook=_no_duplicate_keys,
).decode
"""What ``json.loads(text, parse_float=Decimal, ...)`` does, without building a decoder per call."""


_decode_keeping_last = json.JSONDecoder(
    parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
).decode
"""`_decode` without the duplicate-key hook: a repeated key keeps its last value."""


_scan_keeping_last: Callable[[str, int], tuple[JsonValue, int]] = json.JSONDecoder(
    parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
).scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__; typeshed omits it
"""The scanner `_decode_keeping_last` runs: ``(value, end)`` of the value starting at an index."""


def _decode_whole_keeping_last(text: str) -> JsonValue:
    """`_decode_keeping_last` through the C scanner directly, for a text that is one value.

    `json.JSONDecoder.decode` runs two regular-expression matches for the whitespace around the
    value and two Python frames around the scanner. A text that starts with the value and
    ends with it (or with JSON whitespace) needs none of that; any other text, a refused one
    included, goes to `_decode_keeping_last`, which decides and words its refusal as before.
    """
    try:
        value, end = _scan_keeping_last(text, 0)
    except StopIteration:
        return _decode_keeping_last(text)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return _decode_keeping_last(text)
    return value


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> JsonValue:
    """Parse JSON with every number as `Decimal`; raise `JsonError` for anything not strict JSON.

    Rejects invalid UTF-8, NaN/Infinity literals, duplicate object keys and nesting deeper than
    ``max_depth``. Integers become `Decimal` too, so a 10,000-digit integer cannot trip Python's
    int-conversion limit.
    """
    return _loads(raw, max_depth, _decode)[0]


def loads_counting_keys(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> tuple[JsonValue, int]:
    """`loads` without its duplicate-key check, and a bound on the keys the text holds.

    Returns the value and the number of colons in the text. Every key of every object is
    followed by exactly one colon outside strings (and strings may hold more), so when the value
    holds that many keys, counting each object's ``len``, no key was repeated and the value is
    exactly what `loads` returns. Otherwise a key may have been repeated (and this value kept its
    last value): call `loads`. For a caller that counts the keys anyway, this skips a Python call
    per object. Every other refusal is one `loads` also makes, though for a text with several
    faults `loads` may name another one first.
    """
    value, text = _loads(raw, max_depth, _decode_whole_keeping_last)
    return value, text.count(":")


def _loads(raw: bytes | str, max_depth: int, decode: Callable[[str], JsonValue]) -> tuple[JsonValue, str]:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(f"body is not valid UTF-8 (byte {exc.start})") from exc
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():  # what `not text.strip()` says, without copying the text
        raise JsonError("body is empty")
    try:
        if text.startswith("\ufeff"):  # a second BOM: refused with json.loads's own message
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = decode(text)
    except JsonError:
        raise
    except RecursionError as exc:
        raise JsonError(f"JSON nesting is deeper than {max_depth} levels") from exc
    except json.JSONDecodeError as exc:
        raise JsonError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except (ValueError, ArithmeticError) as exc:  # e.g. 1e999999999999999999999 overflows Decimal
        raise JsonError(f"malformed JSON: {exc}") from exc
    if text.count("[") + text.count("{") > max_depth and depth(value, max_depth + 1) > max_depth:
        raise JsonError(f"JSON nesting is deeper than {max_depth} levels")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise JsonError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text")
    return value, text


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: JsonValue) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def depth(value: JsonValue, limit: int) -> int:
    """Nesting depth of ``value`` (a scalar is 0), counting no further than ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Sequence[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        if level > deepest:
            deepest = level
            if deepest >= limit:
                return deepest
        stack.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest


string_token: Callable[[str], str] = _encode_str
"""``string_token(value)``: the JSON string literal of ``value``, as `dumps` writes it; `TypeError`
if it is not a str. (The C function itself: templates call it for every string they write.)"""


def decimal_token(value: Decimal) -> str:
    """The JSON number of a `Decimal`, as `dumps` writes it; `TypeError`/`ValueError` otherwise.

    Any other type is a `TypeError` (``dumps`` would write an int or a float, but a caller that
    asks for a Decimal's token has a Decimal); a non-finite Decimal is a `ValueError`.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a Decimal, not {type(value).__name__}")
    return _decimal_text(value)


def dumps(value: JsonValue) -> str:
    """Serialise compactly; `Decimal` is written as a JSON number with its exact digits.

    A `RawJson` is written as the text it holds.
    """
    if value.__class__ is RawJson:
        return value.text
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


# The encoder dispatches on the exact class of the types a parsed or built document holds (str,
# dict, list, Decimal) and inlines the common scalar members of objects; every other value goes
# through `_encode_other`, the general isinstance chain, so subclasses, tuples, other mappings,
# ints, floats and the constants are written exactly as that chain says. It stays recursive so
# that a cyclic or absurdly deep value raises `RecursionError` instead of running away.


def _encode(value: Any, emit: Callable[[str], Any]) -> None:
    cls = type(value)
    if cls is dict:
        _encode_dict(value, emit)
    elif cls is str:
        emit(_encode_str(value))
    elif cls is list:
        _encode_list(value, emit)
    elif cls is Decimal:
        emit(_decimal_text(value))
    elif cls is int:
        emit(int.__repr__(value))
    else:
        _encode_other(value, emit)


def _encode_dict(value: dict[Any, Any], emit: Callable[[str], Any]) -> None:
    separator = "{"
    for key, item in value.items():
        if type(key) is not str:
            _check_key(key)
        cls = type(item)
        if cls is str:
            emit(f"{separator}{_encode_str(key)}:{_encode_str(item)}")
        elif cls is Decimal:
            emit(f"{separator}{_encode_str(key)}:{_decimal_text(item)}")
        else:
            emit(f"{separator}{_encode_str(key)}:")
            _encode(item, emit)
        separator = ","
    emit("{}" if separator == "{" else "}")


def _encode_list(value: list[Any] | tuple[Any, ...], emit: Callable[[str], Any]) -> None:
    separator = "["
    for item in value:
        emit(separator)
        separator = ","
        _encode(item, emit)
    emit("[]" if separator == "[" else "]")


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot encode non-finite Decimal {value}")
    return str(value)


def _encode_other(value: Any, emit: Callable[[str], Any]) -> None:
    if value.__class__ is RawJson:
        emit(value.text)
    elif isinstance(value, str):
        emit(_encode_str(value))
    elif value is None:
        emit("null")
    elif value is True:
        emit("true")
    elif value is False:
        emit("false")
    elif isinstance(value, Decimal):
        emit(_decimal_text(value))
    elif isinstance(value, int):
        emit(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode non-finite float {value}")
        emit(float.__repr__(value))
    elif isinstance(value, Mapping):
        separator = "{"
        for key, item in value.items():
            _check_key(key)
            emit(f"{separator}{_encode_str(key)}:")
            separator = ","
            _encode(item, emit)
        emit("{}" if separator == "{" else "}")
    elif isinstance(value, list | tuple):
        _encode_list(value, emit)
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
