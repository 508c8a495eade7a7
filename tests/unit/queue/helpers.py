"""Small helpers shared by the in-memory queue tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.ports.queue import ReceivedMessage

LIMIT = 262_144
START = 1_700_000_000.0


def held(q: InMemoryQueue) -> tuple[int, int, int, int]:
    """(ready, in flight, delayed, dead letters)."""
    s = q.stats()
    return s.ready, s.in_flight, s.delayed, s.dead_letters


def totals(q: InMemoryQueue) -> tuple[int, int, int, int]:
    """(sent, acked, redelivered, dead-lettered) totals."""
    s = q.stats()
    return s.sent_total, s.acked_total, s.redelivered_total, s.dead_lettered_total


def one(q: InMemoryQueue, **options: Any) -> ReceivedMessage:
    """The one message a receive returns (failing if it returns another number)."""
    messages = q.receive(**options)
    assert len(messages) == 1
    return messages[0]


def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Spin (briefly yielding) until ``predicate`` holds: a handshake, never a wait for expiry."""
    give_up = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > give_up:
            raise AssertionError("the other thread never got there")
        time.sleep(0.0005)
