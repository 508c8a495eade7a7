"""`make run` and `make run-aws-local` take the same server options, from one place."""

from __future__ import annotations

import argparse
import math

import pytest

from chalicelib import devserver
from scripts import run_aws_local


def _parsed(stage: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    devserver.add_server_arguments(parser, stage=stage, worker_help="help")
    return parser.parse_args(argv)


def test_defaults_come_from_host_port_and_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "WORKER"):
        monkeypatch.delenv(name, raising=False)
    assert vars(_parsed("local", [])) == {
        "host": "127.0.0.1",
        "port": 8000,
        "stage": "local",
        "worker": "auto",
        "cpu": "auto",
        "header_timeout": 10.0,
        "idle_timeout": 15.0,
        "max_connections": 256,
    }
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("WORKER", "0")
    assert vars(_parsed("local", [])) | {"header_timeout": 0} == {
        "host": "0.0.0.0",
        "port": 9001,
        "stage": "local",
        "worker": "0",
        "cpu": "auto",
        "header_timeout": 0,
        "idle_timeout": 15.0,
        "max_connections": 256,
    }
    assert _parsed("local", ["--port", "7000", "--worker", "1"]).port == 7000


def test_an_unknown_worker_choice_is_refused() -> None:
    with pytest.raises(SystemExit):
        _parsed("local", ["--worker", "maybe"])


@pytest.mark.parametrize("choice", ["auto", "all", "0", "3"])
def test_the_cpu_is_auto_all_or_a_number(choice: str) -> None:
    assert _parsed("local", ["--cpu", choice]).cpu == choice


@pytest.mark.parametrize("choice", ["", "-1", "1.5", "two", "٣", "0,1"])
def test_any_other_cpu_is_refused(choice: str) -> None:
    with pytest.raises(SystemExit):
        _parsed("local", ["--cpu", choice])


def test_the_aws_local_script_takes_the_same_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9002")
    args = run_aws_local.parse_args(["--host", "127.0.0.2"])
    assert (args.host, args.port, args.stage, args.worker) == ("127.0.0.2", 9002, "aws-local", "auto")
    assert args.moto_port == 0


def test_the_connection_limits_are_options_of_both_servers() -> None:
    argv = ["--header-timeout", "0.5", "--idle-timeout", "2", "--max-connections", "8"]
    expected = devserver.Limits(header_timeout=0.5, idle_timeout=2.0, max_connections=8)
    assert devserver.limits_from(_parsed("local", argv)) == expected
    assert devserver.limits_from(run_aws_local.parse_args(argv)) == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_a_timeout_must_be_a_finite_number_of_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parsed("local", ["--header-timeout", value])
    assert "is not a number of seconds" in capsys.readouterr().err
    with pytest.raises(ValueError, match="finite number of seconds"):
        devserver.Limits(idle_timeout=float(value) if value != "soon" else math.nan)
