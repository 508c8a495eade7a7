"""The outbox relay: publish what a committed submission left in the outbox, then mark it sent.

This is how messages reach the queue on the AWS backend; the submission service does not know
it exists (it hands records and messages to `FormulaStore.commit_submission`, and
`DynamoFormulaStore` publishes right after its transaction commits).

On the AWS backend a submission's messages cannot be sent to SQS inside the DynamoDB
transaction, so the transaction writes them into an *outbox item* instead: once a formula is
stored, its message is durably waiting to be published. The relay moves outbox items to the queue

- right after the commit (`OutboxRelay.publish_pending`, called by `DynamoFormulaStore`; the
  transaction wrote the item already leased to this request),
- from the table's stream (`OutboxRelay.relay_if_pending` with the id in the new image), and
- by a periodic `OutboxRelay.sweep` of items older than a grace period, which catches whatever
  the other two missed (a crash between commit and publish, a queue outage).

**Never twice on purpose.** A relay publishes an item only while it holds the item's lease
(`DynamoOutbox.claim`, a conditional write); an item leased to another relay is skipped. Messages
go out with ``SendMessageBatch`` (10 per call, ``dedup_id=message_id``); refused entries
(``Failed``) count as a failure of the item. Only once every message was accepted is the item
deleted. On a failure the item stays pending: the inline relay gives its lease back, which
invokes the stream relay within seconds; the stream relay and the sweeper keep theirs until it
expires (releasing would invoke the stream relay again, once per failure, during an outage).
Delivery is still at least once (a crash between send and delete, an expired lease): harmless,
because the message id is stable per formula and consumers are idempotent on it.

A failure never loses a message and is never raised by `relay_one`, `publish_pending` or `sweep`:
it is logged with its traceback and named in the returned `RelayResult`, because the caller right
after a commit must still answer 201 and a sweep must go on to the next item. A failure to *read*
the outbox (nothing was attempted) is raised, so a stream batch is retried and a sweep fails loudly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from chalicelib.clock import Clock
from chalicelib.ports.outbox import Outbox, OutboxItem, outbox_id_for
from chalicelib.ports.store import OutboundMessage

logger = logging.getLogger(__name__)

DEFAULT_SWEEP_AGE_SECONDS = 60
"""Items younger than this are left to the inline relay, so a sweep does not race it."""
SWEEP_BUDGET_SECONDS = 25.0
"""The sweeper's function timeout; a sweep starts no new item after `SWEEP_BUDGET_SHARE` of it."""
SWEEP_BUDGET_SHARE = 0.8
INLINE_BUDGET_SECONDS = 1.0
"""After a commit the request starts batch calls for this long at most; it then gives the item's
lease back, and the stream relay sends the rest."""
BATCH_SIZE = 10
"""Messages per SendMessageBatch call: SQS's limit. One submission's messages fit in the 400 KB
outbox item, so a call of 10 never reaches SQS's 1 MiB limit per batch."""
SWEEP_PAGE = 25
SWEEP_CONCURRENCY = 16
"""Items a sweep relays at once: each is three round trips (lease, send, delete) that wait on the
network, so a backlog drains about this many times faster than one item at a time."""


class MessageSender(Protocol):
    """The one queue operation the relay needs (`SqsQueue.publish`)."""

    def publish(self, messages: Sequence[OutboundMessage]) -> Mapping[str, str]:
        """Send the messages (one batch call), each with ``dedup_id`` = its message id.

        Returns ``{message_id: error code}`` for every message the queue refused.
        """
        ...


@dataclass(frozen=True, slots=True)
class RelayFailure:
    """An outbox item that stays pending, and why."""

    outbox_id: str
    error: str
    lease_kept: bool = False
    """The relay still holds the item's lease (it failed after claiming the item: a send, or
    marking the item sent): until the lease expires no relay can claim the item, so only the
    sweeper, after that, publishes it; retrying at once cannot."""


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What relay calls did: items completed, messages sent, items skipped (leased to another
    relay, or left for later when the time budget ran out), and items that failed."""

    completed: tuple[str, ...] = ()
    messages_sent: int = 0
    failures: tuple[RelayFailure, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(
            self.completed + other.completed,
            self.messages_sent + other.messages_sent,
            self.failures + other.failures,
            self.skipped + other.skipped,
        )


class OutboxRelay:
    """Claims outbox items, publishes them to a queue in batches, and marks them sent."""

    def __init__(
        self,
        outbox: Outbox,
        queue: MessageSender,
        clock: Clock,
        *,
        new_token: Callable[[], str] | None = None,
        sweep_concurrency: int = SWEEP_CONCURRENCY,
    ) -> None:
        """``sweep_concurrency``: items a sweep relays at once (1: one after the other, in order)."""
        self._outbox = outbox
        self._queue = queue
        self._clock = clock
        self._new_token = new_token or (lambda: uuid.uuid4().hex)
        self._sweep_concurrency = sweep_concurrency

    def backlog(self, *, limit: int) -> tuple[int, float]:
        """How many items are pending (counting at most ``limit``, one bounded read) and how many
        seconds the oldest of them has waited (0 when none is)."""
        now = self._clock()
        pending = self._outbox.pending(limit=limit, older_than=now)
        return len(pending), now - min((item.created_at for item in pending), default=now)

    def new_lease_token(self) -> str:
        """A token for the lease a committing request writes with its outbox item."""
        return self._new_token()

    def publish_pending(self, messages: Sequence[OutboundMessage], lease_token: str) -> RelayResult:
        """Publish the messages a commit just wrote to the outbox, leased to ``lease_token``.

        Batch calls start only within `INLINE_BUDGET_SECONDS`; after a failure, or with messages
        left, the lease is given back and the stream relay takes the item up.
        """
        if not messages:
            return RelayResult()
        item = OutboxItem(outbox_id_for(messages), self._clock(), tuple(messages))
        deadline = self._clock() + INLINE_BUDGET_SECONDS
        return self._publish(item, lease_token, deadline=deadline, release_on_failure=True)

    def relay_if_pending(self, outbox_id: str) -> RelayResult:
        """Relay the item only if it is still pending (a stream record may arrive after it was sent).

        A failure to read the outbox raises (`InfrastructureError`), so a stream batch is retried.
        """
        item = self._outbox.get(outbox_id)
        return RelayResult() if item is None else self.relay_one(item)

    def relay_one(self, item: OutboxItem, *, deadline: float | None = None) -> RelayResult:
        """Claim ``item``, send its messages, mark it sent; skip it if another relay holds it.

        A failed send keeps the lease until it expires. The stream relay is invoked by a released
        lease, so giving it back would invoke the stream relay again at once, for every failure
        of the stream relay or the sweeper while the queue is down.
        """
        token = self._new_token()
        try:
            claimed = self._outbox.claim(item.outbox_id, token, now=self._clock())
        except Exception as exc:
            return _failed(item.outbox_id, exc)
        if not claimed:
            return RelayResult(skipped=(item.outbox_id,))
        return self._publish(item, token, deadline=deadline, release_on_failure=False)

    def _publish(
        self, item: OutboxItem, token: str, *, deadline: float | None, release_on_failure: bool
    ) -> RelayResult:
        """Send ``item`` under the lease ``token``; on failure (with ``release_on_failure``) or
        past ``deadline``, release it."""
        sent = 0
        try:
            for start in range(0, len(item.messages), BATCH_SIZE):
                if deadline is not None and start and self._clock() >= deadline:
                    self._outbox.release(item.outbox_id, token)
                    return RelayResult(messages_sent=sent, skipped=(item.outbox_id,))
                batch = item.messages[start : start + BATCH_SIZE]
                refused = self._queue.publish(batch)
                sent += len(batch) - len(refused)
                if refused:
                    raise RelayRefused(refused)
            self._outbox.mark_sent(item.outbox_id)
        except Exception as exc:
            lease_kept = True
            try:
                if release_on_failure:
                    self._outbox.release(item.outbox_id, token)
                    lease_kept = False
            except Exception as release_error:  # the lease then expires by itself
                logger.warning("could not release the lease of %s: %s", item.outbox_id, release_error)
            return RelayResult(messages_sent=sent) + _failed(item.outbox_id, exc, lease_kept=lease_kept)
        return RelayResult(completed=(item.outbox_id,), messages_sent=sent)

    def sweep(
        self,
        *,
        older_than_seconds: float = DEFAULT_SWEEP_AGE_SECONDS,
        budget_seconds: float = SWEEP_BUDGET_SECONDS,
    ) -> RelayResult:
        """Relay items pending for ``older_than_seconds`` or longer, oldest first, page by page,
        starting no new item once `SWEEP_BUDGET_SHARE` of ``budget_seconds`` is used.

        Never raises for an item that fails (it is counted in the result); a failure to read the
        outbox raises (`InfrastructureError`).
        """
        deadline = self._clock() + budget_seconds * SWEEP_BUDGET_SHARE
        cutoff = self._clock() - older_than_seconds
        seen: set[str] = set()
        result = RelayResult()

        def relay(item: OutboxItem) -> RelayResult:
            if self._clock() >= deadline:
                return RelayResult(skipped=(item.outbox_id,))
            return self.relay_one(item, deadline=deadline)

        with ThreadPoolExecutor(max_workers=self._sweep_concurrency, thread_name_prefix="sweep") as pool:
            while self._clock() < deadline:
                # Relayed items are deleted; only those that stay pending (failed, or skipped
                # under another relay's lease) come back first, so read past those and one page.
                still_pending = len(seen) - len(result.completed)
                page = self._outbox.pending(limit=still_pending + SWEEP_PAGE, older_than=cutoff)
                fresh = [item for item in page if item.outbox_id not in seen]
                if not fresh:
                    break
                seen.update(item.outbox_id for item in fresh)
                for outcome in pool.map(relay, fresh):
                    result += outcome
        return result


class RelayRefused(Exception):
    """The queue refused some messages of a batch (SendMessageBatch's ``Failed`` entries)."""

    def __init__(self, refused: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{message_id} ({code})" for message_id, code in refused.items()))
        self.refused = dict(refused)


def _failed(outbox_id: str, exc: Exception, *, lease_kept: bool = False) -> RelayResult:
    logger.error("outbox item %s stays pending: %s", outbox_id, exc, exc_info=exc)
    return RelayResult(failures=(RelayFailure(outbox_id, f"{type(exc).__name__}: {exc}", lease_kept),))
