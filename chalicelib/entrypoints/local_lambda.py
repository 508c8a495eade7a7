"""Lambda's event sources, imitated on one machine: `make run-aws-local` runs production's handlers.

In AWS, Lambda's event source mappings poll the queue and the table's stream and invoke the
functions with events; EventBridge invokes the sweeper on a schedule. Locally these pollers do
the same against moto and invoke the *same* handler functions (`app.consume_messages`,
`app.relay_outbox`, `app.sweep_outbox`) with events shaped as Lambda sends them, so no
local-only code path sits between a submission and its processing:

- `SqsPoller`: receives up to 10 messages (the queue's own visibility timeout applies), invokes
  the consumer with an SQS event and, as Lambda does with ``ReportBatchItemFailures``, deletes
  exactly the messages the response does not name in ``batchItemFailures``. A handler that
  raises leaves the whole batch to come back after the visibility timeout.
- `StreamPoller`: reads the table's DynamoDB stream shard by shard, keeps the records that match
  the event source's filter (`lambda_handlers.is_unheld_outbox_item`, the template's
  `tables.STREAM_FILTER_PATTERN`) and invokes the
  relay with a DynamoDB stream event. A batch whose invocation raises is invoked again on the
  next poll, at most `StreamPoller.max_retries` more times (the template's
  ``MaximumRetryAttempts``), then dropped: the sweeper is the backstop.
- `scheduled_event`: the EventBridge event the sweeper is invoked with.

Each poller does one bounded cycle per `poll_once` call; `Repeating` runs a cycle in a thread
until stopped, logging a failed cycle as a failed invocation would be, and going on.
"""

from __future__ import annotations

import datetime
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.entrypoints.lambda_handlers import is_unheld_outbox_item

log = logging.getLogger("formula_intake.local_lambda")

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler as Chalice exposes it: called with the event dict and a context."""

SQS_BATCH_SIZE = 10
"""The consumer's event source batch size (``@app.on_sqs_message(batch_size=10)``)."""
STREAM_BATCH_SIZE = 100
"""Chalice's default batch size for a DynamoDB stream event source."""
STREAM_MAX_RETRIES = 5
"""The relay's event source retries a failing batch at most this many times (the template)."""


@dataclass(frozen=True, slots=True)
class LambdaContext:
    """The attributes of Lambda's context object that a handler may read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 128

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def context_for(function_name: str) -> LambdaContext:
    """A fresh context for one invocation of ``function_name``."""
    return LambdaContext(function_name=function_name, aws_request_id=str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class SqsPollResult:
    """One SQS poll: messages handed to the consumer, deleted by the poller, left to come back."""

    received: int = 0
    deleted: int = 0
    returned: int = 0


def sqs_event_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received SQS message as a record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    """Lambda's SQS event source mapping for one queue and one handler."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        function_name: str = "consume_messages",
        batch_size: int = SQS_BATCH_SIZE,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs, self._queue_url, self._handler = sqs, queue_url, handler
        self._function_name, self._batch_size, self._wait = function_name, batch_size, wait_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]
        self._region = self._queue_arn.split(":")[3]

    def poll_once(self) -> SqsPollResult:
        """Receive one batch, invoke the handler with it, delete what it did not name."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return SqsPollResult()
        event = {"Records": [sqs_event_record(m, self._queue_arn, self._region) for m in messages]}
        answer = self._handler(event, context_for(self._function_name))
        failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)]
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
        result = SqsPollResult(received=len(messages), deleted=len(done), returned=len(messages) - len(done))
        log.info(
            "%s invoked with %d SQS record(s): %d deleted, %d to come back",
            self._function_name,
            result.received,
            result.deleted,
            result.returned,
        )
        return result


def stream_event_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record from DynamoDB Streams' GetRecords as a record of Lambda's DynamoDB event."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    """Lambda's DynamoDB stream event source mapping for one table and one handler."""

    max_retries = STREAM_MAX_RETRIES

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        handler: Handler,
        *,
        function_name: str = "relay_outbox",
        batch_size: int = STREAM_BATCH_SIZE,
    ) -> None:
        self._streams, self._handler = streams, handler
        self._function_name, self._batch_size = function_name, batch_size
        self._stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._region = self._stream_arn.split(":")[3]
        self._iterators: dict[str, str | None] = {}
        self._retrying: tuple[list[dict[str, Any]], int] | None = None

    def _shard_iterators(self) -> dict[str, str | None]:
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        return self._iterators

    def poll_once(self) -> int:
        """Invoke the handler with the next batch of matching records; return how many it held.

        A batch left from a failed invocation is retried before new records are read.
        """
        if self._retrying is not None:
            records, attempts = self._retrying
        else:
            records, attempts = self._read(), 0
        if not records:
            return 0
        event = {"Records": records}
        try:
            self._handler(event, context_for(self._function_name))
        except Exception:
            if attempts < self.max_retries:
                self._retrying = (records, attempts + 1)
            else:
                self._retrying = None
                log.error("stream batch of %d record(s) dropped after %d retries", len(records), attempts)
            raise
        self._retrying = None
        log.info("%s invoked with %d stream record(s)", self._function_name, len(records))
        return len(records)

    def _read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard_id, iterator in self._shard_iterators().items():
            if iterator is None or len(records) >= self._batch_size:
                continue
            page = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size - len(records))
            self._iterators[shard_id] = page.get("NextShardIterator")
            records += [
                stream_event_record(record, self._stream_arn, self._region)
                for record in page.get("Records", [])
                if is_unheld_outbox_item(record)
            ]
        return records


def scheduled_event(region: str, rule: str = "sweep_outbox") -> dict[str, Any]:
    """The EventBridge event a ``rate(...)`` schedule invokes its function with."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": now,
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{rule}"],
        "detail": {},
    }


class Repeating:
    """Runs ``cycle`` in a daemon thread, waiting ``interval`` seconds between cycles, until stopped.

    A cycle that raises is logged, like a failed invocation, and the next cycle runs as usual.
    """

    def __init__(self, name: str, cycle: Callable[[], object], interval: float) -> None:
        self._name, self._cycle, self._interval = name, cycle, interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._cycle()
            except Exception:
                log.exception("%s failed; trying again in %.1f s", self._name, self._interval)
            self._stopping.wait(self._interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
