"""Settings, read from the stage's environment variables (``.chalice/config.json``).

Only `Settings.from_env` reads the environment, and only when called: Chalice's test client sets a
stage's variables just for the duration of a request, so nothing here runs at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar


class ConfigError(ValueError):
    """A stage setting is missing or malformed."""


T = TypeVar("T")

SETTING_PREFIX = "FI_"
"""Every setting is an environment variable whose name starts with this."""


def serving_environment(stage_variables: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the dev servers (`make run`, `make run-aws-local`) serve with: ``environ``,
    the stage's variables over it, and over those each setting ``environ`` gives (a non-empty
    ``FI_...`` variable), so a setting from the shell wins. `chalice local` and Lambda let the
    stage win."""
    given = {name: value for name, value in environ.items() if name.startswith(SETTING_PREFIX) and value}
    return {**environ, **stage_variables, **given}


def _parsed(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    """``parse`` of the setting ``name`` (``default`` when unset or empty); `ConfigError` saying
    it must be ``kind`` when ``parse`` refuses it."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from exc


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = _parsed(env, name, default, int, "an integer")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _parsed(env, name, default, float, "a number")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive finite number, got {env[name]!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("FI_LOG_LEVEL", "").strip().upper()
    if raw and raw not in LOG_LEVELS:
        raise ConfigError(f"FI_LOG_LEVEL must be one of {', '.join(sorted(LOG_LEVELS))}, got {raw!r}")
    return raw


def _fraction(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    """A decimal number greater than 0 and at most 1 (a similarity threshold)."""
    value = _parsed(env, name, default, Decimal, "a decimal number")
    if not value.is_finite() or not 0 < value <= 1:
        raise ConfigError(f"{name} must be greater than 0 and at most 1, got {env[name]!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a stage can configure."""

    backend: str = "memory"
    queue_capacity: int = 100_000
    queue_max_receive_count: int = 5
    queue_retention_seconds: int = 4 * 24 * 3600
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_lock_seconds: int = 60
    require_idempotency_key: bool = False
    max_body_bytes: int = 1024 * 1024
    worker_enabled: bool = False
    worker_concurrency: int = 1
    worker_backoff_base: int = 1
    worker_visibility_timeout: int = 30
    worker_plugins: str = ""
    table_name: str = "formula-intake"
    queue_url: str = ""
    dead_letter_queue_url: str = ""
    aws_region: str = "us-east-1"
    aws_endpoint_url: str = ""
    api_keys_json: str = ""
    api_keys_parameter: str = ""
    """The SSM SecureString parameter holding the API keys (``FI_API_KEYS_PARAMETER``): deployed
    stages keep their keys there, outside the deployment; local stages use ``FI_API_KEYS``."""
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    consumer_api_enabled: bool = True
    """Serve the ``/queue/*`` consumer API (``FI_CONSUMER_API``). Deployed stages turn it off:
    their Lambda consumer owns the queue, and the API would compete with it for messages."""
    log_level: str = ""
    """JSON logs at this level (``FI_LOG_LEVEL``); empty leaves the host's logging alone."""
    metrics_enabled: bool = False
    """CloudWatch EMF metrics (``FI_METRICS``), for stages that run on Lambda."""
    stack_name: str = ""
    """The CloudFormation stack (``FI_STACK_NAME``, set by the template): a metric dimension, so
    two stacks in one account keep their figures apart."""
    near_duplicate_threshold: Decimal = Decimal("0.95")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: the process environment) at call time."""
        env = os.environ if env is None else env
        backend = env.get("FI_BACKEND", "memory")
        if backend not in {"memory", "aws"}:
            raise ConfigError(f"FI_BACKEND must be 'memory' or 'aws', got {backend!r}")
        return cls(
            backend=backend,
            queue_capacity=_int(env, "FI_QUEUE_CAPACITY", cls.queue_capacity, minimum=1),
            queue_max_receive_count=_int(
                env, "FI_QUEUE_MAX_RECEIVE_COUNT", cls.queue_max_receive_count, minimum=1
            ),
            queue_retention_seconds=_int(
                env, "FI_QUEUE_RETENTION_SECONDS", cls.queue_retention_seconds, minimum=60
            ),
            idempotency_ttl_seconds=_int(
                env, "FI_IDEMPOTENCY_TTL_SECONDS", cls.idempotency_ttl_seconds, minimum=1
            ),
            idempotency_lock_seconds=_int(
                env, "FI_IDEMPOTENCY_LOCK_SECONDS", cls.idempotency_lock_seconds, minimum=1
            ),
            require_idempotency_key=_bool(env, "FI_REQUIRE_IDEMPOTENCY_KEY", cls.require_idempotency_key),
            max_body_bytes=_int(env, "FI_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1),
            worker_enabled=_bool(env, "FI_WORKER", cls.worker_enabled),
            worker_concurrency=_int(env, "FI_WORKER_CONCURRENCY", cls.worker_concurrency, minimum=1),
            worker_backoff_base=_int(env, "FI_WORKER_BACKOFF_BASE", cls.worker_backoff_base),
            worker_visibility_timeout=_int(
                env, "FI_WORKER_VISIBILITY_TIMEOUT", cls.worker_visibility_timeout, minimum=1
            ),
            worker_plugins=env.get("FI_WORKER_PLUGINS", cls.worker_plugins),
            table_name=env.get("FI_TABLE_NAME", cls.table_name) or cls.table_name,
            queue_url=env.get("FI_QUEUE_URL", ""),
            dead_letter_queue_url=env.get("FI_DEAD_LETTER_QUEUE_URL", ""),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.aws_region,
            aws_endpoint_url=env.get("FI_AWS_ENDPOINT_URL", ""),
            api_keys_json=env.get("FI_API_KEYS", ""),
            api_keys_parameter=env.get("FI_API_KEYS_PARAMETER", ""),
            rate_limit_per_second=_float(env, "FI_RATE_LIMIT_PER_SECOND", cls.rate_limit_per_second),
            rate_limit_burst=_int(env, "FI_RATE_LIMIT_BURST", cls.rate_limit_burst, minimum=1),
            consumer_api_enabled=_bool(env, "FI_CONSUMER_API", cls.consumer_api_enabled),
            log_level=_log_level(env),
            metrics_enabled=_bool(env, "FI_METRICS", cls.metrics_enabled),
            stack_name=env.get("FI_STACK_NAME", ""),
            near_duplicate_threshold=_fraction(
                env, "FI_NEAR_DUPLICATE_THRESHOLD", cls.near_duplicate_threshold
            ),
        )
