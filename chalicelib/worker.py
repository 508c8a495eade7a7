"""The worker: receive, process, acknowledge; release with a backoff on failure.

Runs in-process beside the dev server (in-memory backend, `make run`), in the Lambda SQS
consumer, or standalone against a running API through its consumer endpoints
(`chalicelib.entrypoints.worker`).

Each message is processed at least once: success acks it; a failure releases it (a visibility
change) after an exponential backoff, so it is redelivered with ``receive_count + 1``; on the
queue's last allowed attempt the formula is marked ``failed`` and the queue dead-letters the
message on its next receive. Stopping (SIGTERM/SIGINT) finishes the message in hand, releases
received messages not yet started, and leaves nothing unacknowledged and unreleased: an
unfinished message is always redelivered. One JSON log line per message, without formula content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib import jsonio, observability
from chalicelib.clock import Clock
from chalicelib.errors import FormulaIntakeError, ReceiptHandleError
from chalicelib.ports.queue import ReceivedMessage
from chalicelib.services.processing import ProcessingContext, Processor, describe

log = logging.getLogger("formula_intake.worker")

IDLE_POLL_SECONDS = 0.2
"""Pause after an empty receive when not long polling, so an idle worker does not spin."""


class ConsumerQueue(Protocol):
    """The part of `MessageQueue` a consumer needs (the in-memory queue, SQS, or the HTTP API)."""

    def receive(
        self, *, max_messages: int = 1, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[ReceivedMessage]: ...

    def ack(self, receipt_handle: str) -> None: ...

    def ack_batch(self, receipt_handles: Sequence[str]) -> list[FormulaIntakeError | None]: ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff in whole seconds: base * 2**(attempt-1), capped."""

    base: int = 1
    cap: int = 60

    def delay(self, attempt: int) -> int:
        if self.base <= 0:
            return 0
        return int(min(self.cap, self.base * 2 ** max(0, attempt - 1)))


class Worker:
    """Consumes a queue with ``concurrency`` threads until stopped."""

    def __init__(
        self,
        queue: ConsumerQueue,
        processor: Processor,
        *,
        max_receive_count: int,
        concurrency: int = 1,
        visibility_timeout: int = 30,
        wait_seconds: int = 1,
        batch_size: int = 1,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._queue = queue
        self._processor = processor
        self._max_receive_count = max_receive_count
        self._concurrency = concurrency
        self._visibility_timeout = visibility_timeout
        self._wait_seconds = wait_seconds
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        self._clock = clock or time.time
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def handle(self, message: ReceivedMessage, acks: list[str] | None = None) -> str:
        """Process one delivery and settle it (ack or release); return the outcome.

        With ``acks``, a processed message's receipt handle is added there for the caller to ack
        with the rest of its batch, instead of being acked at once.
        """
        observability.set_correlation_id(message.message_id)
        context = ProcessingContext(message.message_id, message.receive_count, self._max_receive_count)
        started = time.perf_counter()
        outcome = "processed"
        error = None
        try:
            did_work = self._processor.process(message.body, context)
            outcome = "processed" if did_work else "skipped"
            if acks is None:
                self._settle(self._queue.ack, message.receipt_handle)
            else:
                acks.append(message.receipt_handle)
        except Exception as exc:  # any handler failure means: release for redelivery
            error = describe(exc)
            if context.is_last_attempt:
                outcome = "failed"
                self._processor.record_failure(message.body, context, exc)
            else:
                outcome = "retry"
            self._settle(
                self._queue.change_visibility,
                message.receipt_handle,
                self._backoff.delay(message.receive_count),
            )
        body = message.body if isinstance(message.body, dict) else {}
        line = {
            "event": "message",
            "message_id": message.message_id,
            "type": body.get("type"),
            "formula_id": body.get("formula_id"),
            "receive_count": message.receive_count,
            "outcome": outcome,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }
        if error is not None:
            line["error_type"] = error.split(":", 1)[0]
        log.info(jsonio.dumps(line))
        self._measure(message, outcome)
        return outcome

    def _measure(self, message: ReceivedMessage, outcome: str) -> None:
        if outcome in {"processed", "skipped"}:
            observability.count(observability.MESSAGES_PROCESSED)
            observability.seconds(observability.SUBMIT_TO_PROCESSED, self._clock() - message.sent_at)
        elif outcome == "failed":
            observability.count(observability.MESSAGES_DEAD_LETTERED)
        else:
            observability.count(observability.MESSAGES_FAILED)

    def _settle(self, operation: object, *args: object) -> None:
        try:
            operation(*args)  # type: ignore[operator]
        except ReceiptHandleError as exc:
            log.warning(jsonio.dumps({"event": "settle_failed", "error": describe(exc)}))

    def run_once(self) -> int:
        """One receive (long-polling up to ``wait_seconds``) and its messages; return how many."""
        messages = self._queue.receive(
            max_messages=self._batch_size,
            visibility_timeout=self._visibility_timeout,
            wait_seconds=self._wait_seconds,
        )
        acks: list[str] = []
        for index, message in enumerate(messages):
            if self._stopping.is_set():
                for unstarted in messages[index:]:
                    self._settle(self._queue.change_visibility, unstarted.receipt_handle, 0)
                break
            self.handle(message, acks)
        if acks:  # the batch's processed messages, deleted in one call
            try:
                outcomes = self._queue.ack_batch(acks)
            except FormulaIntakeError as exc:
                outcomes = [exc] * len(acks)
            for error in outcomes:
                if error is not None:
                    log.warning(jsonio.dumps({"event": "settle_failed", "error": describe(error)}))
        return len(messages)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.run_once() and self._wait_seconds == 0:
                    self._stopping.wait(IDLE_POLL_SECONDS)
            except Exception as exc:  # the queue itself failed: log, back off, keep serving
                log.error(jsonio.dumps({"event": "receive_failed", "error": describe(exc)}))
                self._stopping.wait(1.0)

    def start(self) -> None:
        """Start ``concurrency`` daemon threads."""
        for n in range(self._concurrency):
            thread = threading.Thread(target=self._loop, name=f"worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the messages in hand; True if every thread ended within ``timeout``."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)
