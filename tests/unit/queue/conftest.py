"""Fixtures of the in-memory queue tests: a fake clock at `START` and queues with readable ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from tests.unit.queue.helpers import START


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make(clock: FakeClock) -> Callable[..., InMemoryQueue]:
    """Build a queue on ``clock`` whose message ids are m1, m2, ... (options as the constructor's)."""

    def build(**options: Any) -> InMemoryQueue:
        ids = itertools.count(1)
        options.setdefault("id_factory", lambda: f"m{next(ids)}")
        return InMemoryQueue(clock=clock, **options)

    return build


@pytest.fixture
def q(make: Callable[..., InMemoryQueue]) -> InMemoryQueue:
    return make()
