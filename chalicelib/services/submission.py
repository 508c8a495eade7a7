"""Submitting formulas: uniqueness by make-up, Idempotency-Key replay, atomic store + publish.

The flow of `SubmissionService.submit`:

1. Reject a batch that repeats a make-up within itself (409, nothing stored).
2. With an Idempotency-Key: ``begin`` the key. A completed request with the same body is
   replayed as it was first answered; another body is `IdempotencyKeyReused`; a request still
   running is `RequestInProgress`.
3. Build the records, their messages (as data) and the response, and hand everything to
   `FormulaStore.commit_submission`, the unit of work: it stores formulas, guards, the completed
   key and the messages all or nothing. How the messages then reach the queue (staged into the
   in-memory queue, or an outbox relayed to SQS) is the store adapter's business.
4. On any failure the key's lock is released, so a retry runs again from the start.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from chalicelib import jsonio, observability
from chalicelib.clock import Clock
from chalicelib.domain import Formula, Submission
from chalicelib.errors import Conflict, DuplicateFormula, FieldError, ValidationError
from chalicelib.ids import IdFactory
from chalicelib.ports.store import (
    STATUS_QUEUED,
    FormulaRecord,
    FormulaStore,
    IdempotencyCompletion,
    IdempotencyStore,
    KeyCompleted,
    OutboundMessage,
    StoredResponse,
)
from chalicelib.services import views

MAX_KEY_LENGTH = 255

log = logging.getLogger("formula_intake.submission")


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The answer to a submission: status, serialised JSON body, Location, and replay flag."""

    status: int
    body: str
    location: str | None
    replayed: bool = False


def validate_idempotency_key(key: str | None, *, required: bool) -> str | None:
    """Check the Idempotency-Key header: 1-255 visible ASCII characters (or absent if allowed)."""
    if key is None:
        if required:
            raise ValidationError(
                [FieldError("Idempotency-Key", "header is required")],
                "The Idempotency-Key header is required.",
            )
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all("!" <= c <= "~" for c in key):
        raise ValidationError(
            [FieldError("Idempotency-Key", "must be 1-255 visible ASCII characters")],
            "The Idempotency-Key header is invalid.",
        )
    return key


def request_hash(submission: Submission) -> str:
    """A digest of the request as submitted (exact representation), to detect key reuse."""
    canonical = [
        submission.is_batch,
        [[f.name, [[m.name, str(m.concentration)] for m in f.materials]] for f in submission.formulas],
    ]
    return hashlib.sha256(jsonio.dumps(canonical).encode("utf-8")).hexdigest()


class SubmissionService:
    """Accepts validated submissions for an owner."""

    def __init__(
        self,
        store: FormulaStore,
        idempotency: IdempotencyStore,
        *,
        clock: Clock,
        new_id: IdFactory,
        idempotency_ttl_seconds: int = 24 * 3600,
        idempotency_lock_seconds: int = 60,
    ) -> None:
        self._store = store
        self._idempotency = idempotency
        self._clock = clock
        self._new_id = new_id
        self._ttl = idempotency_ttl_seconds
        self._lock_seconds = idempotency_lock_seconds

    def submit(self, owner: str, submission: Submission, idempotency_key: str | None) -> SubmitResult:
        formulas = submission.formulas
        if len(formulas) > 1:
            _reject_repeats_within(submission)
        now = self._clock()
        token: str | None = None
        if idempotency_key is not None:
            begun = self._idempotency.begin(
                owner, idempotency_key, request_hash(submission), now=now, lock_seconds=self._lock_seconds
            )
            if isinstance(begun, KeyCompleted):
                stored = begun.response
                observability.count(observability.IDEMPOTENT_REPLAYS)
                return SubmitResult(stored.status, stored.body, stored.location, replayed=True)
            token = begun.token
        try:
            records = [self._record(owner, formula, now) for formula in formulas]
            messages = [OutboundMessage(r.message_id, views.submitted_message(r)) for r in records]
            if submission.is_batch:
                body = jsonio.dumps({"formulas": [views.formula_resource(r) for r in records]})
                where = None
            else:
                body = jsonio.dumps(views.formula_resource(records[0]))
                where = views.location(records[0].id)
            completion = None
            if token is not None and idempotency_key is not None:
                completion = IdempotencyCompletion(
                    owner,
                    idempotency_key,
                    token,
                    StoredResponse(201, body, where),
                    expires_at=now + self._ttl,
                )
            self._store.commit_submission(owner, records, messages, completion)
        except BaseException:
            if idempotency_key is not None and token is not None:
                self._release_quietly(owner, idempotency_key, token)
            raise
        observability.count(observability.FORMULAS_ACCEPTED, len(records))
        return SubmitResult(201, body, where)

    def _release_quietly(self, owner: str, key: str, token: str) -> None:
        """Release the key without hiding the error that made us release it.

        If the release itself fails, the lock simply expires after its lock period.
        """
        try:
            self._idempotency.release(owner, key, token)
        except Exception:
            log.warning("could not release Idempotency-Key lock; it expires by itself", exc_info=True)

    def _record(self, owner: str, formula: Formula, now: float) -> FormulaRecord:
        formula_id = self._new_id()
        return FormulaRecord(
            id=formula_id,
            owner=owner,
            name=formula.name,
            materials=formula.materials,  # immutable Materials: the record holds them as they are
            fingerprint=formula.fingerprint,
            status=STATUS_QUEUED,
            created_at=now,
            message_id=views.message_id_for(formula_id),
        )


def _reject_repeats_within(submission: Submission) -> None:
    first_index: dict[str, int] = {}
    conflicts: list[Conflict] = []
    for index, formula in enumerate(submission.formulas):
        earlier = first_index.setdefault(formula.fingerprint, index)
        if earlier != index:
            conflicts.append(
                Conflict(index=index, fingerprint=formula.fingerprint, duplicate_of_index=earlier)
            )
    if conflicts:
        raise DuplicateFormula(conflicts, "The batch contains the same material make-up more than once.")
