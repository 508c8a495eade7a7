"""`InMemoryQueue` message bodies: JSON values within 256 KiB, each delivery a fresh copy.

A body comes back exactly as its JSON text would parse (every number a `Decimal` with its digits,
tuples as lists), the size limit counts the UTF-8 bytes of that text, and no object is shared
between the producer and a delivery, between two deliveries, or with a dead letter.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import PayloadTooLarge, QueueArgumentError
from chalicelib.ports.queue import ReceivedMessage
from tests.unit.queue.helpers import LIMIT, START, held, one


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
documents = st.dictionaries(
    st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=6), st.text(max_size=3)),
    st.one_of(
        scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2)
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_every_body_comes_back_as_its_json_text_would(body: dict[str, Any]) -> None:
    expected = reference(body)
    queue = InMemoryQueue(clock=FakeClock(START), max_receive_count=2)
    try:
        queue.send(body)
    except (QueueArgumentError, PayloadTooLarge) as exc:
        assert type(exc) is expected
    else:
        assert same(queue.receive(visibility_timeout=0)[0].body, expected)
        assert same(queue.receive(max_messages=10, visibility_timeout=0)[0].body, expected)
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
        {"n": 1, "f": 0.5, "é": "x", "w": Word("x"), Word("k"): "x", "list": [], "nested": {}},
    ],
)
def test_bodies_come_back_exactly(q: InMemoryQueue, body: dict[str, Any]) -> None:
    q.send(body)
    assert same(one(q).body, reference(body))


def test_the_limit_counts_the_bytes_of_the_json_text_escapes_included(q: InMemoryQueue) -> None:
    room = LIMIT - len('{"k":""}')
    q.send({"k": "x" * room})
    assert one(q).body == {"k": "x" * room}
    with pytest.raises(PayloadTooLarge):
        q.send({"k": "x" * (room + 1)})
    q.send({"k": "\x01" * (room // 6)})  # written as \u0001: six bytes each
    with pytest.raises(PayloadTooLarge):
        q.send({"k": "\x01" * (room // 6 + 1)})


def test_a_body_of_exactly_256_kib_is_accepted(q: InMemoryQueue) -> None:
    body = "x" * (LIMIT - 2)
    q.send(body)
    assert one(q).body == body


def test_a_body_one_byte_over_256_kib_is_refused(q: InMemoryQueue) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        q.send("x" * (LIMIT - 1))
    assert caught.value.limit_bytes == LIMIT
    assert q.stats().sent_total == 0


def test_the_body_size_is_measured_in_utf8_bytes(q: InMemoryQueue) -> None:
    q.send("é" * ((LIMIT - 2) // 2))
    with pytest.raises(PayloadTooLarge):
        q.send("é" * ((LIMIT - 2) // 2 + 1))
    with pytest.raises(PayloadTooLarge):
        q.send("é" * LIMIT)


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize(
    "body",
    [object(), {1: "x"}, {"s": {1, 2}}, float("nan"), Decimal("NaN"), Decimal("Infinity"), b"raw", "\ud800"],
    ids=["object", "int-key", "set", "nan", "decimal-nan", "decimal-inf", "bytes", "lone-surrogate"],
)
def test_a_body_that_is_not_json_is_refused(q: InMemoryQueue, body: object) -> None:
    with pytest.raises(QueueArgumentError) as caught:
        q.send(body)
    assert caught.value.details[0].field == "body"
    assert held(q) == (0, 0, 0, 0)


def test_a_cyclic_body_is_refused(q: InMemoryQueue) -> None:
    with pytest.raises(QueueArgumentError):
        q.send(_cyclic())


def test_decimal_values_come_back_with_exactly_their_digits(q: InMemoryQueue) -> None:
    body = {
        "concentration": Decimal("12.3400"),
        "tiny": Decimal("0.000000000000000000000000001"),
        "big": Decimal("123456789012345678901234567890.123456789"),
        "exp": Decimal("1E+2"),
        "negative_zero": Decimal("-0.00"),
        "nested": [{"c": Decimal("0.10")}],
    }
    q.send(body)
    got = one(q).body
    assert got == body
    assert str(got["concentration"]) == "12.3400"
    assert str(got["exp"]) == "1E+2"
    assert str(got["negative_zero"]) == "-0.00"
    assert str(got["nested"][0]["c"]) == "0.10"


def test_bodies_come_back_as_they_would_from_sqs(q: InMemoryQueue) -> None:
    q.send({"n": 3, "f": 0.5, "t": ("a", "b"), "ok": True, "none": None})
    body = one(q).body
    assert body == {"n": Decimal("3"), "f": Decimal("0.5"), "t": ["a", "b"], "ok": True, "none": None}
    assert isinstance(body["n"], Decimal)


def test_a_body_is_a_snapshot_taken_at_send(q: InMemoryQueue) -> None:
    body: dict[str, Any] = {"materials": [{"name": "Bergamot"}]}
    q.send(body)
    body["materials"].append({"name": "Lavender"})
    body["extra"] = 1
    assert one(q).body == {"materials": [{"name": "Bergamot"}]}


def test_no_two_deliveries_share_a_body(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send({"materials": [{"name": "Bergamot"}]})
    first = one(q, visibility_timeout=1)
    first.body["materials"].clear()
    clock.advance(1)
    second = one(q)
    assert second.body == {"materials": [{"name": "Bergamot"}]}
    assert second.body is not first.body


def test_a_delivery_is_a_frozen_received_message(q: InMemoryQueue) -> None:
    q.send({"a": 1})
    q.send({"a": 2})
    for got in (q.receive()[0], q.receive(max_messages=10)[0]):
        assert type(got) is ReceivedMessage
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.body = None  # type: ignore[misc]


def test_no_delivery_or_dead_letter_shares_a_body(q: InMemoryQueue, clock: FakeClock) -> None:
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


def test_a_staged_body_is_a_snapshot_taken_at_send(q: InMemoryQueue) -> None:
    body = {"materials": [{"name": "Bergamot"}]}
    staged = q.stage()
    staged.send(body)
    body["materials"].append({"name": "Lavender"})
    staged.commit()
    assert one(q).body == {"materials": [{"name": "Bergamot"}]}
