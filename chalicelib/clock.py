"""Injected time.

Everything that expires (queue visibility, delays, retention, idempotency keys, rate limits) reads
time through a `Clock`, so tests move time with `FakeClock.advance` instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time in seconds since the Unix epoch."""

    def now(self) -> float:
        """Return the current time in epoch seconds."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A manual clock for tests: time moves only when `advance` or `set` is called.

    Components that wait on a condition (a long-polling queue) register a listener with
    `on_advance` so that moving time wakes them up as a real deadline passing would.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
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
    """Format epoch seconds as RFC 3339 UTC with millisecond precision, e.g. 2026-11-27T23:46:56.123Z.

    A request formats the same instant more than once (the resource and its message, both from
    ``record.created_at``), so the last answer is kept for that very object (``is``: equal values of
    other types must still be refused or formatted on their own). The pair is replaced as one
    tuple, so threads never see a torn pair.
    """
    global _last_formatted
    last = _last_formatted
    if last[0] is epoch_seconds:
        return last[1]
    text = _format_via_second(epoch_seconds)
    _last_formatted = (epoch_seconds, text)
    return text


_last_formatted: tuple[float, str] = (math.nan, "")


def _format_via_second(epoch_seconds: float) -> str:
    """`_format`, with the text up to the seconds kept for the last whole second formatted.

    Instants within one second share everything but their milliseconds, and a service formats
    many instants a second: only the first of each second goes through `datetime`. The rest
    round to microseconds exactly as ``datetime.fromtimestamp`` does (the fraction, scaled by
    10**6, rounded half to even) and append the milliseconds. A fraction that rounds up into the
    next second, a negative or non-finite instant, or anything not a `float`, goes the whole way.
    """
    global _last_second
    if epoch_seconds.__class__ is float and epoch_seconds >= 0.0:  # NaN compares False
        second = int(epoch_seconds)  # its floor, exact; the difference below is exact too
        micro = round((epoch_seconds - second) * 1e6)
        if micro < 1_000_000:
            known, head = _last_second
            if second != known:
                head = _format(float(second))[:-5]  # "...T22:13:20", without ".000Z"
                _last_second = (second, head)
            return head + _MILLISECOND_TEXT[micro // 1000]
    return _format(epoch_seconds)


_MILLISECOND_TEXT = tuple(f".{millisecond:03d}Z" for millisecond in range(1000))


_last_second: tuple[int, str] = (-1, "")
"""The last whole second formatted, and its text up to the seconds (replaced as one tuple)."""


def _format(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    if moment.year < 1000:  # strftime's %Y does not pad these to four digits; keep its text
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    # "YYYY-MM-DDTHH:MM:SS.mmm+00:00", milliseconds truncated as microsecond // 1000 is
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
