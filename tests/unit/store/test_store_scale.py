"""No critical section of the in-memory store does work that grows with the data.

The cost of a listing is counted, not timed: ``CountingFormulas`` counts the records a listing
reads, and ``CountingLock`` records how many were read during each hold of the store's lock. A
submission can only wait for the critical section it queues behind, so the largest such count
bounds how long a concurrent listing can delay it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
from chalicelib.adapters.memory.store import InMemoryFormulaStore
from chalicelib.clock import FakeClock
from chalicelib.ids import UlidFactory
from chalicelib.ports.store import STATUS_FAILED, STATUS_QUEUED, FormulaRecord, MaterialRecord

BIG, SMALL, WRITER = "big", "small", "writer"
LIMIT = 50
T0 = 1_700_000_000.0


class NullQueue:
    """Accepts staged messages and forgets them (the store's queue is not what is measured)."""

    def stage(self) -> NullQueue:
        return self

    def send(self, body: Any, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        return dedup_id or "m"

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


class CountingFormulas(dict[str, FormulaRecord]):
    """A partition's formulas, counting every record read out of it."""

    reads = 0

    def __getitem__(self, key: str) -> FormulaRecord:
        CountingFormulas.reads += 1
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        CountingFormulas.reads += 1
        return super().get(key, default)


class CountingLock:
    """The store's lock, recording the records read during each outermost hold."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._start = 0
        self.holds: list[int] = []

    def __enter__(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self._start = CountingFormulas.reads

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.holds.append(CountingFormulas.reads - self._start)
        self._lock.release()


def records(new_id: UlidFactory, owner: str, count: int) -> Iterator[FormulaRecord]:
    for number in range(count):
        formula_id = new_id()
        yield FormulaRecord(
            id=formula_id,
            owner=owner,
            name=f"F{number}",
            materials=(MaterialRecord("Musk", Decimal(number + 1)),),
            fingerprint=f"v2:{owner}:{number}",
            status=STATUS_QUEUED,
            created_at=T0,
            message_id=f"evt_{formula_id}",
        )


def filled(sizes: dict[str, int]) -> tuple[InMemoryFormulaStore, CountingLock]:
    """A store whose owners hold ``sizes`` formulas, all processed but the newest ``LIMIT + 1``
    (failed): the listing a scan would have to walk past every processed formula to answer."""
    store = InMemoryFormulaStore(NullQueue(), InMemoryIdempotencyStore())  # type: ignore[arg-type]
    new_id = UlidFactory(FakeClock(T0))
    for owner, size in sizes.items():
        made = list(records(new_id, owner, size))
        for start in range(0, size, 1000):
            store.commit_submission(owner, made[start : start + 1000], [], None)
        for number, record in enumerate(made):
            if number < size - LIMIT - 1:
                store.mark_processed(owner, record.id, at=T0)
            else:
                store.mark_failed(owner, record.id, error="boom", at=T0)
        counting = CountingFormulas(store._partitions[owner].formulas)
        store._partitions[owner].formulas = counting
    lock = store._lock = CountingLock()  # type: ignore[assignment]
    return store, lock


def test_a_status_listing_reads_its_page_whatever_the_owner_holds() -> None:
    store, lock = filled({SMALL: 100, BIG: 20_000})
    for owner in (SMALL, BIG):
        lock.holds.clear()
        page = store.list(owner, limit=LIMIT, after=None, status=STATUS_FAILED)
        assert len(page.items) == LIMIT and page.next_after is not None
        assert lock.holds == [LIMIT]  # one hold, reading the page and nothing else


def test_listings_in_other_threads_never_hold_the_lock_for_more_than_a_page() -> None:
    store, lock = filled({BIG: 20_000})
    new_id = UlidFactory(FakeClock(T0 + 1))
    stop = threading.Event()
    pages: list[int] = []

    def poll() -> None:
        while not stop.is_set():
            after = None
            for _ in range(3):
                page = store.list(BIG, limit=LIMIT, after=after, status=STATUS_FAILED)
                pages.append(len(page.items))
                after = page.next_after
                if after is None:
                    break

    readers = [threading.Thread(target=poll) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        submitted = list(records(new_id, WRITER, 300))
        for record in submitted:
            store.commit_submission(WRITER, [record], [], None)
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert store.list(WRITER, limit=100, after=None, status=None).items == tuple(submitted[:100])
    assert set(pages) == {LIMIT, 1} and len(pages) > 2
    # Whatever a submission queued behind, the longest critical section read one page (and the
    # record after it), not the 20,000 formulas the owner holds.
    assert max(lock.holds) <= LIMIT + 1


def test_formulas_share_equal_materials_and_read_back_as_written() -> None:
    store = InMemoryFormulaStore(NullQueue(), InMemoryIdempotencyStore())  # type: ignore[arg-type]
    new_id = UlidFactory(FakeClock(T0))
    first, second, third = records(new_id, BIG, 3)
    second = replace(second, materials=(MaterialRecord("Musk", Decimal("1")),))
    third = replace(third, materials=(MaterialRecord("Musk", Decimal("1.0")),))
    store.commit_submission(BIG, [first], [], None)
    store.commit_submission(BIG, [second, third], [], None)
    stored = [store.get(BIG, r.id) for r in (first, second, third)]
    assert stored == [first, second, third]
    assert stored[1] is not None and stored[0] is not None and stored[2] is not None
    assert stored[1].materials[0] is stored[0].materials[0]  # "Musk" at 1: held once
    assert str(stored[2].materials[0].concentration) == "1.0"  # equal value, other digits: its own


def test_a_status_change_indexes_the_stored_id_not_the_callers_copy() -> None:
    store, _ = filled({SMALL: 100})
    record = store.list(SMALL, limit=1, after=None, status=STATUS_FAILED).items[0]
    store.mark_processed(SMALL, "".join(list(record.id)), at=T0)  # an equal, distinct string
    (indexed,) = [
        i for i in store._partitions[SMALL].by_status["processed"].after(None, 100) if i == record.id
    ]
    assert indexed is record.id
