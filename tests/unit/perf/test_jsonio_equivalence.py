"""The fast `jsonio` paths write and read exactly what the straightforward ones did.

`REFERENCE_DUMPS` is the original recursive isinstance-chain writer, kept here as the
specification; `jsonio.dumps` must produce the same text, or raise the same exception type, for
every value (including subclasses, tuples, other mappings, non-str keys and non-finite numbers).
`jsonio.loads` must give the same value or the same error message as the original, which built
a decoder per call with `json.loads`.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio


def _reference_encode(value: Any, parts: list[str]) -> None:
    encode_str = json.encoder.encode_basestring
    if isinstance(value, str):
        parts.append(encode_str(value))
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
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if not first:
                parts.append(",")
            first = False
            parts.append(encode_str(key))
            parts.append(":")
            _reference_encode(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _reference_encode(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def REFERENCE_DUMPS(value: Any) -> str:
    parts: list[str] = []
    _reference_encode(value, parts)
    return "".join(parts)


def _outcome(dumps: Any, value: Any) -> tuple[str, str]:
    try:
        return ("ok", dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        return ("error", f"{type(exc).__name__}: {exc}")


class Text(str):
    pass


class Number(Decimal):
    pass


class Level(IntEnum):
    LOW = 1


class Table(dict[Any, Any]):
    pass


class Items(list[Any]):
    pass


class Frozen(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1E+2"), Decimal("-0.00")]
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(Number),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([Level.LOW]),
    st.floats(),
    decimals,
    st.text(),
    st.text().map(Text),
)
keys = st.one_of(st.text(), st.text().map(Text), st.integers(), st.none(), st.booleans(), st.floats())
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children),
        st.lists(children).map(tuple),
        st.lists(children).map(Items),
        st.dictionaries(st.text(), children),
        st.dictionaries(keys, children),
        st.dictionaries(st.text(), children).map(Table),
        st.dictionaries(st.text(), children).map(OrderedDict),
        st.dictionaries(st.text(), children).map(Frozen),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_dumps_matches_the_reference_writer(value: Any) -> None:
    assert _outcome(jsonio.dumps, value) == _outcome(REFERENCE_DUMPS, value)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": {}},
        [[], {}],
        {"a": [Decimal("1.50"), Decimal("1E+2"), 7, True, None, 1.5, 'é\u2028\x00"\\']},
        {"version": 1, "materials": [{"name": "x", "concentration": Decimal("15.50")}]},
        (1, (2, [3])),
        {1: "x"},
        {"s": {1, 2}},
        {"b": b"raw"},
        object(),
        float("nan"),
        Decimal("Infinity"),
        {"a": [Decimal("sNaN")]},
        {"a": "ok", Decimal(1): "bad key"},
        "\ud800",
    ],
    ids=repr,
)
def test_dumps_matches_the_reference_writer_on_edge_cases(value: Any) -> None:
    assert _outcome(jsonio.dumps, value) == _outcome(REFERENCE_DUMPS, value)


def test_a_cyclic_value_still_raises_recursion_error() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        jsonio.dumps(cyclic)
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(RecursionError):
        jsonio.dumps(looped)


def _reference_loads(raw: bytes | str, *, max_depth: int = jsonio.MAX_DEPTH) -> Any:
    """The original `jsonio.loads`: a decoder built per call by `json.loads`."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise jsonio.JsonError(f"duplicate object key {key!r}")
            out[key] = value
        return out

    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise jsonio.JsonError(f"body is not valid UTF-8 (byte {exc.start})") from exc
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise jsonio.JsonError("body is empty")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=jsonio._reject_constant,
            object_pairs_hook=no_duplicates,
        )
    except jsonio.JsonError:
        raise
    except RecursionError as exc:
        raise jsonio.JsonError(f"JSON nesting is deeper than {max_depth} levels") from exc
    except json.JSONDecodeError as exc:
        raise jsonio.JsonError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except (ValueError, ArithmeticError) as exc:
        raise jsonio.JsonError(f"malformed JSON: {exc}") from exc
    if text.count("[") + text.count("{") > max_depth and jsonio.depth(value, max_depth + 1) > max_depth:
        raise jsonio.JsonError(f"JSON nesting is deeper than {max_depth} levels")
    if jsonio._SURROGATE_ESCAPE.search(text) and jsonio._has_lone_surrogate(value):
        raise jsonio.JsonError(
            "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text"
        )
    return value


def _load_outcome(loads: Any, raw: bytes | str) -> tuple[str, Any]:
    try:
        return ("ok", repr(loads(raw)))
    except (ValueError, ArithmeticError, RecursionError) as exc:
        return ("error", f"{type(exc).__name__}: {exc}")


json_texts = st.one_of(
    values.map(lambda v: _outcome(REFERENCE_DUMPS, v)[1]),
    st.text(alphabet='{}[]",:0123456789.eE+-truefalsnul \\\ufeff\x00ab'),
)


@settings(max_examples=300, deadline=None)
@given(json_texts, st.booleans())
def test_loads_parses_and_refuses_like_the_original(text: str, as_bytes: bool) -> None:
    raw: bytes | str = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _load_outcome(jsonio.loads, raw) == _load_outcome(_reference_loads, raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"a":1,"a":2}',
        '{"a":1,"b":{"c":1,"c":2}}',
        '{"x":1,"y":2,"x":3,"y":4}',
        "\ufeff[1]",
        "\ufeff\ufeff[1]",
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
        "[NaN]",
        "{",
        "[" * 40 + "]" * 40,
        '["\\ud800"]',
        "1e99999999999999999999",
    ],
    ids=repr,
)
def test_loads_reports_edge_cases_like_the_original(raw: bytes | str) -> None:
    assert _load_outcome(jsonio.loads, raw) == _load_outcome(_reference_loads, raw)


@settings(max_examples=300, deadline=None)
@given(
    json_texts,
    st.sampled_from(["", " ", "\n", "\r\n\t ", "\x0b", "\u00a0", "\ufeff"]),
    st.sampled_from(["", " ", "\n", " \r\n\t", "\x0b", "\u00a0", "x", " 1", "\x00"]),
)
def test_loads_counting_keys_parses_and_refuses_like_the_original(text: str, before: str, after: str) -> None:
    """Apart from repeated keys (its caller counts them), it answers as the original `loads`."""
    raw = before + text + after
    expected = _load_outcome(_reference_loads, raw)
    if expected[0] == "error" and "duplicate object key" in expected[1]:
        return
    assert _load_outcome(lambda r: jsonio.loads_counting_keys(r)[0], raw) == expected
