"""The dev server's gateway builds each request's Lambda context from the stage's settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chalice.cli.factory import CLIFactory
from chalice.local import LocalGateway

from chalicelib.devserver.handler import OptionsToAppGateway

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
