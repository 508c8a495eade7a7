"""`InMemoryQueue` delays and deduplication: when a message becomes visible, when a send is a repeat."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    QueueFull,
)
from tests.unit.queue.helpers import START, held, one, totals


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
