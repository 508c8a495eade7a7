"""The bookkeeping behind `InMemoryQueue`: what it holds and how time moves it along.

`QueueState` knows nothing of threads or argument checking; `InMemoryQueue` calls it with its
lock held. Every method is O(log n) in the messages held, amortised, and none scans the queue:

- ``_messages``: key -> `Message` for each held (ready, in-flight or delayed) message;
- ``_leases``: the receipt handle of each message's current lease -> that message;
- ``_ready``: a FIFO of ready messages in the order they became ready;
- ``_deadlines``: a heap of visibility deadlines and delay ends;
- ``_kept``: a FIFO of retention deadlines (held messages and dead letters);
- ``_dedup``: the deduplication records, with a FIFO of their expiries (`DedupWindow`);
- ``_dead``: the dead letters, oldest first.

A FIFO serves as the heap for retention (and deduplication) because each of their deadlines is
"now + a constant" and the queue's own now never goes backwards (a clock reading older than the
last one is raised to it), so they are pushed in deadline order. Entries are never searched for:
a message that changes state takes a fresh ``ticket``, and entries carrying an older ticket are
skipped when popped (lazy deletion). Entries are tuples of plain values that name a message by
its key and never hold the `Message` itself: the garbage collector stops tracking such tuples, so
its work does not grow with the number of entries and an operation costs the same with a large
backlog as with a small one. A structure holding more dead entries than live ones (plus slack) is
rebuilt, which is O(1) amortised. `_sync` applies whatever has fallen due before every
public operation, so counts are exact at the clock's current time; ``_next_due``, the earliest
front of the three timed structures, makes that one comparison when nothing is due.

Only the in-flight and delayed messages are counted; the ready ones are the rest of
``_messages`` (`_n_ready`), so sending, receiving and acking each update one counter at most.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from heapq import heapify, heappop, heappush

from chalicelib.adapters.memory._bodies import thaw
from chalicelib.adapters.memory._dedup import DedupWindow
from chalicelib.adapters.memory._message import DEAD, DELAYED, GONE, IN_FLIGHT, READY, Message
from chalicelib.adapters.memory._receipts import ReceiptCodec
from chalicelib.errors import QueueFull, ReceiptHandleSuperseded, ReceiptHandleUnknown
from chalicelib.ports.queue import ReceivedMessage

_INF = float("inf")
_SLACK = 1024

Staged = tuple[str, str, int, str | None]
"""A staged message: (message id, body text, delay seconds, dedup id)."""


class QueueState:
    """The structures of one queue and the transitions between them (caller holds the lock)."""

    def __init__(
        self, *, capacity: int, max_receive_count: int, retention_seconds: int, dedup_window_seconds: int
    ) -> None:
        self._capacity = capacity
        self._max_receives = max_receive_count
        self._retention = retention_seconds
        self._receipts = ReceiptCodec()
        self._now = -_INF
        self._next_due = _INF
        self._tickets = itertools.count(1)
        self._messages: dict[int, Message] = {}
        self._leases: dict[str, Message] = {}
        self._ready: deque[tuple[int, int]] = deque()
        self._deadlines: list[tuple[float, int, int]] = []
        self._kept: deque[tuple[float, int]] = deque()
        self._dead: OrderedDict[int, Message] = OrderedDict()
        self._dedup = DedupWindow(dedup_window_seconds)
        self._n_in_flight = self._n_delayed = self._reserved = 0
        self._sent = self._acked = self._redelivered = self._dead_lettered = 0
        self._garbage = 0
        self._garbage_limit = _SLACK

    @property
    def _n_ready(self) -> int:
        return len(self._messages) - self._n_in_flight - self._n_delayed

    @property
    def _room(self) -> int:
        """How many more messages may be sent or staged before the queue is full."""
        return self._capacity - len(self._messages) - self._reserved

    def _sync(self, now: float) -> float:
        """Adopt ``now`` (never moving backwards), apply every transition due by then, return it."""
        if now > self._now:
            self._now = now
        else:
            now = self._now
        if now >= self._next_due:
            self._apply_due(now)
        return now

    def _apply_due(self, now: float) -> None:
        """Drop what outlived retention, release ended leases and delays, forget old dedup ids."""
        kept, deadlines, dedup = self._kept, self._deadlines, self._dedup
        if kept and kept[0][0] <= now:
            self._expire(now)
        if deadlines and deadlines[0][0] <= now:
            self._release(now)
        if dedup.next_due <= now:
            dedup.expire(now)
        self._next_due = min(
            kept[0][0] if kept else _INF,
            deadlines[0][0] if deadlines else _INF,
            dedup.next_due,
        )

    def _expire(self, now: float) -> None:
        kept, messages, dead = self._kept, self._messages, self._dead
        while kept and kept[0][0] <= now:
            until, key = kept.popleft()
            message = messages.get(key) or dead.get(key)
            if message is None or message.kept_until != until:
                continue
            state = message.state
            if state == DEAD:
                del dead[key]
            else:
                del messages[key]
                if message.handle:
                    del self._leases[message.handle]
                if state == IN_FLIGHT:
                    self._n_in_flight -= 1
                elif state == DELAYED:
                    self._n_delayed -= 1
            message.state = GONE
            message.ticket = 0
            self._garbage += 1
        if self._garbage > self._garbage_limit:
            self._tidy()

    def _release(self, now: float) -> None:
        deadlines, messages = self._deadlines, self._messages
        released = 0
        while deadlines and deadlines[0][0] <= now:
            _, ticket, key = heappop(deadlines)
            message = messages.get(key)
            if message is None or message.ticket != ticket:
                continue
            if message.state == IN_FLIGHT:
                self._n_in_flight -= 1
            else:
                self._n_delayed -= 1
            self._make_ready(message)
            released += 1
        self._on_ready(released)

    def _on_ready(self, count: int) -> None:
        """Hook: ``count`` messages have just become ready (the queue wakes long pollers)."""

    def _enqueue(self, message_id: str, body: str, now: float, delay: int) -> None:
        kept_until = now + self._retention
        key = next(self._tickets)
        message = Message(key, message_id, body, now, kept_until)
        self._messages[key] = message
        self._kept.append((kept_until, key))
        if kept_until < self._next_due:
            self._next_due = kept_until
        if delay:
            message.state = DELAYED
            self._push_deadline(now + delay, key, key)
            self._n_delayed += 1
        else:
            self._ready.append((key, key))

    def _make_ready(self, message: Message) -> None:
        message.state = READY
        message.ticket = ticket = next(self._tickets)
        self._ready.append((ticket, message.key))

    def _push_deadline(self, due: float, ticket: int, key: int) -> None:
        heappush(self._deadlines, (due, ticket, key))
        if due < self._next_due:
            self._next_due = due

    def _admit(self, dedup_id: str | None) -> str | None:
        """The id of the message sent earlier with ``dedup_id``, if it is remembered; else None,
        once there is room for one more message (`QueueFull` if there is not)."""
        if dedup_id is not None and (known := self._dedup.known(dedup_id)) is not None:
            return known
        if self._room <= 0:
            raise QueueFull()
        return None

    def _accept(self, message_id: str, body: str, now: float, delay: int, dedup_id: str | None) -> None:
        """Send one message that `_admit` let in."""
        self._enqueue(message_id, body, now, delay)
        self._sent += 1
        if dedup_id is not None:
            self._remember(dedup_id, message_id, now)
        if not delay:
            self._on_ready(1)

    def _reserve(self, message_id: str, dedup_id: str | None, now: float) -> None:
        """Hold room for one staged message that `_admit` let in, and register its dedup id."""
        self._reserved += 1
        if dedup_id is not None:
            self._remember(dedup_id, message_id, now)

    def _commit_staged(self, staged: list[Staged], now: float) -> None:
        """Send the reserved messages ``staged``, all at ``now``."""
        ready = 0
        for message_id, body, delay, _ in staged:
            self._enqueue(message_id, body, now, delay)
            ready += not delay
        self._reserved -= len(staged)
        self._sent += len(staged)
        self._on_ready(ready)

    def _release_staged(self, staged: list[Staged]) -> None:
        """Give back the room of the reserved messages ``staged`` and forget their dedup ids."""
        self._reserved -= len(staged)
        for message_id, _, _, dedup_id in staged:
            if dedup_id is not None:
                self._dedup.forget(dedup_id, message_id)

    def _remember(self, dedup_id: str, message_id: str, now: float) -> None:
        expires = self._dedup.remember(dedup_id, message_id, now)
        if expires < self._next_due:
            self._next_due = expires

    def _take(self, now: float, limit: int, visibility: int) -> list[ReceivedMessage]:
        """Deliver up to ``limit`` ready messages, dead-lettering those out of receives."""
        taken: list[ReceivedMessage] = []
        ready, messages, leases = self._ready, self._messages, self._leases
        due = now + visibility
        while ready and len(taken) < limit:
            ticket, key = ready.popleft()
            message = messages.get(key)
            if message is None or message.ticket != ticket:
                continue
            if message.handle:
                del leases[message.handle]
            if message.receive_count >= self._max_receives:
                self._bury(message, now)
                continue
            count = message.receive_count = message.receive_count + 1
            lease = message.leases = message.leases + 1
            if lease == 1:
                message.first_received_at = now
            elif count > 1:
                self._redelivered += 1
            message.state = IN_FLIGHT
            message.ticket = ticket = next(self._tickets)
            heappush(self._deadlines, (due, ticket, key))
            message.handle = handle = self._receipts.encode(key, lease)
            leases[handle] = message
            body = thaw(message.body)
            taken.append(
                ReceivedMessage(message.id, handle, count, message.sent_at, message.first_received_at, body)
            )
        if taken:
            self._n_in_flight += len(taken)
            if due < self._next_due:
                self._next_due = due
        return taken

    def _bury(self, message: Message, now: float) -> None:
        """Dead-letter a ready message (taken out of ``_leases`` already)."""
        del self._messages[message.key]
        message.state = DEAD
        message.ticket = 0
        message.handle = ""
        message.dead_lettered_at = now
        message.kept_until = kept_until = now + self._retention
        self._kept.append((kept_until, message.key))
        if kept_until < self._next_due:
            self._next_due = kept_until
        self._dead[message.key] = message
        self._dead_lettered += 1
        self._litter()

    def _redrive(self, now: float, count: int) -> None:
        kept_until = now + self._retention
        for _ in range(count):
            key, message = self._dead.popitem(last=False)
            message.receive_count = 0
            message.kept_until = kept_until
            self._kept.append((kept_until, key))
            self._messages[key] = message
            self._make_ready(message)
        if kept_until < self._next_due:
            self._next_due = kept_until
        self._on_ready(count)
        self._litter(count)

    def _delete(self, message: Message) -> None:
        """Delete a message whose handle was just taken out of ``_leases`` (an ack).

        Nothing refers to the message afterwards (lazy entries name it by key), so it is left as
        it is rather than marked gone."""
        del self._messages[message.key]
        if message.state == IN_FLIGHT:
            self._n_in_flight -= 1
        self._acked += 1
        self._garbage += 1
        if self._garbage > self._garbage_limit:
            self._tidy()

    def _set_visibility(self, message: Message, now: float, seconds: int) -> None:
        if seconds == 0:
            if message.state == IN_FLIGHT:
                self._n_in_flight -= 1
                self._make_ready(message)
                self._on_ready(1)
        else:
            if message.state == READY:
                self._n_in_flight += 1
                message.state = IN_FLIGHT
            message.ticket = ticket = next(self._tickets)
            self._push_deadline(now + seconds, ticket, message.key)
        self._litter()

    def _refuse(self, handle: object) -> ReceiptHandleSuperseded | ReceiptHandleUnknown:
        """The error for a handle that is not a current lease (raises if it is malformed)."""
        key, lease = self._receipts.decode(handle)
        message = self._messages.get(key)
        if message is not None and lease < message.leases:
            return ReceiptHandleSuperseded(
                "The message was received again after this receipt handle was issued."
            )
        return ReceiptHandleUnknown("No message in the queue holds this receipt handle.")

    def _litter(self, entries: int = 1) -> None:
        """Count ``entries`` newly dead structure entries; tidy up once there are enough."""
        self._garbage += entries
        if self._garbage > self._garbage_limit:
            self._tidy()

    def _tidy(self) -> None:
        """Rebuild each structure that holds more dead entries than live ones, plus slack.

        Runs once per ``_garbage_limit`` (at least the number of messages held) state changes
        that leave dead entries behind, so its O(n) cost is O(1) amortised. A structure with no
        live entry at all (nothing in flight or delayed, nothing held: a queue that keeps up with
        its producers) is simply emptied, without looking at its entries.
        """
        messages, dead = self._messages, self._dead
        get, get_dead = messages.get, dead.get
        deadlines = self._deadlines
        timed = self._n_in_flight + self._n_delayed
        if len(deadlines) > 2 * timed + _SLACK:
            if timed:
                deadlines[:] = [
                    entry for entry in deadlines if getattr(get(entry[2]), "ticket", 0) == entry[1]
                ]
                heapify(deadlines)
            else:
                deadlines.clear()
        ready = self._ready
        n_ready = len(messages) - timed
        if len(ready) > 2 * n_ready + _SLACK:
            live = (
                [entry for entry in ready if getattr(get(entry[1]), "ticket", 0) == entry[0]]
                if n_ready
                else []
            )
            ready.clear()
            ready.extend(live)
        kept = self._kept
        held = len(messages) + len(dead)
        if len(kept) > 2 * held + _SLACK:
            live_kept = (
                [
                    entry
                    for entry in kept
                    if getattr(get(entry[1]) or get_dead(entry[1]), "kept_until", None) == entry[0]
                ]
                if held
                else []
            )
            kept.clear()
            kept.extend(live_kept)
        self._garbage = 0
        self._garbage_limit = held + _SLACK
