"""The API's key cases, the Lambda consumer, the stream relay and the sweeper on the AWS adapters (moto).

The same routes as the in-memory suite, wired with `bootstrap.build_aws` to DynamoDB and SQS in
moto. Lambda handlers are invoked through `chalice.test.Client` with events built from what
moto's SQS and DynamoDB really hold, so receipt handles and images are genuine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

import app as app_module
from app import app
from chalicelib import bootstrap, jsonio
from chalicelib.adapters.aws.serialized import SerializedClient
from chalicelib.adapters.aws.sqs_setup import create_queues
from chalicelib.adapters.aws.tables import create_tables
from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.devserver import make_thread_safe
from tests.api.helpers import SUMMER_BREEZE, error_code, post
from tests.conftest import unique_formula
from tests.integration.aws_fixtures import aws_credentials, lambda_records  # noqa: F401
from tests.keys import API_KEYS_JSON, KeyedClient

pytestmark = pytest.mark.aws
REGION = "us-east-1"
TABLE = "formula-intake-api-test"
KEYS_PARAMETER = "/formula-intake/api-test/api-keys"


@contextmanager
def installed_aws(table: str, prefix: str, clock: Clock | None = None) -> Iterator[dict[str, Any]]:
    """moto's table and queues, and the AWS services on them installed for the app."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        # As deployed: the keys live in the stage's SecureString parameter.
        ssm.put_parameter(Name=KEYS_PARAMETER, Value=API_KEYS_JSON, Type="SecureString")
        create_tables(dynamodb, [table])
        queue_url, dlq_url = create_queues(sqs, name_prefix=prefix, max_receive_count=3)
        settings = Settings(
            backend="aws",
            table_name=table,
            queue_url=queue_url,
            dead_letter_queue_url=dlq_url,
            queue_max_receive_count=3,
            worker_backoff_base=0,
            api_keys_parameter=KEYS_PARAMETER,
        )
        services = bootstrap.build_aws(
            settings,
            dynamodb=SerializedClient(dynamodb),
            sqs=SerializedClient(sqs),
            ssm=SerializedClient(ssm),
            clock=clock,
        )
        old = bootstrap.use(services)
        try:
            yield {
                "services": services,
                "dynamodb": dynamodb,
                "sqs": sqs,
                "ssm": ssm,
                "queue_url": queue_url,
                "dlq_url": dlq_url,
            }
        finally:
            bootstrap.use(old)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[dict[str, Any]]:  # noqa: F811
    with installed_aws(TABLE, "api-test") as installed:
        yield installed


@pytest.fixture
def client(aws: dict[str, Any]) -> Iterator[Client]:
    with KeyedClient() as test_client:
        yield test_client


def queued(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """Receive (and hide for 30 s) what the SQS queue holds, with real receipt handles."""
    response = aws["sqs"].receive_message(
        QueueUrl=aws["queue_url"],
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=30,
    )
    return list(response.get("Messages", []))


def test_create_read_and_publish(client: Client, aws: dict[str, Any]) -> None:
    created = post(client, SUMMER_BREEZE, key="aws-1")
    assert created.status_code == 201
    body = json.loads(created.body)
    assert json.loads(client.http.get(f"/formulas/{body['id']}").body) == body
    [message] = queued(aws)
    assert json.loads(message["Body"])["formula_id"] == body["id"]
    assert aws["services"].relay.sweep(older_than_seconds=0).messages_sent == 0, "the outbox was drained"


def test_duplicate_replay_and_reuse(client: Client, aws: dict[str, Any]) -> None:
    first = post(client, SUMMER_BREEZE, key="k")
    duplicate = post(client, {**SUMMER_BREEZE, "name": "renamed"}, key="other")
    assert duplicate.status_code == 409 and error_code(duplicate) == "duplicate_formula"
    assert json.loads(duplicate.body)["error"]["existing_id"] == json.loads(first.body)["id"]
    replay = post(client, SUMMER_BREEZE, key="k")
    assert replay.status_code == 201 and replay.body == first.body
    assert replay.headers["Idempotent-Replayed"] == "true"
    reused = post(client, unique_formula(), key="k")
    assert reused.status_code == 422
    assert len(queued(aws)) == 1


def test_batches_are_atomic_and_limited_to_one_transaction(client: Client, aws: dict[str, Any]) -> None:
    ok = post(client, [unique_formula() for _ in range(3)])
    assert ok.status_code == 201 and len(json.loads(ok.body)["formulas"]) == 3
    stored = json.loads(ok.body)["formulas"][1]
    clash = post(client, [unique_formula(), {"name": "x", "materials": stored["materials"]}])
    assert clash.status_code == 409
    assert json.loads(clash.body)["error"]["conflicts"][0]["existing_id"] == stored["id"]
    page = json.loads(client.http.get("/formulas?limit=100").body)["formulas"]
    assert len(page) == 3
    assert len(queued(aws)) == 3


def test_threads_racing_the_same_make_up_and_the_same_key(aws: dict[str, Any]) -> None:
    make_thread_safe(app)
    barrier = threading.Barrier(8)
    with KeyedClient() as client:

        def different_keys(i: int) -> int:
            barrier.wait(10)
            return int(post(client, SUMMER_BREEZE, key=f"key-{i}").status_code)

        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(different_keys, range(8)))
        # What DynamoDB promises: at most one commits, the others get 409 or a retryable 503.
        # (moto runs transactions one at a time, so here exactly one commits; real DynamoDB
        # conflicts are injected in test_dynamodb_contention.py.)
        assert statuses.count(201) == 1 and set(statuses) <= {201, 409, 503}
        assert len(json.loads(client.http.get("/formulas?limit=100").body)["formulas"]) == 1

        same = unique_formula()

        def same_key(i: int) -> Any:
            barrier.wait(10)
            return post(client, same, key="shared")

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(same_key, range(8)))
    fresh = [r for r in replies if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(fresh) == 1
    assert all(r.status_code in (201, 409) for r in replies)
    assert len(queued(aws)) == 2


def test_lambda_consumer_processes_and_leaves_the_delete_to_lambda(
    client: Client, aws: dict[str, Any]
) -> None:
    """A processed message is named nowhere in the partial batch response, so Lambda deletes it;
    the consumer does not delete it a second time itself."""
    created = json.loads(post(client, unique_formula()).body)
    messages = queued(aws)
    deletes: list[str] = []
    aws["sqs"].meta.events.register(
        "before-call.sqs.*", lambda model, **_: deletes.append(model.name) if "Delete" in model.name else None
    )
    response = client.lambda_.invoke("consume_messages", {"Records": lambda_records(messages)})
    assert response.payload == {"batchItemFailures": []}
    assert deletes == []
    formula = json.loads(client.http.get(f"/formulas/{created['id']}").body)
    assert formula["status"] == "processed" and formula["attempts"] == 1


def test_lambda_batch_reports_exactly_the_failing_and_undecodable_messages(
    client: Client, aws: dict[str, Any]
) -> None:
    good = json.loads(post(client, unique_formula()).body)
    poison, undecodable = json.dumps({"type": "unknown.type"}), "{not json"
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=poison)
    aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=undecodable)
    messages = queued(aws)
    assert len(messages) == 3
    by_body = {m["Body"]: m["MessageId"] for m in messages}
    response = client.lambda_.invoke("consume_messages", {"Records": lambda_records(messages)})
    failures = {item["itemIdentifier"] for item in response.payload["batchItemFailures"]}
    assert failures == {by_body[poison], by_body[undecodable]}
    assert json.loads(client.http.get(f"/formulas/{good['id']}").body)["status"] == "processed"
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    # The poison message was released with its backoff (0 here); the undecodable one waits out
    # its visibility timeout; the good one waits for Lambda's own delete (it is not named).
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2"
    assert [m["Body"] for m in queued(aws)] == [poison]


def test_a_clean_lambda_batch_reports_no_failures(client: Client, aws: dict[str, Any]) -> None:
    post(client, [unique_formula() for _ in range(3)])
    response = client.lambda_.invoke("consume_messages", {"Records": lambda_records(queued(aws))})
    assert response.payload == {"batchItemFailures": []}


def test_stream_relay_and_sweeper_publish_a_pending_outbox_item(client: Client, aws: dict[str, Any]) -> None:
    services = aws["services"]
    relay = services.relay
    services.store.relay = None  # a crash right after the commit: nothing published
    created = json.loads(post(client, unique_formula()).body)
    assert queued(aws) == []
    [item] = relay._outbox.pending(limit=10, older_than=services.clock() + 1)
    image = aws["dynamodb"].get_item(
        TableName=TABLE,
        Key={"pk": {"S": relay._outbox.partition(item.outbox_id)}, "sk": {"S": item.outbox_id}},
    )["Item"]
    stream_event = {
        "Records": [
            {
                "eventID": "1",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "eventSourceARN": app_module.OUTBOX_STREAM_ARN_PLACEHOLDER,
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": image["pk"], "sk": image["sk"]},
                    "NewImage": image,
                    "SequenceNumber": "100",
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_IMAGE",
                },
            }
        ]
    }
    client.lambda_.invoke("relay_outbox", stream_event)
    [message] = queued(aws)
    assert json.loads(message["Body"])["formula_id"] == created["id"]
    client.lambda_.invoke("relay_outbox", stream_event)
    client.lambda_.invoke(
        "sweep_outbox", client.events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
    )
    assert queued(aws) == [], "already sent: neither a repeated stream record nor the sweep republishes"


def test_the_batch_limit_on_the_aws_backend(client: Client, aws: dict[str, Any]) -> None:
    """49 formulas fill one transaction; 50 are refused with the in-memory backend's 400."""
    from tests.api.test_size_limits import check_batch_limit

    check_batch_limit(client)
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["queue_url"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "49"  # the full batch only


def test_the_size_limits_on_the_aws_backend(client: Client, aws: dict[str, Any]) -> None:
    """The same limits as in memory; at them the formula item, the outbox item and the SQS
    message all fit (moto refuses a DynamoDB item over 400 KB and an SQS body over 256 KiB)."""
    from tests.api.test_size_limits import check_size_limits

    def delivered() -> list[Any]:
        messages = queued(aws)
        for message in messages:
            aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=message["ReceiptHandle"])
        return [jsonio.loads(m["Body"]) for m in messages]

    check_size_limits(client, delivered)


def test_the_lambda_consumer_builds_its_worker_once_per_container(
    client: Client, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    real = bootstrap.build_worker
    monkeypatch.setattr(bootstrap, "build_worker", lambda services: built.append(services) or real(services))
    for _ in range(3):
        post(client, unique_formula())
        client.lambda_.invoke("consume_messages", {"Records": lambda_records(queued(aws))})
    assert built == [aws["services"]]


def test_a_formula_a_remote_worker_reports_processed_is_searchable_on_aws(
    client: Client, aws: dict[str, Any]
) -> None:
    docs = [
        {
            "name": name,
            "materials": [{"name": "Rose", "concentration": "10"}, {"name": "Musk", "concentration": musk}],
        }
        for name, musk in (("Rose Musk", "5"), ("Rose Musk 2", "5.5"))
    ]
    first, second = (json.loads(post(client, doc).body)["id"] for doc in docs)
    headers = {"Content-Type": "application/json"}
    report = json.dumps({"owner": "default", "status": "processed"}).encode()
    for formula_id in (first, second):
        answer = client.http.put(f"/queue/formulas/{formula_id}/status", body=report, headers=headers)
        assert answer.status_code == 200, answer.body
    flagged = json.loads(client.http.get(f"/formulas/{second}").body)["near_duplicates"]
    assert flagged == [{"id": first, "similarity": 0.9677}]
    similar = json.loads(client.http.get(f"/formulas/{first}/similar").body)["similar"]
    assert [(m["id"], m["similarity"]) for m in similar] == [(second, 0.9677)]
