"""In-memory queue throughput, beside the standard library's `queue.Queue` in the same run.

Figures (operations per second, best of a few rounds, garbage collector on, one thread):

- ``stdlib_put_get_per_s``: ``queue.Queue`` put + get of one item (the yardstick);
- ``send_per_s``: `InMemoryQueue.send`;
- ``receive_ack_per_s``: ``receive(max_messages=1)`` + ``ack`` from a pre-filled queue;
- ``cycle_per_s``: send + receive + ack of one message;
- ``receive_ack_per_s_1k_held`` / ``_100k_held``: receive + ack while the queue holds about
  1,000 / 100,000 messages (each timed batch of 100 is re-sent, untimed, to keep the count);
- ``cycle_per_s_formula_body``: the cycle with a full ``formula.submitted`` body (3 materials);
- ``cycle_per_s_text_path``: the cycle with ``BODY``'s owner spelt ``"acmé"``: not ASCII, so the
  queue keeps it as JSON text and parses it per delivery instead of copying a flat dict (see
  ``chalicelib/adapters/memory/_bodies.py``): the same shape on the general body path;
- ``cycle_vs_stdlib`` and ``held_100k_vs_1k``: the ratios the targets are stated in;
  ``cycle_text_path_vs_stdlib``: the same ratio for the general body path.

Every loop binds its methods to locals, the stdlib one included, so the ratio compares queue
work, not attribute lookups. The body is a small job message, which the queue keeps as a copy of
a flat dict; bodies it keeps as JSON text cost more (``cycle_per_s_text_path``), and the JSON work
grows with the body (``cycle_per_s_formula_body``). Run with ``python -m bench --only queue``.
"""

from __future__ import annotations

import queue
import time
from decimal import Decimal

from chalicelib.adapters.memory.queue import InMemoryQueue

BODY = {"formula_id": "01JDQ7Z8X4M3N5P6Q7R8S9T0VW", "owner": "acme"}
TEXT_PATH_BODY = {**BODY, "owner": "acm\u00e9"}
FORMULA_BODY = {
    "type": "formula.submitted",
    "version": 1,
    "message_id": "01JDQ7Z8X4M3N5P6Q7R8S9T0VX",
    "formula_id": "01JDQ7Z8X4M3N5P6Q7R8S9T0VW",
    "owner": "acme",
    "fingerprint": "v1:5d41402abc4b2a76b9719d911017c592",
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
    put, get, body = q.put, q.get, BODY
    started = time.perf_counter()
    for _ in range(count):
        put(body)
        get()
    return count / (time.perf_counter() - started)


def send(count: int) -> float:
    q = _big_queue()
    send, body = q.send, BODY
    started = time.perf_counter()
    for _ in range(count):
        send(body)
    return count / (time.perf_counter() - started)


def receive_ack(count: int) -> float:
    q = _big_queue()
    for _ in range(count):
        q.send(BODY)
    receive, ack = q.receive, q.ack
    started = time.perf_counter()
    for _ in range(count):
        ack(receive(max_messages=1)[0].receipt_handle)
    return count / (time.perf_counter() - started)


def cycle(count: int, body: object = BODY) -> float:
    q = _big_queue()
    send, receive, ack = q.send, q.receive, q.ack
    started = time.perf_counter()
    for _ in range(count):
        send(body)
        ack(receive(max_messages=1)[0].receipt_handle)
    return count / (time.perf_counter() - started)


def receive_ack_held(held: int, count: int) -> float:
    q = _big_queue()
    send, receive, ack = q.send, q.receive, q.ack
    for _ in range(held):
        send(BODY)
    timed = 0.0
    for _ in range(count // BATCH):
        started = time.perf_counter()
        for _ in range(BATCH):
            ack(receive(max_messages=1)[0].receipt_handle)
        timed += time.perf_counter() - started
        for _ in range(BATCH):
            send(BODY)
    return (count // BATCH * BATCH) / timed


def run(quick: bool) -> dict[str, float]:
    rounds, count, held_count = (1, 20_000, 10_000) if quick else (3, 150_000, 50_000)
    figures: dict[str, float] = {}
    for _ in range(rounds):
        measured = {
            "stdlib_put_get_per_s": stdlib_put_get(count * 2),
            "send_per_s": send(count),
            "receive_ack_per_s": receive_ack(count),
            "cycle_per_s": cycle(count),
            "receive_ack_per_s_1k_held": receive_ack_held(1_000, held_count),
            "receive_ack_per_s_100k_held": receive_ack_held(100_000, held_count),
            "cycle_per_s_formula_body": cycle(count // 4, FORMULA_BODY),
            "cycle_per_s_text_path": cycle(count, TEXT_PATH_BODY),
        }
        for name, rate in measured.items():
            figures[name] = max(figures.get(name, 0.0), rate)
    figures = {name: round(rate) for name, rate in figures.items()}
    figures["cycle_vs_stdlib"] = round(figures["cycle_per_s"] / figures["stdlib_put_get_per_s"], 3)
    figures["cycle_text_path_vs_stdlib"] = round(
        figures["cycle_per_s_text_path"] / figures["stdlib_put_get_per_s"], 3
    )
    figures["held_100k_vs_1k"] = round(
        figures["receive_ack_per_s_100k_held"] / figures["receive_ack_per_s_1k_held"], 3
    )
    return figures
