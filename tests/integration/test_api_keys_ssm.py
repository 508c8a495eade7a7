"""API keys kept in an SSM SecureString parameter (moto): read on first use, cached, rotated without
a redeploy; a missing or unreadable parameter is a 503 naming the problem and an ERROR log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from chalicelib.config import ConfigError, Settings
from chalicelib.security.apikeys import hash_key
from chalicelib.security.keysource import CACHE_SECONDS, RETRY_SECONDS
from tests.integration.aws_fixtures import REGION, aws_credentials, mocked_aws  # noqa: F401

pytestmark = pytest.mark.aws
PARAMETER = "/formula-intake/test/api-keys"
OLD_KEY, NEW_KEY = "fi_test_rotation_old", "fi_test_rotation_new"


def keys_json(*keys: str) -> str:
    return json.dumps({hash_key(key): {"principal": "acme", "roles": ["reader"]} for key in keys})


@pytest.fixture
def ssm(mocked_aws: None) -> Any:  # noqa: F811
    return boto3.client("ssm", region_name=REGION)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(ssm: Any, clock: FakeClock) -> Iterator[Client]:
    """The app with its keys in ``PARAMETER``; the default SSM client, made on the first read."""
    services = bootstrap.build_memory(Settings(api_keys_parameter=PARAMETER, aws_region=REGION), clock=clock)
    old = bootstrap.use(services)
    try:
        with Client(app) as test_client:
            yield test_client
    finally:
        bootstrap.use(old)


def status(client: Client, key: str) -> int:
    answer = client.http.get("/formulas?limit=1", headers={"Authorization": f"Bearer {key}"})
    return int(answer.status_code)


def put(ssm: Any, value: str) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=value, Type="SecureString", Overwrite=True)


def test_a_rotated_key_takes_effect_after_the_cache_period_without_a_redeploy(
    client: Client, ssm: Any, clock: FakeClock
) -> None:
    put(ssm, keys_json(OLD_KEY))
    assert status(client, OLD_KEY) == 200
    put(ssm, keys_json(NEW_KEY))  # the rotation: the old key is gone from the parameter
    clock.advance(CACHE_SECONDS - 1)
    assert (status(client, OLD_KEY), status(client, NEW_KEY)) == (200, 401)  # still cached
    clock.advance(1)
    assert (status(client, OLD_KEY), status(client, NEW_KEY)) == (401, 200)  # read again


def test_a_missing_parameter_is_a_503_naming_the_problem_and_an_error_log(
    client: Client, ssm: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="formula_intake.apikeys"):
        answer = client.http.get("/formulas", headers={"Authorization": f"Bearer {OLD_KEY}"})
    assert answer.status_code == 503
    error = json.loads(answer.body)["error"]
    assert error["code"] == "service_unavailable"
    assert "API keys are unavailable" in error["message"] and "ParameterNotFound" in error["message"]
    assert PARAMETER not in error["message"]  # the parameter's name is for the operator's log
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert line["event"] == "api_keys_unavailable" and line["source"] == f"ssm:{PARAMETER}"
    assert client.http.get("/health").status_code == 200  # public routes still answer

    put(ssm, keys_json(OLD_KEY))  # the operator creates the parameter: no restart needed
    assert status(client, OLD_KEY) == 503  # the failed read is remembered for RETRY_SECONDS
    clock.advance(RETRY_SECONDS)
    assert status(client, OLD_KEY) == 200


@pytest.mark.parametrize("value", ["not json", "{}"])
def test_a_parameter_without_valid_keys_is_a_503_not_a_401_for_everyone(
    client: Client, ssm: Any, value: str
) -> None:
    put(ssm, value)
    answer = client.http.get("/formulas", headers={"Authorization": f"Bearer {OLD_KEY}"})
    assert answer.status_code == 503
    assert "does not hold a valid key configuration" in json.loads(answer.body)["error"]["message"]


def test_a_failed_re_read_keeps_the_keys_in_force(
    client: Client, ssm: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    put(ssm, keys_json(OLD_KEY))
    assert status(client, OLD_KEY) == 200
    ssm.delete_parameter(Name=PARAMETER)
    clock.advance(CACHE_SECONDS)
    with caplog.at_level(logging.ERROR, logger="formula_intake.apikeys"):
        assert status(client, OLD_KEY) == 200
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert line["keeping_previous_keys"] is True


def test_keys_come_from_one_place() -> None:
    settings = Settings(api_keys_parameter=PARAMETER, api_keys_json=keys_json(OLD_KEY))
    with pytest.raises(ConfigError, match="not both"):
        bootstrap.build_memory(settings)
