"""The DynamoDB similarity index retries keys DynamoDB left unprocessed (throttling) after a
jittered pause within a budget, as the formula store does, never in a tight loop."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.aws.backoff import Backoff
from chalicelib.adapters.aws.similarity import DynamoSimilarityIndex
from chalicelib.clock import FakeClock
from chalicelib.errors import InfrastructureError


class Throttling:
    """Leaves every request unprocessed the first ``times`` calls, then answers it."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0

    def batch_write_item(self, RequestItems: Any) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls += 1
        return {"UnprocessedItems": RequestItems if self.calls <= self.times else {}}

    def batch_get_item(self, RequestItems: Any) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        if self.calls <= self.times:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return {"Responses": {"t": [{"id": {"S": "x"}}]}}


def index(client: Throttling, pauses: list[float], budget: float = 2.0) -> DynamoSimilarityIndex:
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)

    return DynamoSimilarityIndex(
        client, "t", backoff=Backoff(budget, clock=clock, sleep=sleep, rand=lambda: 1.0)
    )


def test_unprocessed_writes_and_reads_are_retried_after_growing_pauses() -> None:
    pauses: list[float] = []
    client = Throttling(times=3)
    index(client, pauses)._write([{"PutRequest": {"Item": {}}}])
    assert client.calls == 4 and pauses == [0.05, 0.1, 0.2]
    pauses.clear()
    client = Throttling(times=2)
    found, calls = index(client, pauses)._formulas("acme", ["01J"])
    assert found == [{"id": {"S": "x"}}] and calls == 3 and pauses == [0.05, 0.1]


def test_throttling_past_the_budget_is_a_503_not_a_spin() -> None:
    pauses: list[float] = []
    client = Throttling(times=10**6)
    with pytest.raises(InfrastructureError, match="throttling writes"):
        index(client, pauses, budget=1.0)._write([{"PutRequest": {"Item": {}}}])
    assert 0 < len(pauses) < 10 and sum(pauses) <= 1.0
    with pytest.raises(InfrastructureError, match="throttling reads"):
        index(Throttling(times=10**6), [], budget=1.0)._formulas("acme", ["01J"])
