"""The dev server's listening side: Chalice's `LocalDevServer` with a bound on open connections.

Each connection holds a thread for as long as it is open, so the number of open connections is
bounded (`Limits.max_connections`); one more is answered 503 in the one error shape and closed
at once, without a thread. The deadlines in `Limits` (set by the handler, enforced by the
server's `Watchdog`) free the connections of clients that send nothing, or half a request, or
stay idle between requests.
"""

from __future__ import annotations

import errno
import math
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from chalice.cli.factory import CLIFactory
from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

from chalicelib.config import serving_environment
from chalicelib.devserver.deadlines import Watchdog, tick_for
from chalicelib.devserver.handler import FastRequestHandler, error_answer

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body read from the socket; larger ones are refused with 413 unread."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How long and how much one client may hold the server (seconds, connections, bytes)."""

    header_timeout: float = 10.0
    """From a request's first byte (a connection's accept, for its first request) to its blank line."""
    idle_timeout: float = 15.0
    """How long a keep-alive connection waits for its next request."""
    body_timeout: float = 30.0
    """Reading a request's body; and, separately, writing its answer."""
    max_connections: int = 256
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        for name in ("header_timeout", "idle_timeout", "body_timeout"):
            seconds = getattr(self, name)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError(f"{name} must be a finite number of seconds, 0 or more (not {seconds})")
        if self.max_connections < 1 or self.max_body_bytes < 0:
            raise ValueError("max_connections must be at least 1 and max_body_bytes at least 0")


class FastHTTPServer(ThreadedHTTPServer):
    """Chalice's threaded server with a listen backlog fit for concurrent clients and a connection bound."""

    request_queue_size = 1024
    allow_reuse_address = True
    limits = Limits()

    def __init__(self, address: tuple[str, int], handler: Any, limits: Limits | None = None) -> None:
        if limits is not None:
            self.limits = limits
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        limits = self.limits
        self.watchdog = Watchdog(tick_for(limits.header_timeout, limits.idle_timeout, limits.body_timeout))
        super().__init__(address, handler)

    def server_close(self) -> None:
        super().server_close()
        self.watchdog.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 on a connection over the bound and close it (a short write to an empty buffer)."""
        headers, body = error_answer(
            503, "too_many_connections", "The server has too many open connections; retry shortly."
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in {**headers, "Retry-After": "1"}.items())
        try:
            request.settimeout(1.0)
            request.sendall(
                f"HTTP/1.1 503 Service Unavailable\r\n{head}Connection: close\r\n\r\n".encode() + body
            )
        except OSError:
            pass
        self.shutdown_request(request)


def make_thread_safe(app: Any) -> None:
    """Keep ``app.current_request`` per thread, as `chalice local` does for its threaded server."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


class CannotListen(Exception):
    """The server's address cannot be bound; the message is one line for a person."""


def check_can_listen(host: str, port: int) -> None:
    """Bind and release the address as the server will (`CannotListen` if that fails): for a
    parent process that starts the serving child later, so its failure is one line, not a
    traceback in the child's thread."""
    try:
        with socket.create_server((host, port), reuse_port=False) as probe:
            probe.close()
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from exc


def _cannot_listen(host: str, port: int, exc: OSError) -> CannotListen:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = " (another server is using it: stop it, or choose another with PORT=...)"
    return CannotListen(
        f"cannot listen on http://{host}:{port}: {reason}" + (hint if exc.errno == errno.EADDRINUSE else "")
    )


def create_server(
    project_dir: str, stage: str, host: str, port: int, limits: Limits | None = None
) -> LocalDevServer:
    """Build the server as `chalice local --stage STAGE` would, with this package's handler and limits.

    One difference: a setting (``FI_...``) given in the environment that started the server wins
    over the stage's value (`serving_environment`), so ``FI_QUEUE_CAPACITY=10 make run`` serves
    with that capacity (`chalice local` lets the stage win).

    Raises `CannotListen` when the address is taken or cannot be bound.
    """
    shell = dict(os.environ)
    factory = CLIFactory(project_dir=project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app  # loading the app writes the stage's variables into os.environ
    os.environ.update(serving_environment(config.environment_variables, shell))
    make_thread_safe(app)

    def server_cls(address: tuple[str, int], handler: Any) -> FastHTTPServer:
        return FastHTTPServer(address, handler, limits)

    try:
        return LocalDevServer(app, config, host, port, handler_cls=FastRequestHandler, server_cls=server_cls)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from exc
