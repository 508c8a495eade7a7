"""The outbox relay: publish what a committed submission left in the outbox, then mark it sent.

This is how messages reach the queue on the AWS backend; the submission service does not know
it exists (it hands records and messages to `FormulaStore.commit_submission`, and
`DynamoFormulaStore` publishes right after its transaction commits).

On the AWS backend a submission's messages cannot be sent to SQS inside the DynamoDB
transaction, so the transaction writes them into an *outbox item* instead: once a formula is
stored, its message is durably waiting to be published. The relay moves outbox items to the queue

- right after the commit (`OutboxRelay.publish_pending`, called by `DynamoFormulaStore`),
- from the table's stream (`OutboxRelay.relay_if_pending` with the id in the new image), and
- by a periodic `OutboxRelay.sweep` of items older than a grace period, which catches whatever
  the other two missed (a crash between commit and publish, a queue outage).

Delivery is at least once. Each message is sent with ``dedup_id=message_id`` and only then is the
outbox item marked sent, so a crash between the two, or two relays working on the same item,
publishes a message twice. That is harmless by design: the message id is stable per formula, a
queue with deduplication drops the repeat within its window, and consumers dedupe on
``message_id`` / ``formula_id`` (marking a formula processed is idempotent).

A failure never loses a message: the outbox item stays pending, the failure is logged with its
traceback, and the returned `RelayResult` names the item and the error. A failure to *publish*
is not raised, because the caller right after a commit must still answer 201 (the formula is
stored, its message will follow) and a sweep must go on to the next item. A failure to *read*
the outbox is raised: nothing was attempted, and the sweeper or stream batch should fail loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.clock import Clock
from chalicelib.jsonio import JsonValue
from chalicelib.ports import OutboundMessage, Outbox, OutboxItem, outbox_id_for

logger = logging.getLogger(__name__)

DEFAULT_SWEEP_AGE_SECONDS = 60
"""Items younger than this are left to the inline relay, so a sweep does not race it."""


class MessageSender(Protocol):
    """The one queue operation the relay needs (every `MessageQueue` has it)."""

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class RelayFailure:
    """An outbox item that stays pending, and why."""

    outbox_id: str
    error: str


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What one relay call did: items completed, messages sent, items that failed."""

    completed: tuple[str, ...] = ()
    messages_sent: int = 0
    failures: tuple[RelayFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(
            self.completed + other.completed,
            self.messages_sent + other.messages_sent,
            self.failures + other.failures,
        )


class OutboxRelay:
    """Publishes outbox items to a queue and marks them sent."""

    def __init__(self, outbox: Outbox, queue: MessageSender, clock: Clock) -> None:
        self._outbox = outbox
        self._queue = queue
        self._clock = clock

    def publish_pending(self, messages: Sequence[OutboundMessage]) -> RelayResult:
        """Publish the messages a commit just wrote to the outbox; a failure leaves them to the sweep."""
        if not messages:
            return RelayResult()
        item = OutboxItem(outbox_id_for(messages), self._clock(), tuple(messages))
        return self.relay_one(item)

    def relay_if_pending(self, outbox_id: str) -> RelayResult:
        """Relay the item only if it is still pending (a stream record may arrive after it was sent).

        A failure to read the outbox raises (`InfrastructureError`), so a stream batch is retried.
        """
        item = self._outbox.get(outbox_id)
        return RelayResult() if item is None else self.relay_one(item)

    def relay_one(self, item: OutboxItem) -> RelayResult:
        """Send every message of ``item``, then mark it sent; on any failure leave it pending."""
        sent = 0
        try:
            for message in item.messages:
                self._queue.send(message.body, dedup_id=message.message_id)
                sent += 1
            self._outbox.mark_sent(item.outbox_id)
        except Exception as exc:
            return RelayResult(messages_sent=sent) + _failed(item.outbox_id, exc)
        return RelayResult(completed=(item.outbox_id,), messages_sent=sent)

    def sweep(
        self, *, older_than_seconds: float = DEFAULT_SWEEP_AGE_SECONDS, limit: int = 100
    ) -> RelayResult:
        """Relay up to ``limit`` items pending for ``older_than_seconds`` or longer, oldest first.

        A failure to read the outbox raises (`InfrastructureError`); nothing was attempted then.
        """
        cutoff = self._clock() - older_than_seconds
        items = self._outbox.pending(limit=limit, older_than=cutoff)
        result = RelayResult()
        for item in items:
            result += self.relay_one(item)
        return result


def _failed(outbox_id: str, exc: Exception) -> RelayResult:
    logger.error("outbox item %s stays pending: %s", outbox_id, exc, exc_info=exc)
    return RelayResult(failures=(RelayFailure(outbox_id, f"{type(exc).__name__}: {exc}"),))
