"""Real threads racing the same make-up or the same Idempotency-Key (in-process)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app import app
from chalicelib import bootstrap
from chalicelib.devserver import make_thread_safe
from tests.api.helpers import SUMMER_BREEZE, post
from tests.keys import KeyedClient

THREADS = 32


@pytest.fixture(autouse=True)
def thread_safe_app() -> None:
    """Chalice keeps ``current_request`` on the app; the local servers make it per thread."""
    make_thread_safe(app)


def race(send: Any) -> list[Any]:
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> Any:
        barrier.wait(10)
        return send(i)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_same_make_up_different_keys(services: bootstrap.Services) -> None:
    with KeyedClient() as client:
        responses = race(lambda i: post(client, SUMMER_BREEZE, key=f"key-{i}"))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (THREADS - 1)
    assert len(services.store) == 1  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 1
    created = next(json.loads(r.body) for r in responses if r.status_code == 201)
    for r in responses:
        if r.status_code == 409:
            assert json.loads(r.body)["error"]["existing_id"] == created["id"]


def test_same_key_same_body(services: bootstrap.Services) -> None:
    with KeyedClient() as client:
        responses = race(lambda i: post(client, SUMMER_BREEZE, key="one-key"))
    created = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(created) == 1
    assert len(created) + len(replayed) + len(in_progress) == THREADS
    assert all(json.loads(r.body)["error"]["code"] == "request_in_progress" for r in in_progress)
    assert all(r.body == created[0].body for r in replayed)
    assert len(services.store) == 1  # type: ignore[arg-type]
    assert services.queue.stats().sent_total == 1
