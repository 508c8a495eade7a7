"""The in-memory message queue: SQS standard-queue semantics inside one process.

`InMemoryQueue` implements `chalicelib.ports.queue.MessageQueue`, and `StagedMessages` its
`StagedPublish`: visibility timeouts, per-delivery receipt handles, delays, deduplication, dead
letters and redrive, retention, capacity (backpressure), long polling and staged (all-or-nothing)
publishing. Every expiry reads the injected clock, so tests move time with `FakeClock.advance`
instead of sleeping. The data structures, and why every call is O(log n), are in `_queue_state`;
`docs/queue.md` lists where the adapter differs from SQS.

Lock discipline: one `threading.Lock`, with a `Condition` for long polling, guards all state.
Bodies are serialised, ids drawn and the clock read before it is taken, and no code outside the
queue runs while it is held, so `StagedMessages.commit` takes only this lock and may be called
while the caller holds its own (store) lock. The one exception is the clock in a long poll, so a
clock must take no lock but its own (`FakeClock` and `time.time` take none).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from itertools import islice

from chalicelib.adapters.memory._arguments import (
    check_batch,
    check_limit,
    check_receive,
    check_send,
    check_visibility,
)
from chalicelib.adapters.memory._bodies import freeze, thaw
from chalicelib.adapters.memory._queue_state import QueueState, Staged
from chalicelib.clock import Clock
from chalicelib.errors import FormulaIntakeError, ReceiptHandleMalformed
from chalicelib.jsonio import JsonValue
from chalicelib.ports.queue import DeadLetter, QueueStats, ReceivedMessage

_OPEN, _COMMITTED, _ROLLED_BACK = "open", "committed", "rolled back"


REDRIVE_CHUNK = 500
"""Dead letters moved per acquisition of the queue's lock by `InMemoryQueue.redrive`."""


class InMemoryQueue(QueueState):
    """An at-least-once queue with SQS semantics, safe for any number of threads.

    ``capacity`` bounds the messages held (ready, in flight, delayed and staged; not dead
    letters); a message delivered ``max_receive_count`` times without an ack is dead-lettered on
    its next receive; ``retention_seconds`` counts from sending (from dead-lettering for dead
    letters, from redrive for redriven ones); ``dedup_window_seconds`` counts from the first send
    of a ``dedup_id``; ``id_factory`` makes message ids and must never repeat one.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        capacity: int = 100_000,
        max_receive_count: int = 5,
        retention_seconds: int = 4 * 24 * 3600,
        dedup_window_seconds: int = 300,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        settings = {
            "capacity": capacity,
            "max_receive_count": max_receive_count,
            "retention_seconds": retention_seconds,
            "dedup_window_seconds": dedup_window_seconds,
        }
        for name, value in settings.items():
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        super().__init__(**settings)
        self._clock: Clock = clock or time.time
        self._new_id = id_factory or _default_ids()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0
        subscribe = getattr(self._clock, "on_advance", None)
        if callable(subscribe):
            subscribe(_waker(self))

    # ------------------------------------------------------------------------ producing

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        check_send(delay_seconds, dedup_id)
        text = freeze(body)
        message_id = self._new_id()
        now = self._clock()
        with self._lock:
            now = self._sync(now)
            known = self._admit(dedup_id)
            if known is not None:
                return known
            self._accept(message_id, text, now, delay_seconds, dedup_id)
        return message_id

    def stage(self) -> StagedMessages:
        return StagedMessages(self)

    @property
    def waiting(self) -> int:
        """How many long-polling ``receive`` calls are blocked right now (for tests and metrics)."""
        return self._waiting

    # ------------------------------------------------------------------------ consuming

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]:
        check_receive(max_messages, visibility_timeout, wait_seconds)
        now = self._clock()
        with self._lock:
            now = self._sync(now)
            taken = self._take(now, max_messages, visibility_timeout)
            if not taken and wait_seconds:
                taken = self._wait(now + wait_seconds, max_messages, visibility_timeout)
        return taken

    def ack(self, receipt_handle: str) -> None:
        now = self._clock()
        with self._lock:
            self._sync(now)
            message = self._leases.pop(receipt_handle, None) if type(receipt_handle) is str else None
            if message is None:
                raise self._refuse(receipt_handle)
            self._delete(message)

    def ack_batch(self, receipt_handles: Sequence[str]) -> list[FormulaIntakeError | None]:
        check_batch(receipt_handles)
        now = self._clock()
        outcomes: list[FormulaIntakeError | None] = []
        with self._lock:
            self._sync(now)
            for handle in receipt_handles:
                message = self._leases.pop(handle, None) if type(handle) is str else None
                if message is None:
                    try:
                        outcomes.append(self._refuse(handle))
                    except ReceiptHandleMalformed as exc:
                        outcomes.append(exc)
                else:
                    self._delete(message)
                    outcomes.append(None)
        return outcomes

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        check_visibility(seconds)
        now = self._clock()
        with self._lock:
            now = self._sync(now)
            message = self._leases.get(receipt_handle) if type(receipt_handle) is str else None
            if message is None:
                raise self._refuse(receipt_handle)
            self._set_visibility(message, now, seconds)

    # ------------------------------------------------------------------------ dead letters and stats

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        now = self._clock()
        with self._lock:
            self._sync(now)
            rows = [
                (m.id, m.receive_count, m.sent_at, m.dead_lettered_at, m.body)
                for m in islice(self._dead.values(), limit)
            ]
        return [DeadLetter(mid, count, sent, dead, thaw(body)) for mid, count, sent, dead, body in rows]

    def redrive(self, *, limit: int | None = None) -> int:
        """Move dead letters back, `REDRIVE_CHUNK` at a time: the lock is taken once per chunk, so
        a large redrive never holds up sends and receives for longer than one chunk takes."""
        if limit is not None:
            check_limit(limit)
        moved = 0
        while True:
            now = self._clock()
            with self._lock:
                now = self._sync(now)
                wanted = len(self._dead) if limit is None else limit - moved
                chunk = max(0, min(len(self._dead), self._room, wanted, REDRIVE_CHUNK))
                if chunk:
                    self._redrive(now, chunk)
            moved += chunk
            if chunk < REDRIVE_CHUNK:
                return moved

    def stats(self) -> QueueStats:
        now = self._clock()
        with self._lock:
            self._sync(now)
            return QueueStats(
                ready=self._n_ready,
                in_flight=self._n_in_flight,
                delayed=self._n_delayed,
                dead_letters=len(self._dead),
                sent_total=self._sent,
                acked_total=self._acked,
                redelivered_total=self._redelivered,
                dead_lettered_total=self._dead_lettered,
            )

    # ------------------------------------------------------------------------ long polling (lock held)

    def _on_ready(self, count: int) -> None:
        if count and self._waiting:
            self._cond.notify(count)

    def _wait(self, give_up: float, limit: int, visibility: int) -> list[ReceivedMessage]:
        """Sleep until something may have become ready, or until ``give_up``, taking what is.

        The clock is read again under the lock before the first sleep: a `FakeClock.advance`
        that slipped in between the caller's reading and the lock would otherwise go unseen
        (its wake-up finds nobody waiting yet).
        """
        self._waiting += 1
        try:
            while True:
                now = self._sync(self._clock())
                taken = self._take(now, limit, visibility)
                if taken or now >= give_up:
                    return taken
                self._cond.wait(min(give_up, self._next_due) - now)
        finally:
            self._waiting -= 1

    def _wake_waiters(self) -> None:
        with self._cond:
            if self._waiting:
                self._cond.notify_all()


class StagedMessages:
    """Messages staged on one `InMemoryQueue` that become visible together on commit, or never.

    Each ``send`` reserves one unit of the queue's capacity at once (so ``commit`` can never fail
    for lack of room) and registers its ``dedup_id`` at once (so a concurrent send with the same
    id gets the staged message's id instead of enqueuing a second copy). ``commit`` enqueues
    everything under one acquisition of the queue's lock, each message sent (and its delay
    counted) at commit time, and wakes long-polling consumers; ``rollback`` releases the
    reservations and forgets the dedup ids it registered. Exactly one of the two may be called;
    any call after that raises `RuntimeError`. Meant to be used by one thread.
    """

    __slots__ = ("_queue", "_state", "_pending")

    def __init__(self, queue: InMemoryQueue) -> None:
        self._queue = queue
        self._state = _OPEN
        self._pending: list[Staged] = []

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        self._check_open()
        check_send(delay_seconds, dedup_id)
        text = freeze(body)
        queue = self._queue
        message_id = queue._new_id()
        now = queue._clock()
        with queue._lock:
            now = queue._sync(now)
            self._check_open()
            known = queue._admit(dedup_id)
            if known is not None:
                return known
            queue._reserve(message_id, dedup_id, now)
            self._pending.append((message_id, text, delay_seconds, dedup_id))
        return message_id

    def commit(self) -> None:
        queue = self._queue
        now = queue._clock()
        with queue._lock:
            now = queue._sync(now)
            self._close(_COMMITTED)
            queue._commit_staged(self._pending, now)

    def rollback(self) -> None:
        queue = self._queue
        with queue._lock:
            self._close(_ROLLED_BACK)
            queue._release_staged(self._pending)

    def _check_open(self) -> None:
        if self._state is not _OPEN:
            raise RuntimeError(f"this staged publish was already {self._state}")

    def _close(self, state: str) -> None:
        self._check_open()
        self._state = state


def _default_ids() -> Callable[[], str]:
    """Message ids unique across queues: 64 random bits drawn once, a dash, then a counter."""
    prefix = uuid.uuid4().hex[:16] + "-"
    counter = itertools.count(1)
    return lambda: prefix + str(next(counter))


def _waker(queue: InMemoryQueue) -> Callable[[], None]:
    """A clock listener that wakes ``queue``'s long pollers without keeping the queue alive."""
    wake = weakref.WeakMethod(queue._wake_waiters)

    def on_advance() -> None:
        method = wake()
        if method is not None:
            method()

    return on_advance
