"""The consumer API's use cases: receive, ack, release, dead letters, redrive, status reports.

They work on the queue and store ports, so they behave the same for every backend. A delivery of
a `formula.submitted` message carries its formula's current status, so a remote worker needs no
extra call to learn whether the formula was already processed; a status report answers with the
formula as the write left it, without reading it back (a ``processed`` report reads it once
before, to index it for similar-formula search).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.ports.queue import MessageQueue, ReceivedMessage
from chalicelib.ports.similarity import SimilarityIndex
from chalicelib.ports.store import STATUS_PROCESSED, FormulaStore
from chalicelib.services import similarity, views

MAX_VISIBILITY = 43200


def receive(
    queue: MessageQueue,
    store: FormulaStore,
    *,
    max_messages: int,
    visibility_timeout: int,
    wait_seconds: int,
) -> dict[str, Any]:
    messages = queue.receive(
        max_messages=max_messages, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds
    )
    return {"messages": [_delivery(store, m) for m in messages]}


def _delivery(store: FormulaStore, message: ReceivedMessage) -> dict[str, Any]:
    delivery = {
        "message_id": message.message_id,
        "receipt_handle": message.receipt_handle,
        "receive_count": message.receive_count,
        "sent_at": message.sent_at,
        "first_received_at": message.first_received_at,
        "body": message.body,
    }
    body = message.body
    if isinstance(body, dict) and body.get("type") == views.MESSAGE_TYPE:
        owner, formula_id = body.get("owner"), body.get("formula_id")
        record = None
        if isinstance(owner, str) and isinstance(formula_id, str):
            record = store.get(owner, formula_id)
        delivery["formula_status"] = None if record is None else record.status
    return delivery


def dead_letters(queue: MessageQueue, *, limit: int) -> dict[str, Any]:
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


def formula_status(store: FormulaStore, owner: str, formula_id: str) -> dict[str, Any]:
    record = store.get(owner, formula_id)
    if record is None:
        raise NotFound(f"No formula {formula_id!r}.")
    return {"formula_id": record.id, "owner": record.owner, "status": record.status}


def report_status(
    store: FormulaStore,
    index: SimilarityIndex,
    owner: str,
    formula_id: str,
    *,
    status: str,
    error: str | None,
    attempts: int,
    now: float,
    near_duplicate_threshold: Decimal,
) -> dict[str, Any]:
    """Record a processing outcome (``processed``, or ``failed`` with ``error``).

    A formula reported ``processed`` while not yet processed is first indexed and flagged for
    near-duplicates (`similarity.flag_near_duplicates`), as the in-process worker's step does, so
    a formula a remote worker processes is searchable like any other. If that fails, nothing is
    marked and the worker's report fails, so its message comes back.
    """
    if status == STATUS_PROCESSED:
        record = store.get(owner, formula_id)
        if record is None:
            raise NotFound(f"No formula {formula_id!r}.")
        if record.status != STATUS_PROCESSED:
            similarity.flag_near_duplicates(store, index, near_duplicate_threshold, record)
        change = store.mark_processed(owner, formula_id, at=now, attempts=attempts)
    else:
        change = store.mark_failed(owner, formula_id, error=str(error)[:500], at=now, attempts=attempts)
    return {"changed": change.changed, "formula": views.formula_resource(change.record)}
