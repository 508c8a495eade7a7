"""The dev server keeps its threads on one CPU unless told otherwise (docs/devserver.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import LocalServer, run_devserver, threads_cpus

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
        reason="pinning threads needs Linux and more than one CPU",
    ),
]


def test_by_default_every_thread_runs_on_one_cpu(tmp_path: Path) -> None:
    server = start_fast(tmp_path, worker="1")  # the worker's threads too
    try:
        server.request("GET", "/health")
        assert server.process is not None
        cpus = threads_cpus(server.process.pid)
        log = server.log()
    finally:
        server.stop()
    assert len(cpus) >= 3  # the main thread, a connection's, the worker's
    assert all(len(c) == 1 for c in cpus) and len({frozenset(c) for c in cpus}) == 1, cpus
    (cpu,) = cpus[0]
    assert cpu in os.sched_getaffinity(0)
    assert f"threads kept on CPU {cpu}" in log


def test_cpu_all_leaves_the_threads_to_the_kernel(tmp_path: Path) -> None:
    server = LocalServer(kind="fast", worker="0", args=["--cpu", "all"]).start(tmp_path)
    try:
        assert server.process is not None
        cpus = threads_cpus(server.process.pid)
    finally:
        server.stop()
    assert all(c == os.sched_getaffinity(0) for c in cpus), cpus


def test_a_cpu_the_process_may_not_use_is_one_line_and_status_2() -> None:
    cpu = max(os.sched_getaffinity(0)) + 1
    done = run_devserver("--port", "0", "--worker", "0", "--cpu", str(cpu))
    assert done.returncode == 2
    usable = ", ".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    assert done.stderr.strip().splitlines() == [
        f"cannot keep the server on CPU {cpu}: this process may use CPU {usable}"
    ]
