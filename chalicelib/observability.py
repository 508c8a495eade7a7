"""Logs and metrics on Lambda, with AWS Lambda Powertools (Logger and Metrics).

Lambda's Python runtime leaves the root logger at WARNING, so the service's INFO lines (one per
request, one per message) would vanish. `configure` attaches Powertools' JSON handler to the
``formula_intake`` logger, the parent of every logger in this code base, at the stage's level
(``FI_LOG_LEVEL``; INFO in ``prod``), and turns on CloudWatch embedded-metric-format (EMF)
metrics in one namespace (``FI_METRICS``). Stages that set neither (``make run``, tests) keep the
host's logging untouched, and every function here is then a no-op.

Each log line carries a ``correlation_id``: the API Gateway request id for a request, the SQS
message id for a message, the outbox id for a relayed item. Log lines never hold formula
content: callers log ids, counts, outcomes and timings only.

Metrics are buffered per invocation and written as one EMF document by `flush` (the edge calls it
after each request, the Lambda handlers after each event).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

SERVICE = "formula_intake"
"""The Powertools service name, and the name of the parent logger of every module here."""
NAMESPACE = "FormulaIntake"
"""The one CloudWatch namespace of the service's metrics."""

FORMULAS_ACCEPTED = "FormulasAccepted"
DUPLICATES_REJECTED = "DuplicatesRejected"
IDEMPOTENT_REPLAYS = "IdempotentReplays"
VALIDATION_REJECTIONS = "ValidationRejections"
MESSAGES_PROCESSED = "MessagesProcessed"
MESSAGES_FAILED = "MessagesFailed"
MESSAGES_DEAD_LETTERED = "MessagesDeadLettered"
SUBMIT_TO_PROCESSED = "SubmitToProcessedSeconds"
OUTBOX_PENDING = "OutboxPending"
OUTBOX_OLDEST_AGE = "OutboxOldestPendingAgeSeconds"

METRIC_NAMES = (
    FORMULAS_ACCEPTED,
    DUPLICATES_REJECTED,
    IDEMPOTENT_REPLAYS,
    VALIDATION_REJECTIONS,
    MESSAGES_PROCESSED,
    MESSAGES_FAILED,
    MESSAGES_DEAD_LETTERED,
    SUBMIT_TO_PROCESSED,
    OUTBOX_PENDING,
    OUTBOX_OLDEST_AGE,
)
"""Every metric the service emits; the template's alarms and dashboard use these names."""


@dataclass(frozen=True, slots=True)
class _Tools:
    logger: Logger | None
    metrics: Metrics | None


_tools = _Tools(None, None)
_lock = threading.Lock()


def configure(log_level: str, *, metrics: bool, stack: str = "") -> None:
    """Install the JSON log handler at ``log_level`` (empty: leave logging alone) and, if
    ``metrics``, EMF metrics with the dimensions ``service`` and ``stack``. Called once per
    process by the composition root; repeating it with the same values changes nothing."""
    global _tools
    if not log_level and not metrics:
        return
    from aws_lambda_powertools import Logger, Metrics

    with _lock:
        logger = _tools.logger
        if log_level and logger is None:
            logger = Logger(service=SERVICE, level=log_level.upper())
        elif log_level and logger is not None:
            logger.setLevel(log_level.upper())
        emf = _tools.metrics
        if metrics and emf is None:
            emf = Metrics(namespace=NAMESPACE, service=SERVICE)
            emf.set_default_dimensions(stack=stack or "local")
        _tools = _Tools(logger, emf)


def set_correlation_id(value: str | None) -> None:
    """Tag the following log lines with ``value`` (a request, message or outbox id)."""
    if _tools.logger is not None:
        _tools.logger.set_correlation_id(value)


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the counter ``name`` (one of `METRIC_NAMES`)."""
    if _tools.metrics is not None and value:
        _tools.metrics.add_metric(name=name, unit="Count", value=value)


def gauge(name: str, value: float) -> None:
    """Record a level (zero included), such as the outbox backlog."""
    if _tools.metrics is not None:
        _tools.metrics.add_metric(name=name, unit="Count", value=value)


def seconds(name: str, value: float) -> None:
    """Record a duration or an age in seconds."""
    if _tools.metrics is not None:
        _tools.metrics.add_metric(name=name, unit="Seconds", value=max(0.0, value))


def flush() -> None:
    """Write the metrics buffered since the last flush as one EMF document (nothing if none)."""
    if _tools.metrics is not None:
        _tools.metrics.flush_metrics(raise_on_empty_metrics=False)
