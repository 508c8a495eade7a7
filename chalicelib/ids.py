"""Identifiers: time-ordered, unique, URL-safe.

Formula ids are ULIDs (48-bit millisecond timestamp + 80 random bits, Crockford base32) made
monotonic within a process, so sorting ids sorts by creation time; that is what list pagination
and the DynamoDB sort key rely on. An `IdFactory` is injected wherever ids are made.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from chalicelib.clock import Clock, SystemClock

IdFactory = Callable[[], str]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidFactory:
    """Monotonic ULIDs: within one millisecond the random part is incremented, never re-drawn."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def __call__(self) -> str:
        with self._lock:
            ms = int(self._clock.now() * 1000)
            if ms <= self._last_ms:
                ms = self._last_ms
                self._last_random += 1
                if self._last_random > _RANDOM_MAX:
                    ms += 1
                    self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            else:
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_ms = ms
            return _encode(ms, 10) + _encode(self._last_random, 16)


def is_ulid(value: str) -> bool:
    """True when ``value`` has the shape of a ULID (26 Crockford base32 characters)."""
    return len(value) == 26 and all(c in _CROCKFORD for c in value)
