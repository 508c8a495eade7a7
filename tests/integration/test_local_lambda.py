"""`make run-aws-local`'s event sources on moto: one poll cycle each, invoking `app`'s handlers.

Each poller is driven one cycle at a time (no threads, no sleeping); the handlers are the ones
Chalice registers for the template (``app.handler_map``), called with Lambda-shaped events.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from chalice.app import CloudWatchEvent, SQSEvent

from app import app
from chalicelib.adapters.aws.outbox import LEASE_SECONDS
from chalicelib.adapters.aws.relay import DEFAULT_SWEEP_AGE_SECONDS
from chalicelib.clock import FakeClock
from chalicelib.domain import parse_document
from chalicelib.entrypoints import lambda_handlers, local_lambda
from chalicelib.entrypoints.lambda_handlers import RelayIncomplete
from chalicelib.errors import InfrastructureError
from tests.conftest import unique_formula
from tests.integration.aws_fixtures import REGION, aws_credentials  # noqa: F401
from tests.integration.test_api_aws import installed_aws

pytestmark = pytest.mark.aws
TABLE = "formula-intake-local-lambda"


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[dict[str, Any]]:  # noqa: F811
    """moto's table and queues, and AWS services on a fake clock installed for the app."""
    clock = FakeClock()
    with installed_aws(TABLE, "local-lambda", clock) as installed:
        yield {**installed, "clock": clock}


def submit(aws: dict[str, Any], count: int = 1, *, relay: bool = True) -> list[str]:
    """Submit ``count`` formulas; without ``relay`` they stay in the outbox, unpublished."""
    services = aws["services"]
    saved = services.store.relay
    if not relay:
        services.store.relay = None
    try:
        document = [unique_formula() for _ in range(count)]
        result = services.submissions.submit("owner", parse_document(document), None)
    finally:
        services.store.relay = saved
    body = json.loads(result.body)
    formulas = body["formulas"] if "formulas" in body else [body]
    return [formula["id"] for formula in formulas]


def depth(aws: dict[str, Any]) -> tuple[int, int]:
    """(visible, in flight) messages on the main queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=names)
    return int(attributes["Attributes"][names[0]]), int(attributes["Attributes"][names[1]])


def status(aws: dict[str, Any], formula_id: str) -> str:
    record = aws["services"].store.get("owner", formula_id)
    assert record is not None
    return str(record.status)


class Recording:
    """A handler that keeps each event, as Chalice parses it, and answers ``answer``."""

    def __init__(self, answer: Any = None, failures: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer, self.failures = answer, failures

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        if len(self.events) <= self.failures:
            raise RuntimeError("the handler crashed")
        return self.answer(event) if callable(self.answer) else self.answer


def test_the_consumer_handler_processes_a_batch_and_the_poller_deletes_it(aws: dict[str, Any]) -> None:
    ids = submit(aws, 3)
    poller = local_lambda.SqsPoller(aws["sqs"], aws["queue_url"], app.handler_map["consume_messages"])
    assert poller.poll_once() == local_lambda.SqsPollResult(received=3, deleted=3, returned=0)
    assert [status(aws, formula_id) for formula_id in ids] == ["processed"] * 3
    assert depth(aws) == (0, 0)
    assert poller.poll_once() == local_lambda.SqsPollResult()


def test_the_poller_deletes_exactly_what_the_partial_batch_response_does_not_name(
    aws: dict[str, Any],
) -> None:
    submit(aws, 3)
    second = Recording(
        lambda event: {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    )
    poller = local_lambda.SqsPoller(aws["sqs"], aws["queue_url"], second)
    assert poller.poll_once() == local_lambda.SqsPollResult(received=3, deleted=2, returned=1)
    assert depth(aws) == (0, 1)  # the named one waits out the queue's visibility timeout
    [event] = second.events
    parsed = [record.to_dict() for record in SQSEvent(event, None)]
    assert {record["eventSource"] for record in parsed} == {"aws:sqs"}
    assert all(record["eventSourceARN"].endswith(":local-lambda-submitted") for record in parsed)
    assert all(json.loads(record["body"])["type"] for record in parsed)


def test_a_crashed_invocation_leaves_its_whole_batch_on_the_queue(aws: dict[str, Any]) -> None:
    submit(aws, 2)
    crashing = Recording(failures=1)
    poller = local_lambda.SqsPoller(aws["sqs"], aws["queue_url"], crashing)
    with pytest.raises(RuntimeError):
        poller.poll_once()
    assert depth(aws) == (0, 2)


def streams_client() -> Any:
    return boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )


def test_the_stream_relay_handler_publishes_a_stranded_outbox_item(aws: dict[str, Any]) -> None:
    submit(aws, 2, relay=False)
    assert depth(aws) == (0, 0)
    poller = local_lambda.StreamPoller(
        aws["dynamodb"], streams_client(), TABLE, app.handler_map["relay_outbox"]
    )
    assert poller.poll_once() == 1  # the outbox insert; formula and key items are filtered out
    assert depth(aws) == (2, 0)
    assert aws["services"].store.pending_outbox(limit=10, older_than=aws["clock"]() + 1) == []
    assert poller.poll_once() == 0


def relay_poller(aws: dict[str, Any]) -> local_lambda.StreamPoller:
    return local_lambda.StreamPoller(
        aws["dynamodb"], streams_client(), TABLE, app.handler_map["relay_outbox"]
    )


def queue_down(*args: Any, **kwargs: Any) -> Any:
    raise InfrastructureError("SQS SendMessageBatch failed: ServiceUnavailable")


def test_a_submission_published_inline_invokes_no_stream_relay(aws: dict[str, Any]) -> None:
    poller = relay_poller(aws)
    submit(aws, 2)
    assert depth(aws) == (2, 0)
    assert poller.poll_once() == 0  # its leased insert, the delete: no record passes the filter


def test_an_inline_publish_that_failed_is_retried_by_the_stream_relay_at_once(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = relay_poller(aws)
    streamed: list[int] = []

    def down_once_the_insert_is_streamed(*args: Any, **kwargs: Any) -> Any:
        streamed.append(poller.poll_once())  # the stream delivers the insert while the request holds it
        return queue_down()

    monkeypatch.setattr(aws["services"].queue, "publish", down_once_the_insert_is_streamed)
    submit(aws, 2)  # committed; the inline publish failed and gave its lease back
    monkeypatch.undo()  # the queue is back
    assert streamed == [0] and depth(aws) == (0, 0)  # the held insert invoked nothing
    assert poller.poll_once() == 1  # the release, long before a sweep would look
    assert depth(aws) == (2, 0)
    assert aws["services"].store.pending_outbox(limit=10, older_than=aws["clock"]() + 1) == []
    assert poller.poll_once() == 0


def test_the_stream_relay_keeps_the_lease_when_it_fails_so_it_is_not_invoked_again_and_again(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = relay_poller(aws)
    monkeypatch.setattr(aws["services"].queue, "publish", queue_down)
    submit(aws, 1)
    # The release invokes the stream relay; the queue is still down. The relay keeps the lease
    # and does not raise: a retry of the batch could only skip the item it holds.
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0  # no retry, and no release follows: the sweeper takes it
    (item,) = aws["services"].store.pending_outbox(limit=10, older_than=aws["clock"]() + 1)
    monkeypatch.undo()
    aws["clock"].advance(LEASE_SECONDS + DEFAULT_SWEEP_AGE_SECONDS)
    assert lambda_handlers.sweep(aws["services"]).completed == (item.outbox_id,)
    assert depth(aws) == (1, 0)


def test_a_failed_claim_raises_so_lambda_retries_the_stream_batch_and_the_retry_publishes(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = relay_poller(aws)
    monkeypatch.setattr(aws["services"].queue, "publish", queue_down)
    submit(aws, 1)  # the inline publish fails and gives its lease back
    monkeypatch.undo()  # the queue is back, but DynamoDB now throttles the claim (an UpdateItem)

    def throttled(*args: Any, **kwargs: Any) -> Any:
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
        raise ClientError({"Error": error}, "UpdateItem")

    monkeypatch.setattr(aws["dynamodb"], "update_item", throttled)
    with pytest.raises(RelayIncomplete):
        poller.poll_once()  # nothing holds the item: a retry can publish it
    monkeypatch.undo()
    assert poller.poll_once() == 1  # Lambda's retry of the same batch
    assert depth(aws) == (1, 0)


def test_the_sweeper_keeps_the_lease_when_it_fails_so_its_failures_invoke_no_stream_relay(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws["services"].queue, "publish", queue_down)
    submit(aws, 1)  # the inline publish fails and gives its lease back
    aws["clock"].advance(DEFAULT_SWEEP_AGE_SECONDS + 1)
    assert len(lambda_handlers.sweep(aws["services"]).failures) == 1
    monkeypatch.undo()
    poller = relay_poller(aws)
    assert poller.poll_once() == 1  # the request's release; the sweeper holds the item now: skipped
    assert poller.poll_once() == 0  # the failed sweep released nothing
    assert depth(aws) == (0, 0)
    aws["clock"].advance(LEASE_SECONDS)
    assert len(lambda_handlers.sweep(aws["services"]).completed) == 1
    assert depth(aws) == (1, 0)


def test_a_failing_stream_batch_is_retried_then_dropped(aws: dict[str, Any]) -> None:
    submit(aws, 1, relay=False)
    failing = Recording(failures=10)
    poller = local_lambda.StreamPoller(aws["dynamodb"], streams_client(), TABLE, failing)
    for _ in range(poller.max_retries + 1):
        with pytest.raises(RuntimeError):
            poller.poll_once()
    assert len(failing.events) == poller.max_retries + 1
    assert len({json.dumps(event, default=str) for event in failing.events}) == 1  # the same batch
    assert poller.poll_once() == 0  # dropped: the sweeper is the backstop


def test_the_scheduled_sweeper_handler_publishes_what_is_pending_past_its_grace(aws: dict[str, Any]) -> None:
    submit(aws, 2, relay=False)
    event = local_lambda.scheduled_event(REGION)
    assert CloudWatchEvent(event, None).detail_type == "Scheduled Event"
    sweep = app.handler_map["sweep_outbox"]
    sweep(event, local_lambda.context_for("sweep_outbox"))
    assert depth(aws) == (0, 0)  # younger than the grace period: left to the inline and stream relays
    aws["clock"].advance(DEFAULT_SWEEP_AGE_SECONDS + 1)
    sweep(event, local_lambda.context_for("sweep_outbox"))
    assert depth(aws) == (2, 0)


def test_a_repeating_loop_goes_on_after_a_failed_cycle(caplog: pytest.LogCaptureFixture) -> None:
    cycles = 0
    third = threading.Event()

    def cycle() -> None:
        nonlocal cycles
        cycles += 1
        if cycles == 3:
            third.set()
        if cycles == 1:
            raise RuntimeError("the outbox cannot be read")

    loop = local_lambda.Repeating("outbox-sweeper", cycle, interval=0.001)
    loop.start()
    try:
        assert third.wait(10)
    finally:
        loop.stop()
    assert "outbox-sweeper failed" in caplog.text
