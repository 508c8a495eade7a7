"""In-process API throughput through `chalice.test.Client`: POST /formulas beside GET /health.

Both routes go through the same Chalice machinery (event conversion, middleware, response
serialisation), so the ratio isolates what a submission adds: parsing, validation,
fingerprinting, the idempotency check, the atomic store and the staged publish.
Target: POST /formulas at least half the trivial route's rate.

The routes take turns, 100 calls at a time, for 30 rounds (3,000 calls each), and each rate is
over all of a route's calls. Timing one route's 3,000 calls after the other's let the ratio swing
from 0.43 to 0.51 between runs, as the machine's other load came and went; taking turns exposes
both to the same conditions. It also costs GET /health the advantage of running back to back
with only its own code in the CPU caches, which moves the ratio up by about 0.02. The per-round
ratios' minimum, median and maximum are printed beside it.

The ``api_stage_*_us`` figures say where a submission's time goes. A stage timed in a tight loop
of its own runs about twice as fast as inside a request (the request's other code evicts its
instructions and data from the CPU caches), so each stage is timed *in situ*: right after a
GET /health, and charged the difference from GET /health alone, the two alternating chunk by
chunk and the fastest chunk of each kept. They are measured after, and apart from, the rates.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from collections.abc import Callable

from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.config import Settings
from chalicelib.domain import parse_request_body
from chalicelib.services import views
from tests.keys import API_KEYS_JSON, auth


def _interleaved(
    routes: dict[str, Callable[[int], object]], rounds: int, chunk: int
) -> dict[str, list[float]]:
    """Seconds per call of each route, per round: the routes take turns, ``chunk`` calls at a time.

    Taking turns puts every route under the same conditions (a busy neighbour, a warmer or colder
    CPU, a bigger heap) instead of timing one route's run after the other's.
    """
    seconds: dict[str, list[float]] = {name: [] for name in routes}
    for round_ in range(rounds):
        for name, call in routes.items():
            first = round_ * chunk
            started = time.perf_counter()
            for i in range(first, first + chunk):
                call(i)
            seconds[name].append((time.perf_counter() - started) / chunk)
    return seconds


def _body(name: str) -> bytes:
    return json.dumps(
        {
            "name": "Summer Breeze",
            "materials": [
                {"name": name, "concentration": 15.5},
                {"name": "Lavender Absolute", "concentration": "10.0"},
                {"name": "Sandalwood", "concentration": 5.2},
            ],
        }
    ).encode()


def _in_situ(
    get: Callable[[], object], stages: dict[str, Callable[[], object]], rounds: int, chunk: int
) -> dict[str, float]:
    """Microseconds each stage adds to the GET it follows (fastest chunk of each, alternating)."""
    best = dict.fromkeys(["get", *stages], math.inf)
    for _ in range(rounds):
        for name in best:
            stage = stages.get(name)
            started = time.perf_counter()
            for _ in range(chunk):
                get()
                if stage is not None:
                    stage()
            best[name] = min(best[name], (time.perf_counter() - started) / chunk)
    return {name: round((best[name] - best["get"]) * 1e6, 1) for name in stages}


def _stages(services: bootstrap.Services, client: Client, quick: bool) -> dict[str, float]:
    """In-situ cost of parsing, of submitting (store and publish) and of the publish alone."""
    submissions, store, queue = services.submissions, services.store, services.queue
    rounds, chunk = (4, 50) if quick else (12, 100)
    calls = rounds * chunk
    bodies = iter([_body(f"Stage Oil {i}") for i in range(calls)])
    parsed = iter([parse_request_body(_body(f"Submitted Oil {i}")) for i in range(calls)])
    submitted = submissions.submit("bench-stages", parse_request_body(_body("Message Oil")), None)
    record = store.get("bench-stages", (submitted.location or "").rsplit("/", 1)[-1])
    assert record is not None
    message = views.submitted_message(record)  # what a submission publishes
    ids = itertools.count()

    def publish() -> None:
        staged = queue.stage()
        staged.send(message, dedup_id=f"bench-{next(ids)}")
        staged.commit()

    figures = _in_situ(
        lambda: client.http.get("/health"),
        {
            "parse": lambda: parse_request_body(next(bodies)),
            "submit": lambda: submissions.submit("bench-stages", next(parsed), None),
            "queue_publish": publish,
        },
        rounds,
        chunk,
    )
    return {f"api_stage_{name}_us": value for name, value in figures.items()}


def run(quick: bool) -> dict[str, float]:
    rounds, chunk = (5, 100) if quick else (30, 100)
    count = rounds * chunk
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
        bodies = [_body(f"Bergamot Oil {i}") for i in range(count * 2)]
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

            routes = {"get": health, "post": submit, "post_key": submit_with_key}
            seconds = _interleaved(routes, rounds, chunk)
            stages = _stages(services, client, quick)
    finally:
        bootstrap.use(old)
    # Rates over all the calls (the mean), and the spread of the ratio from round to round.
    trivial, post, post_key = (1 / statistics.fmean(seconds[name]) for name in ("get", "post", "post_key"))
    ratios = sorted(g / p for g, p in zip(seconds["get"], seconds["post"], strict=True))
    return {
        "api_trivial_get_per_s": round(trivial),
        "api_post_formulas_per_s": round(post),
        "api_post_formulas_with_key_per_s": round(post_key),
        "api_post_vs_trivial": round(post / trivial, 3),
        "api_post_vs_trivial_round_min": round(ratios[0], 3),
        "api_post_vs_trivial_round_median": round(statistics.median(ratios), 3),
        "api_post_vs_trivial_round_max": round(ratios[-1], 3),
        "api_trivial_get_us": round(1e6 / trivial, 1),
        "api_post_formulas_us": round(1e6 / post, 1),
        **stages,
    }
