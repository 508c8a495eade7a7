"""Request smuggling: the dev server agrees with the RFC on where a body ends, or refuses and closes.

Every request here is followed on the same connection by ``GET /formulas`` (which would answer
200). A refused request must be answered exactly once, with ``Connection: close``, and the
connection closed, so the follower is never answered as a request; an accepted one is decoded
and the follower answered as the second request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import DEV_KEY, LocalServer, exchange
from tests.request_ids import is_request_id

FOLLOWER = (
    f"GET /formulas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_KEY}\r\nConnection: close\r\n\r\n"
)
AMBIGUOUS_BODY = b"0\r\n\r\n"
"""Five bytes that are also an empty chunked body: the classic disagreement."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    running = start_fast(tmp_path_factory.mktemp("framing"), worker="0")
    try:
        yield running
    finally:
        running.stop()


def post(header_lines: str, body: bytes, *, version: str = "HTTP/1.1") -> bytes:
    head = (
        f"POST /formulas {version}\r\nHost: x\r\nAuthorization: Bearer {DEV_KEY}\r\n"
        f"Content-Type: application/json\r\n{header_lines}\r\n"
    )
    return head.encode("latin-1") + body + FOLLOWER.encode()


def chunked(payload: bytes, size: str | None = None) -> bytes:
    return f"{size or format(len(payload), 'x')}\r\n".encode() + payload + b"\r\n0\r\n\r\n"


def formula(n: int) -> bytes:
    return json.dumps({"name": f"Framing {n}", "materials": [{"name": f"M{n}", "concentration": 1}]}).encode()


REFUSED = {
    # Transfer-Encoding: anything but exactly one final "chunked", or with a Content-Length.
    "te xchunked": (400, "Transfer-Encoding: xchunked\r\n"),
    "te chunked twice in one": (400, "Transfer-Encoding: chunked, chunked\r\n"),
    "te chunked in two headers": (400, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
    "te chunked not last": (400, "Transfer-Encoding: chunked, gzip\r\n"),
    "te identity": (400, "Transfer-Encoding: identity\r\n"),
    "te empty": (400, "Transfer-Encoding:\r\n"),
    "te empty item": (400, "Transfer-Encoding: chunked,\r\n"),
    "te vertical tab": (400, "Transfer-Encoding: \x0bchunked\r\n"),
    "te space before colon": (400, "Transfer-Encoding : chunked\r\n"),
    "te folded": (400, "Transfer-Encoding:\r\n chunked\r\n"),
    "te gzip then chunked": (501, "Transfer-Encoding: gzip, chunked\r\n"),
    "te gzip header then chunked header": (501, "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
    "te and cl": (400, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
    "cl and te": (400, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
    "cl and xchunked": (400, "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n"),
    # Content-Length: exactly one, decimal digits only.
    "cl twice different": (400, "Content-Length: 5\r\nContent-Length: 6\r\n"),
    "cl twice equal": (400, "Content-Length: 5\r\nContent-Length: 5\r\n"),
    "cl list": (400, "Content-Length: 5,5\r\n"),
    "cl list spaced": (400, "Content-Length: 5, 5\r\n"),
    "cl plus": (400, "Content-Length: +5\r\n"),
    "cl minus": (400, "Content-Length: -5\r\n"),
    "cl hex": (400, "Content-Length: 0x5\r\n"),
    "cl underscore": (400, "Content-Length: 0_5\r\n"),
    "cl decimal point": (400, "Content-Length: 5.0\r\n"),
    "cl exponent": (400, "Content-Length: 5e0\r\n"),
    "cl two numbers": (400, "Content-Length: 5 5\r\n"),
    "cl empty": (400, "Content-Length:\r\n"),
    "cl non ascii digit": (400, "Content-Length: \xb5\r\n"),
    "cl space before colon": (400, "Content-Length : 5\r\n"),
    "cl folded": (400, "Content-Length:\r\n 5\r\n"),
}


@pytest.mark.parametrize(("status", "lines"), list(REFUSED.values()), ids=list(REFUSED))
def test_doubtful_framing_is_refused_once_and_the_connection_closed(
    server: LocalServer, status: int, lines: str
) -> None:
    replies, closed = exchange(server.port, post(lines, AMBIGUOUS_BODY))
    assert [r.status for r in replies] == [status], replies
    assert closed and replies[0].headers["connection"] == "close"
    assert replies[0].headers["content-type"] == "application/json"
    assert replies[0].headers["x-content-type-options"] == "nosniff"
    assert is_request_id(replies[0].headers["x-request-id"])
    error = replies[0].json()["error"]
    assert error["code"] == ("bad_request" if status == 400 else "not_implemented")


def test_transfer_encoding_on_http_1_0_is_refused(server: LocalServer) -> None:
    replies, closed = exchange(
        server.port, post("Transfer-Encoding: chunked\r\n", AMBIGUOUS_BODY, version="HTTP/1.0")
    )
    assert [r.status for r in replies] == [400] and closed


BAD_CHUNKS = {
    "size not hex": b"zz\r\n" + b"x" * 5 + b"\r\n0\r\n\r\n",
    "size with 0x": b"0x5\r\nhello\r\n0\r\n\r\n",
    "size with sign": b"+5\r\nhello\r\n0\r\n\r\n",
    "size empty": b"\r\nhello\r\n0\r\n\r\n",
    "size line with bare LF": b"5\nhello\r\n0\r\n\r\n",
    "data longer than size": b"3\r\nhello\r\n0\r\n\r\n",
    "no CRLF after data": b"5\r\nhelloXX0\r\n\r\n",
    "size too many digits": b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("body", list(BAD_CHUNKS.values()), ids=list(BAD_CHUNKS))
def test_malformed_chunked_bodies_are_400_and_close(server: LocalServer, body: bytes) -> None:
    replies, closed = exchange(server.port, post("Transfer-Encoding: chunked\r\n", body))
    assert [r.status for r in replies] == [400] and closed
    assert replies[0].headers["connection"] == "close"


def test_a_chunked_body_over_the_limit_is_413_and_close(server: LocalServer) -> None:
    chunk = b"x" * 65536
    body = (format(len(chunk), "x").encode() + b"\r\n" + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    replies, closed = exchange(server.port, post("Transfer-Encoding: chunked\r\n", body))
    assert [r.status for r in replies] == [413] and closed
    assert replies[0].json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "coding", ["chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked\t"], ids=repr
)
def test_chunked_bodies_are_decoded_and_the_next_request_answered(server: LocalServer, coding: str) -> None:
    n = abs(hash(coding))
    replies, closed = exchange(server.port, post(f"Transfer-Encoding:{coding}\r\n", chunked(formula(n))))
    assert [r.status for r in replies] == [201, 200], replies
    assert replies[0].json()["name"] == f"Framing {n}"
    assert f"Framing {n}" in {f["name"] for f in replies[1].json()["formulas"]}
    assert closed  # the follower asked for Connection: close


def test_chunks_with_extensions_and_trailers_are_decoded(server: LocalServer) -> None:
    payload = formula(7001)
    body = (
        f"{len(payload[:10]):x};name=value\r\n".encode()
        + payload[:10]
        + f"\r\n{len(payload[10:]):X} ; ext\r\n".encode()
        + payload[10:]
        + b"\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    replies, _ = exchange(server.port, post("Transfer-Encoding: chunked\r\n", body))
    assert [r.status for r in replies] == [201, 200]


@pytest.mark.parametrize("value", ["5", " 5", "5 ", "\t5", "005"], ids=repr)
def test_one_content_length_with_blanks_or_leading_zeros_frames_the_body(
    server: LocalServer, value: str
) -> None:
    replies, _ = exchange(server.port, post(f"Content-Length:{value}\r\n", AMBIGUOUS_BODY))
    # The five bytes are the body (not JSON: 400 from the app); the follower is the next request.
    assert [r.status for r in replies] == [400, 200]
    assert replies[0].json()["error"]["code"] == "validation_error"


def test_a_malformed_request_line_is_answered_once_in_the_error_shape(server: LocalServer) -> None:
    replies, closed = exchange(
        server.port, b"GET /health HTTP/1.1 extra\r\nHost: x\r\n\r\n" + FOLLOWER.encode()
    )
    assert [r.status for r in replies] == [400] and closed
    assert replies[0].json()["error"]["code"] == "bad_request"
    assert is_request_id(replies[0].headers["x-request-id"])


def test_the_example_from_the_issue(server: LocalServer) -> None:
    """A POST whose chunked body holds ``GET /formulas``: the body is a body, never a request."""
    smuggled = FOLLOWER.encode()
    body = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    head = (
        f"POST /formulas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEV_KEY}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    replies, closed = exchange(server.port, head.encode() + body)
    assert [r.status for r in replies] == [400] and closed
    assert replies[0].json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "line", ["GET /health", "GET /health HTTP/9", "GET /health HTTP/2.0", "BREW /health HTTP/1.1"]
)
def test_other_refusals_of_http_server_are_answered_once_in_the_error_shape(
    server: LocalServer, line: str
) -> None:
    replies, closed = exchange(server.port, f"{line}\r\nHost: x\r\n\r\n{FOLLOWER}".encode())
    assert len(replies) == 1 and replies[0].status in (400, 501, 505) and closed
    assert set(replies[0].json()) == {"error"}
    assert replies[0].headers["x-content-type-options"] == "nosniff"
