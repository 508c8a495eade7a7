"""The benchmark harness runs with tiny counts: figures are produced and named, never timed."""

from __future__ import annotations

import io
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench import baseline, bench_server
from bench.load import SUBMIT, Route, connections, run_load
from bench.report import table
from tests.e2e.server import LocalServer

PROJECT_DIR = bench_main.PROJECT_DIR
in_git = pytest.mark.skipif(not (PROJECT_DIR / ".git").exists(), reason="needs a git checkout")
TINY = ["--threads", "2", "--rounds", "1", "--seconds", "0.2", "--stock-seconds", "0.2", "--requests", "40"]
HTTP_FIGURES = {
    f"http_{server}_{route}_{figure}"
    for server in ("run", "stock")
    for route in ("get", "post")
    for figure in ("per_s", "p50_ms", "p99_ms")
} | {"http_run_post_vs_get", "http_stock_post_vs_get", "http_run_vs_stock_get", "http_run_vs_stock_post"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    started = LocalServer(env=bench_server.SERVER_ENV, worker="0").start(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.e2e
def test_the_load_stops_at_its_count_and_every_post_is_a_new_formula(server: LocalServer) -> None:
    clients = connections(server.port, 3)
    try:
        first = run_load(clients, SUBMIT, seconds=60, max_requests=7)
        second = run_load(clients, SUBMIT, seconds=60, max_requests=5)
    finally:
        for client in clients:
            client.close()
    assert (first.requests, len(first.latencies), second.requests) == (7, 7, 5)
    listed = server.request("GET", "/formulas?limit=100").json()
    assert len(listed["formulas"]) == 12


@pytest.mark.e2e
def test_the_load_fails_with_the_servers_answer_on_an_unexpected_status(server: LocalServer) -> None:
    refused = Route("post", "POST", "/formulas", 201, lambda tag: b"{}")
    clients = connections(server.port, 2)
    try:
        with pytest.raises(RuntimeError, match="answered 400, not 201"):
            run_load(clients, refused, seconds=60, max_requests=4)
    finally:
        for client in clients:
            client.close()


class OneAnswerPerConnection(BaseHTTPRequestHandler):
    """Answers keep-alive style, then closes the connection as an idle timeout would."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


def test_a_connection_the_server_closed_is_reopened_and_the_run_goes_on() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OneAnswerPerConnection)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    clients = connections(server.server_address[1], 1)
    try:
        sample = run_load(clients, Route("get", "GET", "/", 200), seconds=60, max_requests=5)
    finally:
        clients[0].close()
        server.shutdown()
        server.server_close()
    assert sample.requests == 5


@pytest.mark.e2e
@in_git
def test_the_runner_measures_both_servers_of_the_current_tree_and_a_baseline() -> None:
    out = io.StringIO()
    assert bench_main.main(["--json", "--only", "http", "--baseline", "HEAD", *TINY], out) == 0
    figures = json.loads(out.getvalue())
    assert figures["baseline_rev"] == "HEAD"
    for tree in ("current", "baseline"):
        assert set(figures[tree]) == HTTP_FIGURES
        assert figures[tree]["http_run_post_per_s"] > 0 and figures[tree]["http_stock_get_per_s"] > 0
    assert "bench-baseline-" not in worktrees()


def worktrees() -> str:
    return subprocess.run(
        ["git", "worktree", "list"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout


@in_git
def test_a_baseline_checkout_holds_the_revision_and_is_removed_afterwards() -> None:
    with baseline.checkout(PROJECT_DIR, "HEAD") as tree:
        assert (tree / "app.py").is_file() and str(tree) in worktrees()
    assert not tree.exists() and str(tree) not in worktrees()


@in_git
def test_an_unknown_baseline_is_refused_in_one_line() -> None:
    with pytest.raises(SystemExit, match="no commit 'no-such-rev-x'"):
        baseline.resolve(PROJECT_DIR, "no-such-rev-x")


def fake_tree(path: Path, number: int) -> Path:
    """A tree whose ``chalicelib`` says which tree it is."""
    (path / "chalicelib").mkdir(parents=True)
    (path / "chalicelib" / "__init__.py").write_text(f"TREE = {number}.0\n")
    return path


def fake_bench(path: Path, counter: Path) -> Path:
    """A queue benchmark that reports the tree whose package it imported and how many runs came
    before it (across trees)."""
    path.write_text(
        "from pathlib import Path\n"
        "import chalicelib\n"
        "def run(quick):\n"
        f"    counter = Path({str(counter)!r})\n"
        "    runs = len(counter.read_text()) if counter.exists() else 0\n"
        "    counter.write_text('x' * (runs + 1))\n"
        "    return {'runs_before': float(runs), 'quick': float(quick), 'tree': chalicelib.TREE}\n"
    )
    return path


def test_the_queue_runs_one_benchmark_against_each_trees_queue_abba(tmp_path: Path) -> None:
    trees = {"current": fake_tree(tmp_path / "current", 1), "baseline": fake_tree(tmp_path / "baseline", 2)}
    bench_file = fake_bench(tmp_path / "bench_queue.py", tmp_path / "counter")
    args = bench_main.parser().parse_args(["--quick"])
    figures = bench_main.run_queue(trees, args, tmp_path, bench_file)
    # Order current, baseline, baseline, current: runs 0 and 3 against 1 and 2, the same mean.
    assert figures == {
        "current": {"runs_before": 1.5, "quick": 1.0, "tree": 1.0},
        "baseline": {"runs_before": 1.5, "quick": 1.0, "tree": 2.0},
    }


def test_the_table_puts_a_baseline_beside_the_current_figures_with_the_change() -> None:
    text = table("http", {"current": {"rate": 2200.0, "p99_ms": 9.5}, "ec9950c": {"rate": 2000.0}})
    assert text.splitlines() == [
        "http",
        "  figure  current  ec9950c  change",
        "  rate      2,200    2,000  +10.0%",
        "  p99_ms    9.500        -       -",
    ]
    assert table("queue", {"current": {"cycle_per_s": 312099.4}}).splitlines()[1] == "  cycle_per_s  312,099"


def test_the_cli_refuses_an_unknown_benchmark_and_an_empty_load(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_main.main(["--only", "api"])
    assert "invalid choice: 'api'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--rounds must be more than 0"):
        bench_main.main(["--rounds", "0"])


SCALE_OPS = ("submit", "get", "list", "status_list")


def size_figure_names(prefix: str, unit: str) -> set[str]:
    """The per-operation figures of a scale benchmark: p50 and p99 at each size, and the ratio."""
    names = {f"{prefix}_{op}_ratio" for op in SCALE_OPS}
    return names | {
        f"{prefix}_{op}_{size}_{figure}_{unit}"
        for op in SCALE_OPS
        for size in ("small", "full")
        for figure in ("p50", "p99")
    }


def test_the_scale_benchmark_names_every_figure_with_a_tiny_n() -> None:
    out = io.StringIO()
    assert bench_main.main(["--json", "--quick", "--only", "scale", "--scale-n", "300"], out) == 0
    figures = json.loads(out.getvalue())["current"]
    assert set(figures) == {"scale_n", "scale_bytes_per_formula"} | size_figure_names("scale", "us")
    assert figures["scale_n"] == 300 and all(value > 0 for value in figures.values())


def test_the_scale_benchmark_refuses_a_tiny_store() -> None:
    with pytest.raises(SystemExit, match="--scale-n must be at least 100"):
        bench_main.main(["--only", "scale", "--scale-n", "5"])


def test_a_stored_three_material_formula_costs_at_most_a_kibibyte() -> None:
    # Figures of memory layout, not of time: deterministic for a given tree and Python.
    from bench import bench_scale

    assert bench_scale.bytes_per_formula(2000) <= 1024


def test_the_similar_benchmark_names_its_figures_and_is_exact() -> None:
    from bench import bench_similar

    figures = bench_similar.run(300, queries=20, exact_queries=5, moto_n=20)
    for name in ("t80", "t95"):
        assert {f"{name}_{figure}" for figure in ("p50_ms", "p99_ms", "candidates", "verified")} <= set(
            figures
        )
        assert figures[f"{name}_exact_pct"] == 100
        assert figures[f"{name}_moto_items_read"] >= 0
    assert figures["n"] == 300 and "index_bytes_per_formula" in figures


def test_the_scale_reads_pick_stored_formulas_and_read_full_pages_in_their_own_index() -> None:
    # Like for like at both sizes: a status page is as long as a plain one, though only one
    # formula in twenty is queued, and no read lands on a formula submitted after the reads began.
    import random

    from bench import bench_scale

    backend = bench_scale.Backend()
    backend.fill(1200)
    operations = bench_scale.reads(backend)
    stored = set(backend.ids)
    backend.submit(len(backend.ids))
    rng = random.Random(1)
    for _ in range(30):
        assert operations["get"](rng)["id"] in stored
        assert len(operations["list"](rng)["formulas"]) == bench_scale.PAGE
        page = operations["status_list"](rng)["formulas"]
        assert len(page) == bench_scale.PAGE and {f["status"] for f in page} == {"queued"}


@pytest.mark.e2e
def test_the_scale_benchmark_over_http_fills_a_server_and_names_every_figure() -> None:
    out = io.StringIO()
    argv = ["--json", "--quick", "--only", "scale", "--scale-http", "--scale-n", "300"]
    assert bench_main.main(argv, out) == 0
    figures = json.loads(out.getvalue())["current"]
    named = {"scale_http_n", "scale_http_fill_per_s", "scale_http_rss_mib"}
    assert set(figures) == named | size_figure_names("scale_http", "ms")
    assert figures["scale_http_n"] == 300 and all(value > 0 for value in figures.values()), figures


@pytest.mark.aws
def test_the_cost_benchmark_counts_the_calls_of_a_formula_from_request_to_processed() -> None:
    from bench import bench_cost

    figures = bench_cost.run(backlog=30, cold_runs=1, batch=12)
    # Counts of AWS calls, not times: the request path is one transaction and the sends are batched.
    assert figures["cost_request_transactions_single"] == figures["cost_request_transactions_batch"] == 1
    assert figures["cost_sqs_send_calls_single"] == 1 and figures["cost_sqs_send_calls_batch"] == 2
    assert figures["cost_aws_calls_per_formula_batch"] < figures["cost_aws_calls_per_formula_single"]
    assert figures["sweep_backlog"] == 30 and figures["sweep_items_per_s"] > 0
    assert figures["drain_60k_minutes"] > 0 and figures["cold_start_ms"] > 0 and figures["package_mb"] > 1
    assert all(figures[f"cost_usd_per_million_{kind}"] > 0 for kind in ("single", "batch"))
