"""The dev server's deadline watchdog: deadlines are enforced by shutting the socket down.

Time is passed in (`Watchdog.expire_passed(now)`), so no test waits for a clock; the sockets are
a real connected pair, so a shut-down socket is seen as the handler would see it.
"""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Iterator

import pytest

from chalicelib.devserver.deadlines import MAX_TICK, Watchdog, tick_for


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    client.settimeout(5)
    try:
        yield server, client
    finally:
        server.close()
        client.close()


@pytest.fixture
def watchdog() -> Iterator[Watchdog]:
    dog = Watchdog(tick=3600)  # its own thread never gets a round in: the tests call expire_passed
    try:
        yield dog
    finally:
        dog.close()


def test_a_deadline_not_yet_passed_leaves_the_connection_alone(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    deadline = watchdog.watch(server)
    assert deadline.at == math.inf
    deadline.at = 100.0
    assert watchdog.expire_passed(99.9) == 0
    assert not deadline.expired
    client.sendall(b"ping")
    assert server.recv(4) == b"ping"


def test_a_passed_deadline_wakes_a_blocked_read_and_closes_both_ways(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    deadline = watchdog.watch(server)
    deadline.at = 100.0
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(server.recv(10)))
    reader.start()
    assert watchdog.expire_passed(100.0) == 1
    reader.join(timeout=5)
    assert not reader.is_alive() and got == [b""]  # the blocked read saw the end of input
    assert deadline.expired
    assert client.recv(10) == b""  # the client sees the connection closed
    assert watchdog.expire_passed(200.0) == 0  # expired once only


def test_a_passed_deadline_makes_a_blocked_write_fail(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _client = pair  # the client never reads, so the server's writes fill its buffers
    server.setblocking(True)
    deadline = watchdog.watch(server)
    deadline.at = 1.0
    failures: list[BaseException] = []

    def write_forever() -> None:
        try:
            while True:
                server.sendall(b"x" * 65536)
        except OSError as exc:
            failures.append(exc)

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    writer.join(timeout=0.2)  # until its buffers are full it returns nothing; never passes a deadline
    watchdog.expire_passed(2.0)
    writer.join(timeout=5)
    assert not writer.is_alive() and isinstance(failures[0], BrokenPipeError | ConnectionResetError)


def test_a_forgotten_connection_is_never_shut_down(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    deadline = watchdog.watch(server)
    deadline.at = 1.0
    watchdog.forget(deadline)
    assert watchdog.watching() == 0
    assert watchdog.expire_passed(2.0) == 0 and not deadline.expired
    client.sendall(b"still open")
    assert server.recv(10) == b"still open"


def test_the_tick_is_a_tenth_of_the_shortest_timeout_and_at_most_a_quarter_second() -> None:
    assert tick_for(0.5, 10, 30) == pytest.approx(0.05)
    assert tick_for(10, 15, 30) == MAX_TICK
    assert tick_for(0, 15, 30) == MAX_TICK  # a zero timeout is no bound on the tick
    assert tick_for(0.001) > 0


def test_the_thread_starts_with_the_first_watch_and_stops_on_close(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    before = set(threading.enumerate())
    dog = Watchdog(tick=0.01)
    assert set(threading.enumerate()) == before  # no thread until a connection is watched
    deadline = dog.watch(pair[0])
    (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "deadline-watchdog"]
    deadline.at = 0.0  # long passed: the thread's first round expires it
    assert pair[1].recv(10) == b""
    dog.close()
    assert not thread.is_alive()
