"""How fast the sweeper drains a stranded outbox backlog.

- ``sweep_items_per_s``: outbox items published per second by `lambda_handlers.sweep` from a
  stranded backlog on moto; ``drain_60k_minutes``: 60,000 items at one sweep a minute, each
  working for `SWEEP_BUDGET_SHARE` of its 25-second budget; ``_at_10ms``: the same with every
  AWS call waiting `NETWORK_SECONDS` first;
- ``sweep_items_per_s_network_only``: `OutboxRelay.sweep` over an outbox and queue whose calls
  cost only that round trip (moto's CPU taken out).

Run inside `bench.bench_aws.moto_with_fake_credentials` (`bench.bench_cost.run` does). Nothing is
asserted.
"""

from __future__ import annotations

import time
from typing import Any

from bench.bench_aws import aws_services

NETWORK_SECONDS = 0.010
"""Round-trip time modelled for each AWS call in the ``latency`` drain (a call inside one region
takes a few to a few tens of milliseconds; moto answers in-process in well under one)."""


def drain(backlog: int, *, latency: float = 0.0) -> dict[str, float]:
    """Publish a stranded backlog with the sweeper; its rate and what it means for 60,000 items.

    With ``latency``, every AWS call waits that long first (`bench.bench_aws.Latency`): the sweep then spends
    its time as it does on AWS, waiting on the network, which it overlaps across items.
    """
    from chalicelib.adapters.aws.relay import SWEEP_BUDGET_SECONDS, SWEEP_BUDGET_SHARE
    from chalicelib.entrypoints import lambda_handlers
    from chalicelib.ports.store import OutboundMessage

    with aws_services(f"bench-drain{int(latency * 1000)}", latency=latency) as aws:
        store = aws["services"].store
        for n in range(backlog):
            message = OutboundMessage(
                f"evt_{n:08d}", {"type": "formula.submitted", "formula_id": f"F{n:08d}", "owner": "bench"}
            )
            put = store.outbox.put_action("bench", [message], created_at=time.time() - 120)["Put"]
            aws["dynamodb"].put_item(TableName=put["TableName"], Item=put["Item"])
        started = time.perf_counter()
        published = 0
        while published < backlog:
            result = lambda_handlers.sweep(
                aws["services"], older_than_seconds=0, budget_seconds=SWEEP_BUDGET_SECONDS
            )
            if not result.completed:
                break
            published += len(result.completed)
        elapsed = time.perf_counter() - started
    rate = published / elapsed
    per_sweep = rate * SWEEP_BUDGET_SECONDS * SWEEP_BUDGET_SHARE
    suffix = f"_at_{int(latency * 1000)}ms" if latency else ""
    return {
        f"sweep_backlog{suffix}": float(backlog),
        f"sweep_items_per_s{suffix}": round(rate, 1),
        f"sweep_items_per_invocation{suffix}": round(per_sweep),
        f"drain_60k_minutes{suffix}": round(60_000 / per_sweep, 1),
    }


class _NetworkOutbox:
    """An outbox in memory whose every call first waits `NETWORK_SECONDS`, as a DynamoDB call
    does: for the sweeper's rate with the network as its only cost (moto's CPU taken out)."""

    def __init__(self, items: list[Any]) -> None:
        import threading

        self._items = {item.outbox_id: item for item in items}
        self._leases: dict[str, str] = {}
        self._lock = threading.Lock()

    def pending(self, *, limit: int, older_than: float) -> list[Any]:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            return sorted(self._items.values(), key=lambda i: i.outbox_id)[:limit]

    def get(self, outbox_id: str) -> Any:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            return self._items.get(outbox_id)

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            if outbox_id not in self._items or outbox_id in self._leases:
                return False
            self._leases[outbox_id] = token
            return True

    def release(self, outbox_id: str, token: str) -> None:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            self._leases.pop(outbox_id, None)

    def mark_sent(self, outbox_id: str) -> None:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            self._items.pop(outbox_id, None)
            self._leases.pop(outbox_id, None)


class _NetworkQueue:
    """SendMessageBatch that takes `NETWORK_SECONDS` and accepts everything."""

    def publish(self, messages: Any) -> dict[str, str]:
        time.sleep(NETWORK_SECONDS)
        return {}


def drain_network(backlog: int) -> dict[str, float]:
    """The sweeper's own rate when each call costs only a 10 ms round trip (`_NetworkOutbox`):
    one `OutboxRelay.sweep` over a backlog, with the deployed concurrency and page size."""
    from chalicelib.adapters.aws.relay import SWEEP_BUDGET_SECONDS, SWEEP_BUDGET_SHARE, OutboxRelay
    from chalicelib.ports.outbox import OutboxItem
    from chalicelib.ports.store import OutboundMessage

    items = [
        OutboxItem(f"evt_{n:08d}", 0.0, (OutboundMessage(f"evt_{n:08d}", {"n": n}),)) for n in range(backlog)
    ]
    relay = OutboxRelay(_NetworkOutbox(items), _NetworkQueue(), time.time)
    started = time.perf_counter()
    result = relay.sweep(older_than_seconds=0)
    elapsed = time.perf_counter() - started
    rate = len(result.completed) / elapsed
    per_sweep = rate * SWEEP_BUDGET_SECONDS * SWEEP_BUDGET_SHARE
    return {
        "sweep_items_per_s_network_only": round(rate, 1),
        "drain_60k_minutes_network_only": round(60_000 / per_sweep, 1),
    }
