"""Keep-alive HTTP load on a loopback server: client threads, bounded in time and in count.

Each client thread has one `http.client` connection and sends its requests one after the other
on it, as a browser or an SDK with a connection pool does; the connections stay open from one
run to the next, so a run measures requests, not connection set-up. A run stops when its time is
up or its request count is reached, whichever comes first; every answer must have the status
the route promises, or the run fails with the server's answer.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.e2e.server import DEV_KEY

HOST = "127.0.0.1"


def formula_body(tag: str) -> bytes:
    """A three-material submission whose first material is named after ``tag`` (so it is new)."""
    return json.dumps(
        {
            "name": "Summer Breeze",
            "materials": [
                {"name": f"Bergamot {tag}", "concentration": "15.5"},
                {"name": "Lavender Absolute", "concentration": "10.0"},
                {"name": "Sandalwood", "concentration": "5.2"},
            ],
        }
    ).encode()


@dataclass(frozen=True, slots=True)
class Route:
    """What one client request is: ``body(tag)`` gives a body for a tag unique to the request."""

    name: str
    method: str
    path: str
    status: int
    body: Callable[[str], bytes] | None = None


HEALTH = Route("get", "GET", "/health", 200)
SUBMIT = Route("post", "POST", "/formulas", 201, formula_body)
ROUTES = (HEALTH, SUBMIT)


@dataclass(slots=True)
class Sample:
    """One route on one server over one or more runs: each run's rate and every request's latency.

    The rate is the median of the runs' rates, so a run that a neighbour's burst of work slowed
    down does not drag the figure with it; the latency percentiles are over every request.
    """

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def add(self, other: Sample) -> None:
        self.rates.extend(other.rates)
        self.latencies.extend(other.latencies)

    def per_second(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The ``percent``-th percentile latency in milliseconds."""
        if len(self.latencies) < 2:
            return 1000 * self.latencies[0] if self.latencies else 0.0
        return 1000 * statistics.quantiles(self.latencies, n=100)[percent - 1]


def connections(port: int, threads: int) -> list[http.client.HTTPConnection]:
    """One keep-alive connection per client thread to ``port`` on the loopback (opened on first use)."""
    return [http.client.HTTPConnection(HOST, port, timeout=30) for _ in range(threads)]


DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
"""How a keep-alive connection that the server closed while it was idle fails on its next use."""


def exchange(
    conn: http.client.HTTPConnection, route: Route, body: bytes | None, headers: dict[str, str]
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request and its answer; a connection the server closed while idle is reopened once,
    as a pooling client does (a server may close idle keep-alive connections)."""
    try:
        conn.request(route.method, route.path, body=body, headers=headers)
        response = conn.getresponse()
    except DROPPED:
        conn.close()
        conn.request(route.method, route.path, body=body, headers=headers)
        response = conn.getresponse()
    return response, response.read()


def run_load(
    clients: list[http.client.HTTPConnection], route: Route, *, seconds: float, max_requests: int
) -> Sample:
    """Send ``route`` on every connection, a thread each, for ``seconds`` or ``max_requests`` in all."""
    threads = len(clients)
    counts = [max_requests // threads + (n < max_requests % threads) for n in range(threads)]
    run_id = uuid.uuid4().hex[:12]
    headers = {"Authorization": f"Bearer {DEV_KEY}"}
    if route.body is not None:
        headers["Content-Type"] = "application/json"
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def client(n: int) -> None:
        make = route.body
        bodies = [make(f"{run_id}-{n}-{i}") if make else None for i in range(counts[n])]
        conn = clients[n]
        try:
            start.wait()
            deadline = time.monotonic() + seconds
            for body in bodies:
                if time.monotonic() >= deadline:
                    break
                began = time.perf_counter()
                response, answer = exchange(conn, route, body, headers)
                latencies[n].append(time.perf_counter() - began)
                if response.status != route.status:
                    raise RuntimeError(
                        f"{route.method} {route.path} answered {response.status}, not {route.status}: "
                        f"{answer[:500]!r}"
                    )
        except BaseException as exc:  # raised again once every thread has stopped
            failures.append(exc)
            start.abort()

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    flat = [latency for per_thread in latencies for latency in per_thread]
    return Sample([len(flat) / elapsed], flat)
