"""In-memory queue throughput, beside the standard library's `queue.Queue` in the same run.

Figures (operations per second, best of a few rounds, garbage collector on, one thread):

- ``stdlib_put_get_per_s``: ``queue.Queue`` put + get of one item (the yardstick);
- ``receive_ack_per_s_1k_held`` / ``_100k_held``: receive + ack of a ``formula.submitted``
  message while the queue holds about 1,000 / 100,000 of them (each timed batch is re-sent,
  untimed, to keep the count), and ``held_100k_vs_1k``, their ratio: the cost of an operation
  must not grow with the backlog;
- ``formula_cycle_per_s``: the path a submission's message takes in the service: staged
  (``stage().send`` with its dedup id, then ``commit``), received and acked; and
  ``formula_cycle_vs_stdlib``, its ratio to the yardstick.

The message is the real ``formula.submitted`` shape: a nested dict whose ``materials`` list
holds ``{name, concentration}`` objects with `Decimal` concentrations. Figures are printed,
never asserted. Run with ``python -m bench --only queue``.
"""

from __future__ import annotations

import queue
import time
from decimal import Decimal

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.jsonio import JsonValue

FORMULA_MESSAGE: dict[str, JsonValue] = {
    "type": "formula.submitted",
    "version": 1,
    "message_id": "evt_01JDQ7Z8X4M3N5P6Q7R8S9T0VW",
    "formula_id": "01JDQ7Z8X4M3N5P6Q7R8S9T0VW",
    "owner": "acme",
    "fingerprint": "v2:5d41402abc4b2a76b9719d911017c592",
    "name": "Summer Breeze",
    "materials": [
        {"name": "Bergamot Oil", "concentration": Decimal("15.5")},
        {"name": "Lavender Absolute", "concentration": Decimal("10.0")},
        {"name": "Sandalwood", "concentration": Decimal("5.2")},
    ],
    "occurred_at": "2026-11-27T23:46:56.123Z",
}
BATCH = 100


def _big_queue() -> InMemoryQueue:
    return InMemoryQueue(capacity=10**7)


def stdlib_put_get(count: int) -> float:
    q: queue.Queue[object] = queue.Queue()
    started = time.perf_counter()
    for _ in range(count):
        q.put(FORMULA_MESSAGE)
        q.get()
    return count / (time.perf_counter() - started)


def receive_ack_held(held: int, count: int) -> float:
    q = _big_queue()
    for _ in range(held):
        q.send(FORMULA_MESSAGE)
    timed = 0.0
    for _ in range(count // BATCH):
        started = time.perf_counter()
        for _ in range(BATCH):
            q.ack(q.receive()[0].receipt_handle)
        timed += time.perf_counter() - started
        for _ in range(BATCH):
            q.send(FORMULA_MESSAGE)
    return (count // BATCH * BATCH) / timed


def formula_cycle(count: int) -> float:
    """Staged publish (as the store does it), receive and ack of one message at a time."""
    q = _big_queue()
    dedup_ids = [f"evt_{n}" for n in range(count)]
    started = time.perf_counter()
    for dedup_id in dedup_ids:
        staged = q.stage()
        staged.send(FORMULA_MESSAGE, dedup_id=dedup_id)
        staged.commit()
        q.ack(q.receive()[0].receipt_handle)
    return count / (time.perf_counter() - started)


def run(quick: bool) -> dict[str, float]:
    rounds, count, held_count = (1, 5_000, 5_000) if quick else (3, 50_000, 50_000)
    figures: dict[str, float] = {}
    for _ in range(rounds):
        measured = {
            "stdlib_put_get_per_s": stdlib_put_get(count * 4),
            "receive_ack_per_s_1k_held": receive_ack_held(1_000, held_count),
            "receive_ack_per_s_100k_held": receive_ack_held(100_000, held_count),
            "formula_cycle_per_s": formula_cycle(count),
        }
        for name, rate in measured.items():
            figures[name] = max(figures.get(name, 0.0), rate)
    figures = {name: round(rate) for name, rate in figures.items()}
    figures["held_100k_vs_1k"] = round(
        figures["receive_ack_per_s_100k_held"] / figures["receive_ack_per_s_1k_held"], 3
    )
    figures["formula_cycle_vs_stdlib"] = round(
        figures["formula_cycle_per_s"] / figures["stdlib_put_get_per_s"], 3
    )
    return figures
