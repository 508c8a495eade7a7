"""`InMemoryQueue` long polling: a blocked receive wakes on the exact event, `FakeClock.advance` included."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.ports.queue import ReceivedMessage
from tests.unit.queue.helpers import one, until


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
        until(lambda: self._q.waiting > waiting)
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
    alive = weakref.ref(queue)
    del queue
    gc.collect()
    assert alive() is None, "the clock's listener must not hold the queue"
    clock.advance(1)  # and a listener whose queue is gone is harmless
