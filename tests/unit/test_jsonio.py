"""Exact-decimal JSON: strict parsing of untrusted bodies, exact writing of Decimal."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import jsonio


def test_numbers_parse_as_decimal_and_write_back_exactly() -> None:
    text = '{"a":[1.50,1E+2,12.34567890123456789012345,7],"b":"x\\u00e9","c":null,"d":true}'
    value = jsonio.loads(text)
    assert value["a"] == [Decimal("1.50"), Decimal("1E+2"), Decimal("12.34567890123456789012345"), Decimal(7)]
    assert jsonio.dumps(value) == '{"a":[1.50,1E+2,12.34567890123456789012345,7],"b":"xé","c":null,"d":true}'
    assert json.loads(jsonio.dumps(value))["b"] == "xé"


@pytest.mark.parametrize(
    "raw,fragment",
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff", "UTF-8"),
        (b"NaN", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b'{"a":1,"a":2}', "duplicate"),
        (b"[" * 33 + b"]" * 33, "deeper than 32"),
        (b"[" * 100_000, "deeper than 32"),
        (b"1e99999999999999999999", "^the number 1e99999999999999999999 is out of range$"),
        (b"[-1e-99999999999999999999]", "^the number -1e-99999999999999999999 is out of range$"),
        (b'["\\ud800"]', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b"{oops", "malformed"),
    ],
)
def test_bad_json_is_a_json_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(jsonio.JsonError, match=fragment):
        jsonio.loads(raw)


def test_thirty_two_levels_are_fine_and_pairs_of_surrogates_are_text() -> None:
    nested: list[Any] = []
    for _ in range(31):
        nested = [nested]
    assert jsonio.loads(b"[" * 32 + b"]" * 32) == nested
    assert jsonio.loads(b'{"a":' * 32 + b"1" + b"}" * 32) is not None
    with pytest.raises(jsonio.JsonError, match="deeper than 32"):
        jsonio.loads(b'{"a":' * 33 + b"1" + b"}" * 33)
    assert jsonio.loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert jsonio.loads(b"\xef\xbb\xbf[1]") == [Decimal(1)]


def test_a_huge_integer_does_not_trip_the_int_digit_limit() -> None:
    assert jsonio.loads(b"1" + b"0" * 10_000) == Decimal("1" + "0" * 10_000)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("nan"), {1: 2}, object()])
def test_dumps_refuses_what_is_not_json(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        jsonio.dumps(value)


def test_dumps_writes_other_mappings_sequences_and_subclasses_as_json() -> None:
    class Text(str):
        pass

    class Number(Decimal):
        pass

    value = {"t": (1, [2.5, Number("1.50")]), "m": OrderedDict(a=Text("x")), "b": [True, False, None]}
    assert jsonio.dumps(value) == '{"t":[1,[2.5,1.50]],"m":{"a":"x"},"b":[true,false,null]}'
    assert jsonio.dumps({}) == "{}" and jsonio.dumps([]) == "[]"
    assert jsonio.dumps('é\u2028\x00"\\') == '"é\u2028\\u0000\\"\\\\"'


def test_a_cyclic_value_raises_recursion_error() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        jsonio.dumps(cyclic)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("\ufeff\ufeff[1]", "BOM"),
        (b"\xef\xbb\xbf\xef\xbb\xbf{}", "BOM"),
        ('{"a":1,"b":{"c":1,"c":2}}', 'duplicate object key "c"'),
        ('{"a":1,"a":2}', 'duplicate object key "a"$'),
        ('{"\\u00e9\\ud800":1,"\\u00e9\\ud800":2}', r'duplicate object key "\\u00e9\\ud800"$'),
        ('{"' + "k" * 100 + '":1,"' + "k" * 100 + '":2}', 'duplicate object key "' + "k" * 40 + '..."$'),
    ],
)
def test_a_second_bom_and_nested_repeated_keys_are_refused(raw: bytes | str, fragment: str) -> None:
    with pytest.raises(jsonio.JsonError, match=fragment):
        jsonio.loads(raw)


def test_a_number_out_of_range_can_stand_for_a_value_the_caller_chooses() -> None:
    value = jsonio.loads(b'{"a":[1e99999999999999999999,2.5]}', out_of_range=lambda text: ("huge", text))
    assert value == {"a": [("huge", "1e99999999999999999999"), Decimal("2.5")]}


def test_the_tree_checks_hold_whatever_the_text_looks_like() -> None:
    """Brackets inside strings are not nesting; a surrogate may come escaped or as a character."""
    assert jsonio.loads('["' + "[{" * 40 + '"]') == ["[{" * 40]
    with pytest.raises(jsonio.JsonError, match="surrogate"):
        jsonio.loads('["\ud800"]')
    with pytest.raises(jsonio.JsonError, match="surrogate"):
        jsonio.loads(b'{"a": ["ok", {"b": "\\uDBFF"}]}')
    with pytest.raises(jsonio.JsonError, match="deeper than 32"):
        jsonio.loads(b'[{"a":' * 16 + b"[1]" + b"}]" * 16 + b"")
    with pytest.raises(jsonio.JsonError, match="not valid UTF-8"):  # a surrogate encoded in bytes
        jsonio.loads('["\ud800"]'.encode("utf-8", "surrogatepass"))
    assert jsonio.loads(b'["\\\\uD800"]') == ["\\uD800"]  # an escaped backslash, then text


def test_an_int_subclass_is_written_as_its_number() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 2

    assert jsonio.dumps([Level.HIGH, True]) == "[2,true]"
