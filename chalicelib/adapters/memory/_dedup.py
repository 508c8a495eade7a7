"""The in-memory queue's deduplication window: which message each dedup id named, for a while.

A message sent with a dedup id that an earlier message used within the window is not enqueued
again; its sender gets the earlier message's id. Records expire in the order they were made
(each expires "now + the window", and the queue's clock never goes backwards), so a FIFO of
expiries serves as the heap. A record that is made again, or forgotten, leaves its old FIFO entry
behind; an entry whose record no longer expires at that time is skipped when it comes due.
"""

from __future__ import annotations

from collections import deque

_INF = float("inf")


class DedupWindow:
    """Dedup id -> (message id, expiry), with the expiries in order (caller holds the queue lock)."""

    def __init__(self, seconds: int) -> None:
        self._seconds = seconds
        self._records: dict[str, tuple[str, float]] = {}
        self._order: deque[tuple[float, str]] = deque()

    def known(self, dedup_id: str) -> str | None:
        """The id of the message sent with ``dedup_id`` within the window, if any."""
        record = self._records.get(dedup_id)
        return None if record is None else record[0]

    def remember(self, dedup_id: str, message_id: str, now: float) -> float:
        """Record that ``message_id`` was sent with ``dedup_id`` at ``now``; return its expiry."""
        expires = now + self._seconds
        self._records[dedup_id] = (message_id, expires)
        self._order.append((expires, dedup_id))
        return expires

    def forget(self, dedup_id: str, message_id: str) -> None:
        """Drop the record of ``dedup_id`` if it still names ``message_id`` (a staged send undone)."""
        if self._records.get(dedup_id, ("",))[0] == message_id:
            del self._records[dedup_id]

    def expire(self, now: float) -> None:
        """Drop the records that expired by ``now``."""
        order, records = self._order, self._records
        while order and order[0][0] <= now:
            dedup_id = order.popleft()[1]
            record = records.get(dedup_id)
            if record is not None and record[1] <= now:
                del records[dedup_id]

    @property
    def next_due(self) -> float:
        """When the oldest record expires (infinity when there is none)."""
        return self._order[0][0] if self._order else _INF
