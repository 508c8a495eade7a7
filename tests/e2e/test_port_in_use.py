"""A port already in use is one clear line and exit status 2, not an OSError traceback."""

from __future__ import annotations

import socket

import pytest

from tests.e2e.server import run_devserver

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("reload", ["--no-autoreload", "--autoreload"])
def test_a_taken_port_is_one_line_and_status_2(reload: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_devserver("--port", str(port), "--worker", "0", reload)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"cannot listen on http://127.0.0.1:{port}: Address already in use "
        "(another server is using it: stop it, or choose another with PORT=...)"
    ]
    assert "Traceback" not in done.stdout + done.stderr
