"""Message bodies of the in-memory queue: a private snapshot taken at send, a fresh value per delivery.

`freeze` takes the snapshot once at send time and `thaw` makes each delivery's value from it. So
no consumer ever holds an object that the producer or another consumer can mutate, and a body
comes back exactly as it would from SQS: `Decimal` values keep their digits, and every number (int
or float too) comes back as `Decimal`, the way `jsonio.loads` parses a request body.

The snapshot (`Frozen`) is one of two things:

- in general, the body's JSON text made by `jsonio.dumps` (which also proves it is JSON and gives
  its size), parsed again for every delivery. The text was made by `jsonio.dumps`, so `thaw`
  parses it with a plain decoder instead of `jsonio.loads`: the duplicate-key, depth and UTF-8
  checks that guard untrusted input cannot fail on it, and skipping them makes a delivery several
  times cheaper. It calls the decoder's C scanner (`parse`) directly: `JSONDecoder.raw_decode`
  only wraps it in a Python frame that turns a scan failure into `JSONDecodeError`, and text
  `freeze` made cannot fail to scan (0.31 µs instead of 0.47 µs for a small body);
- for a *flat* body, a `dict` whose keys are ASCII `str` and whose values are all ASCII `str`,
  `None`, `bool` or finite `Decimal` (exact types, no subclasses), a copy of the dict itself
  (`snapshot`), and each delivery gets a copy of that copy (``dict.copy``, 0.05 µs). Parsing the
  dict's JSON text would give an equal dict of equal values of the same types (the values are
  the ones JSON round-trips unchanged), and those values are immutable, so sharing them is
  sharing nothing anyone can change. Such a body is JSON by construction, and its size is bounded
  without writing it: every ASCII character takes at most 6 bytes in JSON (``\\u001f``), so
  when the bound is within `MAX_BODY_BYTES` the body is; otherwise (or for anything else) it
  takes the general path, which measures exactly. Which bodies are accepted, and what a delivery
  returns, is the same either way; a unit test compares the two paths.

A `jsonio.RawJson` body (a message written from a template) takes the general path at no cost:
`jsonio.dumps` returns its text as it is, so the queue keeps, measures and parses for each
delivery exactly the text the value it stands for would have given.

The queue's hot paths inline `thaw` and most of `freeze`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

from chalicelib.errors import PayloadTooLarge, QueueArgumentError
from chalicelib.jsonio import JsonValue, dumps

Frozen = str | dict[str, JsonValue]
"""A body as the queue holds it: its JSON text, or the `snapshot` of a flat body."""

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


def snapshot(body: dict[str, JsonValue]) -> dict[str, JsonValue] | None:
    """A copy of ``body`` (a `dict`) if it is flat and small enough to need no measuring, else None."""
    bound = 2  # {}
    for key, value in body.items():
        if key.__class__ is not str or not key.isascii():
            return None
        cls = value.__class__
        if cls is str:
            if not value.isascii():
                return None
            bound += 6 * (len(key) + len(value)) + 6  # "key":"value",
        elif value is None or cls is bool:
            bound += 6 * len(key) + 9  # "key":false,
        elif cls is Decimal and value.is_finite():
            bound += 6 * len(key) + 4 + len(str(value))  # "key":1.5E+7,
        else:
            return None
    return body.copy() if bound <= MAX_BODY_BYTES else None


def freeze(body: JsonValue) -> Frozen:
    """The snapshot of ``body``; raise if it is not JSON or is over `MAX_BODY_BYTES` of UTF-8.

    `InMemoryQueue.send` inlines this (the same steps) to save a call per send.
    """
    if body.__class__ is dict:
        flat = snapshot(body)
        if flat is not None:
            return flat
    try:
        text = dumps(body)
    except NOT_JSON as exc:
        raise not_json(exc) from exc
    if not text.isascii() or len(text) > MAX_BODY_BYTES:
        measure(text)
    return text


def thaw(frozen: Frozen) -> JsonValue:
    """A fresh value made from a snapshot `freeze` took (numbers as `Decimal`)."""
    if isinstance(frozen, str):
        return parse(frozen, 0)[0]
    return frozen.copy()
