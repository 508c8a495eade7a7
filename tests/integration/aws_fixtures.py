"""Fixtures for moto-backed AWS adapter tests. Import the ones a module uses explicitly.

Nothing here can reach real AWS: credentials are fake, the region is fixed, and every client is
created inside `moto.mock_aws`, which intercepts botocore before any request leaves the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region; no profile, config file or endpoint override is read."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mocked_aws(aws_credentials: None) -> Iterator[None]:
    """Everything boto3 does inside this fixture's lifetime goes to moto's in-process backends."""
    with mock_aws():
        yield


@pytest.fixture
def sqs_client(mocked_aws: None) -> Any:
    """A boto3 SQS client talking to moto."""
    return boto3.client("sqs", region_name=REGION)


def lambda_records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SQS messages (as ReceiveMessage returns them) as the records of a Lambda SQS event."""
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in m.get("MessageAttributes", {}).items()
            },
            "eventSource": "aws:sqs",
        }
        for m in messages
    ]
