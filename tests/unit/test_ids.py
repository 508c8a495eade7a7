"""ULIDs: Crockford base32, time first, monotonic within a factory, unique across threads."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import ids
from chalicelib.clock import FakeClock, isoformat
from chalicelib.ids import UlidFactory, is_ulid


def crockford(value: int, length: int) -> str:
    """``length`` Crockford characters of ``value``'s low bits, written out the long way."""
    chars = []
    for _ in range(length):
        chars.append("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@given(st.integers(min_value=0, max_value=2**48 - 1), st.integers(min_value=0, max_value=2**79 - 1))
def test_an_id_is_its_millisecond_then_its_random_part(ms: int, value: int) -> None:
    assert ids._encode_time(ms) + ids._encode_random(value) == crockford(ms, 10) + crockford(value, 16)


def test_ids_within_a_millisecond_count_up_from_a_random_start(monkeypatch: pytest.MonkeyPatch) -> None:
    start = 0x5A5A5 << 50 | 1021
    monkeypatch.setattr(ids.os, "urandom", lambda n: (start << 1).to_bytes(10, "big") + bytes(n - 10))
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    made = [factory() for _ in range(5)]
    assert made == [crockford(1_700_000_000_000, 10) + crockford(start + i, 16) for i in range(5)]
    fake.advance(0.001)
    assert factory()[:10] == crockford(1_700_000_000_001, 10)


def test_random_parts_are_drawn_from_the_system_a_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[bytes] = []

    def urandom(n: int) -> bytes:
        draws.append(real(n))
        return draws[-1]

    real = ids.os.urandom
    monkeypatch.setattr(ids.os, "urandom", urandom)
    milliseconds = iter(range(1_700_000_000_000, 1_800_000_000_000))
    factory = UlidFactory(lambda: (next(milliseconds) + 0.5) / 1000)  # a new millisecond every call
    made = [factory() for _ in range(2 * ids.RANDOM_PARTS_PER_DRAW + 1)]
    assert len(draws) == 3
    drawn = b"".join(draws)
    parts = [int.from_bytes(drawn[i : i + 10], "big") >> 1 for i in range(0, len(drawn), 10)]
    assert [int(i[10:].translate(_FROM_CROCKFORD), 32) for i in made] == parts[: len(made)]


_FROM_CROCKFORD = str.maketrans("ABCDEFGHJKMNPQRSTVWXYZ", "ABCDEFGHIJKLMNOPQRSTUV")
"""Crockford's base32 letters as the letters `int(..., 32)` reads."""


def test_after_a_fork_the_child_draws_afresh_in_the_next_millisecond() -> None:
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    inherited = factory()
    parents_draw, parents_lock = factory._drawn, factory._lock
    ids._after_fork_in_child()  # what os.register_at_fork runs in a child
    child = factory()  # the same millisecond on the clock
    assert factory._drawn != parents_draw and factory._lock is not parents_lock
    assert child > inherited and child[:10] == crockford(1_700_000_000_001, 10)
    assert (
        int(child[10:].translate(_FROM_CROCKFORD), 32)
        == (int.from_bytes(factory._drawn[:10], "big") >> 1) + 1
    )


FORK = """
import os, sys
from chalicelib.clock import FakeClock
from chalicelib.ids import UlidFactory
factory = UlidFactory(FakeClock(1_700_000_000.0))
before = factory()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, factory().encode())
    os._exit(0)
os.waitpid(pid, 0)
print(before, factory(), os.read(read, 26).decode())
"""


def test_a_forked_child_never_makes_its_parents_next_id() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FORK], capture_output=True, text=True, timeout=60, check=True
    )
    before, parents_next, childs_next = result.stdout.split()
    assert parents_next > before and childs_next > before
    assert childs_next != parents_next  # one clock, one millisecond: only the fresh draw separates them


def test_the_random_part_rolls_into_the_next_millisecond() -> None:
    factory = UlidFactory(FakeClock(1_700_000_000.0))
    first = factory()
    factory._random = ids._RANDOM_MAX
    rolled = factory()
    assert first[:10] == crockford(1_700_000_000_000, 10)
    assert rolled[:10] == crockford(1_700_000_000_001, 10)
    assert rolled > first


def test_a_clock_that_steps_back_never_makes_a_smaller_id() -> None:
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    first = factory()
    factory._clock = FakeClock(1_600_000_000.0)
    assert factory() > first


def test_ids_made_by_many_threads_are_unique_and_each_threads_are_increasing() -> None:
    factory = UlidFactory()
    made: list[list[str]] = [[] for _ in range(8)]

    def make(mine: list[str]) -> None:
        for _ in range(3000):
            mine.append(factory())

    threads = [threading.Thread(target=make, args=(mine,)) for mine in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for mine in made for i in mine]
    assert len(set(every)) == len(every) == 24_000
    assert all(mine == sorted(mine) for mine in made)
    assert all(is_ulid(i) for i in every)


def test_isoformat_is_rfc3339_utc_with_truncated_milliseconds() -> None:
    assert isoformat(1_800_000_000.0) == "2027-01-15T08:00:00.000Z"
    assert isoformat(1_800_000_000.4999) == "2027-01-15T08:00:00.499Z"
    assert isoformat(-30_610_224_000.0 - 400 * 86_400) == "0998-11-27T00:00:00.000Z"
