"""Run the benchmarks: ``python -m bench [--json] [--quick] [--only NAME ...]``.

Every module ``bench/bench_<name>.py`` is a benchmark: it defines ``run(quick: bool) ->
dict[str, float]`` and returns its figures, named so they do not clash with another module's.
Without ``--json`` each module's figures are printed as an aligned table; with ``--json`` the
output is ONE JSON object merging every module's figures (progress goes to stderr). ``--only``
picks modules by name (``queue`` or ``bench_queue``; repeatable). Timings are printed, never
asserted: the tests do not depend on the speed of the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Figures = dict[str, float]


def discover() -> list[str]:
    """The names of the benchmark modules, sorted (``bench_queue``, ...)."""
    return sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))


def select(available: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The modules named by ``wanted`` (with or without the ``bench_`` prefix), or all."""
    if not wanted:
        return list(available)
    chosen = []
    for name in wanted:
        module = name if name.startswith("bench_") else f"bench_{name}"
        if module not in available:
            raise SystemExit(f"no benchmark {name!r}; available: {', '.join(available)}")
        chosen.append(module)
    return chosen


def format_value(value: float) -> str:
    """Rates with thousands separators; ratios and small figures with three decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1000 or (float(value).is_integer() and abs(value) >= 100):
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def table(title: str, figures: Figures) -> str:
    """``figures`` as an aligned two-column table under ``title``."""
    if not figures:
        return f"{title}\n  (no figures)"
    width = max(len(name) for name in figures)
    values = {name: format_value(value) for name, value in figures.items()}
    value_width = max(len(text) for text in values.values())
    lines = [title] + [f"  {name:<{width}}  {values[name]:>{value_width}}" for name in figures]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a few seconds each)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this module")
    args = parser.parse_args(argv)

    merged: Figures = {}
    for name in select(discover(), args.only):
        run: Callable[[bool], Figures] = importlib.import_module(f"bench.{name}").run
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        figures = run(args.quick)
        elapsed = time.perf_counter() - started
        clash = sorted(set(figures) & set(merged))
        if clash:
            raise SystemExit(f"{name} reports figures another module already reported: {clash}")
        merged.update(figures)
        if not args.json:
            print(table(f"{name}  ({elapsed:.1f} s)", figures), flush=True)
    if args.json:
        print(json.dumps(merged, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
