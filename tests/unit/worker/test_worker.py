"""The worker with the in-memory queue and a fake clock: success, retries, dead letters, redrive."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from chalicelib.domain import parse_document
from chalicelib.services.processing import (
    HandlerRegistry,
    ProcessingContext,
    Processor,
    StoreStatusSink,
    load_plugins,
)
from chalicelib.worker import Backoff, Worker
from tests.conftest import make_services, unique_formula


class Flaky:
    """A processing step that fails its first ``failures`` calls, recording every call."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[int] = []

    def __call__(self, message: dict[str, Any], context: ProcessingContext) -> None:
        self.calls.append(context.receive_count)
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"transient failure {len(self.calls)}")


def setup(
    clock: FakeClock, step: Any = None, max_receive_count: int = 3
) -> tuple[bootstrap.Services, Worker]:
    services = make_services(clock, queue_max_receive_count=max_receive_count)
    registry = HandlerRegistry()
    if step is not None:
        registry.step("formula.submitted")(step)
    worker = Worker(
        services.queue,
        Processor(registry, StoreStatusSink(services.store), clock),
        max_receive_count=max_receive_count,
        wait_seconds=0,
        backoff=Backoff(base=1, cap=60),
        clock=clock,
    )
    return services, worker


def submit(services: bootstrap.Services) -> str:
    result = services.submissions.submit("default", parse_document(unique_formula()), None)
    import json

    return str(json.loads(result.body)["id"])


def test_a_message_is_processed_and_acknowledged(clock: FakeClock) -> None:
    services, worker = setup(clock)
    formula_id = submit(services)
    clock.advance(2)
    assert worker.run_once() == 1
    record = services.store.get("default", formula_id)
    assert record is not None and record.status == "processed"
    assert record.processed_at == clock() and record.attempts == 1
    stats = services.queue.stats()
    assert (stats.ready, stats.in_flight, stats.acked_total) == (0, 0, 1)


def test_fails_twice_then_succeeds_with_backoff(clock: FakeClock) -> None:
    step = Flaky(failures=2)
    services, worker = setup(clock, step)
    formula_id = submit(services)
    assert worker.run_once() == 1
    assert worker.run_once() == 0, "released with a 1 s backoff, not at once"
    clock.advance(1)
    assert worker.run_once() == 1
    clock.advance(1)
    assert worker.run_once() == 0, "second backoff is 2 s"
    clock.advance(1)
    assert worker.run_once() == 1
    record = services.store.get("default", formula_id)
    assert record is not None and record.status == "processed" and record.attempts == 3
    assert step.calls == [1, 2, 3]


def test_always_failing_is_dead_lettered_and_marked_failed_then_redriven(clock: FakeClock) -> None:
    step = Flaky(failures=10**9)
    services, worker = setup(clock, step, max_receive_count=3)
    formula_id = submit(services)
    for _ in range(3):
        assert worker.run_once() == 1
        clock.advance(60)
    record = services.store.get("default", formula_id)
    assert record is not None and record.status == "failed"
    assert record.last_error == "RuntimeError: transient failure 3" and record.attempts == 3
    assert worker.run_once() == 0
    assert services.queue.stats().dead_letters == 1
    step.failures = 0
    assert services.queue.redrive() == 1
    assert worker.run_once() == 1
    record = services.store.get("default", formula_id)
    assert record is not None and record.status == "processed" and record.last_error is None


def test_a_redelivered_message_is_not_processed_twice(clock: FakeClock) -> None:
    step = Flaky(failures=0)
    services, worker = setup(clock, step)
    submit(services)
    message = services.queue.receive(visibility_timeout=0)[0]
    worker.handle(message)
    assert step.calls == [1]
    services.queue.send(message.body)
    assert worker.run_once() == 1
    assert step.calls == [1], "the formula was already processed: no step runs again"


def test_unknown_message_types_end_in_the_dead_letter_queue(clock: FakeClock) -> None:
    services, worker = setup(clock, max_receive_count=2)
    services.queue.send({"type": "something.else"})
    for _ in range(2):
        assert worker.run_once() == 1
        clock.advance(60)
    assert worker.run_once() == 0
    assert services.queue.stats().dead_letters == 1


def test_stopping_releases_received_messages_not_yet_started(clock: FakeClock) -> None:
    services, worker = setup(clock)
    for _ in range(3):
        submit(services)
    calls: list[int] = []

    def stop_after_first(message: dict[str, Any], context: ProcessingContext) -> None:
        calls.append(1)
        worker._stopping.set()

    registry = HandlerRegistry()
    registry.step("formula.submitted")(stop_after_first)
    worker._processor = Processor(registry, StoreStatusSink(services.store), clock)
    worker._batch_size = 3
    assert worker.run_once() == 3
    assert calls == [1]
    stats = services.queue.stats()
    assert stats.ready == 2 and stats.in_flight == 0 and stats.acked_total == 1


def test_plugins_are_loaded_by_module_path() -> None:
    registry = HandlerRegistry()
    load_plugins(registry, "tests.unit.worker.plugin_example:register")
    assert len(registry.handlers_for("formula.submitted")) == 1
    with pytest.raises(ModuleNotFoundError):
        load_plugins(registry, "no.such.module:register")


def test_backoff_is_exponential_and_capped() -> None:
    backoff = Backoff(base=1, cap=10)
    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert Backoff(base=0).delay(5) == 0


def test_the_stages_worker_reads_a_formula_once_per_message(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status check and the near-duplicate step share one read (one GetItem on AWS)."""
    services = make_services(clock)
    reads: list[str] = []
    read = services.store.get

    def counted(owner: str, formula_id: str) -> Any:
        reads.append(formula_id)
        return read(owner, formula_id)

    monkeypatch.setattr(services.store, "get", counted)
    worker = bootstrap.build_worker(services)
    formula_id = submit(services)
    assert worker.run_once() == 1
    assert reads == [formula_id]
    record = read("default", formula_id)
    assert record is not None and record.status == "processed" and record.near_duplicates == ()
