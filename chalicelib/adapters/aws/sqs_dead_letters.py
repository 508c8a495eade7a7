"""The dead-letter queue behind `SqsQueue`: peeking at it without consuming it, and redriving it.

A peek receives messages with a short visibility timeout and makes them visible again at once
(``ChangeMessageVisibilityBatch`` to 0), so operators and the sweeper can look without taking
them; SQS raises each message's receive count with every peek, so the count reported is capped
at the main queue's ``maxReceiveCount``. Redrive re-sends each dead letter to the main queue
with its attributes, its id and its first send time (``message_id`` and ``sent_at``
attributes), then deletes it from the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from chalicelib import jsonio
from chalicelib.adapters.aws.sqs_wire import (
    ATTR_MESSAGE_ID,
    ATTR_SENT_AT,
    MAX_MESSAGES,
    PEEK_VISIBILITY_SECONDS,
    body_of,
    check_int,
    origin,
    receive_raw,
    seconds_of,
    send_batch,
    sqs_call,
    string_attributes,
)
from chalicelib.errors import InfrastructureError
from chalicelib.ports.queue import DeadLetter


class DeadLetterQueue:
    """Peek and redrive for one dead-letter queue and the main queue it redrives to.

    ``peek_client`` makes the DLQ reads, which wait ``peek_wait_seconds`` and stop at the first
    empty one (a short poll may come back empty from a non-empty queue on real SQS).
    """

    def __init__(
        self,
        client: Any,
        peek_client: Any,
        *,
        dead_letter_queue_url: str,
        queue_url: str,
        max_receive_count: int,
        peek_wait_seconds: int,
    ) -> None:
        self._client = client
        self._peek_client = peek_client
        self._url = dead_letter_queue_url
        self._queue_url = queue_url
        self._max_receive_count = max_receive_count
        self._peek_wait = peek_wait_seconds

    def peek(self, *, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first, left in the queue."""
        wanted = check_int("limit", limit, 0)
        peeked: dict[str, dict[str, Any]] = {}
        try:
            while len(peeked) < wanted:
                page = self._peek(min(MAX_MESSAGES, wanted - len(peeked)))
                known = len(peeked)
                peeked.update((m["MessageId"], m) for m in page)
                if len(peeked) == known:
                    break
        finally:
            self._release(list(peeked.values()))
        letters = [self._dead_letter(message) for message in peeked.values()]
        return sorted(letters, key=lambda letter: (letter.dead_lettered_at, letter.sent_at))

    def _peek(self, count: int) -> list[dict[str, Any]]:
        return receive_raw(self._peek_client, self._url, count, PEEK_VISIBILITY_SECONDS, self._peek_wait)

    def _dead_letter(self, message: dict[str, Any]) -> DeadLetter:
        message_id, sent_at = origin(message)
        system = message.get("Attributes", {})
        receives_before_peek = int(system.get("ApproximateReceiveCount", "1")) - 1
        try:
            body = body_of(message)
        except jsonio.JsonError:
            body = message["Body"]
        return DeadLetter(
            message_id=message_id,
            receive_count=min(receives_before_peek, self._max_receive_count),
            sent_at=sent_at,
            dead_lettered_at=seconds_of(system.get("SentTimestamp"), sent_at),
            body=body,
        )

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make peeked DLQ messages visible again at once."""
        for start in range(0, len(messages), MAX_MESSAGES):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start : start + MAX_MESSAGES])
            ]
            with sqs_call("ChangeMessageVisibilityBatch"):
                response = self._client.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
            if response.get("Failed"):
                raise InfrastructureError(f"SQS could not release peeked dead letters: {response['Failed']}")

    def redrive(self, *, limit: int | None = None) -> int:
        """Move up to ``limit`` dead letters (None: all) back to the main queue; return how many."""
        wanted = None if limit is None else check_int("limit", limit, 0)
        moved = 0
        while wanted is None or moved < wanted:
            page = self._peek(MAX_MESSAGES if wanted is None else min(MAX_MESSAGES, wanted - moved))
            if not page:
                break
            entries = [_redrive_entry(str(i), message) for i, message in enumerate(page)]
            failed = send_batch(self._client, self._queue_url, entries)
            sent = [(str(i), m["ReceiptHandle"]) for i, m in enumerate(page) if str(i) not in failed]
            if sent:
                with sqs_call("DeleteMessageBatch"):
                    response = self._client.delete_message_batch(
                        QueueUrl=self._url,
                        Entries=[{"Id": key, "ReceiptHandle": handle} for key, handle in sent],
                    )
                if response.get("Failed"):
                    raise InfrastructureError(f"SQS kept redriven dead letters: {response['Failed']}")
            moved += len(sent)
            if failed:
                self._release([page[int(key)] for key in failed])
                refused = ", ".join(f"{origin(page[int(key)])[0]} ({code})" for key, code in failed.items())
                raise InfrastructureError(f"SQS refused to redrive {refused}; {moved} moved before that.")
        return moved


def _redrive_entry(key: str, message: dict[str, Any]) -> dict[str, Any]:
    """A SendMessageBatch entry that re-sends a dead letter with its attributes, id and send time."""
    message_id, sent_at = origin(message)
    attributes = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    attributes.update(string_attributes({ATTR_MESSAGE_ID: message_id, ATTR_SENT_AT: round(sent_at * 1000)}))
    return {"Id": key, "MessageBody": message["Body"], "MessageAttributes": attributes}
