"""End to end through the fast dev server (`make run`'s server) and its in-process worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fix_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fix") / "fixed"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fix_file: Path) -> Iterator[LocalServer]:
    started = start_fast(
        tmp_path_factory.mktemp("pipeline"),
        worker="1",
        FI_WORKER_PLUGINS="tests.e2e.plugins:register",
        FI_WORKER_BACKOFF_BASE="0",
        FI_TEST_FIX_FILE=str(fix_file),
        FI_TEST_MARKER_DIR=str(tmp_path_factory.mktemp("markers")),
    )
    try:
        yield started
    finally:
        started.stop()


def submit(server: LocalServer, name: str) -> dict[str, Any]:
    doc = {"name": name, "materials": [{"name": f"Musk {uuid.uuid4().hex}", "concentration": "12.5"}]}
    reply = server.request("POST", "/formulas", doc)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def status_becomes(server: LocalServer, formula_id: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = server.request("GET", f"/formulas/{formula_id}").json()
        return dict(doc) if doc["status"] == status else None

    return dict(server.wait_for(check))


def test_unknown_path_is_404_in_the_error_shape(server: LocalServer) -> None:
    reply = server.request("GET", "/nowhere")
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


def test_submitted_formula_is_processed(server: LocalServer) -> None:
    created = submit(server, "plain")
    done = status_becomes(server, created["id"], "processed")
    assert done["attempts"] == 1 and "processed_at" in done


def test_flaky_handler_succeeds_on_the_third_delivery(server: LocalServer) -> None:
    created = submit(server, "flaky-one")
    done = status_becomes(server, created["id"], "processed")
    assert done["attempts"] == 3


def test_broken_handler_dead_letters_then_redrive_processes(server: LocalServer, fix_file: Path) -> None:
    created = submit(server, "broken-one")
    failed = status_becomes(server, created["id"], "failed")
    assert failed["last_error"] == "RuntimeError: the handler is broken"

    def dead() -> list[dict[str, Any]]:
        letters = server.request("GET", "/queue/dead-letters").json()["dead_letters"]
        return [d for d in letters if d["body"]["formula_id"] == created["id"]]

    [letter] = server.wait_for(dead)
    assert letter["receive_count"] == 5
    fix_file.write_text("fixed")
    assert server.request("POST", "/queue/dead-letters/redrive").json()["redriven"] >= 1
    status_becomes(server, created["id"], "processed")
