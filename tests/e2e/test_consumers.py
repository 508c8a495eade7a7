"""Consumers in other processes: the consumer HTTP API, and the standalone worker (SIGTERM, SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import DEV_KEY, PROJECT_DIR, LocalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The API with its in-process worker off (WORKER=0): external consumers own the queue."""
    started = start_fast(tmp_path_factory.mktemp("consumers"), worker="0")
    try:
        yield started
    finally:
        started.stop()


def submit(server: LocalServer, name: str) -> dict[str, Any]:
    doc = {"name": name, "materials": [{"name": f"Amber {uuid.uuid4().hex}", "concentration": 7}]}
    reply = server.request("POST", "/formulas", doc)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def drain(server: LocalServer) -> None:
    while messages := server.request("POST", "/queue/receive", {"max_messages": 10}).json()["messages"]:
        for m in messages:
            server.request("POST", "/queue/ack", {"receipt_handle": m["receipt_handle"]})


def test_consumer_api_redelivery_and_stale_handles(server: LocalServer) -> None:
    drain(server)
    before = server.request("GET", "/queue/stats").json()
    created = submit(server, "consumer-api")
    stats = server.request("GET", "/queue/stats").json()
    assert stats["ready"] == 1 and stats["sent_total"] == before["sent_total"] + 1
    [first] = server.request("POST", "/queue/receive", {"visibility_timeout": 1}).json()["messages"]
    assert first["body"]["formula_id"] == created["id"] and first["receive_count"] == 1
    stats = server.request("GET", "/queue/stats").json()
    assert (stats["ready"], stats["in_flight"]) == (0, 1)
    # not acked: a long poll returns it once its visibility deadline passes (the server waits, we do not)
    [second] = server.request("POST", "/queue/receive", {"visibility_timeout": 30, "wait_seconds": 5}).json()[
        "messages"
    ]
    assert second["message_id"] == first["message_id"]
    assert second["receive_count"] == 2 and second["receipt_handle"] != first["receipt_handle"]
    stats = server.request("GET", "/queue/stats").json()
    assert stats["in_flight"] == 1 and stats["redelivered_total"] == before["redelivered_total"] + 1
    stale = server.request("POST", "/queue/ack", {"receipt_handle": first["receipt_handle"]})
    assert stale.status == 409 and stale.json()["error"]["code"] == "receipt_superseded"
    fresh = server.request("POST", "/queue/ack", {"receipt_handle": second["receipt_handle"]})
    assert fresh.status == 204
    stats = server.request("GET", "/queue/stats").json()
    assert (stats["ready"], stats["in_flight"]) == (0, 0)
    assert stats["acked_total"] == before["acked_total"] + 1


class WorkerProcess:
    def __init__(self, server: LocalServer, markers: Path, log_path: Path, visibility: int = 30) -> None:
        env = {
            **os.environ,
            "FI_TEST_MARKER_DIR": str(markers),
            "PYTHONUNBUFFERED": "1",
            "FI_API_KEY": DEV_KEY,
        }
        cmd = [
            sys.executable,
            "-m",
            "chalicelib.entrypoints.worker",
            "--url",
            f"http://127.0.0.1:{server.port}",
            "--plugins",
            "tests.e2e.plugins:register",
            "--backoff-base",
            "0",
            "--wait-seconds",
            "1",
            "--visibility-timeout",
            str(visibility),
        ]
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                cmd, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process's output (other lines, such as tracebacks, are skipped)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def processed(server: LocalServer, formula_id: str) -> dict[str, Any] | None:
    doc = server.request("GET", f"/formulas/{formula_id}").json()
    return dict(doc) if doc["status"] == "processed" else None


def test_standalone_worker_processes_and_stops_cleanly_on_sigterm(
    server: LocalServer, markers: Path, tmp_path: Path
) -> None:
    drain(server)
    worker = WorkerProcess(server, markers, tmp_path / "worker.log")
    try:
        plain = submit(server, "standalone")
        server.wait_for(lambda: processed(server, plain["id"]))
        slow = submit(server, "slow-sigterm")
        server.wait_for(lambda: (markers / f"started-{slow['id']}").exists())
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(30) == 0, worker.log()
        done = processed(server, slow["id"])
        assert done is not None and done["attempts"] == 1, "the message in hand was finished, not lost"
        stats = server.request("GET", "/queue/stats").json()
        assert (stats["ready"], stats["in_flight"]) == (0, 0)
        lines = log_lines(worker.log())
        assert {"event": "worker_stopped", "clean": True} in [
            {key: line.get(key) for key in ("event", "clean")} for line in lines
        ]
        assert [line.get("outcome") for line in lines].count("processed") == 2
    finally:
        worker.close()


def test_formulas_the_standalone_worker_processes_are_searchable(
    server: LocalServer, markers: Path, tmp_path: Path
) -> None:
    drain(server)
    worker = WorkerProcess(server, markers, tmp_path / "searchable.log")
    material = f"Amber {uuid.uuid4().hex}"
    try:
        ids = []
        for name, concentration in (("original", "7"), ("near copy", "7.1")):
            doc = {"name": name, "materials": [{"name": material, "concentration": concentration}]}
            reply = server.request("POST", "/formulas", doc)
            assert reply.status == 201, reply.body
            ids.append(reply.json()["id"])
            server.wait_for(lambda: processed(server, ids[-1]))
        worker.process.send_signal(signal.SIGTERM)  # a clean stop: no long poll left to take a message
        assert worker.process.wait(30) == 0, worker.log()
    finally:
        worker.close()
    original, near = ids
    flagged = server.request("GET", f"/formulas/{near}").json()["near_duplicates"]
    assert flagged == [{"id": original, "similarity": 0.9859}]  # 7 / 7.1
    similar = server.request("GET", f"/formulas/{original}/similar").json()["similar"]
    assert [(m["id"], m["similarity"]) for m in similar] == [(near, 0.9859)]


def test_killed_worker_message_is_redelivered_and_processed_once(
    server: LocalServer, markers: Path, tmp_path: Path
) -> None:
    drain(server)
    first = WorkerProcess(server, markers, tmp_path / "first.log", visibility=1)
    try:
        slow = submit(server, "slow-sigkill")
        server.wait_for(lambda: (markers / f"started-{slow['id']}").exists())
        first.process.kill()
        first.process.wait(10)
    finally:
        first.close()
    assert server.request("GET", f"/formulas/{slow['id']}").json()["status"] == "queued"
    second = WorkerProcess(server, markers, tmp_path / "second.log", visibility=30)
    try:
        done = server.wait_for(lambda: processed(server, slow["id"]))
        assert done["attempts"] == 2
        stats = server.request("GET", "/queue/stats").json()
        server.wait_for(lambda: server.request("GET", "/queue/stats").json()["in_flight"] == 0)
        assert stats["dead_letters"] == 0
        assert second.log().count(slow["id"]) == 1
    finally:
        second.close()
