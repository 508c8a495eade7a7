"""SQS's real error answers, injected with botocore's Stubber: the caller's faults are 4xx, not 503.

moto does not enforce SQS's 12-hour limit on a message's total visibility, nor answer
``MessageNotInflight``; real SQS does, with the codes and messages stubbed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.adapters.aws.sqs import SqsQueue
from chalicelib.errors import (
    FormulaIntakeError,
    InfrastructureError,
    QueueArgumentError,
    ReceiptHandleMalformed,
    ReceiptHandleUnknown,
)
from chalicelib.http.errors import response_for
from tests.integration.aws_fixtures import REGION, aws_credentials  # noqa: F401

pytestmark = pytest.mark.aws
HANDLE = "AQEBx" + "a" * 40
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
TOTAL_VISIBILITY = (
    "Value 43200 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the"
    " message is beyond the limit [43200 seconds]"
)


@pytest.fixture
def stubbed(aws_credentials: None) -> Iterator[tuple[SqsQueue, Stubber]]:  # noqa: F811
    client: Any = boto3.client("sqs", region_name=REGION)
    queue = SqsQueue(
        queue_url=QUEUE_URL, dead_letter_queue_url=QUEUE_URL + "-dlq", max_receive_count=3, client=client
    )
    with Stubber(client) as stubber:
        yield queue, stubber
        stubber.assert_no_pending_responses()


def _answer(stubbed: tuple[SqsQueue, Stubber], operation: str, code: str, message: str) -> None:
    stubbed[1].add_client_error(
        operation, service_error_code=code, service_message=message, http_status_code=400
    )


@pytest.mark.parametrize(
    ("code", "message", "error", "status"),
    [
        ("InvalidParameterValue", TOTAL_VISIBILITY, QueueArgumentError, 400),
        ("MessageNotInflight", "The message referred to is not in flight.", ReceiptHandleUnknown, 404),
        ("AWS.SimpleQueueService.MessageNotInflight", "not in flight", ReceiptHandleUnknown, 404),
        (
            "InvalidParameterValue",
            "Value x for parameter ReceiptHandle is invalid. Reason: Message does not exist",
            ReceiptHandleUnknown,
            404,
        ),
        ("ReceiptHandleIsInvalid", "The input receipt handle is invalid.", ReceiptHandleMalformed, 400),
        ("InternalError", "We encountered an internal error.", InfrastructureError, 503),
    ],
)
def test_a_nack_error_maps_to_whose_fault_it_is(
    stubbed: tuple[SqsQueue, Stubber], code: str, message: str, error: type[FormulaIntakeError], status: int
) -> None:
    _answer(stubbed, "change_message_visibility", code, message)
    with pytest.raises(error) as caught:
        stubbed[0].change_visibility(HANDLE, 43_200)
    assert type(caught.value) is error
    assert response_for(caught.value).status_code == status


def test_a_nack_past_twelve_hours_in_total_names_the_field(stubbed: tuple[SqsQueue, Stubber]) -> None:
    _answer(stubbed, "change_message_visibility", "InvalidParameterValue", TOTAL_VISIBILITY)
    with pytest.raises(QueueArgumentError) as caught:
        stubbed[0].change_visibility(HANDLE, 600)
    assert [d.field for d in caught.value.details] == ["seconds"]
    assert "43200 s in total" in caught.value.message


@pytest.mark.parametrize("code", ["InvalidParameterValue", "InvalidMessageContents"])
def test_a_send_refused_for_its_content_is_a_400(stubbed: tuple[SqsQueue, Stubber], code: str) -> None:
    _answer(stubbed, "send_message", code, "Invalid binary character '#x1' was found in the message body")
    with pytest.raises(QueueArgumentError) as caught:
        stubbed[0].send({"a": 1})
    assert [d.field for d in caught.value.details] == ["body"]


def test_a_delete_with_an_old_handle_succeeds_and_is_not_counted_as_an_ack(
    stubbed: tuple[SqsQueue, Stubber],
) -> None:
    """SQS answers 200 to DeleteMessage with a superseded handle and deletes nothing."""
    queue, stubber = stubbed
    stubber.add_response("delete_message", {}, {"QueueUrl": QUEUE_URL, "ReceiptHandle": HANDLE})
    queue.ack(HANDLE)
    for url, visible in ((QUEUE_URL, "1"), (QUEUE_URL + "-dlq", "0")):
        attributes = {"ApproximateNumberOfMessages": visible, "ApproximateNumberOfMessagesNotVisible": "0"}
        if url == QUEUE_URL:
            attributes["ApproximateNumberOfMessagesDelayed"] = "0"
        stubber.add_response("get_queue_attributes", {"Attributes": attributes})
    stats = queue.stats()
    assert (stats.ready, stats.exact, stats.acked_total) == (1, False, None)
    assert stats.to_dict() == {"ready": 1, "in_flight": 0, "delayed": 0, "dead_letters": 0, "exact": False}
