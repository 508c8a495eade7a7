"""Injected time.

Everything that expires (queue visibility, delays, retention, idempotency keys, rate limits) reads
time through a `Clock`: a callable returning epoch seconds, `time.time` in production. Tests pass
a `FakeClock` and move time with `FakeClock.advance` instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""A source of wall-clock time in seconds since the Unix epoch (``time.time`` in production)."""


class FakeClock:
    """A manual clock for tests: time moves only when `advance` is called.

    Components that wait on a condition (a long-polling queue) register a listener with
    `on_advance` so that moving time wakes them up as a real deadline passing would.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (never backwards) and wake listeners."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call `listener` (with no lock held) every time the clock moves."""
        with self._lock:
            self._listeners.append(listener)


def isoformat(epoch_seconds: float) -> str:
    """Format epoch seconds as RFC 3339 UTC with millisecond precision, e.g. 2026-11-27T23:46:56.123Z."""
    # "YYYY-MM-DDTHH:MM:SS.mmm+00:00": four-digit year, milliseconds truncated
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
