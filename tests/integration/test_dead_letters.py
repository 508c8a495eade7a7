"""A message that reaches the dead-letter queue never leaves its formula ``queued``.

Throttled or crashed consumer invocations use up receives without recording anything; SQS then
dead-letters the message. The sweeper peeks at moto's dead-letter queue each minute and
`record_dead_letters` marks such formulas failed; the dead letters stay, ready to be redriven.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap, jsonio
from chalicelib.adapters.aws.sqs_setup import create_queues
from chalicelib.adapters.aws.tables import create_tables
from chalicelib.config import Settings
from chalicelib.domain import parse_document
from chalicelib.entrypoints.lambda_handlers import record_dead_letters, sweep
from chalicelib.ports.queue import DeadLetter
from chalicelib.ports.store import STATUS_FAILED, STATUS_PROCESSED, STATUS_QUEUED
from tests.conftest import unique_formula
from tests.integration.aws_fixtures import REGION, aws_credentials  # noqa: F401

pytestmark = pytest.mark.aws
MAX_RECEIVES = 2
OWNER = "default"


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[tuple[bootstrap.Services, Any]]:  # noqa: F811
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        create_tables(dynamodb, ["dlq-test"])
        queue_url, dlq_url = create_queues(sqs, name_prefix="dlq-test", max_receive_count=MAX_RECEIVES)
        settings = Settings(
            backend="aws",
            table_name="dlq-test",
            queue_url=queue_url,
            dead_letter_queue_url=dlq_url,
            queue_max_receive_count=MAX_RECEIVES,
        )
        yield bootstrap.build_aws(settings, dynamodb=dynamodb, sqs=sqs), sqs


def _submit(services: bootstrap.Services) -> str:
    return str(
        jsonio.loads(services.submissions.submit(OWNER, parse_document(unique_formula()), None).body)["id"]
    )


def _exhaust_receives(services: bootstrap.Services, sqs: Any) -> None:
    """Let every message's receives run out unprocessed (throttling): SQS dead-letters them."""
    queue_url = services.settings.queue_url
    for _ in range(MAX_RECEIVES + 1):
        sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)


def _dead_letters(services: bootstrap.Services, sqs: Any) -> list[DeadLetter]:
    _exhaust_receives(services, sqs)
    return services.queue.dead_letters()


def test_a_dead_lettered_formula_still_queued_ends_failed(aws: tuple[bootstrap.Services, Any]) -> None:
    services, sqs = aws
    stranded, recorded, done = _submit(services), _submit(services), _submit(services)
    services.store.mark_failed(OWNER, recorded, error="HandlerError: boom", at=services.clock(), attempts=2)
    services.store.mark_processed(OWNER, done, at=services.clock())
    sqs.send_message(QueueUrl=services.settings.queue_url, MessageBody="not json")
    letters = _dead_letters(services, sqs)
    assert len(letters) == 4
    outcomes = record_dead_letters(services, letters)
    assert outcomes == {"marked_failed": 1, "already_settled": 2, "not_a_formula": 1}
    failed = services.store.get(OWNER, stranded)
    assert failed is not None and failed.status == STATUS_FAILED
    assert failed.last_error is not None and failed.last_error.startswith("DeadLettered")
    kept = services.store.get(OWNER, recorded)
    assert kept is not None and kept.last_error == "HandlerError: boom"
    processed = services.store.get(OWNER, done)
    assert processed is not None and processed.status == STATUS_PROCESSED
    listed = services.store.list(OWNER, limit=10, after=None, status=STATUS_FAILED).items
    assert {r.id for r in listed} == {stranded, recorded}
    assert services.store.list(OWNER, limit=10, after=None, status=STATUS_QUEUED).items == ()
    again = record_dead_letters(services, letters)
    assert again == {"marked_failed": 0, "already_settled": 3, "not_a_formula": 1}


def test_one_sweep_fails_a_formula_dead_lettered_while_queued_and_leaves_the_dead_letter(
    aws: tuple[bootstrap.Services, Any],
) -> None:
    services, sqs = aws
    stranded = _submit(services)
    _exhaust_receives(services, sqs)
    dlq_url = services.settings.dead_letter_queue_url

    sweep(services)

    failed = services.store.get(OWNER, stranded)
    assert failed is not None and failed.status == STATUS_FAILED
    assert failed.last_error is not None and failed.last_error.startswith("DeadLettered")
    # Peeked, not consumed: the dead letter is visible in the DLQ and redrives to the main queue.
    depth = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert services.queue.redrive() == 1
    [message] = services.queue.receive(max_messages=10)
    assert isinstance(message.body, dict) and message.body["formula_id"] == stranded
    assert services.queue.dead_letters() == []
