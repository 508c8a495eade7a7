"""Fixtures for moto-backed AWS adapter tests. Import the ones a module uses explicitly.

Nothing here can reach real AWS: credentials are fake, the region is fixed, and every client is
created inside `moto.mock_aws`, which intercepts botocore before any request leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region, so no profile or real key on the machine is used."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def mocked_aws(aws_credentials: None) -> Iterator[None]:
    """Everything boto3 does inside this fixture's lifetime goes to moto's in-process backends."""
    with mock_aws():
        yield


@pytest.fixture
def sqs_client(mocked_aws: None) -> Any:
    """A boto3 SQS client talking to moto."""
    return boto3.client("sqs", region_name=REGION)
