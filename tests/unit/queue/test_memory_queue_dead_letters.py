"""`InMemoryQueue` dead letters and redrive."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    ReceiptHandleSuperseded,
    ReceiptHandleUnknown,
)
from chalicelib.ports.queue import ReceivedMessage
from tests.unit.queue.helpers import START, held, one, totals


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


def test_a_large_redrive_takes_the_lock_once_per_chunk(
    make: Callable[..., InMemoryQueue], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: no lock held for work that grows with the data. 1,200 dead letters move in
    chunks of `REDRIVE_CHUNK`, the lock released between them; a limit is honoured across chunks."""
    from chalicelib.adapters.memory import queue as queue_module

    q = make(max_receive_count=1)
    for n in range(1_200):
        q.send({"n": n})
    while q.receive(max_messages=10, visibility_timeout=1):
        pass
    clock.advance(1)
    while q.receive(max_messages=10):  # every message was received once: each is dead-lettered
        pass
    assert held(q) == (0, 0, 0, 1_200)

    chunks: list[tuple[int, bool]] = []
    original = InMemoryQueue._redrive

    def recording(self: InMemoryQueue, now: float, count: int) -> None:
        chunks.append((count, self._lock.locked()))
        original(self, now, count)

    monkeypatch.setattr(InMemoryQueue, "_redrive", recording)
    assert q.redrive(limit=1_100) == 1_100
    assert [count for count, _ in chunks] == [500, 500, 100]
    assert all(locked for _, locked in chunks)
    assert queue_module.REDRIVE_CHUNK == 500
    assert q.redrive() == 100 and held(q)[3] == 0
