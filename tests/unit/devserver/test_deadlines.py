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
    assert tick_for(0, 0, 0) == MAX_TICK
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


def test_a_phase_starts_only_if_the_last_one_did_not_run_out(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    deadline = watchdog.watch(server)
    watchdog.move(deadline, 10.0, now=0.0)  # from no deadline: always possible
    watchdog.move(deadline, 20.0, now=9.9)  # the headers came in time
    assert deadline.at == 20.0
    with pytest.raises(TimeoutError):  # the body came too late, even if it was already buffered
        watchdog.move(deadline, math.inf, now=20.0)
    assert deadline.expired and client.recv(10) == b""


def test_a_phase_cannot_start_on_an_expired_connection(
    watchdog: Watchdog, pair: tuple[socket.socket, socket.socket]
) -> None:
    deadline = watchdog.watch(pair[0])
    deadline.at = 5.0
    watchdog.expire_passed(6.0)
    with pytest.raises(TimeoutError):  # the app never runs on a connection the watchdog cut
        watchdog.move(deadline, math.inf, now=0.0)


def test_closing_shuts_down_what_is_watched_and_whatever_comes_later() -> None:
    first, first_peer = socket.socketpair()
    later, later_peer = socket.socketpair()
    dog = Watchdog(tick=3600)
    try:
        in_app = dog.watch(first)
        dog.move(in_app, math.inf, now=0.0)  # a request in the app: no deadline of its own
        dog.close()
        assert in_app.expired and first_peer.recv(10) == b""
        accepted_late = dog.watch(later)
        assert accepted_late.expired and later_peer.recv(10) == b""
        with pytest.raises(TimeoutError):
            dog.move(accepted_late, 1.0, now=0.0)
    finally:
        for sock in (first, first_peer, later, later_peer):
            sock.close()


def test_the_thread_ends_when_nothing_is_watched_and_comes_back_with_a_connection(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    before = set(threading.enumerate())
    dog = Watchdog(tick=0.005)
    try:
        deadline = dog.watch(pair[0])
        (thread,) = set(threading.enumerate()) - before
        dog.forget(deadline)
        thread.join(timeout=5)  # it notices within a tick
        assert not thread.is_alive()
        again = dog.watch(pair[0])
        again.at = 0.0
        assert pair[1].recv(10) == b""  # a new thread enforces the new connection's deadline
    finally:
        dog.close()
