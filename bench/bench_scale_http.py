"""What a request costs over HTTP as the data grows: `make run`'s server at 1% and at 100% of N.

The server is started the way `make run` starts it (`bench.bench_server` does the same: no
autoreload, no access log, a free port on 127.0.0.1), with its in-process worker on, as the
local stage has it. One owner is filled with N formulas of three materials each (the documents
of `bench.bench_scale`) in batches of `BATCH` (the most a DynamoDB transaction takes, so the
same fill fits both backends) over `FILL_CONNECTIONS` keep-alive connections; a batch the full
queue refuses (503 ``queue_full``, the worker being behind) is sent again shortly after, as a
client would. Before timing, the bench waits until the worker has drained the queue, so every
formula is ``processed`` and the status listing reads the status index at its fullest.

At each size the reads are timed first, then the submissions, one request at a time on one
keep-alive connection, each operation for at most `SAMPLES` requests or `SECONDS` seconds:
``get`` a random stored formula, ``list`` 50 after a random cursor, ``status_list``
(``status=processed``) 50 after a random cursor, ``submit`` a new formula. Random picks range over
every formula stored before the reads began, and every cursor leaves a full page after it.

Figures (``scale_http_`` prefix): ``fill_per_s`` (formulas stored and processed per second
over the whole fill), ``{op}_{small|full}_p50_ms`` / ``_p99_ms``, ``{op}_ratio`` (p50 at N over
p50 at 1%; the goal is at most 1.2) and ``rss_mib`` (the server's resident memory at N).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from bench.bench_scale import PAGE, document, size_figures
from bench.load import connections
from bench.report import Figures
from chalicelib.services.views import encode_cursor
from tests.e2e.server import DEV_KEY, LocalServer

BATCH = 49
FILL_CONNECTIONS = 4
SAMPLES = 2_000
SECONDS = 10.0
HEADERS = {"Authorization": f"Bearer {DEV_KEY}", "Content-Type": "application/json"}


RETRY_SECONDS = 0.05
"""How long a batch the full queue refused waits before it is sent again."""


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> bytes:
    """One request on a keep-alive connection, sent again while the queue is full; any other
    answer but a 2xx stops the benchmark."""
    conn.request(method, path, body=body, headers=HEADERS)
    response = conn.getresponse()
    answer = response.read()
    while response.status == 503 and b"queue_full" in answer:
        time.sleep(RETRY_SECONDS)
        conn.request(method, path, body=body, headers=HEADERS)
        response = conn.getresponse()
        answer = response.read()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{method} {path} answered {response.status}: {answer[:500]!r}")
    return answer


class Filler:
    """Numbers the formulas it submits in order and keeps their ids in number order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ids: list[str] = []

    def fill(self, count: int) -> None:
        """Submit formulas ``len(ids)`` .. ``len(ids) + count - 1`` in batches, several connections."""
        first = len(self.ids)
        batches = [(start, min(BATCH, first + count - start)) for start in range(first, first + count, BATCH)]
        found: dict[int, list[str]] = {}
        failures: list[BaseException] = []

        def worker(conn: http.client.HTTPConnection, mine: list[tuple[int, int]]) -> None:
            try:
                for start, size in mine:
                    body = json.dumps([document(number) for number in range(start, start + size)]).encode()
                    stored = json.loads(call(conn, "POST", "/formulas", body))["formulas"]
                    found[start] = [formula["id"] for formula in stored]
            except BaseException as exc:  # raised again once every thread has stopped
                failures.append(exc)
            finally:
                conn.close()

        threads = [
            threading.Thread(target=worker, args=(conn, batches[n::FILL_CONNECTIONS]), daemon=True)
            for n, conn in enumerate(connections(self.port, FILL_CONNECTIONS))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        for start, _ in batches:
            self.ids.extend(found[start])

    def drained(self, timeout: float = 600) -> None:
        """Wait (bounded) until the worker has taken every message off the queue."""
        conn = connections(self.port, 1)[0]
        deadline = time.monotonic() + timeout
        try:
            while True:
                stats = json.loads(call(conn, "GET", "/queue/stats"))
                if stats["ready"] + stats["in_flight"] + stats["delayed"] == 0:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not drain the queue within {timeout} s: {stats}")
                time.sleep(0.1)
        finally:
            conn.close()


WARMUP = 50
"""Untimed calls of each operation before its timings, so neither size pays for first use."""


def timings(operation: Callable[[random.Random], object], rng: random.Random, samples: int) -> list[float]:
    """Milliseconds per call of ``operation``, for ``samples`` calls or `SECONDS`, whichever ends first."""
    for _ in range(WARMUP):
        operation(rng)
    out: list[float] = []
    deadline = time.monotonic() + SECONDS
    while len(out) < samples and time.monotonic() < deadline:
        started = time.perf_counter()
        operation(rng)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def latencies(filler: Filler, samples: int) -> dict[str, list[float]]:
    """Timings per operation at the current size: reads first, then submissions."""
    conn = connections(filler.port, 1)[0]
    stored = filler.ids[:]
    rng = random.Random(15)

    def get(rng: random.Random) -> object:
        return call(conn, "GET", f"/formulas/{stored[rng.randrange(len(stored))]}")

    def listing(status: str | None) -> Callable[[random.Random], object]:
        extra = {} if status is None else {"status": status}

        def run(rng: random.Random) -> object:
            cursor = encode_cursor(stored[rng.randrange(max(1, len(stored) - PAGE))])
            return call(conn, "GET", "/formulas?" + urlencode({"limit": PAGE, "cursor": cursor, **extra}))

        return run

    def submit(rng: random.Random) -> object:
        number = len(filler.ids)
        answer = call(conn, "POST", "/formulas", json.dumps(document(number)).encode())
        filler.ids.append(json.loads(answer)["id"])
        return answer

    try:
        measured = {
            "get": timings(get, rng, samples),
            "list": timings(listing(None), rng, samples),
            "status_list": timings(listing("processed"), rng, samples),
        }
        measured["submit"] = timings(submit, rng, samples)
        return measured
    finally:
        conn.close()


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run(n: int, log_dir: Path, samples: int = SAMPLES) -> Figures:
    """Every figure of the module docstring for N = ``n``; the server is stopped before this returns."""
    env = {"FI_ACCESS_LOG": "0", "AUTORELOAD": "0"}
    server = LocalServer(kind="fast", env=env, worker="1")
    try:
        filler = Filler(server.start(log_dir).port)
        figures: Figures = {"scale_http_n": float(n)}
        measured: dict[str, dict[str, list[float]]] = {}
        filled, filling = 0, 0.0
        for label, size in (("small", max(1, n // 100)), ("full", n)):
            count = max(0, size - len(filler.ids))
            started = time.perf_counter()
            filler.fill(count)
            filler.drained()
            filling += time.perf_counter() - started
            filled += count
            measured[label] = latencies(filler, samples)
        figures["scale_http_fill_per_s"] = round(filled / filling)
        assert server.process is not None
        figures["scale_http_rss_mib"] = rss_mib(server.process.pid)
    finally:
        server.stop()
    figures.update(size_figures("scale_http", "ms", measured))
    return figures
