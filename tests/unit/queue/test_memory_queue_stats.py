"""`InMemoryQueue` counts and time: exact stats at every step, a clock stepping back, bounded bookkeeping."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from tests.unit.queue.helpers import START, held, totals


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
