"""What a request costs as the data grows, and what a stored formula costs in memory.

Runs in process on the in-memory backend, through the services a request reaches (validation,
`SubmissionService`, `chalicelib.services.queries`), without HTTP: the HTTP layer's cost does
not depend on how much is stored, and leaving it out shows the store's share undiluted. One
owner is filled with N formulas of three materials each (names from a vocabulary of 300, as a
catalogue of raw materials would give; concentrations from a handful of values); a worker
stand-in drains the queue as it goes and leaves 1 in 20 formulas queued and 1 in 50 failed.

Figures (``scale_`` prefix):

- ``bytes_per_formula``: traced memory (``tracemalloc``) held by the store, the keys and the
  drained queue per stored formula, over ``min(N, 100,000)`` formulas filled on their own;
- ``{op}_p50_us`` / ``{op}_p99_us`` at 1% of N (``small``) and at N (``full``), and
  ``{op}_ratio``, p50 at N over p50 at 1% (the goal is at most 1.2), for ``submit`` (a new
  formula), ``get`` (a random stored one), ``list`` (50 after a random cursor) and
  ``status_list`` (``status=queued``, 50 after a random cursor).

Both sizes are measured alike: reads pick formulas at random across everything stored before
the reads began (none of the formulas the submit samples add, which would still be in the CPU
cache), and every listing's cursor has a full page after it in its own index (at 1% only one
formula in twenty is queued, so a cursor picked among all ids would often leave a short page).
Submissions are timed last, after the reads.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.config import Settings
from chalicelib.domain import parse_document
from chalicelib.ids import UlidFactory
from chalicelib.ports.store import STATUS_QUEUED
from chalicelib.services import queries

OWNER = "bench"
DEFAULT_N = 200_000
MEMORY_N = 100_000
SAMPLES = 2_000
PAGE = 50
_VOCABULARY = [f"{kind} {n:03d}" for kind in ("Oil", "Absolute", "Aldehyde") for n in range(100)]
_CONCENTRATIONS = ["0.5", "1.25", "2", "4.50", "10"]


def document(number: int) -> dict[str, Any]:
    """Formula ``number``: a make-up no other number has (one name from each third of the
    vocabulary, by digit, and a concentration chosen by the number)."""
    names = (
        _VOCABULARY[number % 100],
        _VOCABULARY[100 + number // 100 % 100],
        _VOCABULARY[200 + number // 10_000 % 100],
    )
    shift = number // 1_000_000
    return {
        "name": f"Formula {number}",
        "materials": [
            {"name": name, "concentration": _CONCENTRATIONS[(shift + i) % len(_CONCENTRATIONS)]}
            for i, name in enumerate(names)
        ],
    }


def stays_queued(number: int) -> bool:
    """Whether the worker stand-in leaves formula ``number`` queued (1 in 20)."""
    return number % 20 == 7


class Backend:
    """In-memory services on a fake clock that moves a millisecond per submission, with a
    worker stand-in that acknowledges messages and sets statuses."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        queue = InMemoryQueue(clock=self.clock, capacity=1_000_000)
        self.services = bootstrap.build_memory(
            Settings(queue_capacity=1_000_000), clock=self.clock, new_id=UlidFactory(self.clock), queue=queue
        )
        self.queue = queue
        self.ids: list[str] = []

    def submit(self, number: int) -> None:
        self.clock.advance(0.001)
        result = self.services.submissions.submit(OWNER, parse_document(document(number)), None)
        self.ids.append(result.location[len("/formulas/") :] if result.location else "")

    def fill(self, count: int) -> None:
        for _ in range(count):
            self.submit(len(self.ids))
            if len(self.ids) % 1000 == 0:
                self.drain()
        self.drain()

    def drain(self) -> None:
        """Take every ready message as a worker would; leave 1 in 20 queued, mark 1 in 50 failed."""
        store = self.services.store
        while batch := self.queue.receive(max_messages=10):
            for message in batch:
                self.queue.ack(message.receipt_handle)
                body = message.body
                assert isinstance(body, dict)
                formula_id = str(body["formula_id"])
                number = int(str(body["name"]).rsplit(" ", 1)[1])
                if stays_queued(number):
                    continue
                if number % 50 == 3:
                    store.mark_failed(OWNER, formula_id, error="bench", at=self.clock())
                else:
                    store.mark_processed(OWNER, formula_id, at=self.clock())

    def forget_recent(self) -> None:
        """Let the queue's deduplication records and retention run out, as they would by tomorrow."""
        self.clock.advance(10 * 24 * 3600)
        self.queue.stats()


def bytes_per_formula(count: int) -> float:
    """Traced bytes the backend holds per stored formula after ``count`` were submitted."""
    gc.collect()
    tracemalloc.start()
    try:
        backend = Backend()
        backend.fill(1)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        backend.fill(count)
        backend.forget_recent()
        backend.ids.clear()  # the bench's own list of ids is not the server's memory
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count


def sample(operation: Callable[[random.Random], object], rng: random.Random, count: int) -> list[float]:
    """``count`` timings of ``operation`` in microseconds."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        operation(rng)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def reads(backend: Backend) -> dict[str, Callable[[random.Random], dict[str, Any]]]:
    """The read operations over the formulas stored now: a random one, and pages of 50 after a
    random cursor that leaves a full page in the listing's own index."""
    store = backend.services.store
    stored = backend.ids[:]
    queued = [formula_id for number, formula_id in enumerate(stored) if stays_queued(number)]

    def get(rng: random.Random) -> dict[str, Any]:
        return queries.get_formula(store, OWNER, stored[rng.randrange(len(stored))])

    def listing(index: list[str], status: str | None) -> Callable[[random.Random], dict[str, Any]]:
        def run(rng: random.Random) -> dict[str, Any]:
            after = index[rng.randrange(max(1, len(index) - PAGE))] if index else None
            return queries.list_formulas(store, OWNER, limit=PAGE, after=after, status=status)

        return run

    return {"get": get, "list": listing(stored, None), "status_list": listing(queued, STATUS_QUEUED)}


def latencies(backend: Backend, samples: int) -> dict[str, list[float]]:
    """Timings per operation: the reads first, over the formulas stored so far, then submissions."""
    rng = random.Random(15)
    timings = {op: sample(read, rng, samples) for op, read in reads(backend).items()}
    timings["submit"] = sample(lambda rng: backend.submit(len(backend.ids)), rng, samples)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(n: int = DEFAULT_N, samples: int = SAMPLES) -> dict[str, float]:
    """Every figure of the module docstring for N = ``n`` (``samples`` timings per operation)."""
    figures: dict[str, float] = {"scale_n": float(n)}
    figures["scale_bytes_per_formula"] = round(bytes_per_formula(min(n, MEMORY_N)), 1)
    backend = Backend()
    measured: dict[str, dict[str, list[float]]] = {}
    for label, size in (("small", max(1, n // 100)), ("full", n)):
        backend.fill(size - len(backend.ids))
        measured[label] = latencies(backend, samples)
        backend.drain()
    figures.update(size_figures("scale", "us", measured))
    return figures


def size_figures(prefix: str, unit: str, measured: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    """p50 and p99 per operation at each size (``small``, ``full``) and the ratio of the p50s."""
    figures: dict[str, float] = {}
    for op in measured["small"]:
        for label in ("small", "full"):
            figures[f"{prefix}_{op}_{label}_p50_{unit}"] = round(statistics.median(measured[label][op]), 3)
            figures[f"{prefix}_{op}_{label}_p99_{unit}"] = round(percentile(measured[label][op], 0.99), 3)
        figures[f"{prefix}_{op}_ratio"] = round(
            figures[f"{prefix}_{op}_full_p50_{unit}"] / figures[f"{prefix}_{op}_small_p50_{unit}"], 3
        )
    return figures
