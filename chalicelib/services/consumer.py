"""The consumer API's use cases: receive, ack, release, stats, dead letters, status reports.

These work on the queue port, so they behave the same for every backend.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import FieldError, NotFound
from chalicelib.http.params import Fields
from chalicelib.ports import STATUS_FAILED, STATUS_PROCESSED, FormulaStore, MessageQueue
from chalicelib.services import views

MAX_VISIBILITY = 43200


def receive(queue: MessageQueue, raw: bytes | None) -> dict[str, Any]:
    fields = Fields.from_body(raw, allowed={"max_messages", "visibility_timeout", "wait_seconds"})
    max_messages = fields.integer("max_messages", low=1, high=10, default=1)
    visibility = fields.integer("visibility_timeout", low=0, high=MAX_VISIBILITY, default=30)
    wait = fields.integer("wait_seconds", low=0, high=20, default=0)
    fields.done()
    messages = queue.receive(max_messages=max_messages, visibility_timeout=visibility, wait_seconds=wait)
    return {
        "messages": [
            {
                "message_id": m.message_id,
                "receipt_handle": m.receipt_handle,
                "receive_count": m.receive_count,
                "sent_at": m.sent_at,
                "first_received_at": m.first_received_at,
                "body": m.body,
            }
            for m in messages
        ]
    }


def ack(queue: MessageQueue, raw: bytes | None) -> None:
    fields = Fields.from_body(raw, allowed={"receipt_handle"})
    handle = fields.string("receipt_handle")
    fields.done()
    queue.ack(handle)


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
    return {
        "dead_letters": [
            {
                "message_id": d.message_id,
                "receive_count": d.receive_count,
                "sent_at": d.sent_at,
                "dead_lettered_at": d.dead_lettered_at,
                "body": d.body,
            }
            for d in queue.dead_letters(limit=limit)
        ]
    }


def redrive(queue: MessageQueue, raw: bytes | None) -> dict[str, int]:
    fields = Fields.from_body(raw, allowed={"limit"})
    limit = fields.integer("limit", low=1, high=100_000, default=100_000)
    fields.done()
    return {"redriven": queue.redrive(limit=limit)}


def formula_status(store: FormulaStore, formula_id: str, params: dict[str, str]) -> dict[str, Any]:
    fields = Fields(dict(params), allowed={"owner"})
    owner = fields.string("owner", max_length=200)
    fields.done()
    record = store.get(owner, formula_id)
    if record is None:
        raise NotFound(f"No formula {formula_id!r}.")
    return {"formula_id": record.id, "owner": record.owner, "status": record.status}


def report_status(store: FormulaStore, formula_id: str, raw: bytes | None, *, now: float) -> dict[str, Any]:
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
    if status == STATUS_PROCESSED:
        changed = store.mark_processed(owner, formula_id, at=now, attempts=attempts)
    else:
        changed = store.mark_failed(owner, formula_id, error=str(error)[:500], at=now, attempts=attempts)
    record = store.get(owner, formula_id)
    if record is None:
        raise NotFound(f"No formula {formula_id!r}.")
    return {"changed": changed, "formula": views.formula_resource(record)}
