"""The formula store and idempotency-key ports, and the records they hold: formulas (with their
status), the messages a submission commits with them, and completed answers to replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from chalicelib.jsonio import JsonValue

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
class FormulaLookup:
    """What a worker's status sink found of a message's formula before its steps run: whether it
    is processed, and the stored record where the sink reads the store itself (not over HTTP)."""

    processed: bool
    record: FormulaRecord | None = None


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
