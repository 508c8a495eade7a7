"""Receipt handles of the in-memory queue: opaque strings that name one lease of one message.

A handle is ``"rh2."`` and 56 lowercase hex digits encoding 28 bytes: the message's 8-byte key
inside its queue, the 4-byte lease number (the delivery the handle was issued for: 1, 2, ...),
and a 16-byte tag: BLAKE2b in its keyed (MAC) mode over those 12 bytes, with a 128-bit output,
under a 256-bit secret drawn at random for each queue. Without the secret nobody can make the tag
of another lease, so a handle cannot be guessed, nor built from an earlier one by changing its
numbers.

The queue finds the message of a current handle with one dict lookup of the exact string, so
`decode` only runs for handles that are not current, to say why: a string whose tag this queue
did not make (forged, altered, or from another queue) is malformed; one it made names a real
lease, whose number tells a superseded handle (an older lease of a message the queue still holds)
from an unknown one (a message that is gone), without remembering every handle issued.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct

from chalicelib.errors import ReceiptHandleMalformed

VERSION = "rh2."
TAG_BYTES = 16
"""The length of a handle's tag: 128 bits that cannot be predicted without the queue's secret."""

_NUMBERS = struct.Struct(">QI")
_SHAPE = re.compile(r"rh2\.([0-9a-f]{24})([0-9a-f]{32})")


class ReceiptCodec:
    """Issues and checks the receipt handles of one queue, under a secret of its own."""

    __slots__ = ("_secret",)

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def _tag(self, numbers: bytes) -> bytes:
        return hashlib.blake2b(numbers, key=self._secret, digest_size=TAG_BYTES).digest()

    def encode(self, key: int, lease: int) -> str:
        """The handle of delivery number ``lease`` of the message with ``key``."""
        numbers = _NUMBERS.pack(key, lease)
        return VERSION + numbers.hex() + self._tag(numbers).hex()

    def decode(self, handle: object) -> tuple[int, int]:
        """Return ``(key, lease)``; raise `ReceiptHandleMalformed` unless this codec made it."""
        shape = _SHAPE.fullmatch(handle) if type(handle) is str else None
        if shape is not None:
            numbers = bytes.fromhex(shape.group(1))
            if hmac.compare_digest(self._tag(numbers), bytes.fromhex(shape.group(2))):
                key, lease = _NUMBERS.unpack(numbers)
                return key, lease
        raise ReceiptHandleMalformed("The receipt handle is not one this queue issues.")
