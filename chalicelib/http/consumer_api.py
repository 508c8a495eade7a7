"""The consumer endpoints' requests: parse and check each body or query, then call the use case.

Every problem is reported at once as a `ValidationError` naming its field (`Fields`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.errors import FieldError
from chalicelib.http.params import Fields
from chalicelib.ports.queue import MAX_ACK_BATCH, MessageQueue
from chalicelib.ports.similarity import SimilarityIndex
from chalicelib.ports.store import STATUS_FAILED, STATUS_PROCESSED, FormulaStore
from chalicelib.services import consumer
from chalicelib.services.consumer import MAX_VISIBILITY


def receive(queue: MessageQueue, store: FormulaStore, raw: bytes | None) -> dict[str, Any]:
    fields = Fields.from_body(raw, allowed={"max_messages", "visibility_timeout", "wait_seconds"})
    max_messages = fields.integer("max_messages", low=1, high=10, default=1)
    visibility = fields.integer("visibility_timeout", low=0, high=MAX_VISIBILITY, default=30)
    wait = fields.integer("wait_seconds", low=0, high=20, default=0)
    fields.done()
    return consumer.receive(
        queue, store, max_messages=max_messages, visibility_timeout=visibility, wait_seconds=wait
    )


def ack(queue: MessageQueue, raw: bytes | None) -> dict[str, Any] | None:
    """One ``receipt_handle`` (None: answer 204), or up to `MAX_ACK_BATCH` ``receipt_handles``
    acked in one call (each handle's outcome)."""
    fields = Fields.from_body(raw, allowed={"receipt_handle", "receipt_handles"})
    if "receipt_handles" not in fields.values:
        handle = fields.string("receipt_handle")
        fields.done()
        queue.ack(handle)
        return None
    handles = fields.values["receipt_handles"]
    if "receipt_handle" in fields.values:
        fields.problems.append(
            FieldError("receipt_handle", "send receipt_handle or receipt_handles, not both")
        )
    if (
        not isinstance(handles, list)
        or not 1 <= len(handles) <= MAX_ACK_BATCH
        or not all(isinstance(h, str) and h for h in handles)
    ):
        fields.problems.append(
            FieldError("receipt_handles", f"must be a list of 1 to {MAX_ACK_BATCH} non-empty strings")
        )
    fields.done()
    results: list[dict[str, Any]] = []
    for handle, error in zip(handles, queue.ack_batch(handles), strict=True):
        result: dict[str, Any] = {"receipt_handle": handle, "acked": error is None}
        if error is not None:
            result["error"] = {"code": error.code, "message": error.message}
        results.append(result)
    return {"results": results}


def nack(queue: MessageQueue, raw: bytes | None) -> None:
    fields = Fields.from_body(raw, allowed={"receipt_handle", "delay_seconds"})
    handle = fields.string("receipt_handle")
    delay = fields.integer("delay_seconds", low=0, high=MAX_VISIBILITY, default=0)
    fields.done()
    queue.change_visibility(handle, delay)


def dead_letters(queue: MessageQueue, params: dict[str, str]) -> dict[str, Any]:
    fields = Fields(dict(params), allowed={"limit"})
    limit = fields.integer("limit", low=1, high=100, default=100)
    fields.done()
    return consumer.dead_letters(queue, limit=limit)


def redrive(queue: MessageQueue, raw: bytes | None) -> dict[str, int]:
    fields = Fields.from_body(raw, allowed={"limit"})
    limit = fields.integer("limit", low=1, high=100_000, default=100_000)
    fields.done()
    return {"redriven": queue.redrive(limit=limit)}


def formula_status(store: FormulaStore, formula_id: str, params: dict[str, str]) -> dict[str, Any]:
    fields = Fields(dict(params), allowed={"owner"})
    owner = fields.string("owner", max_length=200)
    fields.done()
    return consumer.formula_status(store, owner, formula_id)


def report_status(
    store: FormulaStore,
    index: SimilarityIndex,
    formula_id: str,
    raw: bytes | None,
    *,
    now: float,
    near_duplicate_threshold: Decimal,
) -> dict[str, Any]:
    fields = Fields.from_body(raw, allowed={"owner", "status", "error", "attempts"})
    owner = fields.string("owner", max_length=200)
    status = fields.string("status", max_length=20)
    attempts = fields.integer("attempts", low=1, high=1_000_000, default=1)
    error = fields.values.get("error")
    if status not in {STATUS_PROCESSED, STATUS_FAILED, ""}:
        fields.problems.append(FieldError("status", "must be processed or failed"))
    if status == STATUS_FAILED and not isinstance(error, str):
        fields.problems.append(FieldError("error", "is required (a string) when status is failed"))
    fields.done()
    return consumer.report_status(
        store,
        index,
        owner,
        formula_id,
        status=status,
        error=error if isinstance(error, str) else None,
        attempts=attempts,
        now=now,
        near_duplicate_threshold=near_duplicate_threshold,
    )
