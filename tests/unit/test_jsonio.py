"""Exact-decimal JSON: strict parsing of untrusted bodies, exact writing of Decimal."""

from __future__ import annotations

import json
from decimal import Decimal

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
        (b"1e99999999999999999999", "malformed"),
        (b'["\\ud800"]', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b"{oops", "malformed"),
    ],
)
def test_bad_json_is_a_json_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(jsonio.JsonError, match=fragment):
        jsonio.loads(raw)


def test_thirty_two_levels_are_fine_and_pairs_of_surrogates_are_text() -> None:
    assert jsonio.depth(jsonio.loads(b"[" * 32 + b"]" * 32), 100) == 32
    assert jsonio.loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert jsonio.loads(b"\xef\xbb\xbf[1]") == [Decimal(1)]


def test_a_huge_integer_does_not_trip_the_int_digit_limit() -> None:
    assert jsonio.loads(b"1" + b"0" * 10_000) == Decimal("1" + "0" * 10_000)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("nan"), {1: 2}, object()])
def test_dumps_refuses_what_is_not_json(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        jsonio.dumps(value)


def test_loads_counting_keys_counts_one_colon_per_key_of_a_plain_document() -> None:
    text = '{"a":1,"b":[{"c":"x"},{}]}'
    value, colons = jsonio.loads_counting_keys(text)
    assert colons == 3 == len(value) + len(value["b"][0])
    assert value == jsonio.loads(text)


def test_a_repeated_key_leaves_more_colons_than_keys_and_only_loads_refuses_it() -> None:
    value, colons = jsonio.loads_counting_keys('{"a":1,"a":2}')
    assert value == {"a": Decimal(2)} and colons == 2 > len(value)
    with pytest.raises(jsonio.JsonError, match="duplicate object key 'a'"):
        jsonio.loads('{"a":1,"a":2}')


def test_a_colon_inside_a_string_also_leaves_more_colons_than_keys() -> None:
    value, colons = jsonio.loads_counting_keys('{"a":"1:2"}')
    assert colons == 2 > len(value)
    assert value == jsonio.loads('{"a":"1:2"}')


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff", b"NaN", b"[" * 33 + b"]" * 33, b'["\\ud800"]', b"{oops", b"1e99999999999999999999"],
)
def test_loads_counting_keys_refuses_what_loads_refuses(raw: bytes) -> None:
    with pytest.raises(jsonio.JsonError) as strict:
        jsonio.loads(raw)
    with pytest.raises(jsonio.JsonError) as counting:
        jsonio.loads_counting_keys(raw)
    assert str(counting.value) == str(strict.value)
