"""Message bodies of the in-memory queue, kept as the JSON text a real queue would carry.

`freeze` serialises a body once at send time with `jsonio.dumps` (which also proves it is JSON and
measures it); `thaw` parses that text on every delivery. So no consumer ever holds an object that
the producer or another consumer can mutate, and a body comes back exactly as it would from SQS:
`Decimal` values keep their digits, and every number (int or float too) comes back as `Decimal`,
the way `jsonio.loads` parses a request body.

The stored text was produced by `jsonio.dumps`, so `thaw` parses it with a plain decoder instead of
`jsonio.loads`: the duplicate-key, depth and UTF-8 checks that guard untrusted input cannot fail on
it, and skipping them makes a delivery several times cheaper. It calls the decoder's C scanner
(`parse`) directly: `JSONDecoder.raw_decode` only wraps it in a Python frame that turns a scan
failure into `JSONDecodeError`, and text `freeze` made cannot fail to scan (0.31 µs instead of
0.47 µs for a small body). The queue's hot path calls `parse` itself, saving the `thaw` frame too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

from chalicelib.errors import PayloadTooLarge, QueueArgumentError
from chalicelib.jsonio import JsonValue, dumps

MAX_BODY_BYTES = 262_144
"""SQS's limit on a message body: 256 KiB of UTF-8."""

parse: Callable[[str, int], tuple[JsonValue, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_float=Decimal, parse_int=Decimal
).scan_once
"""``parse(text, 0)[0]`` is the value of ``text``, a JSON document `freeze` made."""


NOT_JSON = (TypeError, ValueError, RecursionError)
"""What `jsonio.dumps` raises for a value that is not JSON."""


def not_json(exc: BaseException) -> QueueArgumentError:
    """The error for a body `jsonio.dumps` refused with ``exc``."""
    return QueueArgumentError("body", f"must be JSON-serialisable ({exc})")


def measure(text: str) -> None:
    """Raise unless ``text`` is valid Unicode of at most `MAX_BODY_BYTES` bytes of UTF-8.

    Needed only when ``text`` is not ASCII or is longer than the limit: an ASCII text of at most
    `MAX_BODY_BYTES` characters passes (``str.isascii`` is O(1) in CPython).
    """
    if text.isascii() or len(text) > MAX_BODY_BYTES:
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise QueueArgumentError("body", "must be valid Unicode (it holds a lone surrogate)") from exc
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The message body is {size} bytes or more; the limit is {MAX_BODY_BYTES}.",
            limit_bytes=MAX_BODY_BYTES,
        )


def freeze(body: JsonValue) -> str:
    """The JSON text of ``body``; raise if it is not JSON or is over `MAX_BODY_BYTES` of UTF-8.

    `InMemoryQueue.send` inlines this (same three steps) to save a call per send.
    """
    try:
        text = dumps(body)
    except NOT_JSON as exc:
        raise not_json(exc) from exc
    if not text.isascii() or len(text) > MAX_BODY_BYTES:
        measure(text)
    return text


def thaw(text: str) -> JsonValue:
    """A fresh object parsed from text `freeze` made (numbers as `Decimal`)."""
    return parse(text, 0)[0]
