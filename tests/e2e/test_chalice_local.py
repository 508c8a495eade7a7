"""End to end over HTTP against a real `chalice local` process: submit, read, duplicates, races."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.server import LocalServer, Reply

pytestmark = pytest.mark.e2e


def formula(tag: str) -> dict[str, object]:
    return {
        "name": f"Formula {tag}",
        "materials": [
            {"name": f"Bergamot {tag}", "concentration": 15.5},
            {"name": "Sandalwood", "concentration": "5.2"},
        ],
    }


def test_health_and_unknown_routes(chalice_local: LocalServer) -> None:
    assert chalice_local.request("GET", "/health").json() == {"status": "ok"}
    assert chalice_local.request("POST", "/health", {}).json()["error"]["code"] == "method_not_allowed"


def test_submit_read_duplicate_and_replay(chalice_local: LocalServer) -> None:
    tag = uuid.uuid4().hex
    created = chalice_local.request("POST", "/formulas", formula(tag), headers={"Idempotency-Key": tag})
    assert created.status == 201
    location = created.headers["Location"]
    assert chalice_local.request("GET", location).json() == created.json()
    duplicate = chalice_local.request("POST", "/formulas", {**formula(tag), "name": "renamed"})
    assert duplicate.status == 409
    assert duplicate.json()["error"]["existing_id"] == created.json()["id"]
    replay = chalice_local.request("POST", "/formulas", formula(tag), headers={"Idempotency-Key": tag})
    assert replay.status == 201 and replay.body == created.body
    assert replay.headers["Idempotent-Replayed"] == "true"
    bad = chalice_local.request("POST", "/formulas", raw=b"{oops")
    assert bad.status == 400 and bad.json()["error"]["code"] == "validation_error"


def race(server: LocalServer, threads: int, body: dict[str, object], key: str | None) -> list[Reply]:
    barrier = threading.Barrier(threads)

    def one(i: int) -> Reply:
        barrier.wait(30)
        headers = {"Idempotency-Key": key if key else f"key-{i}-{uuid.uuid4().hex}"}
        for _ in range(4):
            try:
                return server.request("POST", "/formulas", body, headers=headers)
            except ConnectionError:
                # Stock `chalice local` listens with a backlog of 5 and resets some of 32
                # simultaneous connections; retrying under the same Idempotency-Key is safe.
                continue
        return server.request("POST", "/formulas", body, headers=headers)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_32_threads_same_make_up_different_keys(chalice_local: LocalServer) -> None:
    replies = race(chalice_local, 32, formula(uuid.uuid4().hex), key=None)
    created = [r for r in replies if r.status == 201]
    # a retried request whose first attempt was processed is replayed under its key, never re-run
    assert len({r.json()["id"] for r in created}) == 1
    assert sum(1 for r in created if "Idempotent-Replayed" not in r.headers) == 1
    assert all(r.status == 409 for r in replies if r.status != 201)
    assert {r.json()["error"]["code"] for r in replies if r.status == 409} == {"duplicate_formula"}


def test_32_threads_same_key_same_body(chalice_local: LocalServer) -> None:
    tag = uuid.uuid4().hex
    replies = race(chalice_local, 32, formula(tag), key=tag)
    fresh = [r for r in replies if r.status == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in replies if r.headers.get("Idempotent-Replayed") == "true"]
    busy = [r for r in replies if r.status == 409]
    assert len(fresh) == 1 and len(fresh) + len(replayed) + len(busy) == 32
    assert all(r.json()["error"]["code"] == "request_in_progress" for r in busy)
    listing = chalice_local.request("GET", "/formulas?limit=100").json()["formulas"]
    assert sum(1 for f in listing if f["name"] == f"Formula {tag}") == 1
