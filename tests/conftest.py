"""Shared fixtures: a fake clock, in-memory services installed for the app, a Chalice test client."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.config import Settings
from chalicelib.ids import UlidFactory
from tests.keys import API_KEYS_JSON, KeyedClient


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> Settings:
    return Settings(api_keys_json=API_KEYS_JSON)


@pytest.fixture
def services(clock: FakeClock, settings: Settings) -> Iterator[bootstrap.Services]:
    built = bootstrap.build_memory(settings, clock=clock, new_id=UlidFactory(clock))
    old = bootstrap.use(built)
    try:
        yield built
    finally:
        bootstrap.use(old)


@pytest.fixture
def client(services: bootstrap.Services) -> Iterator[Client]:
    with KeyedClient() as test_client:
        yield test_client


def make_services(clock: FakeClock, **overrides: object) -> bootstrap.Services:
    """In-memory services with some settings overridden (for example a tiny queue capacity)."""
    settings = replace(Settings(api_keys_json=API_KEYS_JSON), **overrides)  # type: ignore[arg-type]
    queue = InMemoryQueue(
        clock=clock,
        capacity=settings.queue_capacity,
        max_receive_count=settings.queue_max_receive_count,
        retention_seconds=settings.queue_retention_seconds,
    )
    return bootstrap.build_memory(settings, clock=clock, new_id=UlidFactory(clock), queue=queue)


_counter = itertools.count()


def unique_formula(name: str = "Summer Breeze", materials: int = 3) -> dict[str, object]:
    """A valid formula whose make-up is different from every other one this function returned."""
    n = next(_counter)
    return {
        "name": name,
        "materials": [
            {"name": f"Material {n}-{i}", "concentration": f"{i + 1}.{n % 97:02d}"} for i in range(materials)
        ],
    }


def formula_of_size(size: int, tag: str = "") -> dict[str, object]:
    """A valid formula whose name and materials take exactly ``size`` bytes as compact JSON (the
    measure of `Formula.size`), made of 190-character ASCII names; unique per ``tag``."""
    from decimal import Decimal

    from chalicelib import jsonio

    def measure(names: list[str]) -> int:
        doc = {"name": "Big", "materials": [{"name": n, "concentration": Decimal("0.01")} for n in names]}
        return len(jsonio.dumps(doc).encode("utf-8"))

    stem = f"{tag}-{next(_counter)}-"
    names: list[str] = []
    while measure(names) < size:
        names.append(f"{stem}{len(names):05d}".ljust(190, "x"))
    overshoot = measure(names) - size
    names[-1] = names[-1][: len(names[-1]) - overshoot]
    assert measure(names) == size, "the last name absorbs the difference"
    return {"name": "Big", "materials": [{"name": n, "concentration": "0.01"} for n in names]}
