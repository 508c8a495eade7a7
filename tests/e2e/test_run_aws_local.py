"""`make run-aws-local` end to end: moto, the table and queues, the API, Lambda's handlers, shutdown."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.adapters.aws import sqs_setup, tables
from chalicelib.entrypoints.lambda_handlers import is_unheld_outbox_item
from tests.e2e.server import (
    DEV_KEY,
    PROJECT_DIR,
    LocalServer,
    exchange,
    free_port,
    server_environment,
    threads_cpus,
)


@dataclass
class AwsLocalServer(LocalServer):
    """`scripts/run_aws_local.py` on free loopback ports, with its own moto server."""

    moto_port: int = 0

    def start(self, log_dir: Path) -> AwsLocalServer:
        self.port, self.moto_port = free_port(), free_port()
        command = [
            sys.executable,
            "-m",
            "scripts.run_aws_local",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--moto-port",
            str(self.moto_port),
            "--worker",
            self.worker,
            *self.args,
        ]
        self.log_path = log_dir / f"aws-local-{self.port}.log"
        env = {**server_environment(), "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"run_aws_local exited early:\n{self.log()}")
            try:
                if self.request("GET", "/health", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"run_aws_local did not become healthy:\n{self.log()}")


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsLocalServer]:
    started = AwsLocalServer(worker="1").start(tmp_path_factory.mktemp("aws-local"))
    try:
        yield started
    finally:
        started.stop()


def formula(name: str) -> dict[str, Any]:
    return {"name": name, "materials": [{"name": f"Vetiver {uuid.uuid4().hex}", "concentration": "12.50"}]}


def moto_client(server: AwsLocalServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{server.moto_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(account_id_endpoint_mode="disabled"),  # DynamoDB Streams on moto needs it
    )


@pytest.mark.e2e
@pytest.mark.aws
def test_the_moto_server_holds_the_table_and_queues_as_deployed(server: AwsLocalServer) -> None:
    dynamodb = moto_client(server, "dynamodb")
    table = dynamodb.describe_table(TableName="formula-intake-local")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ttl = dynamodb.describe_time_to_live(TableName="formula-intake-local")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", tables.TTL_ATTRIBUTE)

    sqs = moto_client(server, "sqs")
    queue_url = sqs.get_queue_url(QueueName=f"formula-intake-local-{sqs_setup.QUEUE_SUFFIX}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == sqs_setup.MAX_RECEIVE_COUNT
    assert int(attributes["VisibilityTimeout"]) == sqs_setup.VISIBILITY_TIMEOUT_SECONDS


@pytest.mark.e2e
@pytest.mark.aws
@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning threads needs Linux and more than one CPU",
)
def test_its_threads_moto_included_run_on_one_cpu(server: AwsLocalServer) -> None:
    assert server.process is not None
    cpus = {frozenset(c) for c in threads_cpus(server.process.pid)}
    assert len(cpus) == 1 and len(next(iter(cpus))) == 1, cpus
    assert "threads kept on CPU" in server.log()


@pytest.mark.e2e
@pytest.mark.aws
def test_a_formula_is_stored_read_back_refused_twice_and_processed(server: AwsLocalServer) -> None:
    doc = formula("Vetiver Dusk")
    created = server.request("POST", "/formulas", doc)
    assert created.status == 201, created.body
    body = created.json()
    assert body["status"] == "queued"
    assert created.headers["Location"] == f"/formulas/{body['id']}"

    read = server.request("GET", f"/formulas/{body['id']}")
    assert read.status == 200
    assert read.json()["fingerprint"] == body["fingerprint"]
    assert '"concentration":12.50' in read.body.decode()  # exact decimal, trailing zero kept

    duplicate = server.request("POST", "/formulas", {**doc, "name": "Another name"})
    assert duplicate.status == 409, duplicate.body
    assert duplicate.json()["error"]["code"] == "duplicate_formula"

    def processed() -> dict[str, Any] | None:
        current = dict(server.request("GET", f"/formulas/{body['id']}").json())
        return current if current["status"] == "processed" else None

    done = server.wait_for(processed, timeout=30)
    assert done["attempts"] == 1
    # Processed by app.consume_messages, invoked with an SQS event by the local event source.
    line = "consume_messages invoked with 1 SQS record(s): 1 deleted, 0 to come back"
    assert server.wait_for(lambda: line in server.log() or None, timeout=10)
    # The stream relay had nothing to do: each request held its own outbox item until it was
    # published (moto also streams the refused duplicate's rolled-back transaction, held too), so
    # no record on the stream passes the event filter, and the relay was never invoked.
    # tests/integration/test_local_lambda.py covers a release, which does pass.
    outbox_records = [r for r in stream_records(server) if is_outbox_record(r)]
    assert outbox_records, "the table's stream shows no outbox item"
    assert not [r for r in outbox_records if is_unheld_outbox_item(r)]
    assert "relay_outbox invoked with" not in server.log()


def stream_records(server: AwsLocalServer) -> list[dict[str, Any]]:
    """Every record on the table's stream so far, read from the start of each shard."""
    arn = moto_client(server, "dynamodb").describe_table(TableName="formula-intake-local")["Table"][
        "LatestStreamArn"
    ]
    streams = moto_client(server, "dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            records += page["Records"]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def is_outbox_record(record: dict[str, Any]) -> bool:
    keys = record["dynamodb"].get("Keys", {})
    return str(keys.get(tables.PK, {}).get("S", "")).startswith(tables.OUTBOX_PREFIX)


@pytest.mark.e2e
@pytest.mark.aws
def test_stopping_closes_the_api_and_the_moto_server(tmp_path: Path) -> None:
    started = AwsLocalServer(worker="1").start(tmp_path)
    assert port_is_open(started.moto_port)
    started.stop()
    assert started.process is not None and started.process.returncode == 0, started.log()
    assert not port_is_open(started.port)
    assert not port_is_open(started.moto_port)


@pytest.mark.e2e
@pytest.mark.aws
def test_a_setting_from_the_shell_wins_for_moto_and_the_server_alike(tmp_path: Path) -> None:
    # The aws-local stage names its table formula-intake-local and the template's receive count is 5.
    env = {"FI_TABLE_NAME": "formula-intake-shell", "FI_QUEUE_MAX_RECEIVE_COUNT": "2"}
    started = AwsLocalServer(worker="0", env=env).start(tmp_path)
    try:
        created = started.request("POST", "/formulas", formula("From the shell"))
        assert created.status == 201, created.body
        dynamodb = moto_client(started, "dynamodb")
        assert dynamodb.list_tables()["TableNames"] == ["formula-intake-shell"]
        written = dynamodb.scan(TableName="formula-intake-shell", Select="COUNT")["Count"]
        assert written > 0, "the server writes to the table this script created"
        sqs = moto_client(started, "sqs")
        url = sqs.get_queue_url(QueueName=f"formula-intake-shell-{sqs_setup.QUEUE_SUFFIX}")["QueueUrl"]
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        assert json.loads(policy["RedrivePolicy"])["maxReceiveCount"] == 2
    finally:
        started.stop()
    assert "Traceback" not in started.log()


def test_the_same_framing_rules_hold_on_aws_local(server: AwsLocalServer) -> None:
    follower = f"GET /formulas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_KEY}\r\n\r\n".encode()
    head = f"POST /formulas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_KEY}\r\n"
    for framing in (
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
        "Content-Length: 5\r\nContent-Length: 6",
    ):
        replies, closed = exchange(server.port, f"{head}{framing}\r\n\r\n0\r\n\r\n".encode() + follower)
        assert [r.status for r in replies] == [400] and closed
        assert replies[0].headers["connection"] == "close" and replies[0].headers["x-request-id"]
