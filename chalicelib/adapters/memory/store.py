"""In-memory formula store: formulas, the make-up guard, and all-or-nothing commit with the queue.

A submission commits in two phases under the store lock (then the idempotency lock, always in
that order):

1. *prepare* — check every fingerprint against the owner's guard index, check the
   Idempotency-Key lock is still ours, and stage the messages in the queue (which reserves
   capacity, so `QueueFull` surfaces here). Any failure rolls the staged messages back; nothing
   has been written.
2. *apply* — write formulas and guards, complete the key, commit the staged messages. These
   steps cannot fail (plain dict/list writes and a reserved queue commit).

Readers take the store lock too, so no reader sees a formula before its message is committed,
and a consumer that receives the message and then reads the formula blocks until the commit
finishes. ``on_step`` lets tests inject a failure at each named step.

Every critical section costs O(log n + what it returns), n being the owner's formulas: a commit
writes its batch, a read finds one record, a listing reads its page from the ordered ids or
from the status index, a status change moves one id between two status sets. Only ``len`` (for
tests and diagnostics, never on a request path) walks the partitions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from chalicelib.adapters.memory._sorted_ids import SortedIds
from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
from chalicelib.errors import Conflict, DuplicateFormula, NotFound, RequestInProgress
from chalicelib.ports.queue import MessageQueue
from chalicelib.ports.store import (
    STATUS_FAILED,
    STATUS_PROCESSED,
    STATUSES,
    FormulaRecord,
    IdempotencyCompletion,
    NearDuplicate,
    OutboundMessage,
    Page,
    StatusChange,
    StoredMaterial,
)

StepHook = Callable[[str], None]

COMMIT_STEPS = ("check_guards", "check_key", "stage_messages", "apply")
"""Named points in `commit_submission` where ``on_step`` is called (before the step runs)."""


class _Partition:
    """One owner's formulas: by id, the make-up guard (fingerprint -> id), the ids in order, and
    per status the ids of the formulas that have it (the status index, kept in step with every
    status change in the same critical section)."""

    __slots__ = ("by_status", "formulas", "guards", "ids")

    def __init__(self) -> None:
        self.formulas: dict[str, FormulaRecord] = {}
        self.guards: dict[str, str] = {}
        self.ids = SortedIds()
        self.by_status: dict[str, SortedIds] = {status: SortedIds() for status in STATUSES}


_NO_PARTITION = _Partition()
"""What an owner with no formulas reads (never written to)."""

_NO_IDS = SortedIds()
"""What a listing by a status no formula can have reads (never written to)."""


class InMemoryFormulaStore:
    """Formulas partitioned by owner (as DynamoDB partitions them by key), each partition with
    its fingerprint guard index and a sorted id list."""

    def __init__(
        self,
        queue: MessageQueue,
        idempotency: InMemoryIdempotencyStore,
        *,
        on_step: StepHook | None = None,
    ) -> None:
        self._queue = queue
        self._idempotency = idempotency
        self._on_step = on_step
        self._lock = threading.RLock()
        self._partitions: dict[str, _Partition] = {}
        self._materials: dict[tuple[type, str, str], StoredMaterial] = {}

    def _shared(self, record: FormulaRecord) -> FormulaRecord:
        """``record`` holding the store's one copy of each of its materials (call with the lock).

        Formulas draw their materials from a small vocabulary at a few concentrations, so most
        materials are held once for all the formulas that list them. A material is shared only
        with one of the same type, name and written concentration (``12.50`` is not ``12.5``),
        so a record reads back exactly as it was committed.
        """
        known = self._materials
        shared = tuple(known.setdefault((type(m), m.name, str(m.concentration)), m) for m in record.materials)
        if all(a is b for a, b in zip(shared, record.materials, strict=True)):
            return record
        return replace(record, materials=shared)

    def commit_submission(
        self,
        owner: str,
        records: Sequence[FormulaRecord],
        messages: Sequence[OutboundMessage],
        completion: IdempotencyCompletion | None,
    ) -> None:
        on_step = self._on_step
        with self._lock, self._idempotency.lock:
            if on_step is not None:
                on_step("check_guards")
            partition = self._partitions.get(owner, _NO_PARTITION)
            guards = partition.guards
            for record in records:
                if record.fingerprint in guards:
                    raise DuplicateFormula(
                        [
                            Conflict(index=i, fingerprint=r.fingerprint, existing_id=existing)
                            for i, r in enumerate(records)
                            if (existing := guards.get(r.fingerprint)) is not None
                        ]
                    )
            if on_step is not None:
                on_step("check_key")
            if completion is not None and not self._idempotency.holds_locked(completion):
                raise RequestInProgress("The Idempotency-Key lock expired and was taken by another request.")
            if on_step is not None:
                on_step("stage_messages")
            staged = self._queue.stage()
            try:
                for message in messages:
                    staged.send(message.body, dedup_id=message.message_id)
                if on_step is not None:
                    on_step("apply")
            except BaseException:
                staged.rollback()
                raise
            if partition is _NO_PARTITION:
                partition = self._partitions[owner] = _Partition()
            formulas, guards, ids, by_status = (
                partition.formulas,
                partition.guards,
                partition.ids,
                partition.by_status,
            )
            for record in records:
                formulas[record.id] = record = self._shared(record)
                guards[record.fingerprint] = record.id
                ids.add(record.id)
                by_status[record.status].add(record.id)
            if completion is not None:
                self._idempotency.complete_locked(completion)
            staged.commit()

    def get(self, owner: str, formula_id: str) -> FormulaRecord | None:
        with self._lock:
            return self._partitions.get(owner, _NO_PARTITION).formulas.get(formula_id)

    def find_by_fingerprint(self, owner: str, fingerprint: str) -> FormulaRecord | None:
        with self._lock:
            partition = self._partitions.get(owner, _NO_PARTITION)
            formula_id = partition.guards.get(fingerprint)
            return None if formula_id is None else partition.formulas[formula_id]

    def list(self, owner: str, *, limit: int, after: str | None, status: str | None) -> Page:
        """A page read from the ordered ids, or from the status index: O(log n + limit)."""
        with self._lock:
            partition = self._partitions.get(owner, _NO_PARTITION)
            index = partition.ids if status is None else partition.by_status.get(status, _NO_IDS)
            ids = index.after(after, limit + 1)
            items = tuple(partition.formulas[formula_id] for formula_id in ids[:limit])
            return Page(items, items[-1].id if len(ids) > limit else None)

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int = 1) -> StatusChange:
        return self._set_status(
            owner, formula_id, status=STATUS_PROCESSED, processed_at=at, last_error=None, attempts=attempts
        )

    def mark_failed(
        self, owner: str, formula_id: str, *, error: str, at: float, attempts: int = 1
    ) -> StatusChange:
        return self._set_status(owner, formula_id, status=STATUS_FAILED, last_error=error, attempts=attempts)

    def set_near_duplicates(self, owner: str, formula_id: str, near: Sequence[NearDuplicate]) -> None:
        with self._lock:
            record = self._require(owner, formula_id)
            self._partitions[owner].formulas[formula_id] = replace(record, near_duplicates=tuple(near))

    def _set_status(self, owner: str, formula_id: str, **changes: Any) -> StatusChange:
        """Apply ``changes`` unless the formula is processed (terminal); NotFound if absent."""
        with self._lock:
            record = self._require(owner, formula_id)
            if record.status == STATUS_PROCESSED:
                return StatusChange(False, record)
            partition = self._partitions[owner]
            changed = partition.formulas[formula_id] = replace(record, **changes)
            if changed.status != record.status:
                # The stored id, not the caller's equal copy: the index then holds no string of its own.
                partition.by_status[record.status].discard(record.id)
                partition.by_status[changed.status].add(record.id)
            return StatusChange(True, changed)

    def _require(self, owner: str, formula_id: str) -> FormulaRecord:
        record = self._partitions.get(owner, _NO_PARTITION).formulas.get(formula_id)
        if record is None:
            raise NotFound(f"No formula {formula_id}.")
        return record

    def __len__(self) -> int:
        with self._lock:
            return sum(len(partition.formulas) for partition in self._partitions.values())
