"""Least privilege per function: each policy grants what that function's code calls, no more.

Each function is run the way Lambda runs it (the API through its routes, the others through
their event handlers) on moto, and botocore's ``provide-client-params`` hook records every AWS call it
makes. A ``TransactWriteItems`` is authorised per item, so its items' kinds are recorded. What
Lambda's event source mappings do with the function's role (receive from the queue, read the
stream) is added from `deploy.render`, which states it once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.entrypoints import lambda_handlers
from deploy import policies, render
from tests.api.helpers import SUMMER_BREEZE, post
from tests.conftest import unique_formula
from tests.integration.aws_fixtures import aws_credentials  # noqa: F401
from tests.integration.test_api_aws import aws, lambda_records, queued  # noqa: F401
from tests.keys import KeyedClient

pytestmark = pytest.mark.aws

Recorder = Callable[[Callable[[], None]], set[str]]


@pytest.fixture
def record(aws: dict[str, Any]) -> Recorder:  # noqa: F811
    """Run a step and return the IAM actions behind the AWS calls it made."""

    def run(step: Callable[[], None]) -> set[str]:
        actions: set[str] = set()

        def hook(model: Any, params: dict[str, Any], **_: Any) -> None:
            prefix = model.service_model.signing_name
            if model.name == "TransactWriteItems":
                actions.update(f"dynamodb:{kind}Item" for item in params["TransactItems"] for kind in item)
                return
            actions.add(f"{prefix}:{model.name.removesuffix('Batch')}")

        for client in (aws["dynamodb"], aws["sqs"], aws["ssm"]):
            client.meta.events.register("provide-client-params.*.*", hook)
        try:
            step()
        finally:
            for client in (aws["dynamodb"], aws["sqs"], aws["ssm"]):
                client.meta.events.unregister("provide-client-params.*.*", hook)
        return actions

    return run


@pytest.fixture
def client(aws: dict[str, Any]) -> Iterator[Client]:  # noqa: F811
    with KeyedClient() as test_client:
        yield test_client


FUNCTIONS = {
    "APIHandler": "api_handler",
    "ConsumeMessages": "consume_messages",
    "RelayOutbox": "relay_outbox",
    "SweepOutbox": "sweep_outbox",
}
"""The template's logical id of each function, and its Python name (its policy's key)."""

EVENT_SOURCE_ACTIONS = {
    "ConsumeMessages": set(policies.QUEUE_SOURCE_ACTIONS),
    "RelayOutbox": set(policies.STREAM_ACTIONS) | {"dynamodb:ListStreams"},
}
"""What Lambda's event source mappings do with the function's role (no code of ours calls them)."""


def granted(function: str) -> set[str]:
    policy = policies.function_policy(render.stage_config(), FUNCTIONS[function])
    return {
        action
        for statement in policy["Statement"]
        for action in statement["Action"]
        if action.startswith(("dynamodb:", "sqs:", "ssm:"))
    }


def _api(client: Client) -> None:
    created = json.loads(post(client, SUMMER_BREEZE, key="k").body)
    post(client, SUMMER_BREEZE, key="k")  # a replay
    post(client, {**SUMMER_BREEZE, "name": "again"})  # a duplicate
    post(client, [unique_formula() for _ in range(3)])
    near = [*SUMMER_BREEZE["materials"][:2], {"name": "Sandalwood", "concentration": "5.3"}]
    post(client, {"name": "Summer Breeze, nearly", "materials": near})  # the consumer compares it
    client.http.get(f"/formulas/{created['id']}")
    client.http.get("/formulas?limit=5")


def test_each_function_is_granted_exactly_what_it_calls(
    client: Client,
    aws: dict[str, Any],  # noqa: F811
    record: Recorder,
) -> None:
    services = aws["services"]
    called = {render.API_FUNCTION: record(lambda: _api(client))}
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=json.dumps({"type": "unknown.type"}))
    records = lambda_records(queued(aws))
    called["ConsumeMessages"] = record(
        lambda: client.lambda_.invoke("consume_messages", {"Records": records})
    )

    services.store.relay = None  # committed but not published: for the relay and the sweeper
    post(client, unique_formula())
    [item] = services.store.pending_outbox(limit=10, older_than=services.clock() + 1)
    key = {"pk": {"S": services.store.outbox.partition(item.outbox_id)}, "sk": {"S": item.outbox_id}}
    image = aws["dynamodb"].get_item(TableName=services.settings.table_name, Key=key)["Item"]
    stream_record = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
        "dynamodb": {
            "ApproximateCreationDateTime": 1,
            "Keys": key,
            "NewImage": image,
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    called["RelayOutbox"] = record(
        lambda: client.lambda_.invoke("relay_outbox", {"Records": [stream_record]})
    )
    post(client, unique_formula())
    # A formula's message dead-lettered while the formula is still queued: the sweep peeks at it.
    published = next(m for m in queued(aws) if "formula.submitted" in m["Body"])
    aws["sqs"].send_message(QueueUrl=aws["dlq_url"], MessageBody=published["Body"])
    called["SweepOutbox"] = record(lambda: lambda_handlers.sweep(services, older_than_seconds=0))
    assert set(called) == set(FUNCTIONS) == set(render.app_handlers(render.load_app()).functions)
    for function, actions in called.items():
        assert actions | EVENT_SOURCE_ACTIONS.get(function, set()) == granted(function), function
    assert "sqs:ReceiveMessage" not in granted("APIHandler")
    assert "ssm:GetParameter" in called[render.API_FUNCTION]  # the keys, read on the first request
    assert not any(action.startswith("dynamodb:GetRecords") for action in granted("SweepOutbox"))
    assert "sqs:DeleteMessage" not in granted("SweepOutbox")  # dead letters stay redrivable


def test_every_function_has_its_own_policy_file() -> None:
    assert set(FUNCTIONS.values()) == set(policies.FUNCTION_ACCESS)
    configured = render.stage_config()["lambda_functions"]
    for function in FUNCTIONS.values():
        path = render.policy_path(function)
        assert configured[function]["iam_policy_file"] == path.name, function
        assert (render.PROJECT_DIR / path).is_file(), function
