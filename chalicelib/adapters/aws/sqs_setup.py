"""Create the formula queue and its dead-letter queue, as the SAM template declares them.

`create_queues` is for moto-backed tests and local runs (``make run-aws-local``); in AWS the SAM
template creates the same two queues. The module-level constants are the numbers that template must
declare, so the two cannot drift apart unnoticed:

- the main queue keeps messages `RETENTION_SECONDS`, hides a received message for
  `VISIBILITY_TIMEOUT_SECONDS` unless the consumer asks otherwise, and its RedrivePolicy moves a
  message to the DLQ after `MAX_RECEIVE_COUNT` receives;
- the DLQ keeps messages `DLQ_RETENTION_SECONDS` (the SQS maximum). SQS expires a dead letter by
  its *original* enqueue time, so the DLQ must keep messages longer than the main queue does or
  they would vanish soon after arriving; its RedriveAllowPolicy accepts only the main queue.
- `MAXIMUM_MESSAGE_SIZE` is SQS's ceiling, above the port's 256 KiB body limit (which `SqsQueue`
  checks itself), leaving room for the message attributes that SQS counts in the size.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import InfrastructureError

MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT_SECONDS = 30
RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
MAXIMUM_MESSAGE_SIZE = 1_048_576
RECEIVE_WAIT_SECONDS = 0
QUEUE_SUFFIX = "submitted"
DLQ_SUFFIX = "submitted-dlq"
"""With the prefix ``formula-intake`` these give the deployed names (``app.QUEUE_NAME`` and its DLQ)."""


def create_queues(
    sqs_client: Any,
    *,
    name_prefix: str,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
    retention_seconds: int = RETENTION_SECONDS,
) -> tuple[str, str]:
    """Create (or find, if identical) ``<prefix>-submitted`` and its DLQ; return both URLs.

    Returns ``(queue_url, dead_letter_queue_url)``. SQS's CreateQueue is idempotent for identical
    attributes, so running this twice is harmless; different attributes raise
    `InfrastructureError` (SQS's QueueNameExists) rather than silently reconfiguring a queue.
    """
    try:
        dlq_url = sqs_client.create_queue(
            QueueName=f"{name_prefix}-{DLQ_SUFFIX}",
            Attributes={
                "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
                "MaximumMessageSize": str(MAXIMUM_MESSAGE_SIZE),
            },
        )["QueueUrl"]
        dlq_arn = _arn(sqs_client, dlq_url)
        queue_url = sqs_client.create_queue(
            QueueName=f"{name_prefix}-{QUEUE_SUFFIX}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "MessageRetentionPeriod": str(retention_seconds),
                "MaximumMessageSize": str(MAXIMUM_MESSAGE_SIZE),
                "ReceiveMessageWaitTimeSeconds": str(RECEIVE_WAIT_SECONDS),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
                ),
            },
        )["QueueUrl"]
        sqs_client.set_queue_attributes(
            QueueUrl=dlq_url,
            Attributes={
                "RedriveAllowPolicy": json.dumps(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [_arn(sqs_client, queue_url)]}
                )
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise InfrastructureError(f"could not create the SQS queues for {name_prefix!r}: {exc}") from exc
    return str(queue_url), str(dlq_url)


def _arn(sqs_client: Any, queue_url: str) -> str:
    attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
