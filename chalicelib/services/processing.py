"""Processing messages: a handler registry keyed by message type, and the status lifecycle.

A `formula.submitted` message moves its formula from ``queued`` to ``processed``. Extra steps
(a compliance check, a costing) are one function each, registered for a message type; they run
before the formula is marked processed, and a redelivered message whose formula is already
processed runs nothing again (processing is idempotent on the formula id).

    registry = HandlerRegistry()

    @registry.step("formula.submitted")
    def check_allergens(message: dict, context: ProcessingContext) -> None:
        ...

Failures raise; the worker releases the message for redelivery with a backoff and, on the last
attempt the queue allows, records the error and marks the formula ``failed``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from chalicelib.clock import Clock
from chalicelib.errors import NotFound
from chalicelib.ports.store import STATUS_PROCESSED, FormulaLookup, FormulaRecord, FormulaStore
from chalicelib.services.views import MESSAGE_TYPE

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ProcessingContext:
    """What a handler knows about the delivery it is processing."""

    message_id: str
    receive_count: int
    max_receive_count: int
    formula: FormulaRecord | None = None
    """The stored formula a `formula.submitted` message is about, as the worker read it to see
    whether it was processed (None where the worker does not read the store itself, such as the
    standalone worker over HTTP): a step uses it rather than reading the formula again. It is a
    snapshot from before the steps ran: what an earlier step wrote is not in it."""

    @property
    def is_last_attempt(self) -> bool:
        return self.receive_count >= self.max_receive_count


Handler = Callable[[dict[str, Any], ProcessingContext], None]


class StatusSink(Protocol):
    """Where processing outcomes go: the formula store in-process, the HTTP API for a remote worker."""

    def lookup(self, owner: str, formula_id: str) -> FormulaLookup:
        """Whether the formula is processed (and the record, if the sink holds it); NotFound if absent."""
        ...

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int) -> bool: ...

    def mark_failed(self, owner: str, formula_id: str, *, error: str, at: float, attempts: int) -> bool: ...


class UnknownMessageType(Exception):
    """No handler is registered for the message's type (it goes to the dead-letter queue)."""


class MalformedMessage(Exception):
    """The message body is not a message this service understands."""


@dataclass
class HandlerRegistry:
    """Processing steps per message type, run in registration order."""

    steps: dict[str, list[Handler]] = field(default_factory=dict)

    def step(self, message_type: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.steps.setdefault(message_type, []).append(handler)
            return handler

        return register

    def handlers_for(self, message_type: str) -> list[Handler]:
        return self.steps.get(message_type, [])

    def knows(self, message_type: str) -> bool:
        return message_type == MESSAGE_TYPE or message_type in self.steps


def load_plugins(registry: HandlerRegistry, spec: str) -> None:
    """Register extra steps from ``module:function`` specs (comma separated); each gets the registry."""
    for item in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, function_name = item.partition(":")
        register = getattr(importlib.import_module(module_name), function_name or "register")
        register(registry)


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of a processing error (never a traceback)."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:MAX_ERROR_LENGTH]


class Processor:
    """Runs one message through its steps and records the formula's status."""

    def __init__(self, registry: HandlerRegistry, sink: StatusSink, clock: Clock) -> None:
        self._registry = registry
        self._sink = sink
        self._clock = clock

    def process(self, body: Any, context: ProcessingContext) -> bool:
        """Process ``body``; True if it did work, False if the formula was already processed."""
        if not isinstance(body, dict):
            raise MalformedMessage("message body is not a JSON object")
        message_type = body.get("type")
        if not isinstance(message_type, str) or not self._registry.knows(message_type):
            raise UnknownMessageType(f"no handler for message type {message_type!r}")
        if message_type != MESSAGE_TYPE:
            for handler in self._registry.handlers_for(message_type):
                handler(body, context)
            return True
        owner, formula_id = body.get("owner"), body.get("formula_id")
        if not isinstance(owner, str) or not isinstance(formula_id, str):
            raise MalformedMessage("formula.submitted needs string owner and formula_id")
        found = self._sink.lookup(owner, formula_id)
        if found.processed:
            return False
        context = replace(context, formula=found.record)
        for handler in self._registry.handlers_for(message_type):
            handler(body, context)
        return self._sink.mark_processed(owner, formula_id, at=self._clock(), attempts=context.receive_count)

    def record_failure(self, body: Any, context: ProcessingContext, exc: BaseException) -> None:
        """On the last attempt, mark the formula ``failed`` with the error (if it is a formula)."""
        if not isinstance(body, dict) or body.get("type") != MESSAGE_TYPE:
            return
        owner, formula_id = body.get("owner"), body.get("formula_id")
        if isinstance(owner, str) and isinstance(formula_id, str):
            try:
                self._sink.mark_failed(
                    owner,
                    formula_id,
                    error=describe(exc),
                    at=self._clock(),
                    attempts=context.receive_count,
                )
            except NotFound:
                return


class StoreStatusSink:
    """Outcomes written straight to the formula store (in-process worker, Lambda consumer)."""

    def __init__(self, store: FormulaStore) -> None:
        self._store = store

    def lookup(self, owner: str, formula_id: str) -> FormulaLookup:
        record = self._store.get(owner, formula_id)
        if record is None:
            raise NotFound(f"No formula {formula_id} for the message's owner.")
        return FormulaLookup(record.status == STATUS_PROCESSED, record)

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int) -> bool:
        return self._store.mark_processed(owner, formula_id, at=at, attempts=attempts).changed

    def mark_failed(self, owner: str, formula_id: str, *, error: str, at: float, attempts: int) -> bool:
        return self._store.mark_failed(owner, formula_id, error=error, at=at, attempts=attempts).changed
