"""The table-driven ULID encoding and the cached timestamp formatting match the originals."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import clock, ids
from chalicelib.clock import FakeClock, isoformat
from chalicelib.ids import UlidFactory, is_ulid


def reference_encode(value: int, length: int) -> str:
    """The original loop: ``length`` Crockford characters of ``value``'s low bits."""
    chars = []
    for _ in range(length):
        chars.append(ids._CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def reference_isoformat(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@given(st.integers(min_value=-(2**60), max_value=2**60))
def test_time_part_matches_the_original_encoding(ms: int) -> None:
    assert ids._encode_time(ms) == reference_encode(ms, 10)


@given(st.integers(min_value=0, max_value=2**80 - 1))
def test_random_part_matches_the_original_encoding(value: int) -> None:
    assert ids._encode_random(value) == reference_encode(value, 16)


def test_ulids_are_the_original_ones_for_the_same_clock_and_randomness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws = itertools.count(1)
    monkeypatch.setattr(ids.os, "urandom", lambda n: next(draws).to_bytes(n, "big"))
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    made = []
    for step in [0, 0, 0.0004, 0.0007, 0.5, 0, -0.001, 1, 1e-3]:
        if step > 0:
            fake.advance(step)
        made.append(factory())
    expected_random = [1 >> 1, (1 >> 1) + 1, (1 >> 1) + 2]
    assert [m[10:] for m in made[:3]] == [reference_encode(r, 16) for r in expected_random]
    assert made[0][:10] == reference_encode(1_700_000_000_000, 10)
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(is_ulid(m) for m in made)


def test_the_random_part_rolls_into_the_next_millisecond_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    first = factory()
    factory._high, factory._low = ids._RANDOM_MAX >> 10, ids._RANDOM_MAX & 1023
    rolled = factory()
    assert rolled[:10] == reference_encode(1_700_000_000_001, 10) != first[:10]
    assert rolled > first


@pytest.mark.parametrize("low_bits", [1021, 1022, 1023])
def test_ids_crossing_a_1024_boundary_of_the_random_part_are_spelt_in_full(
    monkeypatch: pytest.MonkeyPatch, low_bits: int
) -> None:
    """The kept text of the first 24 characters is re-spelt when an increment carries past it."""
    start = (0x5A5A5 << 60 | 0x3FF << 20 | low_bits) << 1  # urandom's value; the factory drops a bit
    monkeypatch.setattr(ids.os, "urandom", lambda n: start.to_bytes(n, "big"))
    fake = FakeClock(1_700_000_000.0)
    factory = UlidFactory(fake)
    made = [factory() for _ in range(5)]
    time_text = reference_encode(1_700_000_000_000, 10)
    assert made == [time_text + reference_encode((start >> 1) + i, 16) for i in range(5)]
    fake.advance(0.001)  # a new millisecond draws afresh and spells the new head
    assert factory()[:10] == reference_encode(1_700_000_000_001, 10)


@settings(max_examples=2000)
@given(
    st.one_of(
        st.floats(min_value=-62_135_596_800, max_value=253_402_300_799, allow_nan=False),
        st.integers(min_value=-62_135_596_800, max_value=253_402_300_799),
        st.integers(min_value=0, max_value=2_000_000_000).map(lambda s: s + 0.9999995),
        st.integers(min_value=0, max_value=2_000_000_000).map(lambda s: s + 0.0005),
    )
)
def test_isoformat_matches_the_original(epoch_seconds: float) -> None:
    assert isoformat(epoch_seconds) == reference_isoformat(epoch_seconds)
    assert isoformat(epoch_seconds) == reference_isoformat(epoch_seconds)  # the cached answer


def test_years_before_1000_keep_strftimes_unpadded_text() -> None:
    epoch = -30_610_224_000.0 - 400 * 86_400
    assert isoformat(epoch) == reference_isoformat(epoch)


def test_the_cache_answers_only_for_the_same_object() -> None:
    created_at = 1_700_000_000.25
    assert isoformat(created_at) == "2023-11-14T22:13:20.250Z"
    assert clock._last_formatted[0] is created_at
    assert isoformat(1_700_000_000.5) == "2023-11-14T22:13:20.500Z"
    assert isoformat(created_at) == "2023-11-14T22:13:20.250Z"
    from decimal import Decimal

    equal_but_not_a_float = Decimal("1700000000.25")
    isoformat(1_700_000_000.25)
    with pytest.raises(TypeError):
        isoformat(equal_but_not_a_float)  # type: ignore[arg-type]


@settings(max_examples=500)
@given(
    st.integers(min_value=0, max_value=253_402_300_798),
    st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
            st.sampled_from([0.0, 0.0005, 0.0004999, 0.9994999, 0.9995, 0.9999994, 0.9999995, 0.9999999]),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_instants_within_one_second_format_as_the_original(second: int, fractions: list[float]) -> None:
    """Every instant after the first in a second reuses that second's text; the answers are unchanged."""
    for fraction in fractions:
        epoch_seconds = second + fraction
        assert isoformat(epoch_seconds) == reference_isoformat(epoch_seconds)


@pytest.mark.parametrize(
    "epoch_seconds",
    [float("nan"), float("inf"), float("-inf"), 1e20, 2.0**52 + 0.5, 253_402_300_800.0, -1.5, -0.0005],
)
def test_instants_off_the_fast_path_answer_or_fail_as_the_original(epoch_seconds: float) -> None:
    try:
        expected: str | type[BaseException] = reference_isoformat(epoch_seconds)
    except (ValueError, OverflowError, OSError) as exc:
        expected = type(exc)
    if isinstance(expected, str):
        assert isoformat(epoch_seconds) == expected
    else:
        with pytest.raises(expected):
            isoformat(epoch_seconds)


def test_datetime_formats_each_second_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    original = clock._format

    def counting(epoch_seconds: float) -> str:
        calls.append(epoch_seconds)
        return original(epoch_seconds)

    monkeypatch.setattr(clock, "_format", counting)
    texts = [isoformat(1_800_000_000 + i / 100) for i in range(250)]
    assert texts[0] == "2027-01-15T08:00:00.000Z" and texts[-1] == "2027-01-15T08:00:02.490Z"
    assert texts == [reference_isoformat(1_800_000_000 + i / 100) for i in range(250)]
    assert calls == [1_800_000_000.0, 1_800_000_001.0, 1_800_000_002.0]


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


def test_the_first_id_is_drawn_at_random_whatever_the_clock_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []

    def urandom(n: int) -> bytes:
        draws.append(n)
        return (12345 << 1).to_bytes(n, "big")

    monkeypatch.setattr(ids.os, "urandom", urandom)
    early = UlidFactory(FakeClock(-5.0))()
    assert draws == [10] and early[10:] == reference_encode(12345, 16)
