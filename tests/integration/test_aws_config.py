"""Every AWS client `bootstrap.build_aws` makes carries the one botocore Config (timeouts, retries)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench.bench_aws import run as bench_aws
from bench.bench_aws import worst_call_seconds
from chalicelib import bootstrap
from chalicelib.adapters.aws import clients
from chalicelib.adapters.aws.relay import SWEEP_CONCURRENCY
from chalicelib.adapters.aws.sqs_wire import MAX_WAIT_SECONDS
from chalicelib.config import Settings
from tests.integration.aws_fixtures import aws_credentials  # noqa: F401

pytestmark = pytest.mark.aws
FUNCTION_TIMEOUT_SECONDS = 25


def test_every_client_built_by_bootstrap_has_the_config(
    aws_credentials: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []
    real = boto3.client

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(boto3, "client", recording)
    with mock_aws():
        settings = Settings(backend="aws", queue_url="https://q", dead_letter_queue_url="https://dlq")
        services = bootstrap.build_aws(settings)
    assert services.queue is not None
    services_by_name = sorted(c.meta.service_model.service_name for c in made)
    assert services_by_name == ["dynamodb", "sqs", "sqs"]
    long_polls = [c for c in made if c.meta.config.read_timeout > clients.AWS_READ_TIMEOUT_SECONDS]
    assert len(long_polls) == 1 and long_polls[0].meta.service_model.service_name == "sqs"
    for client in made:
        config = client.meta.config
        assert config.connect_timeout == clients.AWS_CONNECT_TIMEOUT_SECONDS
        assert config.retries["mode"] == "standard"
        assert worst_call_seconds(config) < FUNCTION_TIMEOUT_SECONDS
    short = [c for c in made if c not in long_polls]
    for client in short:
        assert client.meta.config.read_timeout == clients.AWS_READ_TIMEOUT_SECONDS
        assert client.meta.config.retries["total_max_attempts"] == clients.AWS_TOTAL_ATTEMPTS
        # a connection for each item a sweep relays at once
        assert client.meta.config.max_pool_connections >= SWEEP_CONCURRENCY
    assert long_polls[0].meta.config.read_timeout > MAX_WAIT_SECONDS


def test_one_call_stalling_on_every_attempt_ends_well_inside_the_function_timeout() -> None:
    assert worst_call_seconds(clients.aws_client_config()) <= 4
    assert worst_call_seconds(clients.aws_long_poll_config(MAX_WAIT_SECONDS)) < FUNCTION_TIMEOUT_SECONDS


def test_a_submission_on_the_worst_path_the_config_allows_ends_inside_the_function_timeout(
    aws_credentials: None,  # noqa: F811
) -> None:
    figures = bench_aws()
    assert figures["transaction_retries"] >= 1
    assert figures["success_path_s"] <= 5 * figures["worst_call_s"] + 0.1
    assert figures["success_path_s"] < FUNCTION_TIMEOUT_SECONDS - 4
    assert figures["give_up_path_s"] < FUNCTION_TIMEOUT_SECONDS - 4
