"""Message bodies of the in-memory queue, kept as the JSON text a real queue would carry.

`freeze` serialises a body once at send time with `jsonio.dumps` (which also proves it is JSON and
measures it); `thaw` parses that text on every delivery. So no consumer ever holds an object that
the producer or another consumer can mutate, and a body comes back exactly as it would from SQS:
`Decimal` values keep their digits, and every number (int or float too) comes back as `Decimal`,
the way `jsonio.loads` parses a request body.

The stored text was produced by `jsonio.dumps`, so `thaw` parses it with a plain decoder instead of
`jsonio.loads`: the duplicate-key, depth and UTF-8 checks that guard untrusted input cannot fail on
it, and skipping them makes a delivery several times cheaper.
"""

from __future__ import annotations

import json
from decimal import Decimal

from chalicelib import jsonio
from chalicelib.errors import PayloadTooLarge, QueueArgumentError
from chalicelib.jsonio import JsonValue

MAX_BODY_BYTES = 262_144
"""SQS's limit on a message body: 256 KiB of UTF-8."""

_raw_decode = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal).raw_decode


def freeze(body: JsonValue) -> str:
    """The JSON text of ``body``; raise if it is not JSON or is over `MAX_BODY_BYTES` of UTF-8."""
    try:
        text = jsonio.dumps(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise QueueArgumentError("body", f"must be JSON-serialisable ({exc})") from exc
    if text.isascii():
        size = len(text)
    elif len(text) > MAX_BODY_BYTES:
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
    return text


def thaw(text: str) -> JsonValue:
    """A fresh object parsed from text `freeze` made (numbers as `Decimal`)."""
    return _raw_decode(text)[0]
