"""Ports: the interfaces the core depends on.

Each port is a `typing.Protocol`; adapters (in-memory by default, AWS on the scale-out path)
satisfy them structurally, and one contract suite per port runs against every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from chalicelib.errors import FormulaIntakeError
from chalicelib.jsonio import JsonValue

# --------------------------------------------------------------------------------------------
# Message queue (SQS is the reference semantics)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Formula store and idempotency keys
# --------------------------------------------------------------------------------------------

STATUS_QUEUED = "queued"
STATUS_PROCESSED = "processed"
STATUS_FAILED = "failed"
STATUSES = (STATUS_QUEUED, STATUS_PROCESSED, STATUS_FAILED)


class StoredMaterial(Protocol):
    """What a record keeps of a material: the trimmed display name and the exact concentration.

    A `MaterialRecord` (what a storage adapter reads back) is one, and so is the domain's immutable
    `chalicelib.domain.Material`, which a new formula's record holds as validated, uncopied.
    """

    @property
    def name(self) -> str: ...

    @property
    def concentration(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    """A material as stored: the trimmed display name and the exact submitted concentration."""

    name: str
    concentration: Decimal


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """Another formula of the owner at or above the processing step's near-duplicate threshold."""

    id: str
    similarity: Decimal


@dataclass(frozen=True, slots=True)
class FormulaRecord:
    """A stored formula. ``id`` is a ULID, so ids sort by creation time within an owner."""

    id: str
    owner: str
    name: str
    materials: tuple[StoredMaterial, ...]
    fingerprint: str
    status: str
    created_at: float
    message_id: str
    processed_at: float | None = None
    last_error: str | None = None
    attempts: int = 0
    near_duplicates: tuple[NearDuplicate, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to publish with a formula; ``message_id`` is stable per formula (dedup key)."""

    message_id: str
    body: JsonValue


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What a status report did: ``changed`` is False for a repeat (or a processed formula), and
    ``record`` is the formula as it now stands."""

    changed: bool
    record: FormulaRecord


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response of a completed request, kept under its Idempotency-Key for replay."""

    status: int
    body: str
    location: str | None


@dataclass(frozen=True, slots=True)
class IdempotencyCompletion:
    """What a unit of work writes to complete an Idempotency-Key it holds the lock of."""

    owner: str
    key: str
    token: str
    response: StoredResponse
    expires_at: float


@dataclass(frozen=True, slots=True)
class KeyAcquired:
    """``begin`` succeeded: this request now holds the key's lock under ``token``."""

    token: str


@dataclass(frozen=True, slots=True)
class KeyCompleted:
    """``begin`` found a completed request with the same body: replay ``response``."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``next_after`` is the id to continue after, or None at the end."""

    items: tuple[FormulaRecord, ...]
    next_after: str | None


class IdempotencyStore(Protocol):
    """Idempotency keys, scoped by owner.

    A key moves from absent to *in progress* (``begin``), then either to *completed* (written by
    `FormulaStore.commit_submission`, atomically with the formulas) or back to absent
    (``release``, when the request fails). An in-progress lock older than its lock period is
    considered abandoned (the process died) and may be taken over.
    """

    def begin(
        self, owner: str, key: str, request_hash: str, *, now: float, lock_seconds: int
    ) -> KeyAcquired | KeyCompleted:
        """Take the key's lock, or return the completed response to replay.

        Raises `IdempotencyKeyReused` when the key was used with another request body and
        `RequestInProgress` when another request holds the lock.
        """
        ...

    def release(self, owner: str, key: str, token: str) -> None:
        """Drop the in-progress lock held under ``token`` (no-op if it is no longer held)."""
        ...


class FormulaStore(Protocol):
    """Formulas, their make-up uniqueness, and their messages, committed all or nothing."""

    def commit_submission(
        self,
        owner: str,
        records: Sequence[FormulaRecord],
        messages: Sequence[OutboundMessage],
        completion: IdempotencyCompletion | None,
    ) -> None:
        """Store ``records``, publish ``messages`` and complete the key, or do none of it.

        Raises `DuplicateFormula` listing every record whose fingerprint is already stored for
        ``owner``, `QueueFull` when the messages cannot be accepted, and `RequestInProgress` when
        ``completion``'s lock was lost (taken over after expiry).
        """
        ...

    def get(self, owner: str, formula_id: str) -> FormulaRecord | None:
        """The owner's formula, or None (also for another owner's id)."""
        ...

    def list(self, owner: str, *, limit: int, after: str | None, status: str | None) -> Page:
        """The owner's formulas in creation order, starting after id ``after``."""
        ...

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int = 1) -> StatusChange:
        """Set status ``processed`` (and the delivery attempt that did it); unchanged if it already was.

        Idempotent: a processed formula stays processed. Raises `NotFound` if absent.
        """
        ...

    def mark_failed(
        self, owner: str, formula_id: str, *, error: str, at: float, attempts: int = 1
    ) -> StatusChange:
        """Set status ``failed`` with the last error unless already processed."""
        ...

    def set_near_duplicates(self, owner: str, formula_id: str, near: Sequence[NearDuplicate]) -> None:
        """Replace the formula's near-duplicates (the processing step's finding); NotFound if absent."""
        ...


# --------------------------------------------------------------------------------------------
# Similar formulas (weighted Jaccard over make-ups, `chalicelib.domain.similarity`)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimilarMatch:
    """A formula found by a similarity query: its similarity and how many materials it shares."""

    id: str
    name: str
    similarity: Decimal
    shared_materials: int


class SimilaritySearch(Protocol):
    """What a similarity search found; an adapter may report the work it did beside it."""

    @property
    def matches(self) -> list[SimilarMatch]: ...


class SimilarityIndex(Protocol):
    """The owner's indexed formulas, searchable by make-up. Answers are exact: every indexed
    formula of the owner whose similarity (truncated to 4 places) is at least the threshold is a
    candidate, and the ``limit`` most similar are returned, most similar first, ties by id.
    """

    def index(self, record: FormulaRecord) -> None:
        """Make ``record`` searchable under its owner. Idempotent: indexing it again changes nothing."""
        ...

    def search(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> SimilaritySearch:
        """Its ``matches``: the owner's formulas at or above ``min_similarity`` (0 < x <= 1) to
        ``makeup`` (canonical key -> concentration), best first, at most ``limit``, never
        ``exclude``."""
        ...


# --------------------------------------------------------------------------------------------
# Transactional outbox (AWS backend): messages committed with their formulas, published after
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """The messages of one committed submission, waiting to be published."""

    outbox_id: str
    created_at: float
    messages: tuple[OutboundMessage, ...]


def outbox_id_for(messages: Sequence[OutboundMessage]) -> str:
    """The outbox id of a submission's messages: its first message id (unique, stable)."""
    return messages[0].message_id


class Outbox(Protocol):
    """Durable pending messages, written in the same transaction as their formulas."""

    def pending(self, *, limit: int, older_than: float) -> list[OutboxItem]:
        """Up to ``limit`` pending items created at or before ``older_than`` (epoch seconds)."""
        ...

    def get(self, outbox_id: str) -> OutboxItem | None:
        """The pending item, or None once it was marked sent (or never existed)."""
        ...

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        """Lease the item to ``token`` for a while; False if it is gone or leased to another."""
        ...

    def release(self, outbox_id: str, token: str) -> None:
        """End ``token``'s lease early (a no-op if it no longer holds it)."""
        ...

    def mark_sent(self, outbox_id: str) -> None:
        """Forget the item; idempotent."""
        ...
