"""Idle and slow connections are closed by socket deadlines; open connections are bounded.

The server runs with a 0.5 s header and idle timeout and at most 40 connections, so each test
only waits (bounded) for the server to close a socket, never for a clock.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import LocalServer, exchange, parse_replies

MAX_CONNECTIONS = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    args = ["--header-timeout", "0.5", "--idle-timeout", "0.5", "--max-connections", str(MAX_CONNECTIONS)]
    running = LocalServer(kind="fast", worker="0", args=args).start(tmp_path_factory.mktemp("connections"))
    try:
        yield running
    finally:
        running.stop()


def connect(port: int, first_bytes: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (True) or 10 s pass without it (False); what it sent is dropped."""
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def health_ok(server: LocalServer) -> bool:
    try:
        return server.request("GET", "/health", timeout=5).status == 200
    except OSError:
        return False


def test_silent_and_half_sent_requests_are_closed_while_health_answers(server: LocalServer) -> None:
    silent = [connect(server.port) for _ in range(15)]
    half = [connect(server.port, b"GET /formulas HTTP/1.1\r\nHost: x\r\nAuthori") for _ in range(15)]
    assert health_ok(server), "30 idle sockets do not stop /health"
    assert all(closed_by_server(sock) for sock in silent + half)


def test_a_keep_alive_connection_is_closed_once_idle(server: LocalServer) -> None:
    sock = connect(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = sock.recv(65536)
    assert parse_replies(first)[0].status == 200
    assert closed_by_server(sock)


def test_a_header_sent_a_byte_at_a_time_is_cut_off_by_its_deadline(server: LocalServer) -> None:
    sock = connect(server.port)
    header = b"GET /health HTTP/1.1\r\nX-Slow: " + b"x" * 200 + b"\r\n\r\n"
    sent = 0
    try:
        for byte in header:
            sock.sendall(bytes([byte]))
            sent += 1
            time.sleep(0.02)  # paces the client: each byte arrives well within any per-read timeout
    except OSError:
        pass
    assert sent < len(header), "the header deadline counts from the first byte, not per read"
    assert closed_by_server(sock)


def test_connections_over_the_bound_get_503_and_health_answers_again(tmp_path: Path) -> None:
    bound = 4
    args = ["--header-timeout", "3", "--idle-timeout", "3", "--max-connections", str(bound)]
    server = LocalServer(kind="fast", worker="0", args=args).start(tmp_path)
    try:
        assert server.wait_for(lambda: health_ok(server))  # the start-up probe's connection is gone
        held = [connect(server.port) for _ in range(bound)]
        replies, closed = exchange(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [r.status for r in replies] == [503] and closed
        refusal = replies[0]
        assert refusal.json()["error"]["code"] == "too_many_connections"
        assert refusal.headers["connection"] == "close" and refusal.headers["retry-after"] == "1"
        assert refusal.headers["x-content-type-options"] == "nosniff" and refusal.headers["x-request-id"]
        assert all(closed_by_server(sock) for sock in held)
        assert server.wait_for(lambda: health_ok(server), timeout=10)
    finally:
        server.stop()
