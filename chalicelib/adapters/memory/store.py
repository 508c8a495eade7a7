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
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
from chalicelib.errors import Conflict, DuplicateFormula, NotFound, RequestInProgress
from chalicelib.ports import (
    STATUS_FAILED,
    STATUS_PROCESSED,
    FormulaRecord,
    IdempotencyCompletion,
    MessageQueue,
    OutboundMessage,
    Page,
)

StepHook = Callable[[str], None]

COMMIT_STEPS = ("check_guards", "check_key", "stage_messages", "apply")
"""Named points in `commit_submission` where ``on_step`` is called (before the step runs)."""


class InMemoryFormulaStore:
    """Owner-scoped formulas in dicts, with a fingerprint guard index and a sorted id list."""

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
        self._formulas: dict[tuple[str, str], FormulaRecord] = {}
        self._guards: dict[tuple[str, str], str] = {}
        self._ids_by_owner: dict[str, list[str]] = {}

    def commit_submission(
        self,
        owner: str,
        records: Sequence[FormulaRecord],
        messages: Sequence[OutboundMessage],
        completion: IdempotencyCompletion | None,
    ) -> None:
        on_step = self._on_step
        guards = self._guards
        with self._lock, self._idempotency.lock:
            if on_step is not None:
                on_step("check_guards")
            for record in records:
                if (owner, record.fingerprint) in guards:
                    raise DuplicateFormula(
                        [
                            Conflict(index=i, fingerprint=r.fingerprint, existing_id=existing)
                            for i, r in enumerate(records)
                            if (existing := guards.get((owner, r.fingerprint))) is not None
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
            formulas = self._formulas
            for record in records:
                formulas[(owner, record.id)] = record
                guards[(owner, record.fingerprint)] = record.id
                ids = self._ids_by_owner.setdefault(owner, [])
                if not ids or ids[-1] < record.id:
                    ids.append(record.id)
                else:
                    bisect.insort(ids, record.id)
            if completion is not None:
                self._idempotency.complete_locked(completion)
            staged.commit()

    def get(self, owner: str, formula_id: str) -> FormulaRecord | None:
        with self._lock:
            return self._formulas.get((owner, formula_id))

    def find_by_fingerprint(self, owner: str, fingerprint: str) -> FormulaRecord | None:
        with self._lock:
            formula_id = self._guards.get((owner, fingerprint))
            return None if formula_id is None else self._formulas[(owner, formula_id)]

    def list(self, owner: str, *, limit: int, after: str | None, status: str | None) -> Page:
        with self._lock:
            ids = self._ids_by_owner.get(owner, [])
            items: list[FormulaRecord] = []
            more = False
            for position in range(0 if after is None else bisect.bisect_right(ids, after), len(ids)):
                record = self._formulas[(owner, ids[position])]
                if status is not None and record.status != status:
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(record)
            return Page(tuple(items), items[-1].id if more else None)

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int = 1) -> bool:
        with self._lock:
            record = self._require(owner, formula_id)
            if record.status == STATUS_PROCESSED:
                return False
            self._formulas[(owner, formula_id)] = replace(
                record, status=STATUS_PROCESSED, processed_at=at, last_error=None, attempts=attempts
            )
            return True

    def mark_failed(self, owner: str, formula_id: str, *, error: str, at: float, attempts: int = 1) -> bool:
        with self._lock:
            record = self._require(owner, formula_id)
            if record.status == STATUS_PROCESSED:
                return False
            self._formulas[(owner, formula_id)] = replace(
                record, status=STATUS_FAILED, last_error=error, attempts=attempts
            )
            return True

    def _require(self, owner: str, formula_id: str) -> FormulaRecord:
        record = self._formulas.get((owner, formula_id))
        if record is None:
            raise NotFound(f"No formula {formula_id}.")
        return record

    def __len__(self) -> int:
        with self._lock:
            return len(self._formulas)
