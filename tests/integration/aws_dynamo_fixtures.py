"""Fixtures for the moto-backed DynamoDB adapters. Import the ones a module uses explicitly.

Nothing here can reach real AWS: the credentials are fake, the region is fixed, shared config
files are ignored, and every client is created inside `moto.mock_aws`, which intercepts botocore
before a request leaves the process. Each test gets a fresh mock, so tables never leak between
tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.aws.tables import create_tables
from tests.integration.aws_fixtures import REGION, aws_credentials  # noqa: F401

TABLE = "formula-intake-test"


@pytest.fixture
def dynamodb_client(aws_credentials: None) -> Iterator[Any]:  # noqa: F811
    """A low-level DynamoDB client on moto, with the service's table created (`TABLE`)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client, [TABLE])
        yield client
