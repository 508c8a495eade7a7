"""`SerializedClient` runs one API call at a time and passes everything else through."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.adapters.aws.serialized import SerializedClient


class SlowClient:
    exceptions = object()

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        self.release.wait(5)
        self.inside -= 1
        return kwargs


def test_calls_do_not_overlap_and_results_pass_through() -> None:
    raw = SlowClient()
    client = SerializedClient(raw, threading.Lock())
    results: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: results.append(client.update_item(n=1)))
    first.start()
    assert raw.entered.wait(5)
    second = threading.Thread(target=lambda: results.append(client.update_item(n=2)))
    second.start()
    second.join(0.2)
    assert second.is_alive(), "the second call waits for the first"
    raw.release.set()
    first.join(5)
    second.join(5)
    assert raw.most_inside == 1
    assert sorted(r["n"] for r in results) == [1, 2]
    assert client.exceptions is raw.exceptions
