"""Identifiers: time-ordered, unique, URL-safe.

Formula ids are ULIDs (48-bit millisecond timestamp + 80 random bits, Crockford base32) made
monotonic within a process, so sorting ids sorts by creation time; that is what list pagination
and the DynamoDB sort key rely on. An `IdFactory` is injected wherever ids are made.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable

from chalicelib.clock import Clock

IdFactory = Callable[[], str]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1


_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
"""The two-character Crockford text of every 10-bit value: ``_PAIRS[n]`` for 0 <= n < 1024."""


def _encode(value: int, characters: int) -> str:
    """The low ``characters`` * 5 bits of ``value`` in Crockford base32, most significant first
    (``characters`` even: two characters per table lookup)."""
    return "".join([_PAIRS[value >> shift & 1023] for shift in range(5 * characters - 10, -1, -10)])


def _encode_time(ms: int) -> str:
    """``ms`` (< 2**50) as 10 Crockford base32 characters."""
    return _encode(ms, 10)


def _encode_random(value: int) -> str:
    """``value`` (< 2**80) as 16 Crockford base32 characters."""
    return _encode(value, 16)


RANDOM_PARTS_PER_DRAW = 400
"""Random parts taken from the operating system at once (4,000 bytes). A draw is a system call
that lets another thread take the interpreter lock, so a server making an id per request draws
once per 400 ids rather than on every one."""


class UlidFactory:
    """Monotonic ULIDs: within one millisecond the random part is incremented, never re-drawn.

    An increment past the largest random part moves the id into the next millisecond, so ids
    made by one factory always increase. Each new millisecond's random part is the next unused
    10 bytes of the operating system's randomness, drawn `RANDOM_PARTS_PER_DRAW` at a time.

    In a forked child (`os.register_at_fork`) every factory forgets what its parent drew, takes a
    fresh random part and moves on to the next millisecond, so the child's ids neither repeat
    the parent's nor go below the ids it inherited; its lock is new, as the parent's may have
    been held by a thread that does not exist in the child.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or time.time
        self._lock = threading.Lock()
        self._last_ms = -1
        self._random = 0
        self._drawn = b""
        self._used = 0
        _FACTORIES.add(self)

    def __call__(self) -> str:
        with self._lock:
            ms = int(self._clock() * 1000)
            if ms > self._last_ms:
                self._random = self._fresh_random()
            else:
                ms = self._last_ms
                self._random += 1
                if self._random > _RANDOM_MAX:
                    ms += 1
                    self._random = self._fresh_random()
            self._last_ms = ms
            return _encode_time(ms) + _encode_random(self._random)

    def _fresh_random(self) -> int:
        """79 random bits, leaving room to count up within a millisecond (call with the lock)."""
        if self._used == len(self._drawn):
            self._drawn, self._used = os.urandom(10 * RANDOM_PARTS_PER_DRAW), 0
        start = self._used
        self._used = start + 10
        return int.from_bytes(self._drawn[start : start + 10], "big") >> 1

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._drawn, self._used = b"", 0
        self._last_ms += 1
        self._random = self._fresh_random()


_FACTORIES: weakref.WeakSet[UlidFactory] = weakref.WeakSet()
"""Every live factory of this process, for `_after_fork_in_child`."""


def _after_fork_in_child() -> None:
    for factory in list(_FACTORIES):
        factory._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def is_ulid(value: str) -> bool:
    """True when ``value`` has the shape of a ULID (26 Crockford base32 characters)."""
    return len(value) == 26 and all(c in _CROCKFORD for c in value)
