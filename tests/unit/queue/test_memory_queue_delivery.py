"""`InMemoryQueue` delivery and visibility: what a receive hands out, when a message comes back.

These tests, like the others in this folder, move time with `FakeClock` (nothing sleeps) and pin
down the in-memory adapter's own promises in more detail than the shared contract suite
(tests/integration/test_queue_contract.py): exact boundaries and exact counts after every step.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    ReceiptHandleSuperseded,
)
from chalicelib.ports.queue import MessageQueue, QueueStats, StagedPublish
from tests.unit.queue.helpers import START, held, one, totals


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
