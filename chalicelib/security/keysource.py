"""API keys kept outside the deployment (an SSM parameter), cached and re-read.

A deployed stage names a SecureString parameter in ``FI_API_KEYS_PARAMETER`` whose value is the
same JSON object ``FI_API_KEYS`` holds (sha256-hex -> principal and roles). `RefreshingApiKeys`
reads it when the first request needs a key (a cold start's first request), keeps it for
`CACHE_SECONDS`, and reads it again after that, so a rotated key takes effect within a few
minutes without a redeploy.

A parameter that cannot be read, or holds no valid keys, is a configuration problem, never a
silent 401 for everyone: every authenticated request is answered 503 ``service_unavailable``
naming the problem, and one ERROR log line names the parameter and the cause. The read is tried
again after `RETRY_SECONDS`, so fixing the parameter needs no restart. When a later re-read
fails, the keys already read stay in force (and the ERROR line is written): an SSM outage does
not take the API down, at the cost of a revoked key working until the parameter can be read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chalicelib import jsonio
from chalicelib.clock import Clock
from chalicelib.errors import InfrastructureError
from chalicelib.security.apikeys import ApiKeyConfigError, ApiKeys, Principal

log = logging.getLogger("formula_intake.apikeys")

CACHE_SECONDS = 300.0
"""How long keys read from the parameter are used before it is read again."""
RETRY_SECONDS = 5.0
"""How long a failed read is remembered before the next request tries again."""


class ApiKeysUnavailable(InfrastructureError):
    """The stage's API keys could not be loaded, so no request can be authenticated."""


class RefreshingApiKeys:
    """The keys held in an outside source, read through ``load`` and cached for `CACHE_SECONDS`.

    ``load`` returns the keys' JSON text and raises `InfrastructureError` when the source cannot
    be read. ``source`` names it in log lines (never in answers to clients).
    """

    def __init__(
        self,
        load: Callable[[], str],
        *,
        source: str,
        clock: Clock,
        cache_seconds: float = CACHE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._load = load
        self._source = source
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._keys: ApiKeys | None = None
        self._problem = "the key parameter has not been read"
        self._next_read = float("-inf")

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal of ``key``, or None; raises `ApiKeysUnavailable` when no keys could be read."""
        return self.current().authenticate(key)

    def current(self) -> ApiKeys:
        """The keys in force, read again first when the cache has expired."""
        if self._clock() >= self._next_read:
            with self._lock:
                now = self._clock()
                if now >= self._next_read:
                    self._read(now)
        keys = self._keys
        if keys is None:
            raise ApiKeysUnavailable(
                f"API keys are unavailable ({self._problem}): no request can be authenticated "
                "until an operator fixes the stage's key configuration."
            )
        return keys

    def _read(self, now: float) -> None:
        try:
            keys = ApiKeys.from_json(self._load())
            if not len(keys):
                raise ApiKeyConfigError("the key parameter holds no keys")
        except ApiKeyConfigError as exc:
            self._failed(now, "the key parameter does not hold a valid key configuration", exc)
        except InfrastructureError as exc:
            self._failed(now, exc.message, exc)
        else:
            self._keys = keys
            self._next_read = now + self._cache_seconds
            log.info(jsonio.dumps({"event": "api_keys_loaded", "source": self._source, "keys": len(keys)}))

    def _failed(self, now: float, problem: str, exc: Exception) -> None:
        self._problem = problem
        self._next_read = now + self._retry_seconds
        line = {
            "event": "api_keys_unavailable",
            "source": self._source,
            "problem": str(exc),
            "keeping_previous_keys": self._keys is not None,
        }
        log.error(jsonio.dumps(line))
