"""The one error hierarchy of formula-intake.

Every error the core raises on purpose derives from `FormulaIntakeError` and carries a stable
snake_case `code`; the HTTP layer maps codes to statuses (`chalicelib.http.errors`) and never has
to parse messages. Infrastructure failures are wrapped with ``raise ... from exc``.

    FormulaIntakeError
    ├── ValidationError              bad input; `details` lists every field problem
    │   └── QueueArgumentError       an out-of-range queue call argument
    ├── PayloadTooLarge              a request or message body over its size limit
    ├── UnsupportedMediaType         a request body that is not JSON
    ├── NotFound                     no such resource (for this owner)
    ├── ConflictError                the request clashes with stored state
    │   ├── DuplicateFormula         the same material make-up is already stored
    │   ├── RequestInProgress        the same Idempotency-Key is still being processed
    │   └── ReceiptHandleSuperseded  the message was received again since this handle was issued
    ├── IdempotencyKeyReused         an Idempotency-Key replayed with a different body
    ├── ReceiptHandleError           a receipt handle that cannot be used
    │   ├── ReceiptHandleMalformed   not a handle this queue ever issues
    │   └── ReceiptHandleUnknown     well-formed, but no message holds it (acked, expired, dropped)
    ├── QueueFull                    the queue is at capacity (backpressure)
    └── InfrastructureError          a store or queue backend failed; the request may be retried
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, addressed by a path such as ``materials[2].concentration``."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class FormulaIntakeError(Exception):
    """Base class of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extra(self) -> dict[str, Any]:
        """Fields added beside ``code`` and ``message`` in the JSON error body."""
        return {}


class ValidationError(FormulaIntakeError):
    """The input is invalid; ``details`` names every offending field, not only the first."""

    code = "validation_error"

    def __init__(self, details: list[FieldError], message: str = "The request is invalid.") -> None:
        super().__init__(message)
        self.details = list(details)

    def extra(self) -> dict[str, Any]:
        return {"details": [d.to_dict() for d in self.details]}


class QueueArgumentError(ValidationError):
    """A queue operation was called with an argument outside its allowed range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([FieldError(field, message)], f"{field}: {message}")


class PayloadTooLarge(FormulaIntakeError):
    """A request body or a queue message body is larger than its limit."""

    code = "payload_too_large"

    def __init__(self, message: str, *, limit_bytes: int) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes

    def extra(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit_bytes}


class UnsupportedMediaType(FormulaIntakeError):
    """The request body is not declared as JSON."""

    code = "unsupported_media_type"


class NotFound(FormulaIntakeError):
    """The resource does not exist, or belongs to another owner (the two are indistinguishable)."""

    code = "not_found"


class ConflictError(FormulaIntakeError):
    """The request conflicts with the current state of a resource."""

    code = "conflict"


@dataclass(frozen=True, slots=True)
class Conflict:
    """One duplicate inside a submission: which item, and what it duplicates."""

    index: int | None
    fingerprint: str
    existing_id: str | None = None
    duplicate_of_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fingerprint": self.fingerprint}
        if self.index is not None:
            out["index"] = self.index
        if self.existing_id is not None:
            out["existing_id"] = self.existing_id
        if self.duplicate_of_index is not None:
            out["duplicate_of_index"] = self.duplicate_of_index
        return out


class DuplicateFormula(ConflictError):
    """A formula with the same material make-up already exists for this owner (or twice in a batch)."""

    code = "duplicate_formula"

    def __init__(self, conflicts: list[Conflict], message: str | None = None) -> None:
        super().__init__(message or "A formula with the same material make-up already exists.")
        self.conflicts = list(conflicts)

    @property
    def existing_id(self) -> str | None:
        """The stored duplicate's id when exactly one stored formula is duplicated."""
        ids = {c.existing_id for c in self.conflicts if c.existing_id is not None}
        return ids.pop() if len(ids) == 1 else None

    def extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {"conflicts": [c.to_dict() for c in self.conflicts]}
        if self.existing_id is not None:
            out["existing_id"] = self.existing_id
        return out


class RequestInProgress(ConflictError):
    """Another request with the same Idempotency-Key has not finished yet; retry later."""

    code = "request_in_progress"

    def __init__(
        self,
        message: str = "A request with this Idempotency-Key is still in progress.",
        *,
        retry_after: int = 1,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IdempotencyKeyReused(FormulaIntakeError):
    """The Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"


class ReceiptHandleError(FormulaIntakeError):
    """A receipt handle that cannot be used to acknowledge or release a message."""

    code = "receipt_handle_error"


class ReceiptHandleMalformed(ReceiptHandleError):
    """The string is not a receipt handle this queue could have issued."""

    code = "invalid_receipt_handle"


class ReceiptHandleUnknown(ReceiptHandleError):
    """The handle is well-formed but no held message carries it (acked, dead-lettered, dropped)."""

    code = "receipt_handle_not_found"


class ReceiptHandleSuperseded(ConflictError, ReceiptHandleError):
    """The message was received again after this handle was issued; only the newest handle works."""

    code = "receipt_superseded"


class QueueFull(FormulaIntakeError):
    """The queue holds as many messages as its capacity allows; retry after consumers catch up."""

    code = "queue_full"

    def __init__(self, message: str = "The message queue is at capacity.", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InfrastructureError(FormulaIntakeError):
    """A backend (store, queue) failed; the operation did not complete and may be retried."""

    code = "service_unavailable"
