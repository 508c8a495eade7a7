"""The benchmark harness still runs: figures are produced and named, never timed against a limit."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from bench import __main__ as bench_main
from bench import bench_api


def test_the_api_benchmark_reports_every_figure() -> None:
    figures = bench_api.run(quick=True)
    assert set(figures) == {
        "api_trivial_get_per_s",
        "api_post_formulas_per_s",
        "api_post_formulas_with_key_per_s",
        "api_post_vs_trivial",
        "api_post_vs_trivial_round_min",
        "api_post_vs_trivial_round_median",
        "api_post_vs_trivial_round_max",
        "api_trivial_get_us",
        "api_post_formulas_us",
        "api_stage_parse_us",
        "api_stage_submit_us",
        "api_stage_queue_publish_us",
    }
    assert all(figures[name] > 0 for name in figures if not name.startswith("api_stage_"))
    spread = [figures[f"api_post_vs_trivial_round_{name}"] for name in ("min", "median", "max")]
    assert spread == sorted(spread)


def test_the_runner_prints_one_json_object_for_the_chosen_module() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert bench_main.main(["--json", "--quick", "--only", "api"]) == 0
    figures = json.loads(out.getvalue())
    assert figures["api_post_formulas_per_s"] > 0 and "cycle_per_s" not in figures


def test_an_unknown_module_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="no benchmark 'nope'"):
        bench_main.select(bench_main.discover(), ["nope"])
    assert bench_main.select(["bench_api", "bench_queue"], ["queue"]) == ["bench_queue"]
