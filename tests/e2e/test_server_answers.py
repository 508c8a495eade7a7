"""Every answer of the dev server, whoever produces it, carries the promised headers; HEAD, OPTIONS
and repeated credential headers behave as documented (docs/devserver.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import start_fast
from tests.e2e.server import DEV_KEY, LocalServer, Reply, exchange
from tests.request_ids import is_request_id

AUTH = f"Authorization: Bearer {DEV_KEY}\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    running = start_fast(tmp_path_factory.mktemp("answers"), worker="0")
    try:
        yield running
    finally:
        running.stop()


def one(server: LocalServer, head: str, body: bytes = b"") -> Reply:
    replies, _ = exchange(server.port, f"{head}Connection: close\r\n\r\n".encode("latin-1") + body)
    assert len(replies) == 1, replies
    return replies[0]


ANSWERS = {
    "200 from the app": (200, "GET /health HTTP/1.1\r\nHost: x\r\n"),
    "401 from the middleware": (401, "GET /formulas HTTP/1.1\r\nHost: x\r\n"),
    "404 for an unknown path": (404, "GET /nowhere HTTP/1.1\r\nHost: x\r\n"),
    "405 from chalice": (405, "DELETE /health HTTP/1.1\r\nHost: x\r\n"),
    "405 for OPTIONS": (405, "OPTIONS /formulas HTTP/1.1\r\nHost: x\r\nOrigin: http://example.com\r\n"),
    "413 before the body": (413, f"POST /formulas HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: 2000000\r\n"),
    "414 long request line": (414, "GET /" + "a" * 70_000 + " HTTP/1.1\r\nHost: x\r\n"),
    "414 long query": (414, "GET /formulas?cursor=" + "c" * 3000 + f" HTTP/1.1\r\nHost: x\r\n{AUTH}"),
    "415 content type": (415, f"POST /formulas HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: text/plain\r\n"),
    "431 too many headers": (431, "GET /health HTTP/1.1\r\n" + "X-A: 1\r\n" * 101),
    "400 framing": (400, "POST /formulas HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n"),
    "400 two credentials": (400, f"GET /formulas HTTP/1.1\r\nHost: x\r\n{AUTH}{AUTH}"),
    "501 unknown method": (501, "BREW /health HTTP/1.1\r\nHost: x\r\n"),
    "501 unknown coding": (501, "POST /formulas HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"),
    "505 version": (505, "GET /health HTTP/3.0\r\nHost: x\r\n"),
}


@pytest.mark.parametrize(("status", "head"), list(ANSWERS.values()), ids=list(ANSWERS))
def test_every_answer_has_the_promised_headers(server: LocalServer, status: int, head: str) -> None:
    reply = one(server, head)
    assert reply.status == status
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert is_request_id(reply.headers["x-request-id"])
    assert reply.headers["content-type"] == "application/json"
    if status >= 400:
        assert set(reply.json()) == {"error"} and reply.json()["error"]["message"]


ROUTES = {
    "/health": "GET, HEAD",
    "/openapi.json": "GET, HEAD",
    "/formulas": "POST, GET, HEAD",
    "/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV": "GET, HEAD",
    "/queue/receive": "POST",
    "/queue/stats": "GET, HEAD",
    "/queue/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/status": "GET, PUT, HEAD",
}


@pytest.mark.parametrize(("path", "allow"), list(ROUTES.items()), ids=list(ROUTES))
@pytest.mark.parametrize("auth", ["", AUTH], ids=["anonymous", "with-key"])
def test_options_is_405_with_allow_in_the_error_shape(
    server: LocalServer, path: str, allow: str, auth: str
) -> None:
    reply = one(
        server, f"OPTIONS {path} HTTP/1.1\r\nHost: x\r\n{auth}Access-Control-Request-Method: POST\r\n"
    )
    assert reply.status == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
    assert sorted(reply.headers["allow"].split(", ")) == sorted(allow.split(", "))
    assert not any(name.startswith("access-control-") for name in reply.headers)


GET_ROUTES = [
    "/health",
    "/openapi.json",
    "/formulas",
    "/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "/queue/stats",
    "/queue/dead-letters",
    "/queue/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/status?owner=developer",
]


@pytest.mark.parametrize("path", GET_ROUTES)
@pytest.mark.parametrize("auth", ["", AUTH], ids=["anonymous", "with-key"])
def test_head_answers_as_get_without_a_body(server: LocalServer, path: str, auth: str) -> None:
    request = f"{{}} {path} HTTP/1.1\r\nHost: x\r\n{auth}"
    get = one(server, request.format("GET"))
    replies, closed = exchange(
        server.port, (request.format("HEAD") + "Connection: close\r\n\r\n").encode(), head=True
    )
    assert len(replies) == 1 and closed
    head = replies[0]
    assert head.status == get.status and head.body == b""
    varying = {"date", "x-request-id"}
    assert {k: v for k, v in head.headers.items() if k not in varying} == {
        k: v for k, v in get.headers.items() if k not in varying
    }


def test_head_keeps_the_connection_framed(server: LocalServer) -> None:
    """No body follows a HEAD answer, so the next answer on the connection starts right after it."""
    data = (
        b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    replies, _ = exchange(server.port, data, head=True)  # a leaked body would not parse as an answer
    assert [r.status for r in replies] == [200, 200]


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key", "Content-Type", "Idempotency-Key"])
def test_a_header_the_service_reads_sent_twice_is_400_naming_it(server: LocalServer, header: str) -> None:
    value = f"Bearer {DEV_KEY}" if header == "Authorization" else DEV_KEY
    if header == "Content-Type":
        value = "application/json"
    head = f"GET /formulas HTTP/1.1\r\nHost: x\r\n{header}: {value}\r\n{header.upper()}: {value}\r\n"
    replies, closed = exchange(server.port, f"{head}\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert [r.status for r in replies] == [400] and closed
    assert replies[0].json()["error"]["header"] == header.lower()
    assert header.lower() in replies[0].json()["error"]["message"]
