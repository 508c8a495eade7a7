"""The dev server's gateway builds each request's Lambda context from the stage's settings."""

from __future__ import annotations

import os
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from chalice.cli.factory import CLIFactory
from chalice.local import LocalGateway

from chalicelib.devserver.gateway import OptionsToAppGateway
from chalicelib.devserver.handler import FastRequestHandler
from tests.request_ids import is_request_id

PROJECT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("stage", ["local", "prod"])  # no Lambda timeout set; 25 s
def test_the_context_holds_what_chalices_own_gateway_gives(stage: str) -> None:
    config = CLIFactory(project_dir=str(PROJECT), environ=dict(os.environ)).create_config_obj(
        chalice_stage_name=stage
    )
    ours = OptionsToAppGateway(config.chalice_app, config)._generate_lambda_context()
    chalices = LocalGateway(config.chalice_app, config)._generate_lambda_context()
    for name in ("function_name", "memory_limit_in_mb", "function_version", "invoked_function_arn"):
        assert getattr(ours, name) == getattr(chalices, name)
    assert ours.get_remaining_time_in_millis() == pytest.approx(
        chalices.get_remaining_time_in_millis(), abs=1000
    )
    assert ours.aws_request_id != chalices.aws_request_id  # a new id for every request


def test_the_request_id_is_the_lambda_contexts_one_id() -> None:
    """As behind API Gateway, the edge answers with the event's request id; the dev server's
    event carries the Lambda context's id, so a request has one id, not two."""
    config = CLIFactory(project_dir=str(PROJECT), environ=dict(os.environ)).create_config_obj(
        chalice_stage_name="local"
    )
    gateway = OptionsToAppGateway(config.chalice_app, config)
    seen = set()
    for _ in range(3):
        answer = gateway.handle_request(method="GET", path="/health", headers={}, body=None)
        request_id = config.chalice_app.lambda_context.aws_request_id  # the context the app ran with
        assert answer["headers"]["X-Request-Id"] == request_id
        assert is_request_id(request_id)
        seen.add(request_id)
    assert len(seen) == 3


def test_the_date_header_is_what_http_server_writes() -> None:
    ours = FastRequestHandler.__new__(FastRequestHandler)
    stock = BaseHTTPRequestHandler.__new__(BaseHTTPRequestHandler)
    for moment in (0.0, 1_780_000_000.999, 1_780_000_001.0, -0.5):
        assert ours.date_time_string(moment) == stock.date_time_string(moment)
    assert ours.date_time_string() in {stock.date_time_string(), stock.date_time_string(time.time() - 1)}
