"""HTTP throughput and latency of `make run`'s server and of stock `chalice local`, per tree.

Every tree (the current one, and a baseline checkout when one is asked for) is served by its
own processes, started the way `make run` and `chalice local --stage local` start them (worker
off, no autoreload, a free loopback port), all from the same virtualenv. Each server first gets
a short warm-up, then the measurement runs in rounds: in every round each server takes its turn
at ``GET /health`` and at ``POST /formulas`` (a new formula each time), and the order is reversed
from one round to the next. Taking turns exposes every server and route to the same conditions
on a shared machine, so a neighbour's load or a CPU's clock change falls on all of them alike.

Figures per tree (``run`` is `make run`'s server, ``stock`` is `chalice local`):

- ``http_<server>_<route>_per_s``: requests per second, the median of the route's rounds;
- ``http_<server>_<route>_p50_ms`` / ``_p99_ms``: latency percentiles, client side;
- ``http_<server>_post_vs_get``: the submission's rate as a share of the trivial route's;
- ``http_run_vs_stock_<route>``: how many times `chalice local`'s rate `make run` reaches.
"""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.load import ROUTES, Sample, connections, run_load
from bench.report import Figures
from tests.e2e.server import LocalServer

SERVER_KINDS = {"run": "fast", "stock": "chalice"}
"""Figure prefix -> `LocalServer` kind: `make run`'s server and stock `chalice local`."""
SERVER_ENV = {"FI_ACCESS_LOG": "0", "FI_WORKER": "0", "AUTORELOAD": "0"}


@dataclass(frozen=True, slots=True)
class Load:
    """How much traffic each server gets, per route, over all rounds (and the warm-up)."""

    threads: int = 8
    rounds: int = 6
    run_seconds: float = 3.0
    stock_seconds: float = 3.0
    max_requests: int = 20_000
    warmup_seconds: float = 0.3

    def seconds(self, prefix: str) -> float:
        return self.run_seconds if prefix == "run" else self.stock_seconds


FULL = Load()
QUICK = Load(rounds=2, run_seconds=1.0, stock_seconds=1.0, warmup_seconds=0.1)


def interleave(
    clients: Mapping[str, list[http.client.HTTPConnection]], load: Load, seconds: float
) -> dict[str, dict[str, Sample]]:
    """Samples per server label and route, the servers and routes taking turns round by round."""
    samples = {label: {route.name: Sample() for route in ROUTES} for label in clients}
    turns = list(itertools.product(clients, ROUTES))
    per_round = max(1, load.max_requests // load.rounds)
    for label, route in turns:
        run_load(clients[label], route, seconds=min(load.warmup_seconds, seconds), max_requests=per_round)
    for round_ in range(load.rounds):
        for label, route in turns if round_ % 2 == 0 else reversed(turns):
            sample = run_load(clients[label], route, seconds=seconds / load.rounds, max_requests=per_round)
            samples[label][route.name].add(sample)
    return samples


def figures_of(prefix: str, samples: Mapping[str, Sample]) -> Figures:
    """One server's figures from its samples per route."""
    figures: Figures = {}
    for route, sample in samples.items():
        figures[f"http_{prefix}_{route}_per_s"] = round(sample.per_second(), 1)
        figures[f"http_{prefix}_{route}_p50_ms"] = round(sample.percentile_ms(50), 2)
        figures[f"http_{prefix}_{route}_p99_ms"] = round(sample.percentile_ms(99), 2)
    get, post = samples["get"].per_second(), samples["post"].per_second()
    figures[f"http_{prefix}_post_vs_get"] = round(post / get, 3) if get else 0.0
    return figures


def run(trees: Mapping[str, Path], load: Load, log_dir: Path) -> dict[str, Figures]:
    """Figures per tree label; every server started here is stopped before this returns."""
    figures: dict[str, Figures] = {label: {} for label in trees}
    for prefix, kind in SERVER_KINDS.items():
        with ExitStack() as stack:
            clients = {}
            for label, tree in trees.items():
                server = LocalServer(kind=kind, env=SERVER_ENV, worker="0", project_dir=tree)
                stack.callback(server.stop)
                clients[label] = connections(server.start(log_dir).port, load.threads)
                for connection in clients[label]:
                    stack.callback(connection.close)
            samples = interleave(clients, load, load.seconds(prefix))
        for label in trees:
            figures[label].update(figures_of(prefix, samples[label]))
    for tree_figures in figures.values():
        for route in ("get", "post"):
            stock = tree_figures[f"http_stock_{route}_per_s"]
            run_rate = tree_figures[f"http_run_{route}_per_s"]
            tree_figures[f"http_run_vs_stock_{route}"] = round(run_rate / stock, 2) if stock else 0.0
    return figures
