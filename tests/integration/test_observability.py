"""Logs and metrics as Lambda sees them: each handler invoked under Lambda's logging set-up.

Lambda's Python runtime installs one handler on the root logger and leaves it at WARNING. The
script below does the same in a fresh process (so the JSON handler it installs cannot leak into
other tests), wires the AWS backend on moto with the ``prod`` stage's logging settings, invokes
the API, the SQS consumer, the stream relay and the sweeper through ``chalice.test.Client``,
and prints what reached stdout. The test reads it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib import observability
from deploy import render

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.aws

SCRIPT = r"""
import json, logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stdout)  # Lambda's runtime set-up
import boto3
from moto import mock_aws
import app as app_module
from chalicelib import bootstrap
from chalicelib.adapters.aws.sqs_setup import create_queues
from chalicelib.adapters.aws.tables import create_tables
from chalicelib.config import Settings
from tests.api.helpers import SUMMER_BREEZE, post
from tests.conftest import unique_formula
from tests.integration.test_api_aws import lambda_records, queued
from tests.keys import API_KEYS_JSON, KeyedClient

with mock_aws():
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    create_tables(dynamodb, ["obs"])
    queue_url, dlq_url = create_queues(sqs, name_prefix="obs")
    settings = Settings(backend="aws", table_name="obs", queue_url=queue_url, dead_letter_queue_url=dlq_url,
                        api_keys_json=API_KEYS_JSON, worker_backoff_base=0, log_level=sys.argv[1],
                        metrics_enabled=True)
    services = bootstrap.build_aws(settings, dynamodb=dynamodb, sqs=sqs)
    bootstrap.use(services)
    aws = {"sqs": sqs, "queue_url": queue_url}
    with KeyedClient() as client:
        assert post(client, SUMMER_BREEZE, key="k").status_code == 201
        assert post(client, SUMMER_BREEZE, key="k").status_code == 201   # a replay
        assert post(client, {**SUMMER_BREEZE, "name": "again"}).status_code == 409
        assert post(client, {"name": "no materials"}).status_code in (400, 422)
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"type": "unknown.type"}))
        client.lambda_.invoke("consume_messages", {"Records": lambda_records(queued(aws))})
        services.store.relay = None  # committed, not yet published: the stream relay's job
        post(client, unique_formula())
        [item] = services.store.pending_outbox(limit=10, older_than=services.clock() + 1)
        key = {"pk": {"S": services.store.outbox.partition(item.outbox_id)}, "sk": {"S": item.outbox_id}}
        image = dynamodb.get_item(TableName="obs", Key=key)["Item"]
        record = {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1",
                  "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                  "eventSourceARN": app_module.OUTBOX_STREAM_ARN_PLACEHOLDER,
                  "dynamodb": {"ApproximateCreationDateTime": 1700000000, "Keys": key, "NewImage": image,
                               "SequenceNumber": "1", "SizeBytes": 1,
                               "StreamViewType": "NEW_IMAGE"}}
        client.lambda_.invoke("relay_outbox", {"Records": [record]})
        tick = client.events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
        client.lambda_.invoke("sweep_outbox", tick)
"""


def run_as_lambda(log_level: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, log_level],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = []
    for text in result.stdout.splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            lines.append({"text": text})
    return lines


@pytest.fixture(scope="module")
def output() -> list[dict[str, Any]]:
    return run_as_lambda("INFO")


def _logs(output: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [
        line
        for line in output
        if isinstance(line.get("message"), dict) and line["message"].get("event") == event
    ]


def test_info_lines_arrive_as_json_with_a_correlation_id(output: list[dict[str, Any]]) -> None:
    requests = _logs(output, "request")
    assert len(requests) >= 5
    for line in requests:
        assert line["level"] == "INFO" and line["service"] == observability.SERVICE
        assert line["correlation_id"] == line["message"]["request_id"]
    messages = _logs(output, "message")
    assert {m["message"]["outcome"] for m in messages} >= {"processed", "retry"}
    for line in messages:
        assert line["correlation_id"] == line["message"]["message_id"]
    (relay,) = _logs(output, "relay")
    assert relay["message"]["completed"] == 1 and relay["correlation_id"]
    assert _logs(output, "outbox_sweep")


def test_no_formula_content_is_logged(output: list[dict[str, Any]]) -> None:
    text = json.dumps(output)
    assert "Summer Breeze" not in text and "Bergamot" not in text


def test_every_listed_metric_is_emitted_in_one_namespace(output: list[dict[str, Any]]) -> None:
    documents = [line for line in output if "_aws" in line]
    emitted = set()
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == observability.NAMESPACE
        emitted |= {metric["Name"] for metric in directive["Metrics"]}
    assert emitted == set(observability.METRIC_NAMES) - {observability.MESSAGES_DEAD_LETTERED}
    accepted = sum(sum(d.get(observability.FORMULAS_ACCEPTED, [])) for d in documents)
    assert accepted == 2


def test_the_deployed_stage_logs_at_info_with_metrics() -> None:
    variables = render.stage_config()["environment_variables"]
    assert variables["FI_LOG_LEVEL"] == "INFO" and variables["FI_METRICS"] == "true"


def test_a_higher_level_keeps_info_lines_out() -> None:
    output = run_as_lambda("WARNING")
    assert not _logs(output, "request") and not _logs(output, "message")
