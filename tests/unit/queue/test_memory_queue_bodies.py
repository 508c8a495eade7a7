"""The two ways `InMemoryQueue` holds a body (JSON text, or a copy of a flat dict) agree exactly.

`chalicelib.adapters.memory._bodies` keeps a flat body (a dict of ASCII strings, None, booleans
and finite Decimals) as a copy of the dict instead of its JSON text. These tests hold that
shortcut to what the text path promises: the same bodies accepted and refused, values of the
same types with the same digits back, the size limit at the same byte, and no object shared
between the producer and a delivery or between two deliveries.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.adapters.memory._bodies import MAX_BODY_BYTES, freeze, snapshot, thaw
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import PayloadTooLarge, QueueArgumentError

LIMIT = 262_144
START = 1_700_000_000.0


class Word(str):
    """A str subclass: JSON writes it as a string, which parses back as a plain str."""


def reference(body: Any) -> Any:
    """What a delivery of ``body`` must be, by the JSON text route (or the error class)."""
    try:
        text = jsonio.dumps(body)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError):
        return QueueArgumentError
    if size > LIMIT:
        return PayloadTooLarge
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def outcome(body: Any) -> Any:
    try:
        return thaw(freeze(body))
    except (QueueArgumentError, PayloadTooLarge) as exc:
        return type(exc)


def same(a: Any, b: Any) -> bool:
    """Equal, of exactly the same types all the way down, Decimals with the same digits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return (
            list(a) == list(b)
            and all(same(k, kb) for k, kb in zip(a, b, strict=True))
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a is b if isinstance(a, type) else repr(a) == repr(b)


@pytest.fixture
def q() -> InMemoryQueue:
    ids = itertools.count(1)
    return InMemoryQueue(clock=FakeClock(START), id_factory=lambda: f"m{next(ids)}")


scalars = st.one_of(
    st.text(max_size=8),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=8),
    st.none(),
    st.booleans(),
    st.decimals(places=None),
    st.integers(),
    st.floats(),
    st.builds(Word, st.text(max_size=4)),
)
flat_ish = st.dictionaries(
    st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=6), st.text(max_size=3)),
    st.one_of(scalars, st.lists(scalars, max_size=2)),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(flat_ish)
def test_every_body_comes_back_as_its_json_text_would(body: dict[str, Any]) -> None:
    expected = reference(body)
    assert same(outcome(body), expected)
    queue = InMemoryQueue(clock=FakeClock(START), max_receive_count=2)  # send inlines freeze
    try:
        queue.send(body)
    except (QueueArgumentError, PayloadTooLarge) as exc:
        assert type(exc) is expected
    else:
        got = queue.receive(max_messages=1 + len(body) % 2, visibility_timeout=0)[0].body
        assert same(got, expected)
        assert same(queue.receive(visibility_timeout=0)[0].body, expected)  # parsed or copied again
        assert queue.receive() == []
        assert same(queue.dead_letters()[0].body, expected)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"formula_id": "01JDQ7Z8X4M3N5P6Q7R8S9T0VW", "owner": "acme"},
        {"a": None, "b": True, "c": False, "d": ""},
        {"c": Decimal("12.3400"), "z": Decimal("-0.00"), "e": Decimal("1E+2"), "t": Decimal("0E-7")},
        {"quote": 'say "hi"\\', "control": "\x00\x1f\n\t"},
    ],
)
def test_flat_bodies_are_kept_as_a_copy_and_come_back_exactly(q: InMemoryQueue, body: dict[str, Any]) -> None:
    kept = snapshot(body)
    assert kept == body and kept is not body
    q.send(body)
    got = q.receive()[0].body
    assert same(got, reference(body))


@pytest.mark.parametrize(
    "body",
    [
        {"n": 1},
        {"f": 0.5},
        {"é": "x"},
        {"x": "é"},
        {"w": Word("x")},
        {Word("k"): "x"},
        {"nan": Decimal("NaN")},
        {"list": []},
        {"nested": {}},
        {"sub": Decimal("1")} | {"i": True, "n": 2},
    ],
)
def test_other_bodies_take_the_text_path(q: InMemoryQueue, body: dict[str, Any]) -> None:
    assert snapshot(body) is None
    expected = reference(body)
    if isinstance(expected, type):
        with pytest.raises(expected):
            q.send(body)
    else:
        q.send(body)
        assert same(q.receive()[0].body, expected)


def test_a_flat_body_at_the_size_limit_is_measured_exactly(q: InMemoryQueue) -> None:
    at_limit = {"k": "x" * (LIMIT - len('{"k":""}'))}
    assert len(jsonio.dumps(at_limit)) == LIMIT
    q.send(at_limit)
    assert q.receive()[0].body == at_limit
    with pytest.raises(PayloadTooLarge):
        q.send({"k": "x" * (LIMIT - len('{"k":""}') + 1)})
    escaped = {"k": "\x01" * ((LIMIT - len('{"k":""}')) // 6)}
    q.send(escaped)
    with pytest.raises(PayloadTooLarge):
        q.send({"k": "\x01" * ((LIMIT - len('{"k":""}')) // 6 + 1)})


def test_a_small_flat_body_skips_measuring_only_when_it_cannot_be_too_large() -> None:
    biggest = (MAX_BODY_BYTES - 2 - 6) // 6  # one key of 1 char and a value: 6 bytes a char at most
    assert snapshot({"k": "\x01" * (biggest - 1)}) is not None
    assert snapshot({"k": "\x01" * (biggest + 1)}) is None


def test_no_delivery_of_a_flat_body_shares_it() -> None:
    clock = FakeClock(START)
    q = InMemoryQueue(clock=clock, max_receive_count=2)
    body = {"formula_id": "f1", "owner": "acme"}
    q.send(body)
    body["owner"] = "mallory"
    first = q.receive(visibility_timeout=1)[0].body
    assert first == {"formula_id": "f1", "owner": "acme"}
    first["owner"] = "eve"
    clock.advance(1)
    second = q.receive(max_messages=10, visibility_timeout=1)[0].body
    assert second == {"formula_id": "f1", "owner": "acme"}
    assert second is not first
    clock.advance(1)
    assert q.receive() == []  # dead-lettered on this receive
    letters = [q.dead_letters()[0].body, q.dead_letters()[0].body]
    assert letters[0] == letters[1] == {"formula_id": "f1", "owner": "acme"}
    assert letters[0] is not letters[1]


def test_a_staged_flat_body_is_a_snapshot_too(q: InMemoryQueue) -> None:
    body = {"formula_id": "f1"}
    staged = q.stage()
    staged.send(body)
    body["formula_id"] = "changed"
    staged.commit()
    assert q.receive()[0].body == {"formula_id": "f1"}
