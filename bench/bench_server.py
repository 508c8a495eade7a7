"""Stock `chalice local` versus `make run`'s server, side by side in one run.

Both serve the same app and stage (worker off). Each gets the same load: 8 threads, each on
its own keep-alive connection, POSTing distinct formulas to /formulas, bounded by a request
count and a time budget. Prints requests per second and p50/p99 latency for both.
Target: the fast server at least 10x the stock throughput. Loopback only.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import DEV_KEY, LocalServer  # noqa: E402

THREADS = 8


def _load(port: int, per_thread: int, budget_s: float) -> tuple[float, list[float]]:
    latencies: list[list[float]] = [[] for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS + 1)
    run_id = uuid.uuid4().hex

    def client(n: int) -> None:
        bodies = [
            json.dumps(
                {"name": "bench", "materials": [{"name": f"m-{run_id}-{n}-{i}", "concentration": "1.5"}]}
            ).encode()
            for i in range(per_thread)
        ]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        deadline = time.monotonic() + budget_s
        for body in bodies:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            conn.request(
                "POST",
                "/formulas",
                body=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {DEV_KEY}"},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"unexpected status {response.status}")
            latencies[n].append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run(quick: bool) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"FI_ACCESS_LOG": "0", "FI_WORKER": "0"}
        for kind, per_thread, budget in (
            ("chalice", 60 if quick else 150, 4.0),
            ("fast", 300 if quick else 1500, 6.0),
        ):
            server = LocalServer(kind=kind, env=env, worker="0").start(Path(tmp))
            try:
                _load(server.port, 5, 5.0)
                rate, latencies = _load(server.port, per_thread, budget)
            finally:
                server.stop()
            label = "stock" if kind == "chalice" else "fast"
            figures[f"server_{label}_req_per_s"] = round(rate, 1)
            figures[f"server_{label}_p50_ms"] = round(_percentile(latencies, 50) * 1000, 2)
            figures[f"server_{label}_p99_ms"] = round(_percentile(latencies, 99) * 1000, 2)
    figures["server_fast_vs_stock"] = round(
        figures["server_fast_req_per_s"] / figures["server_stock_req_per_s"], 1
    )
    return figures


if __name__ == "__main__":
    os.environ.setdefault("FI_ACCESS_LOG", "0")
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
