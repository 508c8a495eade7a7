"""A boto3 client whose calls run one at a time: for moto only, never for real AWS.

moto's backends are not thread-safe. Its TransactWriteItems snapshots every table and, when a
condition fails, restores the snapshot, undoing any write another thread made meanwhile (a
worker marking a formula processed while a duplicate submission is refused loses its update).
Real DynamoDB makes each request atomic and isolated; holding one lock per call gives moto the
same property, while the service's own code still runs concurrently between calls.
"""

from __future__ import annotations

import threading
from typing import Any

_PASS_THROUGH = frozenset({"exceptions", "meta", "get_waiter", "get_paginator", "can_paginate"})


class SerializedClient:
    """Wrap ``client`` so that each API call holds ``lock`` (one shared lock by default)."""

    _shared_lock = threading.Lock()

    def __init__(self, client: Any, lock: threading.Lock | None = None) -> None:
        self._client = client
        self._lock = lock or SerializedClient._shared_lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in _PASS_THROUGH or not callable(attribute):
            return attribute
        lock = self._lock

        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return attribute(*args, **kwargs)

        return call
