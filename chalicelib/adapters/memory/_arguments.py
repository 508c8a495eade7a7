"""Argument checks of the in-memory queue: SQS's ranges, and only `int` (never `bool`) for counts.

Each check raises `QueueArgumentError` naming the argument, before the queue changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chalicelib.errors import QueueArgumentError
from chalicelib.ports.queue import MAX_ACK_BATCH

MAX_MESSAGES = 10
MAX_VISIBILITY_SECONDS = 43_200
MAX_WAIT_SECONDS = 20
MAX_DELAY_SECONDS = 900

_DEDUP_ID = re.compile(r"[!-~]{1,128}")
"""1 to 128 printable ASCII characters, no spaces."""


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if type(value) is not int or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise QueueArgumentError(name, f"must be an integer {bounds}")


def check_send(delay_seconds: int, dedup_id: str | None) -> None:
    _check_int("delay_seconds", delay_seconds, 0, MAX_DELAY_SECONDS)
    if dedup_id is not None and not (type(dedup_id) is str and _DEDUP_ID.fullmatch(dedup_id)):
        raise QueueArgumentError("dedup_id", "must be 1 to 128 printable ASCII characters, no spaces")


def check_receive(max_messages: int, visibility_timeout: int, wait_seconds: int) -> None:
    _check_int("max_messages", max_messages, 1, MAX_MESSAGES)
    _check_int("visibility_timeout", visibility_timeout, 0, MAX_VISIBILITY_SECONDS)
    _check_int("wait_seconds", wait_seconds, 0, MAX_WAIT_SECONDS)


def check_batch(receipt_handles: Sequence[str]) -> None:
    if not isinstance(receipt_handles, Sequence) or isinstance(receipt_handles, str):
        raise QueueArgumentError("receipt_handles", "must be a list of receipt handles")
    if not 1 <= len(receipt_handles) <= MAX_ACK_BATCH:
        raise QueueArgumentError("receipt_handles", f"must hold 1 to {MAX_ACK_BATCH} receipt handles")


def check_visibility(seconds: int) -> None:
    _check_int("seconds", seconds, 0, MAX_VISIBILITY_SECONDS)


def check_limit(limit: int) -> None:
    _check_int("limit", limit, 0)
