"""Connection deadlines, enforced by one watchdog thread per server instead of socket timeouts.

Each connection's handler blocks in plain (blocking) socket calls and writes the deadline of
what it is waiting for on its `Deadline`: a request's header block, its body, the next request
on a keep-alive connection, or the writing of an answer (`math.inf` while the app runs). The
`Watchdog` wakes every ``tick`` seconds and shuts down, in both directions, the socket of every
connection whose deadline has passed. The blocked call then returns at once (a read sees the end
of input, a write fails) and the handler, seeing `Deadline.expired`, closes the connection
without an answer, as a socket timeout would have.

A handler moves from one phase to the next with `Watchdog.move`, under the watchdog's lock: a
move refuses (`TimeoutError`) when the phase being left has expired or run out, so a request
whose headers or body came late never reaches the app, however it was buffered. Closing the
watchdog shuts down every connection it still watches, and any accepted later, so a closed
server leaves no connection waiting on a deadline nobody enforces.

A socket timeout would cost two more system calls on every read and write (setting the timeout,
and a ``poll`` before the call), each releasing the interpreter lock to the other connections'
threads; a deadline here is one short critical section, enforced within one tick of passing.
"""

from __future__ import annotations

import math
import socket
import threading
import time

MAX_TICK = 0.25
"""The watchdog's longest sleep between two rounds (seconds)."""


def tick_for(*timeouts: float) -> float:
    """How often the watchdog looks: a tenth of the shortest positive timeout, at most `MAX_TICK`."""
    return max(0.005, min([MAX_TICK, *(t / 10 for t in timeouts if t > 0)]))


class Deadline:
    """One connection's current deadline (monotonic seconds) and whether it has passed."""

    __slots__ = ("at", "expired", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.at = math.inf
        self.expired = False


class Watchdog:
    """Shuts down the sockets whose `Deadline` has passed; one thread, running while any is watched."""

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self._lock = threading.Lock()
        self._watched: set[Deadline] = set()
        self._stopped = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket) -> Deadline:
        """Start watching ``sock``; its deadline is `math.inf` until the caller moves it. On a
        closed watchdog the socket is shut down at once (its deadline is already expired)."""
        deadline = Deadline(sock)
        with self._lock:
            if self._closed:
                self._expire(deadline)
                return deadline
            self._watched.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
        return deadline

    def move(self, deadline: Deadline, at: float, *, now: float | None = None) -> None:
        """Start a connection's next phase, due at ``at`` (`math.inf`: none).

        Raises `TimeoutError`, with the socket shut down, when the phase being left has expired
        or its time (``now``, default the monotonic clock) has come: the caller then closes the
        connection, as when a read or write times out.
        """
        with self._lock:
            if not deadline.expired and deadline.at <= (time.monotonic() if now is None else now):
                self._expire(deadline)
            if deadline.expired:
                raise TimeoutError("deadline passed")
            deadline.at = at

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
                    self._expire(deadline)
                    expired += 1
        return expired

    @staticmethod
    def _expire(deadline: Deadline) -> None:
        """Mark ``deadline`` expired and shut its socket down (call with the lock held)."""
        deadline.expired = True
        try:
            deadline.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client has gone already
            pass

    def watching(self) -> int:
        with self._lock:
            return len(self._watched)

    def close(self) -> None:
        """Shut down every connection still watched (a request in the app loses its answer), stop
        the thread, and shut down at once any connection watched from now on."""
        with self._lock:
            self._closed = True
            for deadline in self._watched:
                if not deadline.expired:
                    self._expire(deadline)
            thread = self._thread
        self._stopped.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        """Expire what has passed every tick; end once nothing is watched (`watch` starts anew)."""
        while not self._stopped.wait(self.tick):
            with self._lock:
                if not self._watched:
                    self._thread = None
                    return
            self.expire_passed(time.monotonic())
