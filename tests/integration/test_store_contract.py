"""The `FormulaStore` + `IdempotencyStore` contract, run against every adapter pair.

``memory`` is the reference behaviour; ``dynamodb`` (on moto) must be indistinguishable through
the ports. "Published" means: handed to the queue at commit (memory, recorded by a fake staging
queue) or written to the outbox by the commit's transaction (DynamoDB), which the relay later
sends. Either way each accepted formula must yield exactly one message. Time is passed in
explicitly (``now``), never slept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
from chalicelib.adapters.memory.store import InMemoryFormulaStore
from chalicelib.clock import FakeClock
from chalicelib.errors import Conflict, DuplicateFormula, IdempotencyKeyReused, NotFound, RequestInProgress
from chalicelib.ids import UlidFactory
from chalicelib.ports.store import (
    STATUS_FAILED,
    STATUS_PROCESSED,
    STATUS_QUEUED,
    FormulaRecord,
    FormulaStore,
    IdempotencyCompletion,
    IdempotencyStore,
    KeyAcquired,
    KeyCompleted,
    MaterialRecord,
    NearDuplicate,
    OutboundMessage,
    StoredResponse,
)
from chalicelib.services import views
from tests.integration.aws_dynamo_fixtures import TABLE, aws_credentials, dynamodb_client  # noqa: F401

T0 = 1_700_000_000.0
TTL = 3600
LOCK = 60
ALICE, BOB = "alice", "bob"
EXACT = Decimal("1.234567890123456789012345")


class RecordingQueue:
    """Just enough queue for the in-memory store: staged messages are recorded on commit."""

    def __init__(self) -> None:
        self.published: list[tuple[str | None, Any]] = []

    def stage(self) -> _Staged:
        return _Staged(self)


class _Staged:
    def __init__(self, queue: RecordingQueue) -> None:
        self._queue = queue
        self._pending: list[tuple[str | None, Any]] = []

    def send(self, body: Any, *, delay_seconds: int = 0, dedup_id: str | None = None) -> str:
        self._pending.append((dedup_id, body))
        return dedup_id or f"m{len(self._pending)}"

    def commit(self) -> None:
        self._queue.published.extend(self._pending)

    def rollback(self) -> None:
        self._pending.clear()


@dataclass
class Backend:
    store: FormulaStore
    keys: IdempotencyStore
    published: Callable[[], list[tuple[str | None, Any]]]
    new_id: Callable[[], str]

    def record(
        self, owner: str, fingerprint: str, *, concentration: Decimal = Decimal("12.50")
    ) -> FormulaRecord:
        formula_id = self.new_id()
        return FormulaRecord(
            id=formula_id,
            owner=owner,
            name=f"Formula {fingerprint}",
            materials=(MaterialRecord("Bergamot", concentration), MaterialRecord("Musk", Decimal("0.001"))),
            fingerprint=fingerprint,
            status=STATUS_QUEUED,
            created_at=T0,
            message_id=views.message_id_for(formula_id),
        )

    def commit(
        self, owner: str, *records: FormulaRecord, completion: IdempotencyCompletion | None = None
    ) -> list[OutboundMessage]:
        messages = [OutboundMessage(r.message_id, views.submitted_message(r)) for r in records]
        self.store.commit_submission(owner, list(records), messages, completion)
        return messages

    def add(self, owner: str, fingerprint: str) -> FormulaRecord:
        record = self.record(owner, fingerprint)
        self.commit(owner, record)
        return record

    def begin(self, key: str, request_hash: str = "h1", *, now: float = T0) -> KeyAcquired | KeyCompleted:
        return self.keys.begin(ALICE, key, request_hash, now=now, lock_seconds=LOCK)

    def acquire(self, key: str, request_hash: str = "h1", *, now: float = T0) -> str:
        begun = self.begin(key, request_hash, now=now)
        assert isinstance(begun, KeyAcquired)
        return begun.token


def completion(key: str, token: str, *, location: str | None = "/formulas/x") -> IdempotencyCompletion:
    return IdempotencyCompletion(ALICE, key, token, StoredResponse(201, '{"ok":true}', location), T0 + TTL)


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.aws)])
def backend(request: pytest.FixtureRequest) -> Backend:
    new_id = UlidFactory(FakeClock(T0))
    if request.param == "memory":
        queue = RecordingQueue()
        keys = InMemoryIdempotencyStore(clock=FakeClock(T0), ttl_seconds=TTL)
        return Backend(InMemoryFormulaStore(queue, keys), keys, lambda: list(queue.published), new_id)  # type: ignore[arg-type]
    client = request.getfixturevalue("dynamodb_client")
    store = DynamoFormulaStore(client, TABLE, clock=FakeClock(T0))

    def outbox() -> list[tuple[str | None, Any]]:
        items = store.pending_outbox(limit=1000, older_than=T0 + 10**6)
        return [(m.message_id, m.body) for item in items for m in item.messages]

    return Backend(store, DynamoIdempotencyStore(client, TABLE, ttl_seconds=TTL), outbox, new_id)


def ids(records: Any) -> list[str]:
    return [r.id for r in records]


def test_commit_then_get_and_list(backend: Backend) -> None:
    first, second = backend.record(ALICE, "v1:a"), backend.record(ALICE, "v1:b")
    messages = backend.commit(ALICE, first, second)
    assert backend.store.get(ALICE, first.id) == first
    assert backend.store.get(ALICE, second.id) == second
    page = backend.store.list(ALICE, limit=10, after=None, status=None)
    assert page.items == (first, second) and page.next_after is None
    assert backend.published() == [(m.message_id, m.body) for m in messages]


def test_duplicate_make_up_raises_with_existing_id_and_writes_nothing(backend: Backend) -> None:
    stored = backend.add(ALICE, "v1:a")
    token = backend.acquire("k1")
    fresh, copy = backend.record(ALICE, "v1:new"), backend.record(ALICE, "v1:a")
    with pytest.raises(DuplicateFormula) as caught:
        backend.commit(ALICE, fresh, copy, completion=completion("k1", token))
    assert caught.value.conflicts == [Conflict(index=1, fingerprint="v1:a", existing_id=stored.id)]
    assert caught.value.existing_id == stored.id
    assert backend.store.get(ALICE, fresh.id) is None and backend.store.get(ALICE, copy.id) is None
    assert ids(backend.store.list(ALICE, limit=10, after=None, status=None).items) == [stored.id]
    assert [m for m, _ in backend.published()] == [stored.message_id]
    with pytest.raises(RequestInProgress):
        backend.begin("k1")


def test_every_conflict_of_a_batch_is_listed(backend: Backend) -> None:
    a, b = backend.add(ALICE, "v1:a"), backend.add(ALICE, "v1:b")
    batch = [backend.record(ALICE, "v1:new"), backend.record(ALICE, "v1:b"), backend.record(ALICE, "v1:a")]
    with pytest.raises(DuplicateFormula) as caught:
        backend.commit(ALICE, *batch)
    assert caught.value.conflicts == [
        Conflict(index=1, fingerprint="v1:b", existing_id=b.id),
        Conflict(index=2, fingerprint="v1:a", existing_id=a.id),
    ]
    assert caught.value.existing_id is None
    assert len(backend.published()) == 2


def test_owners_are_scoped(backend: Backend) -> None:
    alices = backend.add(ALICE, "v1:a")
    bobs = backend.add(BOB, "v1:a")
    assert backend.store.get(BOB, alices.id) is None
    assert backend.store.get(ALICE, bobs.id) is None
    assert ids(backend.store.list(BOB, limit=10, after=None, status=None).items) == [bobs.id]
    with pytest.raises(NotFound):
        backend.store.mark_processed(BOB, alices.id, at=T0)


def test_list_pages_in_creation_order(backend: Backend) -> None:
    records = [backend.add(ALICE, f"v1:{n}") for n in range(5)]
    seen, after, pages = [], None, 0
    while True:
        page = backend.store.list(ALICE, limit=2, after=after, status=None)
        seen += ids(page.items)
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == ids(records) and pages == 3
    full = backend.store.list(ALICE, limit=5, after=None, status=None)
    assert ids(full.items) == ids(records) and full.next_after is None
    assert backend.store.list(ALICE, limit=4, after=None, status=None).next_after == records[3].id
    assert backend.store.list(ALICE, limit=3, after=records[4].id, status=None).items == ()


def test_list_filters_by_status(backend: Backend) -> None:
    records = [backend.add(ALICE, f"v1:{n}") for n in range(6)]
    for n in (1, 3):
        backend.store.mark_processed(ALICE, records[n].id, at=T0 + n)
    backend.store.mark_failed(ALICE, records[4].id, error="boom", at=T0)
    first = backend.store.list(ALICE, limit=1, after=None, status=STATUS_PROCESSED)
    assert ids(first.items) == [records[1].id] and first.next_after == records[1].id
    second = backend.store.list(ALICE, limit=1, after=first.next_after, status=STATUS_PROCESSED)
    assert ids(second.items) == [records[3].id] and second.next_after is None
    queued = backend.store.list(ALICE, limit=10, after=None, status=STATUS_QUEUED)
    assert ids(queued.items) == [records[0].id, records[2].id, records[5].id]
    failed = backend.store.list(ALICE, limit=10, after=None, status=STATUS_FAILED).items
    assert [(r.id, r.last_error) for r in failed] == [(records[4].id, "boom")]


def walk(backend: Backend, status: str, *, limit: int, between: Callable[[int], None]) -> list[str]:
    """Every id a cursor walk of the ``status`` listing returns; ``between(page)`` runs after each page."""
    seen: list[str] = []
    after: str | None = None
    for page_number in range(100):
        page = backend.store.list(ALICE, limit=limit, after=after, status=status)
        seen += ids(page.items)
        if page.next_after is None:
            return seen
        after = page.next_after
        between(page_number)
    raise AssertionError("the walk did not end")


def test_a_status_listing_stays_exact_while_statuses_change_between_pages(backend: Backend) -> None:
    records = [backend.add(ALICE, f"v1:{n}") for n in range(9)]
    changes = {
        0: [(records[0], "processed"), (records[5], "failed")],  # one already seen, one not yet
        1: [(records[6], "failed"), (records[7], "processed")],
    }

    def change(page: int) -> None:
        for record, to in changes.get(page, []):
            if to == "processed":
                backend.store.mark_processed(ALICE, record.id, at=T0)
            else:
                backend.store.mark_failed(ALICE, record.id, error="boom", at=T0)

    queued = walk(backend, STATUS_QUEUED, limit=2, between=change)
    # Pages: 0 1 | 2 3 | 4 8. Formula 0 left "queued" after it was returned (not returned
    # again), 5, 6 and 7 left before their page (not returned); none that stayed is skipped.
    assert queued == [records[n].id for n in (0, 1, 2, 3, 4, 8)]
    assert len(set(queued)) == len(queued)

    for record in (records[1], records[3], records[4]):
        backend.store.mark_failed(ALICE, record.id, error="boom", at=T0)
    changes = {0: [(records[3], "processed"), (records[8], "failed")]}
    failed = walk(backend, STATUS_FAILED, limit=2, between=change)
    # Failed were 1 3 4 5 6. Pages: 1 3 | 4 5 | 6 8: 3 was processed after its page, 8 failed
    # after the cursor passed 3 and before its own page.
    assert failed == [records[n].id for n in (1, 3, 4, 5, 6, 8)]
    assert ids(backend.store.list(ALICE, limit=10, after=None, status=STATUS_PROCESSED).items) == [
        records[n].id for n in (0, 3, 7)
    ]


def test_mark_processed_is_idempotent_and_terminal(backend: Backend) -> None:
    record = backend.add(ALICE, "v1:a")
    assert backend.store.mark_failed(ALICE, record.id, error="first", at=T0 + 1, attempts=1).changed is True
    assert backend.store.mark_failed(ALICE, record.id, error="second", at=T0 + 2, attempts=2).changed is True
    failed = replace(record, status=STATUS_FAILED, last_error="second", attempts=2)
    assert backend.store.get(ALICE, record.id) == failed
    assert backend.store.mark_processed(ALICE, record.id, at=T0 + 3, attempts=3).changed is True
    assert backend.store.mark_processed(ALICE, record.id, at=T0 + 4, attempts=4).changed is False
    assert backend.store.mark_failed(ALICE, record.id, error="late", at=T0 + 5).changed is False
    expected = replace(record, status=STATUS_PROCESSED, processed_at=T0 + 3, last_error=None, attempts=3)
    assert backend.store.get(ALICE, record.id) == expected


def test_unknown_ids_are_not_found(backend: Backend) -> None:
    missing = backend.new_id()
    assert backend.store.get(ALICE, missing) is None
    with pytest.raises(NotFound):
        backend.store.mark_processed(ALICE, missing, at=T0)
    with pytest.raises(NotFound):
        backend.store.mark_failed(ALICE, missing, error="x", at=T0)


def test_exact_decimals_round_trip(backend: Backend) -> None:
    record = backend.record(ALICE, "v1:exact", concentration=EXACT)
    (message,) = backend.commit(ALICE, record)
    stored = backend.store.get(ALICE, record.id)
    assert stored is not None
    assert [str(m.concentration) for m in stored.materials] == [str(EXACT), "0.001"]
    assert all(type(m.concentration) is Decimal for m in stored.materials)
    ((_, body),) = backend.published()
    assert body == message.body
    assert [str(m["concentration"]) for m in body["materials"]] == [str(EXACT), "0.001"]
    trailing = backend.add(ALICE, "v1:trailing")
    assert str(backend.store.get(ALICE, trailing.id).materials[0].concentration) == "12.50"  # type: ignore[union-attr]


def test_key_completes_with_the_commit_and_replays(backend: Backend) -> None:
    token = backend.acquire("k1")
    record = backend.record(ALICE, "v1:a")
    backend.commit(ALICE, record, completion=completion("k1", token))
    assert backend.begin("k1", now=T0 + 10) == KeyCompleted(StoredResponse(201, '{"ok":true}', "/formulas/x"))
    with pytest.raises(IdempotencyKeyReused):
        backend.begin("k1", "other body", now=T0 + 10)
    backend.keys.release(ALICE, "k1", token)
    assert isinstance(backend.begin("k1", now=T0 + 10), KeyCompleted)


def test_replayed_response_without_location(backend: Backend) -> None:
    token = backend.acquire("k1")
    backend.commit(ALICE, backend.record(ALICE, "v1:a"), completion=completion("k1", token, location=None))
    assert backend.begin("k1") == KeyCompleted(StoredResponse(201, '{"ok":true}', None))


def test_key_in_progress_refuses_until_released(backend: Backend) -> None:
    token = backend.acquire("k1")
    with pytest.raises(RequestInProgress) as caught:
        backend.begin("k1", now=T0 + 10)
    assert caught.value.retry_after == 5
    with pytest.raises(IdempotencyKeyReused):
        backend.begin("k1", "other body", now=T0 + 10)
    backend.keys.release(ALICE, "k1", "not-the-token")
    with pytest.raises(RequestInProgress):
        backend.begin("k1", now=T0 + 10)
    backend.keys.release(ALICE, "k1", token)
    assert isinstance(backend.begin("k1", "other body", now=T0 + 10), KeyAcquired)
    backend.keys.release(ALICE, "never-used", "any")
    assert isinstance(backend.keys.begin(BOB, "k1", "h1", now=T0 + 10, lock_seconds=LOCK), KeyAcquired)


def test_abandoned_lock_is_taken_over_and_the_old_holder_cannot_complete(backend: Backend) -> None:
    old = backend.acquire("k1")
    with pytest.raises(IdempotencyKeyReused):
        backend.begin("k1", "other body", now=T0 + LOCK)
    new = backend.acquire("k1", now=T0 + LOCK)
    assert new != old
    late = backend.record(ALICE, "v1:a")
    with pytest.raises(RequestInProgress):
        backend.commit(ALICE, late, completion=completion("k1", old))
    assert backend.store.get(ALICE, late.id) is None and backend.published() == []
    backend.keys.release(ALICE, "k1", old)
    with pytest.raises(RequestInProgress):
        backend.begin("k1", now=T0 + LOCK + 1)
    backend.commit(ALICE, backend.record(ALICE, "v1:a"), completion=completion("k1", new))
    assert isinstance(backend.begin("k1", now=T0 + LOCK + 1), KeyCompleted)


def test_keys_expire_after_their_ttl(backend: Backend) -> None:
    token = backend.acquire("done")
    backend.commit(ALICE, backend.record(ALICE, "v1:a"), completion=completion("done", token))
    with pytest.raises(IdempotencyKeyReused):
        backend.begin("done", "other body", now=T0 + TTL - 1)
    assert isinstance(backend.begin("done", now=T0 + TTL - 1), KeyCompleted)
    assert isinstance(backend.begin("done", "other body", now=T0 + TTL), KeyAcquired)
    backend.acquire("stuck")
    with pytest.raises(IdempotencyKeyReused):
        backend.begin("stuck", "other body", now=T0 + TTL - 1)
    assert isinstance(backend.begin("stuck", "other body", now=T0 + TTL), KeyAcquired)


def test_failed_commit_leaves_the_key_in_progress_for_release(backend: Backend) -> None:
    backend.add(ALICE, "v1:a")
    token = backend.acquire("k1")
    with pytest.raises(DuplicateFormula):
        backend.commit(ALICE, backend.record(ALICE, "v1:a"), completion=completion("k1", token))
    with pytest.raises(RequestInProgress):
        backend.begin("k1", now=T0 + 1)
    backend.keys.release(ALICE, "k1", token)
    assert isinstance(backend.begin("k1", now=T0 + 1), KeyAcquired)


def test_a_status_change_returns_the_record_as_the_write_left_it(backend: Backend) -> None:
    record = backend.add(ALICE, "v1:returned")
    failed = backend.store.mark_failed(ALICE, record.id, error="boom", at=T0 + 1, attempts=2)
    assert failed.record == replace(record, status=STATUS_FAILED, last_error="boom", attempts=2)
    done = backend.store.mark_processed(ALICE, record.id, at=T0 + 2, attempts=3)
    processed = replace(record, status=STATUS_PROCESSED, processed_at=T0 + 2, attempts=3)
    assert done.changed and done.record == processed
    again = backend.store.mark_failed(ALICE, record.id, error="late", at=T0 + 3)
    assert not again.changed and again.record == processed


def test_near_duplicates_are_kept_exactly_and_replaced(backend: Backend) -> None:
    record = backend.add(ALICE, "v1:a")
    near = [NearDuplicate("01OTHER", Decimal("0.9500")), NearDuplicate("01THIRD", Decimal("1.0000"))]
    backend.store.set_near_duplicates(ALICE, record.id, near)
    stored = backend.store.get(ALICE, record.id)
    assert stored is not None and stored.near_duplicates == tuple(near)
    assert str(stored.near_duplicates[0].similarity) == "0.9500"
    backend.store.set_near_duplicates(ALICE, record.id, near[:1])
    backend.store.mark_processed(ALICE, record.id, at=T0)
    processed = backend.store.get(ALICE, record.id)
    assert processed is not None and processed.near_duplicates == tuple(near[:1])
    with pytest.raises(NotFound):
        backend.store.set_near_duplicates(BOB, record.id, near)
