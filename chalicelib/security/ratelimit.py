"""Per-principal token buckets, on the injected clock.

Each principal gets ``burst`` tokens that refill at ``rate`` per second; a request spends one.
The buckets live in the process: on Lambda that is per container, so the deployed stage also sets
API Gateway throttling for the fleet (deploy/resources.json). Idle buckets are forgotten so the
table cannot grow without bound.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from chalicelib.clock import Clock

MAX_TRACKED = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``allow(principal)`` returns 0 when a request may go ahead, else seconds to wait (>= 1)."""

    def __init__(self, clock: Clock, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, principal: str) -> int:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(principal)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED:
                    self._forget_full(now)
                bucket = self._buckets[principal] = _Bucket(self._burst, now)
            else:
                if now > bucket.updated:
                    tokens = bucket.tokens + (now - bucket.updated) * self._rate
                    bucket.tokens = tokens if tokens < self._burst else self._burst
                    bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self._rate))

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely (they hold no state worth keeping)."""
        full_after = self._burst / self._rate
        for name in [n for n, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[name]
        if len(self._buckets) >= MAX_TRACKED:
            oldest = min(self._buckets, key=lambda n: self._buckets[n].updated)
            del self._buckets[oldest]
