"""`InMemoryQueue`, one behaviour per test, with time moved by `FakeClock` (nothing sleeps).

The shared `MessageQueue` contract suite (tests/integration/test_queue_contract.py) runs against
this adapter too; these tests pin down the in-memory adapter's own promises in more detail:
exact boundaries, exact counts after every step, and the places where it differs from SQS.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory import queue as queue_module
from chalicelib.adapters.memory._queue_state import received
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    PayloadTooLarge,
    QueueArgumentError,
    QueueFull,
    ReceiptHandleMalformed,
    ReceiptHandleSuperseded,
    ReceiptHandleUnknown,
)
from chalicelib.ports import MessageQueue, QueueStats, ReceivedMessage, StagedPublish

LIMIT = 262_144
START = 1_700_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make(clock: FakeClock) -> Callable[..., InMemoryQueue]:
    def build(**options: Any) -> InMemoryQueue:
        ids = itertools.count(1)
        options.setdefault("id_factory", lambda: f"m{next(ids)}")
        return InMemoryQueue(clock=clock, **options)

    return build


@pytest.fixture
def q(make: Callable[..., InMemoryQueue]) -> InMemoryQueue:
    return make()


def held(q: InMemoryQueue) -> tuple[int, int, int, int]:
    """(ready, in flight, delayed, dead letters)."""
    s = q.stats()
    return s.ready, s.in_flight, s.delayed, s.dead_letters


def totals(q: InMemoryQueue) -> tuple[int, int, int, int]:
    """(sent, acked, redelivered, dead-lettered) totals."""
    s = q.stats()
    return s.sent_total, s.acked_total, s.redelivered_total, s.dead_lettered_total


def one(q: InMemoryQueue, **options: Any) -> ReceivedMessage:
    messages = q.receive(**options)
    assert len(messages) == 1
    return messages[0]


# ---------------------------------------------------------------------------------- basics


def test_the_adapter_satisfies_the_ports(q: InMemoryQueue) -> None:
    port: MessageQueue = q
    staged: StagedPublish = q.stage()
    staged.rollback()
    assert port is q


def test_send_receive_ack(q: InMemoryQueue, clock: FakeClock) -> None:
    message_id = q.send({"formula_id": "f1"})
    assert held(q) == (1, 0, 0, 0)
    clock.advance(2)
    got = one(q)
    assert got.message_id == message_id == "m1"
    assert got.body == {"formula_id": "f1"}
    assert got.receive_count == 1
    assert got.sent_at == START
    assert got.first_received_at == START + 2
    assert held(q) == (0, 1, 0, 0)
    q.ack(got.receipt_handle)
    assert held(q) == (0, 0, 0, 0)
    assert totals(q) == (1, 1, 0, 0)
    clock.advance(3600)
    assert q.receive() == []


def test_receive_on_an_empty_queue_returns_nothing(q: InMemoryQueue) -> None:
    assert q.receive(max_messages=10) == []
    assert q.stats() == QueueStats(0, 0, 0, 0, 0, 0, 0, 0)


def test_default_message_ids_are_unique_strings(clock: FakeClock) -> None:
    queue = InMemoryQueue(clock=clock)
    other = InMemoryQueue(clock=clock)
    ids = [queue.send(i) for i in range(100)] + [other.send(i) for i in range(100)]
    assert len(set(ids)) == 200
    assert all(isinstance(i, str) and i for i in ids)


def test_max_messages_delivers_up_to_that_many_oldest_first(q: InMemoryQueue) -> None:
    for i in range(5):
        q.send(i)
    assert [m.body for m in q.receive(max_messages=3)] == [0, 1, 2]
    assert [m.body for m in q.receive(max_messages=10)] == [3, 4]
    assert held(q) == (0, 5, 0, 0)


def test_delivery_is_in_the_order_messages_became_ready(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("a")
    q.send("b", delay_seconds=5)
    q.send("c")
    first = one(q, visibility_timeout=3)
    assert first.body == "a"
    clock.advance(10)
    assert [m.body for m in q.receive(max_messages=10)] == ["c", "a", "b"]


def test_a_nack_puts_the_message_behind_those_already_ready(q: InMemoryQueue) -> None:
    q.send("a")
    q.send("b")
    a = one(q)
    q.change_visibility(a.receipt_handle, 0)
    assert [m.body for m in q.receive(max_messages=10)] == ["b", "a"]


# ---------------------------------------------------------------------------------- bodies


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


def test_the_fast_received_message_equals_the_dataclass() -> None:
    fast = received("m1", "rh1.x", 2, 1.5, 2.5, {"a": 1})
    slow = ReceivedMessage("m1", "rh1.x", 2, 1.5, 2.5, {"a": 1})
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.receive_count = 3  # type: ignore[misc]


def test_the_fast_received_message_is_exactly_a_received_message(q: InMemoryQueue) -> None:
    fast = received("m1", "rh1.x", 2, 1.5, 2.5, {"a": 1})
    slow = ReceivedMessage("m1", "rh1.x", 2, 1.5, 2.5, {"a": 1})
    assert type(fast) is ReceivedMessage
    assert hash(dataclasses.replace(fast, body=None)) == hash(dataclasses.replace(slow, body=None))
    assert not hasattr(fast, "__dict__")
    q.send({"a": 1})
    q.send({"a": 2})
    for got in (q.receive()[0], q.receive(max_messages=10)[0]):  # the one-message path and the other
        assert type(got) is ReceivedMessage
        with pytest.raises(dataclasses.FrozenInstanceError):
            got.body = None  # type: ignore[misc]


# ---------------------------------------------------------------------------------- argument validation


BAD_INTS: list[object] = [True, False, 1.0, "1", None, Decimal("1")]


@pytest.mark.parametrize(
    ("field", "bad"),
    [("max_messages", v) for v in (0, 11, -1, *BAD_INTS)]
    + [("visibility_timeout", v) for v in (-1, 43_201, *BAD_INTS)]
    + [("wait_seconds", v) for v in (-1, 21, *BAD_INTS)],
)
def test_receive_arguments_are_checked(q: InMemoryQueue, field: str, bad: object) -> None:
    q.send("x")
    with pytest.raises(QueueArgumentError) as caught:
        q.receive(**{field: bad})  # type: ignore[arg-type]
    assert caught.value.details[0].field == field
    assert field in caught.value.message
    assert held(q) == (1, 0, 0, 0)


class _Int(int):
    """An int subclass: equal to a valid argument, but not an int, so refused like bool."""


@pytest.mark.parametrize("field", ["max_messages", "visibility_timeout", "wait_seconds"])
def test_receive_refuses_int_subclasses_even_of_valid_values(q: InMemoryQueue, field: str) -> None:
    q.send("x")
    value = {"max_messages": 1, "visibility_timeout": 30, "wait_seconds": 0}[field]
    with pytest.raises(QueueArgumentError) as caught:
        q.receive(**{field: _Int(value)})
    assert caught.value.details[0].field == field


@pytest.mark.parametrize(
    ("max_messages", "visibility_timeout", "wait_seconds"),
    [(1, 0, 0), (1, 43_200, 0), (10, 30, 0), (1, 30, 20), (int("1"), 2**40 // 2**40, 0), (2, 0, 1)],
)
def test_receive_accepts_every_valid_combination(
    q: InMemoryQueue, max_messages: int, visibility_timeout: int, wait_seconds: int
) -> None:
    q.send("x")
    got = q.receive(
        max_messages=max_messages, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds
    )
    assert [m.body for m in got] == ["x"]


def test_receive_accepts_its_boundaries(q: InMemoryQueue) -> None:
    for _ in range(3):
        q.send("x")
    assert len(q.receive(max_messages=1, visibility_timeout=0, wait_seconds=0)) == 1
    assert len(q.receive(max_messages=10, visibility_timeout=43_200, wait_seconds=20)) == 3


@pytest.mark.parametrize("bad", [-1, 901, *BAD_INTS[:1], *BAD_INTS[2:]])
def test_delay_seconds_is_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as caught:
        q.send("x", delay_seconds=bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "delay_seconds"
    assert q.stats().sent_total == 0


def test_delay_seconds_false_is_refused_not_read_as_zero(q: InMemoryQueue) -> None:
    with pytest.raises(QueueArgumentError):
        q.send("x", delay_seconds=False)


@pytest.mark.parametrize("bad", ["", "a" * 129, "has space", "tab\t", "é", "\x7f", 5, b"bytes"])
def test_dedup_id_is_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as caught:
        q.send("x", dedup_id=bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "dedup_id"


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=130) | st.sampled_from(["!", "~" * 128]))
def test_a_dedup_id_is_what_the_documented_pattern_matches(value: str) -> None:
    """1-128 printable ASCII characters without spaces: ``[!-~]{1,128}``."""
    try:
        queue_module._check_send(0, value)
        accepted = True
    except QueueArgumentError:
        accepted = False
    assert accepted is (re.fullmatch(r"[!-~]{1,128}", value) is not None)


@pytest.mark.parametrize("bad", [-1, 43_201, *BAD_INTS])
def test_change_visibility_seconds_is_checked(q: InMemoryQueue, bad: object) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    with pytest.raises(QueueArgumentError) as caught:
        q.change_visibility(handle, bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "seconds"
    assert held(q) == (0, 1, 0, 0)


@pytest.mark.parametrize("bad", [-1, *BAD_INTS])
def test_dead_letter_and_redrive_limits_are_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as listing:
        q.dead_letters(limit=bad)  # type: ignore[arg-type]
    assert listing.value.details[0].field == "limit"
    if bad is not None:
        with pytest.raises(QueueArgumentError) as moving:
            q.redrive(limit=bad)  # type: ignore[arg-type]
        assert moving.value.details[0].field == "limit"


@pytest.mark.parametrize(
    "option", ["capacity", "max_receive_count", "retention_seconds", "dedup_window_seconds"]
)
@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_constructor_settings_are_checked(option: str, bad: object) -> None:
    with pytest.raises(ValueError, match=option):
        InMemoryQueue(**{option: bad})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- delays


def test_a_delayed_message_is_hidden_until_due(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("later", delay_seconds=10)
    assert held(q) == (0, 0, 1, 0)
    assert q.receive() == []
    clock.advance(9.999)
    assert q.receive() == []
    assert held(q) == (0, 0, 1, 0)
    clock.advance(0.001)
    assert held(q) == (1, 0, 0, 0)
    got = one(q)
    assert got.body == "later"
    assert got.sent_at == START


def test_the_longest_delay_is_fifteen_minutes(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x", delay_seconds=900)
    clock.advance(899)
    assert q.receive() == []
    clock.advance(1)
    assert one(q).body == "x"


# ---------------------------------------------------------------------------------- deduplication


def test_a_repeated_dedup_id_returns_the_first_id_and_enqueues_nothing(q: InMemoryQueue) -> None:
    first = q.send("a", dedup_id="formula-1")
    again = q.send("b", dedup_id="formula-1")
    assert again == first
    assert held(q) == (1, 0, 0, 0)
    assert totals(q) == (1, 0, 0, 0)
    assert [m.body for m in q.receive(max_messages=10)] == ["a"]


def test_dedup_holds_after_the_first_message_was_acked(q: InMemoryQueue, clock: FakeClock) -> None:
    first = q.send("a", dedup_id="formula-1")
    q.ack(one(q).receipt_handle)
    clock.advance(299)
    assert q.send("a", dedup_id="formula-1") == first
    assert held(q) == (0, 0, 0, 0)
    assert q.stats().sent_total == 1


def test_the_dedup_window_counts_from_the_first_send(q: InMemoryQueue, clock: FakeClock) -> None:
    first = q.send("a", dedup_id="formula-1")
    clock.advance(200)
    assert q.send("a", dedup_id="formula-1") == first
    clock.advance(99.999)
    assert q.send("a", dedup_id="formula-1") == first
    clock.advance(0.001)
    second = q.send("a", dedup_id="formula-1")
    assert second != first
    assert held(q) == (2, 0, 0, 0)
    assert q.send("a", dedup_id="formula-1") == second


def test_the_dedup_window_is_configurable(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(dedup_window_seconds=10)
    first = q.send("a", dedup_id="d")
    clock.advance(10)
    assert q.send("a", dedup_id="d") != first


def test_dedup_ids_are_independent_and_a_send_without_one_is_never_deduplicated(q: InMemoryQueue) -> None:
    assert q.send("a", dedup_id="x") != q.send("a", dedup_id="y")
    assert q.send("a") != q.send("a")
    assert held(q) == (4, 0, 0, 0)


def test_a_duplicate_is_accepted_even_at_capacity(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=1)
    first = q.send("a", dedup_id="d")
    assert q.send("a", dedup_id="d") == first
    with pytest.raises(QueueFull):
        q.send("b", dedup_id="other")
    assert totals(q) == (1, 0, 0, 0)


def test_a_refused_send_does_not_register_its_dedup_id(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=1)
    q.send("a")
    with pytest.raises(QueueFull):
        q.send("b", dedup_id="d")
    q.ack(one(q).receipt_handle)
    q.send("b", dedup_id="d")
    assert one(q).body == "b"


# ---------------------------------------------------------------------------------- visibility


def test_an_unacked_message_comes_back_with_a_new_handle(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    first = one(q, visibility_timeout=30)
    clock.advance(29.999)
    assert q.receive() == []
    assert held(q) == (0, 1, 0, 0)
    clock.advance(0.001)
    assert held(q) == (1, 0, 0, 0)
    second = one(q)
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.receipt_handle != first.receipt_handle
    assert second.first_received_at == first.first_received_at == START
    assert second.sent_at == START
    assert totals(q) == (1, 0, 1, 0)


def test_a_zero_visibility_timeout_leaves_the_message_receivable(q: InMemoryQueue) -> None:
    q.send("x")
    first = one(q, visibility_timeout=0)
    assert held(q) == (1, 0, 0, 0)
    second = one(q)
    assert second.receive_count == 2
    assert first.receipt_handle != second.receipt_handle


def test_every_delivery_gets_a_fresh_handle(q: InMemoryQueue) -> None:
    q.send("x")
    handles = {one(q, visibility_timeout=0).receipt_handle for _ in range(4)}
    assert len(handles) == 4


def test_an_ack_after_the_deadline_but_before_a_new_receive_succeeds(
    q: InMemoryQueue, clock: FakeClock
) -> None:
    q.send("x")
    got = one(q, visibility_timeout=5)
    clock.advance(60)
    assert held(q) == (1, 0, 0, 0)
    q.ack(got.receipt_handle)
    assert held(q) == (0, 0, 0, 0)
    assert q.receive() == []


def test_a_nack_makes_the_message_receivable_at_once(q: InMemoryQueue) -> None:
    q.send("x")
    first = one(q)
    q.change_visibility(first.receipt_handle, 0)
    assert held(q) == (1, 0, 0, 0)
    second = one(q)
    assert second.receive_count == 2
    with pytest.raises(ReceiptHandleSuperseded):
        q.ack(first.receipt_handle)
    q.ack(second.receipt_handle)


def test_a_nack_of_a_message_already_back_is_harmless(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    got = one(q, visibility_timeout=1)
    clock.advance(1)
    q.change_visibility(got.receipt_handle, 0)
    assert held(q) == (1, 0, 0, 0)
    assert len(q.receive(max_messages=10)) == 1


def test_change_visibility_counts_from_now(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    got = one(q, visibility_timeout=30)
    clock.advance(20)
    q.change_visibility(got.receipt_handle, 30)
    clock.advance(29.999)
    assert q.receive() == []
    clock.advance(0.001)
    assert one(q).receive_count == 2


def test_change_visibility_can_shorten_the_lease(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    got = one(q, visibility_timeout=600)
    q.change_visibility(got.receipt_handle, 1)
    clock.advance(1)
    assert one(q).receive_count == 2


def test_change_visibility_after_the_deadline_hides_the_message_again(
    q: InMemoryQueue, clock: FakeClock
) -> None:
    q.send("x")
    got = one(q, visibility_timeout=5)
    clock.advance(5)
    assert held(q) == (1, 0, 0, 0)
    q.change_visibility(got.receipt_handle, 10)
    assert held(q) == (0, 1, 0, 0)
    assert q.receive() == []
    clock.advance(10)
    assert one(q).receive_count == 2


def test_the_longest_visibility_timeout_is_twelve_hours(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    got = one(q, visibility_timeout=43_200)
    clock.advance(43_199)
    assert q.receive() == []
    q.change_visibility(got.receipt_handle, 43_200)
    clock.advance(43_199)
    assert q.receive() == []
    clock.advance(1)
    assert one(q).receive_count == 2


# ---------------------------------------------------------------------------------- receipt handles


def test_a_superseded_handle_never_deletes_the_new_lease(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    old = one(q, visibility_timeout=5)
    clock.advance(5)
    new = one(q)
    with pytest.raises(ReceiptHandleSuperseded):
        q.ack(old.receipt_handle)
    with pytest.raises(ReceiptHandleSuperseded):
        q.change_visibility(old.receipt_handle, 0)
    assert held(q) == (0, 1, 0, 0)
    assert q.receive() == []
    q.ack(new.receipt_handle)
    assert held(q) == (0, 0, 0, 0)


def test_acking_twice_reports_an_unknown_handle(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    q.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.change_visibility(handle, 0)
    assert q.stats().acked_total == 1


def test_a_superseded_handle_of_an_acked_message_is_unknown(q: InMemoryQueue) -> None:
    q.send("x")
    old = one(q, visibility_timeout=0)
    new = one(q)
    q.ack(new.receipt_handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(old.receipt_handle)


@pytest.mark.parametrize(
    "handle",
    ["", "garbage", "rh1.", "rh1." + "0" * 32, "rh1." + "g" * 32, "rh2." + "0" * 32, None, 42, b"rh1."],
)
def test_a_malformed_handle_is_refused(q: InMemoryQueue, handle: object) -> None:
    q.send("x")
    one(q)
    with pytest.raises(ReceiptHandleMalformed):
        q.ack(handle)  # type: ignore[arg-type]
    with pytest.raises(ReceiptHandleMalformed):
        q.change_visibility(handle, 0)  # type: ignore[arg-type]
    assert held(q) == (0, 1, 0, 0)


def test_only_the_exact_handle_is_accepted(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    for variant in (handle.upper(), handle + "0", handle[:-1], " " + handle, handle.replace("rh1.", "RH1.")):
        with pytest.raises(ReceiptHandleMalformed):
            q.ack(variant)
    q.ack(handle)


def test_a_handle_from_another_queue_is_malformed_here(make: Callable[..., InMemoryQueue]) -> None:
    first, second = make(), make()
    first.send("x")
    second.send("x")
    handle = one(first).receipt_handle
    one(second)
    with pytest.raises(ReceiptHandleMalformed):
        second.ack(handle)
    assert held(second) == (0, 1, 0, 0)


def test_handles_are_opaque_versioned_strings(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    assert handle.startswith("rh1.")
    assert "m1" not in handle


# ---------------------------------------------------------------------------------- dead letters


def _exhaust(q: InMemoryQueue, clock: FakeClock, times: int) -> list[ReceivedMessage]:
    deliveries = []
    for _ in range(times):
        deliveries.extend(q.receive(max_messages=10, visibility_timeout=1))
        clock.advance(1)
    return deliveries


def test_a_message_is_dead_lettered_instead_of_its_extra_delivery(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=2)
    q.send({"c": Decimal("1.50")})
    deliveries = _exhaust(q, clock, 2)
    assert [d.receive_count for d in deliveries] == [1, 2]
    assert held(q) == (1, 0, 0, 0)
    assert q.receive() == []
    assert held(q) == (0, 0, 0, 1)
    assert totals(q) == (1, 0, 1, 1)
    [letter] = q.dead_letters()
    assert letter.message_id == "m1"
    assert letter.receive_count == 2
    assert letter.sent_at == START
    assert letter.dead_lettered_at == START + 2
    assert str(letter.body["c"]) == "1.50"
    clock.advance(3600)
    assert q.receive() == []


def test_a_dead_lettered_message_makes_way_for_the_next_one(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=1)
    q.send("poison")
    one(q, visibility_timeout=1)
    clock.advance(1)
    q.send("fine")
    assert one(q).body == "fine"
    assert held(q) == (0, 1, 0, 1)


def test_the_handle_of_a_dead_letter_is_unknown(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(max_receive_count=1)
    q.send("x")
    handle = one(q, visibility_timeout=1).receipt_handle
    clock.advance(1)
    assert q.receive() == []
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(handle)
    assert held(q) == (0, 0, 0, 1)


def test_dead_letters_are_listed_oldest_first_up_to_a_limit(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=1)
    for name in ("a", "b", "c"):
        q.send(name)
        one(q, visibility_timeout=1)
        clock.advance(1)
        q.receive()
    assert [d.body for d in q.dead_letters()] == ["a", "b", "c"]
    assert [d.body for d in q.dead_letters(limit=2)] == ["a", "b"]
    assert q.dead_letters(limit=0) == []
    assert [d.dead_lettered_at for d in q.dead_letters()] == [START + 1, START + 2, START + 3]


def test_redrive_gives_dead_letters_a_full_set_of_attempts(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=2)
    q.send("x")
    _exhaust(q, clock, 2)
    q.receive()
    assert q.redrive() == 1
    assert held(q) == (1, 0, 0, 0)
    assert q.dead_letters() == []
    deliveries = _exhaust(q, clock, 2)
    assert [(d.message_id, d.receive_count) for d in deliveries] == [("m1", 1), ("m1", 2)]
    assert deliveries[0].first_received_at == START
    assert q.receive() == []
    assert held(q) == (0, 0, 0, 1)
    assert totals(q) == (1, 0, 2, 2)


def test_redrive_moves_the_oldest_first_up_to_a_limit(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=1)
    for name in ("a", "b", "c"):
        q.send(name)
    _exhaust(q, clock, 1)
    q.receive()
    assert held(q) == (0, 0, 0, 3)
    assert q.redrive(limit=2) == 2
    assert q.redrive(limit=0) == 0
    assert [d.body for d in q.dead_letters()] == ["c"]
    assert [m.body for m in q.receive(max_messages=10)] == ["a", "b"]


def test_redrive_stops_at_capacity(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(max_receive_count=1, capacity=2)
    q.send("a")
    q.send("b")
    _exhaust(q, clock, 1)
    q.receive()
    q.send("c")
    assert q.redrive() == 1
    assert held(q) == (2, 0, 0, 1)
    assert q.redrive() == 0


def test_a_handle_from_before_dead_lettering_stays_dead_after_redrive(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(max_receive_count=1)
    q.send("x")
    old = one(q, visibility_timeout=1)
    clock.advance(1)
    q.receive()
    q.redrive()
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(old.receipt_handle)
    new = one(q)
    with pytest.raises(ReceiptHandleSuperseded):
        q.ack(old.receipt_handle)
    assert new.message_id == old.message_id
    q.ack(new.receipt_handle)
    assert held(q) == (0, 0, 0, 0)


# ---------------------------------------------------------------------------------- retention


@pytest.mark.parametrize("where", ["ready", "in_flight", "delayed"])
def test_a_message_past_retention_is_dropped_and_not_counted(
    make: Callable[..., InMemoryQueue], clock: FakeClock, where: str
) -> None:
    q = make(retention_seconds=1000)
    q.send("x", delay_seconds=900 if where == "delayed" else 0)
    if where == "in_flight":
        handle = one(q, visibility_timeout=43_200).receipt_handle
    clock.advance(999.999)
    assert sum(held(q)) == 1
    clock.advance(0.001)
    assert held(q) == (0, 0, 0, 0)
    assert q.receive() == []
    if where == "in_flight":
        with pytest.raises(ReceiptHandleUnknown):
            q.ack(handle)
    assert totals(q) == (1, 0, 0, 0)


def test_retention_counts_from_sending_not_from_the_last_receive(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(retention_seconds=100)
    q.send("x")
    for _ in range(3):
        one(q, visibility_timeout=30)
        clock.advance(30)
    clock.advance(10)
    assert held(q) == (0, 0, 0, 0)


def test_dead_letters_are_kept_for_the_retention_period_from_dead_lettering(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(retention_seconds=100, max_receive_count=1)
    q.send("x")
    one(q, visibility_timeout=60)
    clock.advance(60)
    q.receive()
    assert held(q) == (0, 0, 0, 1)
    clock.advance(99.999)
    assert held(q) == (0, 0, 0, 1)
    clock.advance(0.001)
    assert held(q) == (0, 0, 0, 0)
    assert q.dead_letters() == []
    assert q.redrive() == 0


def test_a_redriven_message_is_kept_for_the_retention_period_from_redrive(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(retention_seconds=100, max_receive_count=1)
    q.send("x")
    one(q, visibility_timeout=90)
    clock.advance(90)
    q.receive()
    clock.advance(90)
    q.redrive()
    clock.advance(99)
    got = one(q)
    assert got.sent_at == START
    clock.advance(1)
    assert held(q) == (0, 0, 0, 0)


def test_messages_are_dropped_in_order_as_their_time_comes(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(retention_seconds=10)
    for i in range(5):
        q.send(i)
        clock.advance(1)
    clock.advance(5)
    assert [m.body for m in q.receive(max_messages=10)] == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------- capacity


def test_send_at_capacity_raises_queue_full(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=2)
    q.send("a")
    q.send("b")
    with pytest.raises(QueueFull):
        q.send("c")
    assert totals(q) == (2, 0, 0, 0)


def test_in_flight_and_delayed_messages_count_toward_capacity(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=2)
    q.send("a")
    one(q)
    q.send("b", delay_seconds=60)
    with pytest.raises(QueueFull):
        q.send("c")


def test_an_ack_frees_room(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=1)
    q.send("a")
    handle = one(q).receipt_handle
    with pytest.raises(QueueFull):
        q.send("b")
    q.ack(handle)
    q.send("b")


def test_a_retention_drop_frees_room(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(capacity=1, retention_seconds=60)
    q.send("a")
    clock.advance(60)
    q.send("b")


def test_dead_letters_do_not_count_toward_capacity(
    make: Callable[..., InMemoryQueue], clock: FakeClock
) -> None:
    q = make(capacity=1, max_receive_count=1)
    q.send("a")
    one(q, visibility_timeout=1)
    clock.advance(1)
    with pytest.raises(QueueFull):
        q.send("b")
    q.receive()
    q.send("b")
    assert held(q) == (1, 0, 0, 1)


# ---------------------------------------------------------------------------------- staged publishing


def test_staged_messages_are_visible_only_after_commit(q: InMemoryQueue) -> None:
    staged = q.stage()
    ids = [staged.send("a"), staged.send("b")]
    assert q.receive(max_messages=10) == []
    assert q.stats() == QueueStats(0, 0, 0, 0, 0, 0, 0, 0)
    staged.commit()
    assert held(q) == (2, 0, 0, 0)
    assert q.stats().sent_total == 2
    assert [(m.message_id, m.body) for m in q.receive(max_messages=10)] == [(ids[0], "a"), (ids[1], "b")]


def test_a_staged_message_is_sent_at_commit(q: InMemoryQueue, clock: FakeClock) -> None:
    staged = q.stage()
    staged.send("now")
    staged.send("later", delay_seconds=10)
    clock.advance(5)
    staged.commit()
    assert one(q).sent_at == START + 5
    clock.advance(9.999)
    assert q.receive() == []
    clock.advance(0.001)
    assert one(q).body == "later"


def test_staging_reserves_capacity_so_commit_cannot_fail(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=2)
    staged = q.stage()
    staged.send("a")
    staged.send("b")
    with pytest.raises(QueueFull):
        q.send("c")
    with pytest.raises(QueueFull):
        staged.send("c")
    with pytest.raises(QueueFull):
        q.stage().send("c")
    staged.commit()
    assert held(q) == (2, 0, 0, 0)


def test_rollback_releases_the_reservations(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=1)
    staged = q.stage()
    staged.send("a")
    staged.rollback()
    assert q.stats() == QueueStats(0, 0, 0, 0, 0, 0, 0, 0)
    q.send("b")
    assert one(q).body == "b"


def test_rollback_forgets_the_staged_dedup_ids(q: InMemoryQueue) -> None:
    staged = q.stage()
    staged_id = staged.send("a", dedup_id="d")
    staged.rollback()
    sent = q.send("b", dedup_id="d")
    assert sent != staged_id
    assert one(q).body == "b"


def test_rollback_forgets_only_what_the_stage_registered(q: InMemoryQueue) -> None:
    first = q.send("a", dedup_id="d")
    staged = q.stage()
    assert staged.send("b", dedup_id="d") == first
    staged.send("c")
    staged.send("e", dedup_id="e")
    staged.rollback()
    assert q.send("f", dedup_id="d") == first, "the earlier send's dedup record stays"
    assert q.send("g", dedup_id="e") != first, "the staged one's is forgotten"
    assert [m.body for m in q.receive(max_messages=10)] == ["a", "g"]


def test_a_staged_send_with_a_known_dedup_id_stages_nothing(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=2)
    first = q.send("a", dedup_id="d")
    staged = q.stage()
    assert staged.send("b", dedup_id="d") == first
    staged.send("c")
    staged.commit()
    assert [m.body for m in q.receive(max_messages=10)] == ["a", "c"]


def test_dedup_applies_within_one_stage(q: InMemoryQueue) -> None:
    staged = q.stage()
    first = staged.send("a", dedup_id="d")
    assert staged.send("b", dedup_id="d") == first
    staged.commit()
    assert [m.body for m in q.receive(max_messages=10)] == ["a"]
    assert q.send("c", dedup_id="d") == first


def test_a_send_racing_a_stage_gets_the_staged_id(q: InMemoryQueue) -> None:
    staged = q.stage()
    staged_id = staged.send("a", dedup_id="d")
    assert q.send("b", dedup_id="d") == staged_id
    assert q.receive() == []
    staged.commit()
    assert [m.body for m in q.receive(max_messages=10)] == ["a"]


def test_a_stage_validates_at_send_and_reserves_nothing_on_error(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=1)
    staged = q.stage()
    with pytest.raises(PayloadTooLarge):
        staged.send("x" * LIMIT)
    with pytest.raises(QueueArgumentError):
        staged.send("x", delay_seconds=901)
    with pytest.raises(QueueArgumentError):
        staged.send(object())
    q.send("fits")
    staged.commit()
    assert held(q) == (1, 0, 0, 0)


@pytest.mark.parametrize("finish", ["commit", "rollback"])
def test_a_finished_stage_refuses_everything(q: InMemoryQueue, finish: str) -> None:
    staged = q.stage()
    staged.send("a")
    getattr(staged, finish)()
    with pytest.raises(RuntimeError):
        staged.send("b")
    with pytest.raises(RuntimeError):
        staged.commit()
    with pytest.raises(RuntimeError):
        staged.rollback()
    assert q.stats().sent_total == (1 if finish == "commit" else 0)


def test_an_empty_stage_commits_nothing(q: InMemoryQueue) -> None:
    staged = q.stage()
    staged.commit()
    assert q.stats() == QueueStats(0, 0, 0, 0, 0, 0, 0, 0)


class _LockCheckingClock(FakeClock):
    """A clock that records every reading taken while the queue's lock was held."""

    def __init__(self) -> None:
        super().__init__(START)
        self.queue: InMemoryQueue | None = None
        self.under_lock = 0

    def __call__(self) -> float:
        if self.queue is not None and self.queue._lock.locked():
            self.under_lock += 1
        return super().__call__()


def test_the_queue_reads_the_clock_and_makes_ids_outside_its_lock() -> None:
    clock = _LockCheckingClock()
    ids_under_lock = []

    def new_id() -> str:
        ids_under_lock.append(queue._lock.locked())
        return f"m{len(ids_under_lock)}"

    queue = InMemoryQueue(clock=clock, id_factory=new_id, max_receive_count=2)
    clock.queue = queue
    staged = queue.stage()
    staged.send("a", dedup_id="d")
    staged.commit()
    rolled = queue.stage()
    rolled.send("b")
    rolled.rollback()
    queue.send("c", delay_seconds=1)
    got = queue.receive(max_messages=10, visibility_timeout=1)
    queue.change_visibility(got[0].receipt_handle, 0)
    queue.ack(queue.receive()[0].receipt_handle)
    for _ in range(3):
        clock.advance(2)
        queue.receive(visibility_timeout=1)
    assert len(queue.dead_letters()) == 1
    assert queue.redrive() == 1
    queue.stats()
    assert clock.under_lock == 0
    assert ids_under_lock and not any(ids_under_lock)


def test_commit_while_the_caller_holds_its_own_lock(q: InMemoryQueue) -> None:
    store_lock = threading.Lock()
    staged = q.stage()
    staged.send("a")
    results: list[list[ReceivedMessage]] = []
    consumer = threading.Thread(target=lambda: results.append(q.receive(wait_seconds=20)))
    consumer.start()
    _until(lambda: q.waiting == 1)
    with store_lock:
        staged.commit()
    consumer.join(timeout=5)
    assert not consumer.is_alive()
    assert [m.body for m in results[0]] == ["a"]


# ---------------------------------------------------------------------------------- long polling


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Spin (briefly yielding) until ``predicate`` holds: a handshake, never a wait for expiry."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError("the other thread never got there")
        time.sleep(0.0005)


class _Poller:
    """Runs one long-polling receive on another thread and keeps what it returned."""

    def __init__(self, q: InMemoryQueue, **options: Any) -> None:
        self.result: list[ReceivedMessage] | None = None
        self.error: BaseException | None = None
        self._q = q
        self._options = options
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._q.receive(**self._options)
        except BaseException as exc:  # pragma: no cover - surfaced by finish()
            self.error = exc

    def start(self) -> _Poller:
        waiting = self._q.waiting
        self._thread.start()
        _until(lambda: self._q.waiting > waiting)
        return self

    def still_waiting(self) -> bool:
        self._thread.join(timeout=0.05)
        return self._thread.is_alive()

    def finish(self) -> list[ReceivedMessage]:
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the long poll was never woken"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def test_a_long_poll_is_woken_by_a_send(q: InMemoryQueue) -> None:
    poller = _Poller(q, wait_seconds=20).start()
    assert poller.still_waiting()
    q.send("hello")
    assert [m.body for m in poller.finish()] == ["hello"]
    assert q.waiting == 0


def test_a_long_poll_returns_at_once_when_a_message_is_ready(q: InMemoryQueue) -> None:
    q.send("ready")
    assert [m.body for m in q.receive(wait_seconds=20)] == ["ready"]


def test_a_long_poll_is_woken_when_a_delay_ends(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("later", delay_seconds=10)
    poller = _Poller(q, wait_seconds=20).start()
    clock.advance(9)
    assert poller.still_waiting()
    clock.advance(1)
    assert [m.body for m in poller.finish()] == ["later"]


def test_a_long_poll_is_woken_when_a_lease_runs_out(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    one(q, visibility_timeout=5)
    poller = _Poller(q, wait_seconds=20).start()
    clock.advance(5)
    [got] = poller.finish()
    assert got.receive_count == 2


def test_a_long_poll_is_woken_by_a_nack(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    poller = _Poller(q, wait_seconds=20).start()
    q.change_visibility(handle, 0)
    assert [m.receive_count for m in poller.finish()] == [2]


def test_a_long_poll_is_woken_by_a_commit(q: InMemoryQueue) -> None:
    staged = q.stage()
    staged.send("a")
    staged.send("b")
    poller = _Poller(q, max_messages=10, wait_seconds=20).start()
    assert poller.still_waiting()
    staged.commit()
    assert [m.body for m in poller.finish()] == ["a", "b"]


def test_a_long_poll_is_woken_by_a_redrive(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(max_receive_count=1)
    q.send("x")
    one(q, visibility_timeout=1)
    clock.advance(1)
    assert q.receive() == []
    poller = _Poller(q, wait_seconds=20).start()
    q.redrive()
    assert [m.receive_count for m in poller.finish()] == [1]


def test_a_long_poll_returns_nothing_when_the_wait_ends(q: InMemoryQueue, clock: FakeClock) -> None:
    poller = _Poller(q, wait_seconds=20).start()
    clock.advance(19)
    assert poller.still_waiting()
    clock.advance(1)
    assert poller.finish() == []
    assert q.waiting == 0


def test_each_send_wakes_one_of_several_long_polls(q: InMemoryQueue, clock: FakeClock) -> None:
    first = _Poller(q, wait_seconds=20).start()
    second = _Poller(q, wait_seconds=20).start()
    q.send("a")
    q.send("b")
    bodies = sorted(m.body for poller in (first, second) for m in poller.finish())
    assert bodies == ["a", "b"]


def test_the_clock_does_not_keep_a_dropped_queue_alive(clock: FakeClock) -> None:
    queue = InMemoryQueue(clock=clock)
    queue.send("x")
    del queue
    gc.collect()
    clock.advance(1)


# ---------------------------------------------------------------------------------- time and exact stats


def test_stats_are_exact_at_every_step(make: Callable[..., InMemoryQueue], clock: FakeClock) -> None:
    q = make(max_receive_count=2, retention_seconds=1000)
    assert held(q) == (0, 0, 0, 0)
    q.send("a")
    q.send("b", delay_seconds=10)
    q.send("c")
    assert held(q) == (2, 0, 1, 0)
    a, c = q.receive(max_messages=10, visibility_timeout=5)
    assert held(q) == (0, 2, 1, 0)
    clock.advance(5)
    assert held(q) == (2, 0, 1, 0)
    q.ack(c.receipt_handle)
    assert held(q) == (1, 0, 1, 0)
    clock.advance(5)
    assert held(q) == (2, 0, 0, 0)
    a2, b = q.receive(max_messages=10, visibility_timeout=5)
    assert (a2.body, a2.receive_count, b.body) == ("a", 2, "b")
    assert held(q) == (0, 2, 0, 0)
    clock.advance(5)
    assert held(q) == (2, 0, 0, 0)
    [b2] = q.receive(max_messages=10, visibility_timeout=5)
    assert b2.body == "b"
    assert held(q) == (0, 1, 0, 1)
    assert totals(q) == (3, 1, 2, 1)
    clock.advance(990)
    assert held(q) == (0, 0, 0, 1)
    clock.advance(10)
    assert held(q) == (0, 0, 0, 0)
    assert totals(q) == (3, 1, 2, 1)


class _WobblyClock:
    """A clock without listeners whose readings may go backwards (like a stepped system clock)."""

    def __init__(self) -> None:
        self.time = START

    def __call__(self) -> float:
        return self.time


def test_a_clock_stepping_backwards_does_not_move_the_queue_backwards() -> None:
    clock = _WobblyClock()
    q = InMemoryQueue(clock=clock)
    q.send("a")
    first = q.receive(visibility_timeout=10)[0]
    clock.time = START - 100
    q.send("b")
    assert q.receive()[0].sent_at == START
    clock.time = START + 10
    [again] = q.receive()
    assert again.message_id == first.message_id


def test_lazy_entries_are_swept_so_nothing_grows_without_bound(q: InMemoryQueue) -> None:
    for _ in range(10_000):
        q.send("x", dedup_id=None)
        got = q.receive(visibility_timeout=600)
        q.change_visibility(got[0].receipt_handle, 900)
        q.ack(got[0].receipt_handle)
    assert len(q._deadlines) < 4096
    assert len(q._kept) < 4096
    assert len(q._ready) < 4096
    assert len(q._leases) == 0
    assert held(q) == (0, 0, 0, 0)
