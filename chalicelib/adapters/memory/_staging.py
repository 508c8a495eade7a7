"""Staged publishing for the in-memory queue: messages that become visible together, or never.

`StagedMessages` is the in-memory `chalicelib.ports.StagedPublish`. Each ``send`` reserves one
slot of queue capacity at once (so ``commit`` can never fail for lack of room) and registers its
``dedup_id`` at once (so a concurrent send with the same id gets the staged message's id instead of
enqueuing a second copy). ``commit`` enqueues everything in one acquisition of the queue's lock
and wakes long-polling consumers; ``rollback`` releases the reservations and forgets the dedup ids.
Exactly one of the two may be called; any call after that raises `RuntimeError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.adapters.memory._bodies import Frozen
from chalicelib.jsonio import JsonValue

if TYPE_CHECKING:
    from chalicelib.adapters.memory.queue import InMemoryQueue

OPEN, _COMMITTED, _ROLLED_BACK = "open", "committed", "rolled back"


class StagedMessages:
    """Messages staged on one `InMemoryQueue`; meant to be used by one thread."""

    __slots__ = ("_queue", "state", "pending")

    def __init__(self, queue: InMemoryQueue) -> None:
        self._queue = queue
        self.state = OPEN
        self.pending: list[tuple[str, Frozen, int, str | None]] = []
        """(message id, body snapshot, delay seconds, dedup id) of each staged message, in staging
        order; a rollback forgets the dedup ids it registered."""

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        if self.state is not OPEN:
            self.check_open()
        return self._queue._stage_one(self, body, delay_seconds, dedup_id)

    def commit(self) -> None:
        self._queue._commit(self)

    def rollback(self) -> None:
        self._queue._rollback(self)

    def check_open(self) -> None:
        """Raise `RuntimeError` once the stage was committed or rolled back."""
        if self.state is not OPEN:
            raise RuntimeError(f"this staged publish was already {self.state}")

    def close(self, *, committed: bool) -> None:
        """Mark the stage finished (the queue calls this under its lock)."""
        if self.state is not OPEN:
            self.check_open()
        self.state = _COMMITTED if committed else _ROLLED_BACK
