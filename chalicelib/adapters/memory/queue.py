"""The in-memory message queue: SQS standard-queue semantics inside one process.

`InMemoryQueue` implements `chalicelib.ports.MessageQueue`: visibility timeouts, per-delivery
receipt handles, delays, deduplication, dead letters and redrive, retention, capacity
(backpressure), long polling and staged (all-or-nothing) publishing. Every expiry reads the
injected `Clock`, so tests move time with `FakeClock.advance` instead of sleeping. The data
structures, and why every call is O(log n), are in `_queue_state`; `docs/queue.md` lists where
the adapter differs from SQS.

Lock discipline: one `threading.Lock`, with a `Condition` for long polling, guards all state.
Bodies are serialised, ids drawn and the clock read before it is taken, and no code outside the
queue runs while it is held, so `StagedPublish.commit` takes only this lock and may be called
while the caller holds its own (store) lock. The one exception is `Clock.now()` in a long poll,
so a clock must take no lock but its own (`FakeClock` and `SystemClock` take none). Bodies are
parsed for delivery under the lock: the C parser holds the GIL throughout, so doing it outside
would not let any other thread run sooner.

``send``, ``receive`` and ``ack`` are written for speed (see ``bench/bench_queue.py`` and the
figures in ``docs/queue.md``): they use ``acquire``/``release`` rather than ``with``, read a
`SystemClock` through ``time.time`` itself, and inline what they would otherwise call once per
message: the no-op case of `QueueState._sync`, `freeze` (with `_bodies.snapshot`'s loop), the
default id factory, `QueueState._enqueue`, ``_take`` for one message, `received`, `thaw` and
``_delete``. Each inlined copy says so; the general versions serve staging, multi-message
receives and long polls, and the tests run both.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from decimal import Decimal
from heapq import heappush
from itertools import islice

from chalicelib.adapters.memory._bodies import (
    MAX_BODY_BYTES,
    NOT_JSON,
    Frozen,
    freeze,
    measure,
    not_json,
    parse,
    thaw,
)
from chalicelib.adapters.memory._queue_state import (
    DELAYED,
    IN_FLIGHT,
    READY,
    Delivery,
    Message,
    QueueState,
    new_object,
)
from chalicelib.adapters.memory._receipts import VERSION, pack
from chalicelib.adapters.memory._staging import OPEN, StagedMessages
from chalicelib.clock import Clock
from chalicelib.errors import QueueArgumentError, QueueFull
from chalicelib.jsonio import JsonValue, dumps
from chalicelib.ports import DeadLetter, QueueStats, ReceivedMessage

MAX_MESSAGES = 10
MAX_VISIBILITY_SECONDS = 43_200
MAX_WAIT_SECONDS = 20
MAX_DELAY_SECONDS = 900


def _out_of_range(name: str, low: int, high: int | None = None) -> QueueArgumentError:
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    return QueueArgumentError(name, f"must be an integer {bounds}")


def _check_send(delay_seconds: int, dedup_id: str | None) -> None:
    if type(delay_seconds) is not int or not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise _out_of_range("delay_seconds", 0, MAX_DELAY_SECONDS)
    # A dedup id is 1 to 128 printable ASCII characters, no spaces (what ``[!-~]{1,128}`` matches).
    if dedup_id is not None and not (
        type(dedup_id) is str
        and 0 < len(dedup_id) <= 128
        and dedup_id.isascii()
        and dedup_id.isprintable()
        and " " not in dedup_id
    ):
        raise QueueArgumentError("dedup_id", "must be 1 to 128 printable ASCII characters, no spaces")


_ONE, _ZERO = 1, 0
"""CPython's cached small ints: ``x is _ONE`` proves ``x`` an `int` equal to 1 in one step."""


def _check_receive(max_messages: int, visibility_timeout: int, wait_seconds: int) -> None:
    if type(max_messages) is not int or not 1 <= max_messages <= MAX_MESSAGES:
        raise _out_of_range("max_messages", 1, MAX_MESSAGES)
    if type(visibility_timeout) is not int or not 0 <= visibility_timeout <= MAX_VISIBILITY_SECONDS:
        raise _out_of_range("visibility_timeout", 0, MAX_VISIBILITY_SECONDS)
    if type(wait_seconds) is not int or not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise _out_of_range("wait_seconds", 0, MAX_WAIT_SECONDS)


def _check_limit(limit: int) -> None:
    if type(limit) is not int or limit < 0:
        raise _out_of_range("limit", 0)


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
        super().__init__(
            max_receive_count=max_receive_count,
            retention_seconds=retention_seconds,
            dedup_window_seconds=dedup_window_seconds,
        )
        self._clock: Clock = clock or time.time
        self._capacity = capacity
        # Default message ids: 64 random bits drawn once per queue, a dash, then a counter. `send`
        # draws them inline (``_id_prefix`` is "" when an ``id_factory`` is given), staging calls
        # ``_new_id`` (a closure, not a bound method, so the queue is not in a reference cycle).
        prefix = self._id_prefix = "" if id_factory else uuid.uuid4().hex[:16] + "-"
        counter = self._id_counter = itertools.count(1)
        self._new_id = id_factory or (lambda: prefix + str(next(counter)))
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0
        subscribe = getattr(self._clock, "on_advance", None)
        if callable(subscribe):
            wake = weakref.WeakMethod(self._wake_waiters)

            def on_advance() -> None:
                method = wake()
                if method is not None:
                    method()

            subscribe(on_advance)

    # ------------------------------------------------------------------------ producing

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        if delay_seconds.__class__ is not int or delay_seconds or dedup_id is not None:
            _check_send(delay_seconds, dedup_id)
        # freeze(body), inlined: a flat body's dict copy (the loop is `snapshot`'s), else JSON text.
        frozen: Frozen | None = None
        if body.__class__ is dict:
            bound = 2
            for key, value in body.items():
                if key.__class__ is not str or not key.isascii():
                    break
                cls = value.__class__
                if cls is str:
                    if not value.isascii():
                        break
                    bound += 6 * (len(key) + len(value)) + 6
                elif value is None or cls is bool:
                    bound += 6 * len(key) + 9
                elif cls is Decimal and value.is_finite():
                    bound += 6 * len(key) + 4 + len(str(value))
                else:
                    break
            else:
                if bound <= MAX_BODY_BYTES:
                    frozen = body.copy()
        if frozen is None:
            try:
                frozen = text = dumps(body)
            except NOT_JSON as exc:
                raise not_json(exc) from exc
            if not text.isascii() or len(text) > MAX_BODY_BYTES:
                measure(text)
        if self._id_prefix:
            message_id = self._id_prefix + str(next(self._id_counter))
        else:
            message_id = self._new_id()
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now > self._now:
                self._now = now
            else:
                now = self._now
            if now >= self._next_due:
                self._apply_due(now)
            if dedup_id is not None:
                known = self._dedup.get(dedup_id)
                if known is not None:
                    return known[0]
            messages = self._messages
            if len(messages) + self._reserved >= self._capacity:
                raise QueueFull()
            # self._enqueue(message_id, frozen, now, delay_seconds), inlined:
            kept_until = now + self._retention
            key = next(self._tickets)
            message = new_object(Message)
            message.key = message.ticket = key
            message.id = message_id
            message.body = frozen
            message.sent_at = now
            message.kept_until = kept_until
            message.receive_count = message.leases = 0
            message.handle = ""
            messages[key] = message
            self._kept.append((kept_until, key))
            if kept_until < self._next_due:
                self._next_due = kept_until
            if delay_seconds:
                message.state = DELAYED
                self._push_deadline(now + delay_seconds, key, key)
                self._n_delayed += 1
            else:
                message.state = READY
                self._ready.append((key, key))
                if self._waiting:
                    self._cond.notify()
            self._sent += 1
            if dedup_id is not None:
                self._remember(dedup_id, message_id, now)
        finally:
            lock.release()
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
        if (
            max_messages is not _ONE  # the cached int 1, so certainly a valid int; else check it
            or wait_seconds is not _ZERO
            or visibility_timeout.__class__ is not int
            or not 0 <= visibility_timeout <= MAX_VISIBILITY_SECONDS
        ):
            _check_receive(max_messages, visibility_timeout, wait_seconds)
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now > self._now:
                self._now = now
            else:
                now = self._now
            if now >= self._next_due:
                self._apply_due(now)
            ready = self._ready
            if not ready:
                taken = []
            elif max_messages != 1:
                taken = self._take(now, max_messages, visibility_timeout)
            else:  # self._take(now, 1, visibility_timeout), inlined
                taken = []
                messages = self._messages
                while ready:
                    ticket, key = ready.popleft()
                    message = messages.get(key)
                    if message is None or message.ticket != ticket:
                        continue
                    handle = message.handle
                    if handle:
                        del self._leases[handle]
                    count = message.receive_count
                    if count >= self._max_receives:
                        self._bury(message, now)
                        continue
                    message.receive_count = count = count + 1
                    message.leases = lease = message.leases + 1
                    if lease == 1:
                        message.first_received_at = now
                    elif count > 1:
                        self._redelivered += 1
                    message.state = IN_FLIGHT
                    message.ticket = ticket = next(self._tickets)
                    due = now + visibility_timeout
                    heappush(self._deadlines, (due, ticket, key))
                    if due < self._next_due:
                        self._next_due = due
                    self._n_in_flight += 1
                    message.handle = handle = VERSION + pack(self._tag, key, lease).hex()
                    self._leases[handle] = message
                    # received(...), inlined: a Delivery filled slot by slot, then made a ReceivedMessage
                    delivery = new_object(Delivery)
                    delivery.message_id = message.id
                    delivery.receipt_handle = handle
                    delivery.receive_count = count
                    delivery.sent_at = message.sent_at
                    delivery.first_received_at = message.first_received_at
                    body = message.body  # thaw(message.body), inlined:
                    delivery.body = parse(body, 0)[0] if body.__class__ is str else body.copy()  # type: ignore[union-attr]
                    delivery.__class__ = ReceivedMessage  # type: ignore[assignment]
                    taken = [delivery]  # type: ignore[list-item]
                    break
            if not taken and wait_seconds:
                taken = self._wait(now + wait_seconds, max_messages, visibility_timeout)
        finally:
            lock.release()
        return taken

    def ack(self, receipt_handle: str) -> None:
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now > self._now:
                self._now = now
            else:
                now = self._now
            if now >= self._next_due:
                self._apply_due(now)
            message = self._leases.pop(receipt_handle, None) if receipt_handle.__class__ is str else None
            if message is None:
                raise self._refuse(receipt_handle)
            # self._delete(message), inlined:
            del self._messages[message.key]
            if message.state == IN_FLIGHT:
                self._n_in_flight -= 1
            self._acked += 1
            self._garbage += 1
            if self._garbage > self._garbage_limit:
                self._tidy()
        finally:
            lock.release()

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        if type(seconds) is not int or not 0 <= seconds <= MAX_VISIBILITY_SECONDS:
            raise _out_of_range("seconds", 0, MAX_VISIBILITY_SECONDS)
        now = self._clock()
        with self._lock:
            now = self._sync(now)
            message = self._leases.get(receipt_handle) if type(receipt_handle) is str else None
            if message is None:
                raise self._refuse(receipt_handle)
            self._set_visibility(message, now, seconds)

    # ------------------------------------------------------------------------ dead letters and stats

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        _check_limit(limit)
        now = self._clock()
        with self._lock:
            self._sync(now)
            rows = [
                (m.id, m.receive_count, m.sent_at, m.dead_lettered_at, m.body)
                for m in islice(self._dead.values(), limit)
            ]
        return [DeadLetter(mid, count, sent, dead, thaw(body)) for mid, count, sent, dead, body in rows]

    def redrive(self, *, limit: int | None = None) -> int:
        if limit is not None:
            _check_limit(limit)
        now = self._clock()
        with self._lock:
            now = self._sync(now)
            room = self._capacity - len(self._messages) - self._reserved
            moved = max(0, min(len(self._dead), room, len(self._dead) if limit is None else limit))
            self._redrive(now, moved)
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

    # ------------------------------------------------------------------------ staging (for StagedMessages)

    def _stage_one(self, staged: StagedMessages, body: JsonValue, delay: int, dedup_id: str | None) -> str:
        if delay.__class__ is not int or delay or dedup_id is not None:
            _check_send(delay, dedup_id)
        frozen = freeze(body)
        message_id = self._id_prefix + str(next(self._id_counter)) if self._id_prefix else self._new_id()
        now = self._clock()
        with self._lock:
            if self._now < now < self._next_due:  # time moved on and nothing fell due: _sync's answer
                self._now = now
            else:
                now = self._sync(now)
            if staged.state is not OPEN:
                staged.check_open()
            if dedup_id is not None:
                known = self._dedup.get(dedup_id)
                if known is not None:
                    return known[0]
            if len(self._messages) + self._reserved >= self._capacity:
                raise QueueFull()
            self._reserved += 1
            staged.pending.append((message_id, frozen, delay, dedup_id))
            if dedup_id is not None:
                self._remember(dedup_id, message_id, now)
        return message_id

    def _commit(self, staged: StagedMessages) -> None:
        now = self._clock()
        pending = staged.pending
        with self._lock:
            if self._now < now < self._next_due:  # as in _stage_one
                self._now = now
            else:
                now = self._sync(now)
            staged.close(committed=True)
            ready = 0
            for message_id, frozen, delay, _ in pending:
                self._enqueue(message_id, frozen, now, delay)
                if not delay:
                    ready += 1
            self._reserved -= len(pending)
            self._sent += len(pending)
            self._on_ready(ready)

    def _rollback(self, staged: StagedMessages) -> None:
        with self._lock:
            staged.close(committed=False)
            self._reserved -= len(staged.pending)
            for message_id, _, _, dedup_id in staged.pending:
                if dedup_id is not None and self._dedup.get(dedup_id, ("",))[0] == message_id:
                    del self._dedup[dedup_id]

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
