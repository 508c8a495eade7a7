"""`make run` takes a setting given in the shell over the stage's value (docs/devserver.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import unique_formula
from tests.e2e.conftest import start_fast

pytestmark = pytest.mark.e2e


def test_a_setting_from_the_shell_wins_over_the_stage(tmp_path: Path) -> None:
    # The local stage sets FI_QUEUE_CAPACITY to 100000 (.chalice/config.json) and FI_WORKER to 1.
    server = start_fast(tmp_path, worker="auto", FI_QUEUE_CAPACITY="2", FI_WORKER="0")
    try:
        statuses = [server.request("POST", "/formulas", unique_formula()).status for _ in range(3)]
        refused = server.request("POST", "/formulas", unique_formula())
        stats = server.request("GET", "/queue/stats").json()
    finally:
        server.stop()
    assert statuses == [201, 201, 503], "the third message finds the queue full at the shell's capacity"
    assert refused.json()["error"]["code"] == "queue_full"
    assert (stats["ready"], stats["in_flight"]) == (2, 0), "no in-process worker took a message"
