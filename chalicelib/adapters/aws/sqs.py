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
from chalicelib.adapters.aws.sqs_wire import (
    ATTR_MESSAGE_ID,
    ATTR_SENT_AT,
    MAX_MESSAGES,
    MAX_VISIBILITY_SECONDS,
    MAX_WAIT_SECONDS,
    PEEK_VISIBILITY_SECONDS,
    SYSTEM_ATTRIBUTES,
    batches,
    body_of,
    check_handle,
    check_int,
    handle_error,
    origin,
    outgoing,
    seconds_of,
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
    must outlast the wait (`chalicelib.bootstrap.aws_long_poll_config`).
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
        self._peek_wait = check_int("peek_wait_seconds", peek_wait_seconds, 0, MAX_WAIT_SECONDS)
        self._new_id = id_factory or (lambda: str(uuid.uuid4()))

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
        failed = self._send_batch(self.queue_url, entries)
        return {messages[int(key)].message_id: code for key, code in failed.items()}

    def stage(self) -> SqsStagedPublish:
        return SqsStagedPublish(self)

    def _send_batch(self, queue_url: str, entries: list[dict[str, Any]]) -> dict[str, str]:
        """Send every entry; return ``{Id: error code}`` for each entry SQS refused."""
        failed: dict[str, str] = {}
        for batch in batches(entries):
            with sqs_call("SendMessageBatch"):
                response = self._client.send_message_batch(QueueUrl=queue_url, Entries=batch)
            failed.update({str(f["Id"]): str(f.get("Code", "unknown")) for f in response.get("Failed", [])})
        return failed

    # ---------------------------------------------------------------------------- consuming

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]:
        count = check_int("max_messages", max_messages, 1, MAX_MESSAGES)
        visibility = check_int("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY_SECONDS)
        wait = check_int("wait_seconds", wait_seconds, 0, MAX_WAIT_SECONDS)
        received: list[ReceivedMessage] = []
        for message in self._receive(self.queue_url, count, visibility, wait):
            try:
                received.append(self.parse_received(message))
            except jsonio.JsonError as exc:
                log.warning(
                    "SQS message %s has no JSON body, left for the DLQ: %s", message["MessageId"], exc
                )
        return received

    def _receive(self, queue_url: str, count: int, visibility: int, wait: int) -> list[dict[str, Any]]:
        client = self._long_poll_client if wait else self._client
        with sqs_call("ReceiveMessage"):
            response = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=count,
                VisibilityTimeout=visibility,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
                MessageAttributeNames=["All"],
            )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

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
        return self._receive(self.dead_letter_queue_url, count, PEEK_VISIBILITY_SECONDS, self._peek_wait)

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
            receive_count=min(receives_before_peek, self.max_receive_count),
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
                response = self._client.change_message_visibility_batch(
                    QueueUrl=self.dead_letter_queue_url, Entries=entries
                )
            if response.get("Failed"):
                raise InfrastructureError(f"SQS could not release peeked dead letters: {response['Failed']}")

    def redrive(self, *, limit: int | None = None) -> int:
        wanted = None if limit is None else check_int("limit", limit, 0)
        moved = 0
        while wanted is None or moved < wanted:
            page = self._peek(MAX_MESSAGES if wanted is None else min(MAX_MESSAGES, wanted - moved))
            if not page:
                break
            entries = [_redrive_entry(str(i), message) for i, message in enumerate(page)]
            failed = self._send_batch(self.queue_url, entries)
            sent = [(str(i), m["ReceiptHandle"]) for i, m in enumerate(page) if str(i) not in failed]
            if sent:
                with sqs_call("DeleteMessageBatch"):
                    response = self._client.delete_message_batch(
                        QueueUrl=self.dead_letter_queue_url,
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


def _redrive_entry(key: str, message: dict[str, Any]) -> dict[str, Any]:
    """A SendMessageBatch entry that re-sends a dead letter with its attributes, id and send time."""
    message_id, sent_at = origin(message)
    attributes = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    attributes.update(string_attributes({ATTR_MESSAGE_ID: message_id, ATTR_SENT_AT: round(sent_at * 1000)}))
    return {"Id": key, "MessageBody": message["Body"], "MessageAttributes": attributes}


class SqsStagedPublish:
    """`StagedPublish` for `SqsQueue`: buffers sends; ``commit`` sends them in batches of 10.

    Each message's id is drawn when it is staged (``send`` must return it) and carried in the
    ``message_id`` attribute. SQS has no transactions, so ``commit`` is all or nothing only when
    every batch call succeeds; otherwise it raises `InfrastructureError` naming the refused
    messages, and the accepted ones stay visible. Nothing is reserved: SQS has no capacity limit.
    Exactly one of ``commit`` and ``rollback`` may be called; any call after it raises `RuntimeError`.
    """

    def __init__(self, queue: SqsQueue) -> None:
        self._queue = queue
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
        message_id = self._queue._new_id()
        params["MessageAttributes"].update(string_attributes({ATTR_MESSAGE_ID: message_id}))
        self._entries.append({"Id": str(len(self._entries)), **params})
        self._ids.append(message_id)
        return message_id

    def commit(self) -> None:
        self._close("committed")
        failed = self._queue._send_batch(self._queue.queue_url, self._entries)
        if failed:
            refused = ", ".join(f"{self._ids[int(key)]} ({code})" for key, code in failed.items())
            raise InfrastructureError(f"SQS refused {len(failed)} staged message(s): {refused}")

    def rollback(self) -> None:
        self._close("rolled back")
        self._entries.clear()
