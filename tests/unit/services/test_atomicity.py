"""Storing a formula and publishing its message happen all or nothing (in-memory backend).

A failure is injected before every step of the commit, and after it. Afterwards either nothing
is persisted and nothing published, and a retry succeeds exactly once; or (failure after the
commit) everything is, and a retry with the same Idempotency-Key replays the answer.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.memory.idempotency import InMemoryIdempotencyStore
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.adapters.memory.store import COMMIT_STEPS, InMemoryFormulaStore
from chalicelib.clock import FakeClock
from chalicelib.config import Settings
from chalicelib.domain import Submission, parse_document
from chalicelib.ids import UlidFactory
from chalicelib.services.submission import SubmissionService
from tests.conftest import unique_formula


class Boom(RuntimeError):
    pass


class Harness:
    """A store whose commit fails once at a chosen step, plus what it wrote."""

    def __init__(self, clock: FakeClock, fail_at: str | None = None, lose_answer: int = 0):
        self.fail_at = fail_at
        self.lose_answer = lose_answer
        self.steps: list[str] = []
        self.queue = InMemoryQueue(clock=clock)
        self.idempotency = InMemoryIdempotencyStore(clock=clock)
        self.store = InMemoryFormulaStore(self.queue, self.idempotency, on_step=self.on_step)
        self.service = SubmissionService(self, self.idempotency, clock=clock, new_id=UlidFactory(clock))

    def commit_submission(self, *args: Any) -> None:
        """The store's unit of work; the first ``lose_answer`` commits succeed, then raise (a
        response lost after the write, as a timeout after DynamoDB committed would be)."""
        self.store.commit_submission(*args)
        if self.lose_answer:
            self.lose_answer -= 1
            raise Boom("answer lost after commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def on_step(self, step: str) -> None:
        self.steps.append(step)
        if step == self.fail_at:
            self.fail_at = None
            raise Boom(step)


def submission(batch: int = 2) -> Submission:
    return parse_document([unique_formula() for _ in range(batch)])


@pytest.mark.parametrize("step", COMMIT_STEPS)
@pytest.mark.parametrize("key", [None, "retry-key"])
def test_failure_at_each_step_leaves_nothing_and_a_retry_succeeds_once(
    clock: FakeClock, step: str, key: str | None
) -> None:
    harness = Harness(clock, fail_at=step)
    doc = submission()
    with pytest.raises(Boom):
        harness.service.submit("default", doc, key)
    assert step in harness.steps
    assert len(harness.store) == 0
    assert harness.store.list("default", limit=10, after=None, status=None).items == ()
    stats = harness.queue.stats()
    assert (stats.ready, stats.in_flight, stats.delayed, stats.sent_total) == (0, 0, 0, 0)
    assert harness.queue.receive(max_messages=10) == []

    result = harness.service.submit("default", doc, key)
    assert result.status == 201 and not result.replayed
    assert len(harness.store) == 2
    assert harness.queue.stats().sent_total == 2
    if key is not None:
        replay = harness.service.submit("default", doc, key)
        assert replay.replayed and replay.body == result.body
        assert harness.queue.stats().sent_total == 2


def test_failure_after_commit_keeps_both_and_the_key_replays(clock: FakeClock) -> None:
    harness = Harness(clock, lose_answer=1)
    doc = submission(1)
    with pytest.raises(Boom):
        harness.service.submit("default", doc, "k")
    assert len(harness.store) == 1 and harness.queue.stats().ready == 1
    replay = harness.service.submit("default", doc, "k")
    assert replay.replayed and replay.status == 201
    assert len(harness.store) == 1 and harness.queue.stats().sent_total == 1


def test_no_reader_sees_a_formula_without_its_message(clock: FakeClock) -> None:
    """A reader racing a commit sees either neither or both, never one of the two."""
    harness = Harness(clock)
    observations: list[tuple[bool, int]] = []
    reader_started = threading.Event()

    def reader() -> None:
        reader_started.set()
        found = harness.store.list("default", limit=10, after=None, status=None).items
        observations.append((bool(found), harness.queue.stats().ready))

    original = harness.on_step

    def on_step(step: str) -> None:
        original(step)
        if step == "apply":
            thread = threading.Thread(target=reader)
            thread.start()
            reader_started.wait(5)
            threads.append(thread)

    threads: list[threading.Thread] = []
    harness.store._on_step = on_step
    harness.service.submit("default", submission(1), None)
    for thread in threads:
        thread.join(5)
    assert observations == [(True, 1)]


def test_the_default_wiring_uses_the_same_store_and_queue(clock: FakeClock) -> None:
    services = bootstrap.build_memory(Settings(), clock=clock)
    services.submissions.submit("default", submission(1), None)
    assert services.queue.stats().ready == 1
    assert len(services.store.list("default", limit=10, after=None, status=None).items) == 1
