"""`placement.place`: which CPU the dev server's threads are kept on, with the platform's calls faked."""

from __future__ import annotations

import pytest

from chalicelib.devserver.placement import PlacementError, place


class Cpus:
    """A process's CPU set, as `os.sched_getaffinity` / `os.sched_setaffinity` would keep it."""

    def __init__(self, allowed: set[int], running_on: int | None) -> None:
        self.allowed = set(allowed)
        self.running_on = running_on
        self.restricted: list[set[int]] = []

    def place(self, choice: str, *, can_pin: bool = True) -> int | None:
        return place(
            choice,
            can_pin=can_pin,
            allowed=lambda: set(self.allowed),
            restrict=self.restrict,
            current=lambda: self.running_on,
        )

    def restrict(self, cpus: set[int]) -> None:
        self.restricted.append(cpus)
        self.allowed = set(cpus)


def test_auto_keeps_the_threads_on_the_cpu_the_process_runs_on() -> None:
    cpus = Cpus({0, 1, 2, 3}, running_on=2)
    assert cpus.place("auto") == 2
    assert cpus.restricted == [{2}]


def test_auto_takes_the_lowest_allowed_cpu_when_the_current_one_is_unknown_or_not_allowed() -> None:
    for running_on in (None, 7):
        cpus = Cpus({4, 5}, running_on=running_on)
        assert cpus.place("auto") == 4 and cpus.restricted == [{4}]


def test_auto_changes_nothing_with_one_cpu_or_where_threads_cannot_be_pinned() -> None:
    one = Cpus({3}, running_on=3)
    assert one.place("auto") is None and one.restricted == []
    elsewhere = Cpus({0, 1}, running_on=0)
    assert elsewhere.place("auto", can_pin=False) is None and elsewhere.restricted == []


def test_all_changes_nothing() -> None:
    cpus = Cpus({0, 1}, running_on=1)
    assert cpus.place("all") is None and cpus.restricted == []


def test_a_cpu_number_is_used_when_allowed() -> None:
    cpus = Cpus({0, 1, 2}, running_on=0)
    assert cpus.place("1") == 1 and cpus.restricted == [{1}]


def test_a_cpu_number_that_cannot_be_used_is_one_clear_error() -> None:
    cpus = Cpus({0, 1}, running_on=0)
    with pytest.raises(PlacementError) as refused:
        cpus.place("5")
    assert str(refused.value) == "cannot keep the server on CPU 5: this process may use CPU 0, 1"
    with pytest.raises(PlacementError) as elsewhere:
        cpus.place("1", can_pin=False)
    assert "only Linux pins threads (--cpu all)" in str(elsewhere.value)
    assert cpus.restricted == []
