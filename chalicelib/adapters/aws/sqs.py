"""`SqsQueue`: the `chalicelib.ports.queue.MessageQueue` port over an SQS standard queue and its DLQ.

The main queue carries a RedrivePolicy (see `chalicelib.adapters.aws.sqs_setup`), so SQS itself
moves a message to the dead-letter queue once it was received ``maxReceiveCount`` times without
being deleted. ``docs/sqs.md`` maps every port operation to SQS calls and lists every gap versus
`InMemoryQueue`; the ones a caller must know:

- No deduplication: a standard queue enqueues every send. ``dedup_id`` travels as the message
  attribute ``dedup_id`` so that consumers, who must tolerate redelivery anyway, can deduplicate.
- Superseded and deleted receipt handles are not reliably detected: SQS accepts many of them.
- ``stats`` counts are SQS's approximate ones (``exact=False``), with no running totals.
- ``commit`` of a staged publish is not atomic (SQS has no transactions): when a batch entry
  fails, `InfrastructureError` is raised and the entries that succeeded are already visible.
- `QueueFull` is never raised: a standard queue has no capacity limit.

A message's id is its SQS MessageId, except where SQS cannot provide the right one: a staged
message needs its id before SQS assigns one, and redrive re-sends a dead letter under a new
MessageId. Those carry their id in the ``message_id`` attribute (and redriven ones their first
send time in ``sent_at``), and received messages report it. Bodies are `jsonio` text, so Decimal
concentrations round-trip with every digit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from chalicelib import jsonio
from chalicelib.adapters.aws.sqs_dead_letters import DeadLetterQueue
from chalicelib.adapters.aws.sqs_wire import (
    ATTR_MESSAGE_ID,
    MAX_MESSAGES,
    MAX_VISIBILITY_SECONDS,
    MAX_WAIT_SECONDS,
    body_of,
    check_handle,
    check_int,
    handle_error,
    origin,
    outgoing,
    receive_raw,
    seconds_of,
    send_batch,
    sqs_call,
    string_attributes,
)
from chalicelib.errors import (
    FormulaIntakeError,
    InfrastructureError,
    QueueArgumentError,
    ReceiptHandleMalformed,
)
from chalicelib.jsonio import JsonValue
from chalicelib.ports.queue import MAX_ACK_BATCH, DeadLetter, QueueStats, ReceivedMessage
from chalicelib.ports.store import OutboundMessage

log = logging.getLogger("formula_intake.sqs")


class SqsQueue:
    """`MessageQueue` over one SQS standard queue whose RedrivePolicy targets ``dead_letter_queue_url``.

    ``max_receive_count`` must equal the RedrivePolicy's ``maxReceiveCount``: it caps the receive
    count reported for a dead letter, which SQS raises with every peek at the DLQ.
    ``long_poll_client`` (default: ``client``) makes the receives that wait, whose read timeout
    must outlast the wait (`chalicelib.adapters.aws.clients.aws_long_poll_config`).
    ``peek_wait_seconds`` is the long-poll wait of the DLQ reads in `dead_letters` and `redrive`,
    which stop at the first empty read: a short poll (0) may come back empty from a non-empty
    queue on real SQS, while moto answers it exactly. Thread-safe if ``client`` is (boto3's is).
    """

    def __init__(
        self,
        *,
        queue_url: str,
        dead_letter_queue_url: str,
        max_receive_count: int,
        client: Any | None = None,
        long_poll_client: Any | None = None,
        peek_wait_seconds: int = 1,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        if type(max_receive_count) is not int or max_receive_count < 1:
            raise ValueError(f"max_receive_count must be a positive integer, not {max_receive_count!r}")
        self.queue_url = queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self.max_receive_count = max_receive_count
        self._client = client if client is not None else boto3.client("sqs")
        self._long_poll_client = long_poll_client if long_poll_client is not None else self._client
        self._new_id = id_factory or (lambda: str(uuid.uuid4()))
        peek_wait = check_int("peek_wait_seconds", peek_wait_seconds, 0, MAX_WAIT_SECONDS)
        self._dead_letters = DeadLetterQueue(
            self._client,
            self._long_poll_client if peek_wait else self._client,
            dead_letter_queue_url=dead_letter_queue_url,
            queue_url=queue_url,
            max_receive_count=max_receive_count,
            peek_wait_seconds=peek_wait,
        )

    # ---------------------------------------------------------------------------- producing

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        params = outgoing(body, delay_seconds, dedup_id)
        with sqs_call("SendMessage", field="body"):
            response = self._client.send_message(QueueUrl=self.queue_url, **params)
        return str(response["MessageId"])

    def publish(self, messages: Sequence[OutboundMessage]) -> dict[str, str]:
        """Send outbox messages with ``SendMessageBatch``, each with ``dedup_id`` = its message id.

        Returns ``{message_id: error code}`` for each entry SQS refused (its ``Failed`` list).
        """
        entries = [
            {"Id": str(i), **outgoing(message.body, 0, message.message_id)}
            for i, message in enumerate(messages)
        ]
        failed = send_batch(self._client, self.queue_url, entries)
        return {messages[int(key)].message_id: code for key, code in failed.items()}

    def stage(self) -> SqsStagedPublish:
        return SqsStagedPublish(self._client, self.queue_url, self._new_id)

    # ---------------------------------------------------------------------------- consuming

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]:
        count = check_int("max_messages", max_messages, 1, MAX_MESSAGES)
        visibility = check_int("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY_SECONDS)
        wait = check_int("wait_seconds", wait_seconds, 0, MAX_WAIT_SECONDS)
        received: list[ReceivedMessage] = []
        client = self._long_poll_client if wait else self._client
        for message in receive_raw(client, self.queue_url, count, visibility, wait):
            try:
                received.append(self.parse_received(message))
            except jsonio.JsonError as exc:
                log.warning(
                    "SQS message %s has no JSON body, left for the DLQ: %s", message["MessageId"], exc
                )
        return received

    @staticmethod
    def parse_received(message: dict[str, Any]) -> ReceivedMessage:
        message_id, sent_at = origin(message)
        system = message.get("Attributes", {})
        return ReceivedMessage(
            message_id=message_id,
            receipt_handle=str(message["ReceiptHandle"]),
            receive_count=int(system.get("ApproximateReceiveCount", "1")),
            sent_at=sent_at,
            first_received_at=seconds_of(system.get("ApproximateFirstReceiveTimestamp"), sent_at),
            body=body_of(message),
        )

    def ack(self, receipt_handle: str) -> None:
        handle = check_handle(receipt_handle)
        with sqs_call("DeleteMessage", names_handle=True):
            self._client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)

    def ack_batch(self, receipt_handles: Sequence[str]) -> list[FormulaIntakeError | None]:
        """One DeleteMessageBatch for the well-formed handles; each ``Failed`` entry is mapped to
        the error `ack` would raise (an entry SQS failed for its own reasons is a 503's error)."""
        if isinstance(receipt_handles, str) or not 1 <= len(receipt_handles) <= MAX_ACK_BATCH:
            raise QueueArgumentError("receipt_handles", f"must hold 1 to {MAX_ACK_BATCH} receipt handles")
        outcomes: list[FormulaIntakeError | None] = []
        entries = []
        for index, handle in enumerate(receipt_handles):
            try:
                entries.append({"Id": str(index), "ReceiptHandle": check_handle(handle)})
                outcomes.append(None)
            except ReceiptHandleMalformed as exc:
                outcomes.append(exc)
        if entries:
            with sqs_call("DeleteMessageBatch"):
                response = self._client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failed in response.get("Failed", []):
                code, message = str(failed.get("Code", "")), str(failed.get("Message", "")).lower()
                outcomes[int(failed["Id"])] = handle_error(code, message) or InfrastructureError(
                    f"SQS DeleteMessageBatch failed for one handle: {code}"
                )
        return outcomes

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        timeout = check_int("seconds", seconds, 0, MAX_VISIBILITY_SECONDS)
        handle = check_handle(receipt_handle)
        with sqs_call("ChangeMessageVisibility", names_handle=True, field="seconds"):
            self._client.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=timeout
            )

    # ---------------------------------------------------------------------------- dead letters

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        return self._dead_letters.peek(limit=limit)

    def redrive(self, *, limit: int | None = None) -> int:
        return self._dead_letters.redrive(limit=limit)

    # ---------------------------------------------------------------------------- stats

    def stats(self) -> QueueStats:
        """SQS's approximate counts (``exact=False``) and no totals: SQS keeps none, and counting
        this process's own calls would contradict the counts (an ack of an old handle succeeds
        without deleting anything; SQS dead-letters messages without telling any client)."""
        main = self._attributes(
            self.queue_url,
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        dead = self._attributes(
            self.dead_letter_queue_url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
        )
        return QueueStats(
            ready=main[0],
            in_flight=main[1],
            delayed=main[2],
            dead_letters=sum(dead),
            sent_total=None,
            acked_total=None,
            redelivered_total=None,
            dead_lettered_total=None,
            exact=False,
        )

    def _attributes(self, queue_url: str, *names: str) -> list[int]:
        with sqs_call("GetQueueAttributes"):
            response = self._client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(names))
        attributes = response.get("Attributes", {})
        return [int(attributes.get(name, 0)) for name in names]


class SqsStagedPublish:
    """`StagedPublish` for `SqsQueue`: buffers sends; ``commit`` sends them in batches of 10.

    Each message's id is drawn when it is staged (``send`` must return it) and carried in the
    ``message_id`` attribute. SQS has no transactions, so ``commit`` is all or nothing only when
    every batch call succeeds; otherwise it raises `InfrastructureError` naming the refused
    messages, and the accepted ones stay visible. Nothing is reserved: SQS has no capacity limit.
    Exactly one of ``commit`` and ``rollback`` may be called; any call after it raises `RuntimeError`.
    """

    def __init__(self, client: Any, queue_url: str, new_id: Callable[[], str]) -> None:
        self._client = client
        self._queue_url = queue_url
        self._new_id = new_id
        self._entries: list[dict[str, Any]] = []
        self._ids: list[str] = []
        self._state = "open"

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"this staged publish was already {self._state}")

    def _close(self, state: str) -> None:
        self._check_open()
        self._state = state

    def send(self, body: JsonValue, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        self._check_open()
        params = outgoing(body, delay_seconds, dedup_id)
        message_id = self._new_id()
        params["MessageAttributes"].update(string_attributes({ATTR_MESSAGE_ID: message_id}))
        self._entries.append({"Id": str(len(self._entries)), **params})
        self._ids.append(message_id)
        return message_id

    def commit(self) -> None:
        self._close("committed")
        failed = send_batch(self._client, self._queue_url, self._entries)
        if failed:
            refused = ", ".join(f"{self._ids[int(key)]} ({code})" for key, code in failed.items())
            raise InfrastructureError(f"SQS refused {len(failed)} staged message(s): {refused}")

    def rollback(self) -> None:
        self._close("rolled back")
        self._entries.clear()
