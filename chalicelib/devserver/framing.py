"""Where a request's body ends: the HTTP/1.1 message framing rules the dev server enforces.

A front end and this server must agree on where one request ends and the next begins, or a body
can smuggle a second request onto a keep-alive connection. So the rules are strict (RFC 9112 §6),
and any doubt is a refusal after which the connection is closed:

- no ``Transfer-Encoding`` and no ``Content-Length``: no body;
- exactly one ``Content-Length`` whose value is ASCII digits (optional blanks around them):
  that many bytes. A second ``Content-Length`` (equal or not), a sign, a list (``5,5``), hex or
  any other text is a 400;
- ``Transfer-Encoding`` whose codings, over every such header, are exactly ``chunked`` (any
  case, blanks around it): a chunked body, decoded here. With a ``Content-Length`` too, on an
  HTTP/1.0 request, with ``chunked`` not last or more than once, or an unknown coding such as
  ``xchunked``: 400. Another coding before a final ``chunked`` (``gzip, chunked``): 501;
- a header line without a colon (``Transfer-Encoding : chunked``), a folded header line, or a
  header the service reads twice (``Authorization``, ``X-Api-Key``, ...): 400.
"""

from __future__ import annotations

import re
from collections import Counter
from http.client import HTTPMessage
from typing import BinaryIO

SINGLE_HEADERS = ("authorization", "x-api-key", "content-type", "idempotency-key", "host")
"""Headers the service reads that must appear at most once (API Gateway keeps the last copy,
``http.server`` the first: refusing both copies is the only answer that cannot be misread)."""

MAX_CHUNK_LINE = 4096
"""Longest chunk-size line (size and extensions) or trailer line, CRLF included."""

MAX_TRAILERS = 64

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]+")
_BLANKS = " \t"


class FramingError(Exception):
    """A request whose framing or headers cannot be trusted; answered once, then the connection closes."""

    def __init__(self, status: int, code: str, message: str, **extra: str | int) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def _bad(message: str, **extra: str | int) -> FramingError:
    return FramingError(400, "bad_request", message, **extra)


MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""A header field name: an RFC 9110 token, with nothing between it and its colon."""


Fields = list[tuple[str, str]]
"""A header block's fields in the order sent: (name in lower case, value)."""


def read_header_block(rfile: BinaryIO) -> tuple[HTTPMessage, Fields]:
    """Read the header block that follows a request line, strictly (RFC 9112 §5): the headers
    as ``http.server`` keeps them, and the same fields as a plain list for the framing checks.

    Each line is ``name: value`` with the name a token and the colon right after it; a folded
    (continued) line, a line without a colon, a bare CR, a line over `MAX_HEADER_LINE` bytes or
    more than `MAX_HEADERS` lines is refused (`FramingError`, 400 or 431). Values are Latin-1
    text with their outer blanks removed, as ``http.client`` reads them.
    """
    headers = HTTPMessage()
    fields: Fields = []
    for _ in range(MAX_HEADERS + 1):
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            raise FramingError(431, "headers_too_large", "A header line is too long.")
        if line in (b"\r\n", b"\n", b""):
            return headers, fields
        if line[:1] in (b" ", b"\t"):
            raise _bad("A header is folded over several lines.")
        name, colon, value = line.partition(b":")
        value = value.rstrip(b"\r\n").strip(b" \t")
        if not colon or not _FIELD_NAME.fullmatch(name) or b"\r" in value or b"\n" in value:
            raise _bad("A header line is malformed (no colon right after the field name).")
        name_text, value_text = name.decode("ascii"), value.decode("iso-8859-1")
        headers[name_text] = value_text
        fields.append((name_text.lower(), value_text))
    raise FramingError(431, "headers_too_large", f"A request has more than {MAX_HEADERS} headers.")


def check_header_block(fields: Fields, *, http_1_0: bool) -> None:
    """Refuse a header block that repeats a header the service reads once, or that frames an
    HTTP/1.0 request with Transfer-Encoding."""
    counts = Counter(name for name, _ in fields)
    for name in SINGLE_HEADERS:
        if counts[name] > 1:
            raise _bad(f"The {name} header appears more than once.", header=name)
    if http_1_0 and counts["transfer-encoding"]:
        raise _bad("Transfer-Encoding is not allowed on an HTTP/1.0 request.", header="transfer-encoding")


CHUNKED = -1
"""`body_length`'s answer for a chunked body."""


def body_length(fields: Fields) -> int:
    """The body's length in bytes from ``Content-Length``, `CHUNKED`, or 0 when neither is sent."""
    encodings = [value for name, value in fields if name == "transfer-encoding"]
    lengths = [value for name, value in fields if name == "content-length"]
    if encodings:
        if lengths:
            raise _bad(
                "A request may not carry both Transfer-Encoding and Content-Length.", header="content-length"
            )
        codings = [coding.strip(_BLANKS).lower() for value in encodings for coding in value.split(",")]
        if codings == ["chunked"]:
            return CHUNKED
        if codings[-1] != "chunked" or codings.count("chunked") != 1 or "" in codings:
            raise _bad("Transfer-Encoding must name chunked, once and last.", header="transfer-encoding")
        raise FramingError(
            501,
            "not_implemented",
            "Only the chunked transfer coding is supported.",
            header="transfer-encoding",
        )
    if not lengths:
        return 0
    if len(lengths) > 1:
        raise _bad("The content-length header appears more than once.", header="content-length")
    text = lengths[0].strip(_BLANKS)
    if not _DIGITS.fullmatch(text):
        raise _bad("Content-Length must be a number of bytes in decimal digits.", header="content-length")
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else 10**18


def _line(rfile: BinaryIO, what: str) -> bytes:
    line = rfile.readline(MAX_CHUNK_LINE + 1)
    if len(line) > MAX_CHUNK_LINE:
        raise _bad(f"A {what} line is longer than {MAX_CHUNK_LINE} bytes.")
    if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
        raise _bad(f"The chunked body ended early or a {what} line does not end with CRLF.")
    return line[:-2]


def read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    """Decode a chunked body from ``rfile``; `FramingError` 413 once it would exceed ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    while True:
        size_text, sep, _extensions = _line(rfile, "chunk-size").partition(b";")
        size_text = size_text.rstrip(b" \t") if sep else size_text
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise _bad("A chunk size is not a hexadecimal number.")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise FramingError(
                413, "payload_too_large", f"The request body is larger than {limit} bytes.", limit_bytes=limit
            )
        data = rfile.read(size)
        if len(data) < size or rfile.read(2) != b"\r\n":
            raise _bad("A chunk is shorter than its size or not followed by CRLF.")
        parts.append(data)
    for _ in range(MAX_TRAILERS + 1):
        if not _line(rfile, "trailer"):
            return b"".join(parts)
    raise _bad(f"The chunked body has more than {MAX_TRAILERS} trailer lines.")
