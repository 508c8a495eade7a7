"""In-memory idempotency keys (owner-scoped), with expiry and abandoned-lock takeover."""

from __future__ import annotations

import heapq
import os
import threading
import time
from dataclasses import dataclass

from chalicelib.clock import Clock
from chalicelib.errors import IdempotencyKeyReused, RequestInProgress
from chalicelib.ports.store import IdempotencyCompletion, KeyAcquired, KeyCompleted, StoredResponse


@dataclass(slots=True)
class _Entry:
    request_hash: str
    token: str
    locked_until: float
    expires_at: float
    response: StoredResponse | None = None


class InMemoryIdempotencyStore:
    """Keys live in a dict keyed by (owner, key); expired entries are dropped when touched.

    `InMemoryFormulaStore` completes keys under this store's ``lock`` in the same critical
    section that stores the formulas, which is what makes completion atomic.
    """

    def __init__(self, *, clock: Clock | None = None, ttl_seconds: int = 24 * 3600) -> None:
        self._clock = clock or time.time
        self._ttl = ttl_seconds
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._expiries: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()

    def _expire_locked(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, owner, key = heapq.heappop(self._expiries)
            entry = self._entries.get((owner, key))
            if entry is not None and entry.expires_at <= now:
                del self._entries[(owner, key)]

    def begin(
        self, owner: str, key: str, request_hash: str, *, now: float, lock_seconds: int
    ) -> KeyAcquired | KeyCompleted:
        with self.lock:
            self._expire_locked(now)
            entry = self._entries.get((owner, key))
            if entry is not None:
                if entry.request_hash != request_hash:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was already used with a different request body."
                    )
                if entry.response is not None:
                    return KeyCompleted(entry.response)
                if entry.locked_until > now:
                    raise RequestInProgress(retry_after=max(1, min(5, int(entry.locked_until - now))))
            token = os.urandom(16).hex()  # 128 random bits: a lock holder's token nobody can guess
            self._entries[(owner, key)] = _Entry(
                request_hash=request_hash,
                token=token,
                locked_until=now + lock_seconds,
                expires_at=now + self._ttl,
            )
            heapq.heappush(self._expiries, (now + self._ttl, owner, key))
            return KeyAcquired(token)

    def release(self, owner: str, key: str, token: str) -> None:
        with self.lock:
            entry = self._entries.get((owner, key))
            if entry is not None and entry.token == token and entry.response is None:
                del self._entries[(owner, key)]

    def holds_locked(self, completion: IdempotencyCompletion) -> bool:
        """True when ``completion``'s token still holds its key (call with ``lock`` held)."""
        entry = self._entries.get((completion.owner, completion.key))
        return entry is not None and entry.token == completion.token and entry.response is None

    def complete_locked(self, completion: IdempotencyCompletion) -> None:
        """Record the response under the key (call with ``lock`` held, after `holds_locked`)."""
        entry = self._entries[(completion.owner, completion.key)]
        entry.response = completion.response
        entry.expires_at = completion.expires_at
        heapq.heappush(self._expiries, (completion.expires_at, completion.owner, completion.key))

    def __len__(self) -> int:
        with self.lock:
            now = self._clock()
            return sum(1 for e in self._entries.values() if e.expires_at > now)
