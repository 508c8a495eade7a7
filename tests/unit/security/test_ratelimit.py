"""The per-principal token buckets, on an injected clock."""

from __future__ import annotations

import pytest

from chalicelib.clock import FakeClock
from chalicelib.security import ratelimit
from chalicelib.security.ratelimit import RateLimiter


class SteppingClock:
    """A clock a test may set anywhere, backwards included (as a wall clock can be stepped)."""

    def __init__(self, now: float) -> None:
        self.at = now

    def __call__(self) -> float:
        return self.at


def test_a_burst_then_one_token_per_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=2.0, burst=3)
    assert [limiter.allow("p") for _ in range(4)] == [0, 0, 0, 1]
    clock.advance(0.5)
    assert [limiter.allow("p") for _ in range(2)] == [0, 1]
    clock.advance(100)
    assert [limiter.allow("p") for _ in range(4)] == [0, 0, 0, 1], "refills up to the burst, no more"
    assert limiter.allow("q") == 0, "each principal has its own bucket"


def test_a_slow_rate_says_how_long_to_wait() -> None:
    limiter = RateLimiter(FakeClock(), rate=0.1, burst=1)
    assert limiter.allow("p") == 0
    assert limiter.allow("p") == 10


def test_a_clock_stepped_backwards_grants_no_tokens() -> None:
    clock = SteppingClock(1000.0)
    limiter = RateLimiter(clock, rate=1.0, burst=2)
    assert [limiter.allow("p") for _ in range(3)] == [0, 0, 1]
    clock.at = 990.0
    assert limiter.allow("p") == 1, "time going backwards refills nothing"
    clock.at = 1000.0
    assert limiter.allow("p") == 1, "nor does coming back to where it was"
    clock.at = 1001.0
    assert limiter.allow("p") == 0, "only time after the last reading counts"


def test_idle_buckets_are_forgotten_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_TRACKED", 3)
    clock = FakeClock()
    limiter = RateLimiter(clock, rate=1.0, burst=1)
    for name in ("a", "b", "c"):
        assert limiter.allow(name) == 0
    clock.advance(5)
    assert limiter.allow("d") == 0
    assert len(limiter._buckets) == 1, "the full buckets were dropped"


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bad_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(FakeClock(), rate=rate, burst=burst)
