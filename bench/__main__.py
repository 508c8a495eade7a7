"""Measure what users feel, beside a baseline in the same run: ``python -m bench`` (``make bench``).

``http``: `make run`'s server and stock `chalice local` under keep-alive load from client threads
(``GET /health`` and ``POST /formulas``; see `bench.bench_server`). ``queue``: the in-memory
queue beside `queue.Queue` (`bench.bench_queue`, run in a process of its own per tree). ``aws``:
the worst time a submission spends on AWS calls under the botocore Config (`bench.bench_aws`,
this tree only). ``scale``: bytes per stored formula, and each request's cost at 1% and 100% of
N stored formulas (`bench.bench_scale`, this tree only; ``--scale-n``; over HTTP against `make
run`'s server with ``--scale-http``, `bench.bench_scale_http`). ``similar``: exact near-duplicate
search on a synthetic library (`bench.bench_similar`, this tree only; ``--similar-n``).
``cost``: AWS calls and USD per formula, cold start, package size and the outbox sweeper's
drain rate (`bench.bench_cost`, with `bench.bench_drain`; this tree only).
With ``--baseline REV`` the same benchmarks also run against REV, checked out into a temporary
git worktree and served from the same virtualenv; the HTTP servers of both trees take turns
round by round, the queue benchmark runs in the order current, baseline, baseline, current, and
the table gives the change in percent. docs/performance.md says what each figure means.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from bench import baseline, bench_scale, bench_scale_http, bench_server, bench_similar
from bench.report import Figures, table

PROJECT_DIR = Path(__file__).resolve().parents[1]
QUEUE_SCRIPT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_queue", sys.argv[3])
bench_queue = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_queue)
with open(sys.argv[1], "w") as out:
    json.dump(bench_queue.run(sys.argv[2] == "quick"), out)
"""
"""Runs this tree's `bench.bench_queue` against the queue of the tree it runs in (its working
directory comes first on the path), so a baseline is measured by the same benchmark code."""


QUEUE_BENCH = PROJECT_DIR / "bench" / "bench_queue.py"


def queue_figures(tree: Path, quick: bool, bench_file: Path = QUEUE_BENCH) -> Figures:
    """This tree's queue benchmark run against ``tree``'s queue, in a fresh interpreter there."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "queue.json"
        mode = "quick" if quick else "full"
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                QUEUE_SCRIPT,
                str(out),
                mode,
                str(bench_file),
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the queue benchmark of {tree} failed:\n{done.stderr[-4000:]}")
        figures: Figures = json.loads(out.read_text())
        return figures


def run_queue(
    trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path, bench_file: Path = QUEUE_BENCH
) -> dict[str, Figures]:
    """Each tree's queue figures; beside a baseline, the mean of two runs each in the order ABBA.

    The queue benchmark runs in one process, so the trees cannot take turns within it; running
    them current, baseline, baseline, current and averaging cancels a steady drift in the
    machine's speed instead of charging it to one tree.
    """
    labels = list(trees)
    order = labels + labels[::-1] if len(labels) > 1 else labels
    runs: dict[str, list[Figures]] = {label: [] for label in labels}
    for label in order:
        runs[label].append(queue_figures(trees[label], args.quick, bench_file))
    return {label: mean_figures(figures) for label, figures in runs.items()}


def mean_figures(runs: Sequence[Figures]) -> Figures:
    """Figure by figure, the mean over the runs that report it."""
    names = dict.fromkeys(name for figures in runs for name in figures)
    return {
        name: round(statistics.fmean(figures[name] for figures in runs if name in figures), 3)
        for name in names
    }


def run_http(trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path) -> dict[str, Figures]:
    chosen = {field: getattr(args, field) for field in HTTP_OPTIONS if getattr(args, field) is not None}
    load = dataclasses.replace(bench_server.QUICK if args.quick else bench_server.FULL, **chosen)
    return bench_server.run(trees, load, log_dir)


HTTP_OPTIONS: dict[str, tuple[str, type, str, str]] = {
    "threads": ("--threads", int, "N", "client threads, one keep-alive connection each"),
    "rounds": ("--rounds", int, "N", "turns each server and route takes"),
    "run_seconds": ("--seconds", float, "S", "seconds on `make run`'s server, over all rounds"),
    "stock_seconds": ("--stock-seconds", float, "S", "seconds on `chalice local`, over all rounds"),
    "max_requests": ("--requests", int, "N", "at most this many requests, over all rounds"),
}
"""`bench_server.Load` field -> its command-line option, type, metavar and help."""


def run_aws(trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path) -> dict[str, Figures]:
    """The worst time a submission spends on AWS calls under this tree's Config (`bench.bench_aws`)."""
    from bench import bench_aws

    return {"current": bench_aws.run()}


def run_scale(trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path) -> dict[str, Figures]:
    """The current tree's costs at 1% and 100% of N (`bench.bench_scale`); its figures compare
    two sizes within the run, so a baseline tree is not measured."""
    n = args.scale_n or (bench_scale.DEFAULT_N // 10 if args.quick else bench_scale.DEFAULT_N)
    samples = bench_scale.SAMPLES // 4 if args.quick else bench_scale.SAMPLES
    if args.scale_http:
        return {"current": bench_scale_http.run(n, log_dir, samples)}
    return {"current": bench_scale.run(n, samples)}


def run_similar(trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path) -> dict[str, Figures]:
    """Similar-formula search of this tree only (`bench.bench_similar`); a baseline may not have it."""
    n = args.similar_n or (20_000 if args.quick else 200_000)
    quick = {"queries": 200, "exact_queries": 10, "moto_n": 100} if args.quick else {}
    return {"current": bench_similar.run(n, **quick)}


def run_cost(trees: Mapping[str, Path], args: argparse.Namespace, log_dir: Path) -> dict[str, Figures]:
    """AWS calls and USD per formula, cold start, package size and the sweeper's drain rate
    (`bench.bench_cost`, this tree only)."""
    from bench import bench_cost

    if args.quick:
        return {"current": bench_cost.run(backlog=200, cold_runs=3)}
    return {"current": bench_cost.run()}


BENCHMARKS: dict[str, Callable[[Mapping[str, Path], argparse.Namespace, Path], dict[str, Figures]]] = {
    "http": run_http,
    "queue": run_queue,
    "aws": run_aws,
    "scale": run_scale,
    "similar": run_similar,
    "cost": run_cost,
}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--only", action="append", choices=list(BENCHMARKS), help="run only this (repeatable)")
    parse.add_argument("--baseline", metavar="REV", help="also measure this git revision, side by side")
    parse.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parse.add_argument("--quick", action="store_true", help="shorter runs (a few seconds each)")
    parse.add_argument(
        "--scale-n",
        type=int,
        metavar="N",
        help=f"formulas the scale benchmark stores ({bench_scale.DEFAULT_N:,}; a tenth with --quick)",
    )
    parse.add_argument(
        "--similar-n", type=int, metavar="N", help="formulas in the similar-search library (200,000; 20,000)"
    )
    parse.add_argument(
        "--scale-http",
        action="store_true",
        help="measure the scale benchmark over keep-alive HTTP against `make run`'s server, not in process",
    )
    http = parse.add_argument_group("HTTP load, per route and server (default; with --quick)")
    for field, (flag, kind, metavar, text) in HTTP_OPTIONS.items():
        defaults = f"{getattr(bench_server.FULL, field)}; {getattr(bench_server.QUICK, field)}"
        http.add_argument(flag, dest=field, type=kind, metavar=metavar, help=f"{text} ({defaults})")
    return parse


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the chosen benchmarks and print their figures to ``out`` (standard output by default)."""
    out = out or sys.stdout
    args = parser().parse_args(argv)
    for field, (flag, *_) in HTTP_OPTIONS.items():
        if getattr(args, field) is not None and getattr(args, field) <= 0:
            raise SystemExit(f"{flag} must be more than 0")
    if args.scale_n is not None and args.scale_n < 100:
        raise SystemExit("--scale-n must be at least 100")
    names = list(dict.fromkeys(args.only or BENCHMARKS))
    results: dict[str, dict[str, Figures]] = {}
    with ExitStack() as stack:
        trees = {"current": PROJECT_DIR}
        if args.baseline:
            print(f"checking out {args.baseline} ...", file=sys.stderr, flush=True)
            trees["baseline"] = stack.enter_context(baseline.checkout(PROJECT_DIR, args.baseline))
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        for name in names:
            print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            results[name] = BENCHMARKS[name](trees, args, log_dir)
            if not args.json:
                headings = {"current": "current", "baseline": args.baseline}
                columns = {headings[label]: figures for label, figures in results[name].items()}
                print(
                    table(f"{name}  ({time.perf_counter() - started:.1f} s)", columns), file=out, flush=True
                )
    if args.json:
        merged: dict[str, object] = {
            label: {
                name: value
                for per_tree in results.values()
                for name, value in per_tree.get(label, {}).items()
            }
            for label in trees
        }
        if args.baseline:
            merged["baseline_rev"] = args.baseline
        print(json.dumps(merged, indent=2, sort_keys=True), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
