"""`InMemoryQueue` under real threads and the real clock: nothing lost, nothing acked twice."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue

PRODUCERS = 8
CONSUMERS = 8
MESSAGES = 20_000
JOIN_SECONDS = 30


@pytest.mark.slow
def test_eight_producers_and_eight_consumers_move_every_message_exactly_once() -> None:
    queue = InMemoryQueue(clock=time.time, capacity=MESSAGES)
    per_producer = MESSAGES // PRODUCERS
    sent: list[list[str]] = [[] for _ in range(PRODUCERS)]
    acked: list[list[tuple[str, int, int]]] = [[] for _ in range(CONSUMERS)]
    lock = threading.Lock()
    remaining = [MESSAGES]
    done = threading.Event()
    errors: list[BaseException] = []

    def produce(index: int) -> None:
        try:
            for n in range(per_producer):
                sent[index].append(queue.send({"producer": index, "n": n}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            done.set()

    def consume(index: int) -> None:
        try:
            while not done.is_set():
                for message in queue.receive(max_messages=10, visibility_timeout=300, wait_seconds=1):
                    queue.ack(message.receipt_handle)
                    body = message.body
                    acked[index].append((message.message_id, int(body["producer"]), int(body["n"])))
                    with lock:
                        remaining[0] -= 1
                        if remaining[0] == 0:
                            done.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=produce, args=(i,), daemon=True) for i in range(PRODUCERS)]
    threads += [threading.Thread(target=consume, args=(i,), daemon=True) for i in range(CONSUMERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.1, JOIN_SECONDS - (time.monotonic() - started)))
    assert not any(thread.is_alive() for thread in threads), "the threads did not finish in time"
    assert errors == []

    all_sent = [message_id for ids in sent for message_id in ids]
    counts = Counter(message_id for per in acked for message_id, _, _ in per)
    assert len(all_sent) == len(set(all_sent)) == MESSAGES
    assert set(counts) == set(all_sent)
    assert max(counts.values()) == 1
    assert all(sent[producer][n] == message_id for per in acked for message_id, producer, n in per)
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.delayed, stats.dead_letters) == (0, 0, 0, 0)
    assert (stats.sent_total, stats.acked_total, stats.redelivered_total) == (MESSAGES, MESSAGES, 0)
    assert queue.waiting == 0


@pytest.mark.slow
def test_a_long_poll_on_the_real_clock_wakes_when_a_lease_runs_out() -> None:
    """No listener tells the queue that real time passed: the wait itself must end at the deadline."""
    queue = InMemoryQueue(clock=time.time)
    queue.send("x")
    first = queue.receive(visibility_timeout=1)[0]
    started = time.monotonic()
    [again] = queue.receive(wait_seconds=10)
    elapsed = time.monotonic() - started
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert elapsed < 5


@pytest.mark.slow
def test_staged_commits_race_consumers_without_loss() -> None:
    queue = InMemoryQueue(clock=time.time, capacity=1_000)
    batches, size = 200, 5
    received: list[str] = []
    committed: list[str] = []
    finished = threading.Event()

    def publish() -> None:
        for _ in range(batches):
            staged = queue.stage()
            ids = [staged.send({"n": i}) for i in range(size)]
            staged.commit()
            committed.extend(ids)
        finished.set()

    def consume() -> None:
        while not (finished.is_set() and queue.stats().ready == 0):
            for message in queue.receive(max_messages=10, wait_seconds=1):
                queue.ack(message.receipt_handle)
                received.append(message.message_id)

    threads = [threading.Thread(target=publish, daemon=True)]
    threads += [threading.Thread(target=consume, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(received) == sorted(committed)
    assert len(committed) == batches * size
