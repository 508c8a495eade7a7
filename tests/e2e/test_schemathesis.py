"""Property-based fuzzing of a real server against its own OpenAPI document (schemathesis).

The fast dev server runs on a free loopback port with the worker off; the schema is loaded from
its ``/openapi.json``, so what is tested is exactly what the server publishes. For every
operation schemathesis runs its examples, coverage (boundary values, unsupported methods) and
fuzzing phases with positive and negative data, a bounded number of derandomized examples, and
checks each answer: no 5xx, a documented status, content type, headers and body.

Every request carries the local stage's development key (all roles). ``/queue/receive`` may
long-poll for up to 20 s; `bounded_wait` caps ``wait_seconds`` at one second so the run stays
short (a long poll on an empty queue is correct, just slow).
"""

from __future__ import annotations

import collections
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.devserver import MAX_BODY_BYTES
from chalicelib.http.openapi import document
from tests.e2e.server import DEV_KEY, LocalServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
SEEN: collections.Counter[tuple[str, int]] = collections.Counter()
"""(operation, status) -> how many answers, to show that valid requests got through."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    started = LocalServer(kind="fast", worker="0").start(tmp_path_factory.mktemp("schemathesis"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def api_schema(server: LocalServer) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": 20261127,
            "headers": AUTH,
            "generation": {"with-security-parameters": False},
            "request-timeout": 10,
        }
    )
    return schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_shim(request: pytest.FixtureRequest) -> None:
    """Compatibility: schemathesis 4.32.5's lazy schema (``from_fixture``) reads ``item._nodeid``,
    which pytest 9.2 no longer has (``nodeid`` is a property now). Giving the item the attribute
    back only affects how schemathesis labels its per-operation subtests."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def bounded_wait(case: schemathesis.Case) -> None:
    """Cap a long poll at one second (see the module docstring)."""
    body = case.body
    if case.path != "/queue/receive" or not isinstance(body, dict) or "wait_seconds" not in body:
        return
    value = body["wait_seconds"]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return
    try:
        seconds = float(value)
    except ValueError:
        return
    if seconds > 1:
        body["wait_seconds"] = 1


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
)
def test_the_server_keeps_its_contract(case: schemathesis.Case) -> None:
    bounded_wait(case)
    response = case.call_and_validate(headers=AUTH, checks=CHECKS)
    SEEN[(f"{case.method} {case.path}", response.status_code)] += 1


def test_fuzzing_reached_the_success_paths() -> None:
    """The document is precise enough that generated formulas are often valid, not only refused."""
    if not SEEN:
        pytest.skip("runs after test_the_server_keeps_its_contract")
    assert SEEN[("POST /formulas", 201)] >= 5, sorted(SEEN.items())
    for operation in ("GET /formulas", "GET /queue/stats", "POST /queue/receive", "GET /health"):
        assert SEEN[(operation, 200)] > 0, sorted(SEEN.items())


def test_the_dev_server_answers_its_own_edges_in_the_one_shape(server: LocalServer) -> None:
    """TRACE reaches the app (405 with Allow, not an HTML 501), and a body over the limit is refused
    before it is read, so without the app's X-Request-Id (the document marks it optional on 413)."""
    traced = server.request("TRACE", "/formulas")
    assert traced.status == 405 and traced.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in traced.headers["Allow"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /formulas HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
        )
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"X-Request-Id: " in head
    assert json.loads(body)["error"] == {
        "code": "payload_too_large",
        "message": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        "limit_bytes": MAX_BODY_BYTES,
    }
    declared = document()["paths"]["/formulas"]["post"]["responses"]["413"]["headers"]["X-Request-Id"]
    assert declared["required"] is False


@pytest.mark.parametrize(
    ("request_head", "status", "code"),
    [
        (b"FOO /formulas HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501, "not_implemented"),
        (b"GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505, "http_version_not_supported"),
        (b"GET /health HTTP/1.1 extra\r\n\r\n", 400, "bad_request"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "uri_too_long"),
    ],
    ids=["unknown-method", "http-version", "malformed-line", "long-line"],
)
def test_the_dev_servers_own_refusals_use_the_one_shape(
    server: LocalServer, request_head: bytes, status: int, code: str
) -> None:
    """What http.server answers before any route runs is JSON too, not its HTML error page."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_head)
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == str(status).encode()
    assert b"Content-Type: application/json" in head and b"X-Request-Id: " in head
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
