"""In-process API throughput through `chalice.test.Client`: POST /formulas beside GET /health.

Both routes go through the same Chalice machinery (event conversion, middleware, response
serialisation), so the ratio isolates what a submission adds: parsing, validation,
fingerprinting, the idempotency check, the atomic store and the staged publish.
Target: POST /formulas at least half the trivial route's rate.
"""

from __future__ import annotations

import json
import time

from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.config import Settings
from tests.keys import API_KEYS_JSON, auth


def _rate(run: object, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        run(i)  # type: ignore[operator]
    return count / (time.perf_counter() - started)


def run(quick: bool) -> dict[str, float]:
    count = 500 if quick else 3000
    services = bootstrap.build_memory(
        Settings(
            queue_capacity=10**7,
            api_keys_json=API_KEYS_JSON,
            rate_limit_per_second=10**9,
            rate_limit_burst=10**9,
        )
    )
    old = bootstrap.use(services)
    try:
        bodies = [
            json.dumps(
                {
                    "name": "Summer Breeze",
                    "materials": [
                        {"name": f"Bergamot Oil {i}", "concentration": 15.5},
                        {"name": "Lavender Absolute", "concentration": "10.0"},
                        {"name": "Sandalwood", "concentration": 5.2},
                    ],
                }
            ).encode()
            for i in range(count * 2)
        ]
        headers = {"Content-Type": "application/json", **auth()}
        with Client(app) as client:
            client.http.get("/health")

            def health(i: int) -> None:
                assert client.http.get("/health").status_code == 200

            def submit(i: int) -> None:
                assert client.http.post("/formulas", body=bodies[i], headers=headers).status_code == 201

            def submit_with_key(i: int) -> None:
                response = client.http.post(
                    "/formulas", body=bodies[count + i], headers={**headers, "Idempotency-Key": f"k{i}"}
                )
                assert response.status_code == 201

            trivial = _rate(health, count)
            post = _rate(submit, count)
            post_key = _rate(submit_with_key, count)
    finally:
        bootstrap.use(old)
    return {
        "api_trivial_get_per_s": round(trivial),
        "api_post_formulas_per_s": round(post),
        "api_post_formulas_with_key_per_s": round(post_key),
        "api_post_vs_trivial": round(post / trivial, 3),
    }
