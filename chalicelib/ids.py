"""Identifiers: time-ordered, unique, URL-safe.

Formula ids are ULIDs (48-bit millisecond timestamp + 80 random bits, Crockford base32) made
monotonic within a process, so sorting ids sorts by creation time; that is what list pagination
and the DynamoDB sort key rely on. An `IdFactory` is injected wherever ids are made.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from chalicelib.clock import Clock, SystemClock

IdFactory = Callable[[], str]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1


_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
"""The two-character Crockford text of every 10-bit value: ``_PAIRS[n]`` for 0 <= n < 1024."""


def _encode_time(ms: int) -> str:
    """``ms`` (< 2**50) as 10 Crockford base32 characters, most significant first."""
    pairs = _PAIRS
    return (
        pairs[ms >> 40 & 1023]
        + pairs[ms >> 30 & 1023]
        + pairs[ms >> 20 & 1023]
        + pairs[ms >> 10 & 1023]
        + pairs[ms & 1023]
    )


def _encode_random(value: int) -> str:
    """``value`` (< 2**80) as 16 Crockford base32 characters, most significant first."""
    pairs = _PAIRS
    return (
        pairs[value >> 70 & 1023]
        + pairs[value >> 60 & 1023]
        + pairs[value >> 50 & 1023]
        + pairs[value >> 40 & 1023]
        + pairs[value >> 30 & 1023]
        + pairs[value >> 20 & 1023]
        + pairs[value >> 10 & 1023]
        + pairs[value & 1023]
    )


class UlidFactory:
    """Monotonic ULIDs: within one millisecond the random part is incremented, never re-drawn.

    The random part is kept as its high 70 bits and its low 10 bits (the last two characters),
    with the text of everything but those last two characters. An increment that does not carry
    out of the low bits (1023 times in 1024) changes only the low bits: one small-int addition
    and one table lookup. Anything else (a new millisecond, a carry) takes `_advance`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        # SystemClock.now without its frame, as the queue reads it.
        self._read_clock: Callable[[], float] = (
            time.time if type(self._clock) is SystemClock else self._clock.now
        )
        self._lock = threading.Lock()
        self._last_ms = -1
        self._high = 0
        """The random part of the last id without its low 10 bits."""
        self._low = 1023
        """The low 10 bits of the random part of the last id (1023 before the first, so that the
        first call takes `_advance`, which draws the first random part)."""
        self._head_text = ""
        """The first 24 characters of the last id: its time and ``_high``."""

    def __call__(self) -> str:
        with self._lock:
            ms = int(self._read_clock() * 1000)
            low = self._low + 1
            if ms <= self._last_ms and low < 1024:
                self._low = low
                return self._head_text + _PAIRS[low]
            return self._advance(ms)

    def _advance(self, ms: int) -> str:
        """The next id when the millisecond moved on or the increment carries (lock held)."""
        if ms <= self._last_ms and self._head_text:
            ms = self._last_ms
            value = (self._high << 10 | self._low) + 1
            if value > _RANDOM_MAX:
                ms += 1
                value = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            value = int.from_bytes(os.urandom(10), "big") >> 1
        self._last_ms = ms
        self._high, self._low = value >> 10, value & 1023
        self._head_text = (_encode_time(ms) + _encode_random(value))[:24]
        return self._head_text + _PAIRS[self._low]


def is_ulid(value: str) -> bool:
    """True when ``value`` has the shape of a ULID (26 Crockford base32 characters)."""
    return len(value) == 26 and all(c in _CROCKFORD for c in value)
