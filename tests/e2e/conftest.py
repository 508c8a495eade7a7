"""Real server processes for end-to-end tests, started and stopped by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LocalServer


@pytest.fixture(scope="module")
def chalice_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """Stock ``chalice local`` serving the `local` stage with the worker off."""
    server = LocalServer(kind="chalice", env={"FI_WORKER": "0"}).start(tmp_path_factory.mktemp("chalice"))
    try:
        yield server
    finally:
        server.stop()


def start_fast(tmp: Path, *, worker: str = "auto", **env: str) -> LocalServer:
    return LocalServer(kind="fast", env=env, worker=worker).start(tmp)
