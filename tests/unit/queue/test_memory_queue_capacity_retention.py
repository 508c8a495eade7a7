"""`InMemoryQueue` capacity (backpressure) and retention: what is held, for how long, and what frees room."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    QueueFull,
    ReceiptHandleUnknown,
)
from tests.unit.queue.helpers import START, held, one, totals


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
