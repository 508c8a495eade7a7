"""`InMemoryQueue.stage()`: messages that become visible together on commit, or never; and the
queue's lock discipline, which is what lets a store commit while holding its own lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    PayloadTooLarge,
    QueueArgumentError,
    QueueFull,
)
from chalicelib.ports.queue import QueueStats, ReceivedMessage
from tests.unit.queue.helpers import LIMIT, START, held, one, until


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
    until(lambda: q.waiting == 1)
    with store_lock:
        staged.commit()
    consumer.join(timeout=5)
    assert not consumer.is_alive()
    assert [m.body for m in results[0]] == ["a"]
