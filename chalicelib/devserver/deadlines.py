"""Connection deadlines, enforced by one watchdog thread per server instead of socket timeouts.

Each connection's handler blocks in plain (blocking) socket calls and writes the deadline of
what it is waiting for on its `Deadline`: a request's header block, its body, the next request
on a keep-alive connection, or the writing of an answer (`math.inf` while the app runs). The
`Watchdog` wakes every ``tick`` seconds and shuts down, in both directions, the socket of every
connection whose deadline has passed. The blocked call then returns at once (a read sees the end
of input, a write fails) and the handler, seeing `Deadline.expired`, closes the connection
without an answer, as a socket timeout would have.

A socket timeout would cost two more system calls on every read and write (setting the timeout,
and a ``poll`` before the call), each releasing the interpreter lock to the other connections'
threads; a deadline here is one attribute write, and a deadline is enforced within one tick of
passing.
"""

from __future__ import annotations

import math
import socket
import threading
import time

MAX_TICK = 0.25
"""The watchdog's longest sleep between two rounds (seconds)."""


def tick_for(*timeouts: float) -> float:
    """How often the watchdog looks: a tenth of the shortest timeout, at most `MAX_TICK`."""
    return max(0.005, min(MAX_TICK, *(t / 10 for t in timeouts if t > 0)))


class Deadline:
    """One connection's current deadline (monotonic seconds) and whether it has passed."""

    __slots__ = ("at", "expired", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.at = math.inf
        self.expired = False


class Watchdog:
    """Shuts down the sockets whose `Deadline` has passed; one thread, started with the first watch."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._lock = threading.Lock()
        self._watched: set[Deadline] = set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket) -> Deadline:
        """Start watching ``sock``; its deadline is `math.inf` until the caller sets one."""
        deadline = Deadline(sock)
        with self._lock:
            self._watched.add(deadline)
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
        return deadline

    def forget(self, deadline: Deadline) -> None:
        """Stop watching (before the socket is closed, so a closed descriptor is never shut down)."""
        with self._lock:
            self._watched.discard(deadline)

    def expire_passed(self, now: float) -> int:
        """Expire every watched deadline at or before ``now``: mark it and shut its socket down.
        Returns how many expired."""
        expired = 0
        with self._lock:
            for deadline in self._watched:
                if deadline.at <= now and not deadline.expired:
                    deadline.expired = True
                    expired += 1
                    try:
                        deadline.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:  # the client has gone already
                        pass
        return expired

    def watching(self) -> int:
        with self._lock:
            return len(self._watched)

    def close(self) -> None:
        """Stop the thread (the sockets still watched are left to their handlers)."""
        self._stopped.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            self.expire_passed(time.monotonic())
