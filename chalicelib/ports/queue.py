"""The message queue port (SQS standard queues are the reference semantics): deliveries,
receipt handles, visibility, dead letters, statistics and staged publishing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.errors import FormulaIntakeError
from chalicelib.jsonio import JsonValue


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One delivery of a message. ``receipt_handle`` is new on every delivery."""

    message_id: str
    receipt_handle: str
    receive_count: int
    sent_at: float
    first_received_at: float
    body: JsonValue


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was received ``max_receive_count`` times without being acknowledged."""

    message_id: str
    receive_count: int
    sent_at: float
    dead_lettered_at: float
    body: JsonValue


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What the queue holds now, and running totals where the backend can know them.

    ``exact`` says whether the counts are exact (the in-memory queue) or the backend's estimates
    (SQS's ``ApproximateNumberOf...`` attributes, which lag). A backend that cannot count every
    send, ack and dead-lettering of every process (SQS) reports no totals (None) rather than
    partial ones that could contradict each other.
    """

    ready: int
    in_flight: int
    delayed: int
    dead_letters: int
    sent_total: int | None
    acked_total: int | None
    redelivered_total: int | None
    dead_lettered_total: int | None
    exact: bool = True

    def to_dict(self) -> dict[str, int | bool]:
        """The JSON form: the counts, ``exact``, and the totals that are known."""
        out: dict[str, int | bool] = {
            "ready": self.ready,
            "in_flight": self.in_flight,
            "delayed": self.delayed,
            "dead_letters": self.dead_letters,
            "exact": self.exact,
        }
        totals = {
            "sent_total": self.sent_total,
            "acked_total": self.acked_total,
            "redelivered_total": self.redelivered_total,
            "dead_lettered_total": self.dead_lettered_total,
        }
        out.update({name: value for name, value in totals.items() if value is not None})
        return out


class StagedPublish(Protocol):
    """Messages staged for an all-or-nothing unit of work.

    ``send`` validates the message, reserves queue capacity (raising `QueueFull` now, not at
    commit) and returns the message id the message will have; nothing is visible to consumers
    until ``commit``. ``rollback`` releases the reservations. Exactly one of the two is called.
    A body is taken as `MessageQueue.send` takes it.
    """

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


MAX_ACK_BATCH = 10
"""Most receipt handles one `MessageQueue.ack_batch` call takes (SQS's DeleteMessageBatch limit)."""


class MessageQueue(Protocol):
    """At-least-once message queue with visibility timeouts, receipt handles and dead letters.

    Errors (all from `chalicelib.errors`): `QueueArgumentError` for out-of-range arguments,
    `PayloadTooLarge` for a body over 256 KiB, `QueueFull` at capacity, `ReceiptHandleMalformed`,
    `ReceiptHandleUnknown` and `ReceiptHandleSuperseded` for unusable handles.
    """

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        """Enqueue ``body`` and return its message id.

        ``body`` is any JSON value (`chalicelib.jsonio.JsonValue`, decimals exact).

        A second send with the same ``dedup_id`` within the deduplication window is accepted but
        not enqueued again, and returns the first message's id even if that one was acknowledged.
        """
        ...

    def stage(self) -> StagedPublish:
        """Begin staging messages that become visible together on commit (see `StagedPublish`)."""
        ...

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]:
        """Deliver up to ``max_messages`` ready messages, hiding each for ``visibility_timeout``.

        With ``wait_seconds`` > 0, block until at least one message is ready or the wait ends.
        """
        ...

    def ack(self, receipt_handle: str) -> None:
        """Delete the message delivered with ``receipt_handle`` (only the newest handle works)."""
        ...

    def ack_batch(self, receipt_handles: Sequence[str]) -> list[FormulaIntakeError | None]:
        """`ack` up to `MAX_ACK_BATCH` handles in one call; for each, None once it is acked or the
        error `ack` would have raised (the others are acked all the same)."""
        ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """Hide the message for ``seconds`` from now; 0 makes it receivable at once (a nack)."""
        ...

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """The dead-lettered messages, oldest first."""
        ...

    def redrive(self, *, limit: int | None = None) -> int:
        """Move dead letters back to the main queue with a fresh receive count; return how many."""
        ...

    def stats(self) -> QueueStats:
        """Counts of what the queue holds (exact or approximate, as ``exact`` says) and known totals."""
        ...
