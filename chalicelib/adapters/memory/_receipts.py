"""Receipt handles of the in-memory queue: opaque strings that name one lease of one message.

A handle is ``"rh1."`` and 32 lowercase hex digits encoding 16 bytes: a 4-byte tag drawn at random
per queue, the message's 8-byte key inside that queue, and the 4-byte lease number (the delivery
the handle was issued for: 1, 2, ...). The lease number lets the queue tell a superseded handle
(an older lease of a message it still holds) from an unknown one (a message that is gone) without
remembering every handle it issued; the tag makes a handle from another queue malformed here
instead of naming some unrelated message.

The queue finds the message of a current handle with one dict lookup of the exact string, so
`decode` only runs for handles that are not current, to say why. It is strict: the only strings
it accepts are those `encode` produces.
"""

from __future__ import annotations

import os
import re
import struct

from chalicelib.errors import ReceiptHandleMalformed

VERSION = "rh1."
_LAYOUT = struct.Struct(">4sQI")
_SHAPE = re.compile(r"rh1\.([0-9a-f]{32})")


class ReceiptCodec:
    """Encodes and decodes the receipt handles of one queue."""

    __slots__ = ("tag",)

    def __init__(self, tag: bytes | None = None) -> None:
        self.tag = os.urandom(4) if tag is None else tag
        if len(self.tag) != 4:
            raise ValueError("a receipt tag is 4 bytes")

    def encode(self, key: int, lease: int) -> str:
        """The handle of delivery number ``lease`` of the message with ``key``."""
        return VERSION + _LAYOUT.pack(self.tag, key, lease).hex()

    def decode(self, handle: object) -> tuple[int, int]:
        """Return ``(key, lease)``; raise `ReceiptHandleMalformed` unless this codec made it."""
        shape = _SHAPE.fullmatch(handle) if type(handle) is str else None
        if shape is not None:
            tag, key, lease = _LAYOUT.unpack(bytes.fromhex(shape.group(1)))
            if tag == self.tag and key and lease:
                return key, lease
        raise ReceiptHandleMalformed("The receipt handle is not one this queue issues.")
