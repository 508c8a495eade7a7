"""Message bodies of the in-memory queue: JSON text kept at send, a fresh value per delivery.

`freeze` writes a body's JSON text once, at send time (which also proves the body is JSON and
gives its size), and `thaw` parses that text again for every delivery. So no consumer ever holds
an object that the producer or another consumer can mutate, and a body comes back exactly as it
would from SQS: `Decimal` values keep their digits, every number (int or float too) comes back as
`Decimal` and tuples come back as lists, the way `jsonio.loads` parses a request body.
"""

from __future__ import annotations

import json
from decimal import Decimal

from chalicelib.errors import PayloadTooLarge, QueueArgumentError
from chalicelib.jsonio import JsonValue, dumps

MAX_BODY_BYTES = 262_144
"""SQS's limit on a message body: 256 KiB of UTF-8."""

_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
"""Parses text that `jsonio.dumps` wrote. That text is one JSON value with no surrounding space,
and cannot hold a repeated key, a NaN or a lone surrogate, nor nest deeper than the value it came
from, so `jsonio.loads`'s checks for untrusted input are not needed here."""


def freeze(body: JsonValue) -> str:
    """The JSON text of ``body``; raise if it is not JSON or is over `MAX_BODY_BYTES` of UTF-8."""
    try:
        text = dumps(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise QueueArgumentError("body", f"must be JSON-serialisable ({exc})") from exc
    try:
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise QueueArgumentError("body", "must be valid Unicode (it holds a lone surrogate)") from exc
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The message body is {size} bytes; the limit is {MAX_BODY_BYTES}.",
            limit_bytes=MAX_BODY_BYTES,
        )
    return text


def thaw(text: str) -> JsonValue:
    """A fresh value parsed from a text `freeze` wrote (numbers as `Decimal`)."""
    return _DECODER.raw_decode(text)[0]
