"""The Lambda event handlers' logic: the SQS consumer, the outbox stream relay and the sweeper.

**SQS batches settle per message.** The event source reports partial batch responses
(``FunctionResponseTypes: [ReportBatchItemFailures]``, set in ``deploy/resources.json``), so the
consumer returns ``{"batchItemFailures": [{"itemIdentifier": <message id>}, ...]}`` naming
exactly the messages that must come back; Lambda deletes the others. Each message is also settled
by the same `Worker.handle` the in-memory worker uses — a processed message is left to the
response's delete, a failing one is released with its backoff — so a failed one comes back after
its backoff (or goes to the dead-letter queue after the queue's maxReceiveCount), and an
undecodable one comes back until the queue dead-letters it. A poison message no longer fails
its batch: the invocation succeeds, so Lambda's Errors metric keeps meaning "the handler
crashed".

**Dead letters.** Each sweep also peeks at the dead-letter queue without consuming it (receive,
then make the messages visible again at once, `MessageQueue.dead_letters`), and
`record_dead_letters` marks ``failed`` a formula whose message got there while still ``queued``
(receives used up by throttled or crashed invocations). Dead letters stay where operators redrive
them from; a consumer on the DLQ would delete them.

**Outbox stream.** The stream relay is invoked for an outbox item that no relay holds (an
insert without a lease, or the release after a failed inline publish:
`tables.STREAM_FILTER_PATTERN`) and relays it if still pending. A failed read or claim raises,
so Lambda retries the stream batch. A failure after the claim (a send, or marking the item sent)
does not: the relay keeps the item's lease, so a retry could only skip it (and would hold up the
shard); the sweeper publishes it once the lease expires, and the relay's log line counts it as
``left_to_sweeper``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from chalicelib import jsonio, observability
from chalicelib.adapters.aws.outbox import decode_image
from chalicelib.adapters.aws.relay import OutboxRelay, RelayResult
from chalicelib.adapters.aws.sqs import SqsQueue
from chalicelib.adapters.aws.tables import OUTBOX_LEASE_OWNER, OUTBOX_PREFIX, PK
from chalicelib.bootstrap import Services, consumer_worker
from chalicelib.errors import InfrastructureError
from chalicelib.ports.queue import DeadLetter
from chalicelib.ports.store import STATUS_QUEUED
from chalicelib.services.views import MESSAGE_TYPE

log = logging.getLogger("formula_intake.lambda")


class RelayIncomplete(Exception):
    """Some outbox items could not be published; they stay pending for a retry or the sweeper."""


def _from_lambda_record(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS event record (camelCase keys) in the shape ReceiveMessage returns."""
    return {
        "MessageId": record["messageId"],
        "ReceiptHandle": record["receiptHandle"],
        "Body": record["body"],
        "Attributes": record.get("attributes", {}),
        "MessageAttributes": {
            name: {"StringValue": value.get("stringValue"), "DataType": value.get("dataType", "String")}
            for name, value in (record.get("messageAttributes") or {}).items()
        },
    }


def batch_item_failures(message_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial batch response: the SQS messages to deliver again."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in message_ids]}


def consume_sqs(services: Services, records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """Process an SQS batch; return the partial batch response naming the messages to redeliver."""
    worker = consumer_worker(services)
    unfinished = []
    processed: list[str] = []  # Lambda deletes these itself: every message the response does not name
    try:
        for record in records:
            try:
                message = SqsQueue.parse_received(_from_lambda_record(record))
            except ValueError:
                observability.set_correlation_id(str(record.get("messageId")))
                observability.count(observability.MESSAGES_FAILED)
                log.error("undecodable message %s left for the dead-letter queue", record.get("messageId"))
                unfinished.append(str(record.get("messageId")))
                continue
            if worker.handle(message, processed) in {"retry", "failed"}:
                unfinished.append(message.message_id)
    finally:
        observability.flush()
    return batch_item_failures(unfinished)


def _require_relay(services: Services) -> OutboxRelay:
    if services.relay is None:
        raise RuntimeError("the outbox relay exists only on the AWS backend (FI_BACKEND=aws)")
    return services.relay


def _raise_if_a_retry_helps(result: RelayResult) -> RelayResult:
    """Raise (so Lambda retries the stream batch) for items whose read or claim failed. An item
    that failed after its claim is held under this relay's lease, which a retry could only skip:
    it is left to the sweeper, which publishes it once the lease expires."""
    retry = [f for f in result.failures if not f.lease_kept]
    if retry:
        raise RelayIncomplete("; ".join(f"{f.outbox_id}: {f.error}" for f in retry))
    return result


def is_unheld_outbox_item(record: dict[str, Any]) -> bool:
    """Whether a DynamoDB stream record shows an outbox item that no relay holds: inserted or
    modified, with no lease owner (`tables.STREAM_FILTER_PATTERN`, which Lambda applies)."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    key = image.get(PK, {}).get("S", "")
    held = "S" in (image.get(OUTBOX_LEASE_OWNER) or {})
    outbox = isinstance(key, str) and key.startswith(OUTBOX_PREFIX)
    return record.get("eventName") in ("INSERT", "MODIFY") and outbox and not held


def relay_stream(services: Services, records: Iterable[dict[str, Any]]) -> RelayResult:
    """Relay the outbox items a stream batch shows no relay holding (other records are ignored):
    one whose inline publish failed is retried within seconds, not at the next sweep."""
    relay = _require_relay(services)
    result = RelayResult()
    for record in records:
        if not is_unheld_outbox_item(record):
            continue
        outbox_id = decode_image(record["dynamodb"]["NewImage"]).outbox_id
        observability.set_correlation_id(outbox_id)
        result += relay.relay_if_pending(outbox_id)
    line = {
        "event": "relay",
        "completed": len(result.completed),
        "failed": len(result.failures),
        "left_to_sweeper": sum(f.lease_kept for f in result.failures),
    }
    (log.error if result.failures else log.info)(jsonio.dumps(line))
    return _raise_if_a_retry_helps(result)


def remaining_seconds(context: Any) -> float | None:
    """The time an invocation has left, from Lambda's context object (None without one)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else remaining() / 1000


def sweep(
    services: Services, *, older_than_seconds: float | None = None, budget_seconds: float | None = None
) -> RelayResult:
    """Publish outbox items left pending (a crash after commit, a queue outage), then record the
    dead letters whose formulas are still ``queued`` (`record_dead_letters`).

    ``older_than_seconds`` defaults to the relay's grace period, which leaves items still being
    published inline alone; ``budget_seconds`` to the sweeper's function timeout (on Lambda: the
    invocation's remaining time, `remaining_seconds`). Items that fail
    do not raise (the function has no asynchronous retries; the next minute's sweep retries
    them): they are logged, one JSON line counts the sweep's work for metric filters, and the
    result names them.
    """
    relay = _require_relay(services)
    options: dict[str, float] = {}
    if older_than_seconds is not None:
        options["older_than_seconds"] = older_than_seconds
    if budget_seconds is not None:
        options["budget_seconds"] = budget_seconds
    try:
        result = relay.sweep(**options)
        dead = _record_peeked_dead_letters(services)
        line = {
            "event": "outbox_sweep",
            "completed": len(result.completed),
            "messages_sent": result.messages_sent,
            "skipped": len(result.skipped),
            "failed": len(result.failures),
            "dead_letters_marked_failed": dead["marked_failed"],
        }
        (log.error if result.failures else log.info)(jsonio.dumps(line))
    finally:
        _measure_backlog(relay)
        observability.flush()
    return result


OUTBOX_GAUGE_LIMIT = 1000
"""The backlog gauge counts at most this many pending items (one bounded read per sweep)."""


def _measure_backlog(relay: OutboxRelay) -> None:
    """Emit how many outbox items are pending (up to `OUTBOX_GAUGE_LIMIT`) and the oldest's age."""
    pending, oldest_age = relay.backlog(limit=OUTBOX_GAUGE_LIMIT)
    observability.gauge(observability.OUTBOX_PENDING, pending)
    observability.seconds(observability.OUTBOX_OLDEST_AGE, oldest_age)


def _record_peeked_dead_letters(services: Services) -> dict[str, int]:
    """Peek at the dead-letter queue (nothing is deleted) and record what it holds; a failure is
    logged, not raised, like a failed outbox item: the next minute's sweep looks again."""
    try:
        return record_dead_letters(services, services.queue.dead_letters(limit=DEAD_LETTER_PEEK_LIMIT))
    except InfrastructureError as exc:
        log.error(jsonio.dumps({"event": "dead_letter_scan_failed", "error": str(exc)}))
        return {"marked_failed": 0}


DEAD_LETTER_PEEK_LIMIT = 100
"""Dead letters each sweep looks at (ten receives of ten)."""


def record_dead_letters(services: Services, letters: Iterable[DeadLetter]) -> dict[str, int]:
    """Mark ``failed`` every formula whose message reached the dead-letter queue while ``queued``.

    The sweeper calls it each minute with the dead letters it peeked at (`sweep`). A message is
    dead-lettered after maxReceiveCount receives, and not every receive ran the consumer to its
    last attempt: throttled or crashed invocations use up receives too, so a formula can reach
    the DLQ still ``queued``, where ``?status=failed`` would never find it. A formula already
    ``failed`` (the consumer recorded why) or ``processed`` is left alone, so looking at the same
    dead letter every minute changes nothing. A store failure raises.
    """
    outcomes = {"marked_failed": 0, "already_settled": 0, "not_a_formula": 0}
    for letter in letters:
        body = letter.body if isinstance(letter.body, dict) else {}
        owner, formula_id = body.get("owner"), body.get("formula_id")
        if body.get("type") != MESSAGE_TYPE or not isinstance(owner, str) or not isinstance(formula_id, str):
            outcomes["not_a_formula"] += 1
            continue
        current = services.store.get(owner, formula_id)
        changed = False
        if current is not None and current.status == STATUS_QUEUED:
            attempts = services.settings.queue_max_receive_count
            error = f"DeadLettered: the message was received {attempts} times without a recorded result"
            change = services.store.mark_failed(
                owner, formula_id, error=error, at=services.clock(), attempts=attempts
            )
            changed = change.changed
        outcomes["marked_failed" if changed else "already_settled"] += 1
        if changed:
            log.info(jsonio.dumps({"event": "dead_letter", "formula_id": formula_id, "marked_failed": True}))
    return outcomes
