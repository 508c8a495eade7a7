"""Retries inside a request: jittered exponential backoff within a time budget.

botocore retries throttling and transient errors of one call (`chalicelib.bootstrap`'s Config),
but not answers that are well-formed yet say "try again": a transaction cancelled because another
transaction touched the same items (``TransactionConflict``), or ``BatchGetItem`` keys left
unprocessed under throttling. The adapters retry those themselves, with "full jitter" backoff
(a random pause between 0 and ``base * 2**n``, capped), so that racing requests spread out, and
only while the request's budget lasts: then the caller answers 503 with ``Retry-After``.

Time and sleep are injected, so tests move a `FakeClock` instead of sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chalicelib.clock import Clock

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How to pause between retries, and for how long in total a request may keep retrying."""

    budget_seconds: float
    base_seconds: float = 0.05
    cap_seconds: float = 1.0
    clock: Clock = time.time
    sleep: Sleep = time.sleep
    rand: Callable[[], float] = field(default=random.random)

    def retries(self) -> Iterator[int]:
        """Yield the number of each retry after sleeping before it; stop when the budget is spent.

        A retry whose pause would end past the budget (counted from the first call to ``next``,
        i.e. from the first failure) is not made.
        """
        start = self.clock()
        attempt = 0
        while True:
            pause = self.rand() * min(self.cap_seconds, self.base_seconds * 2**attempt)
            if self.clock() - start + pause > self.budget_seconds:
                return
            self.sleep(pause)
            attempt += 1
            yield attempt
