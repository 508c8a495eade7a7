"""Fixtures for the moto-backed DynamoDB adapters. Import the ones a module uses explicitly.

Nothing here can reach real AWS: the credentials are fake, the region is fixed, shared config
files are ignored, and every client is created inside `moto.mock_aws`, which intercepts botocore
before a request leaves the process. Each test gets a fresh mock, so tables never leak between
tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.aws.tables import create_tables

REGION = "us-east-1"
TABLE = "formula-intake-test"


@pytest.fixture
def dynamo_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region; no profile, config file or endpoint override is read."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dynamodb_client(dynamo_aws_env: None) -> Iterator[Any]:
    """A low-level DynamoDB client on moto, with the service's table created (`TABLE`)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client, [TABLE])
        yield client
