"""The dev server's request handler: Chalice's `ChaliceRequestHandler` made safe to face a network.

It keeps Chalice's routing, stage environment and API Gateway imitation (adjusted in
`chalicelib.devserver.gateway`), and adds:

- strict message framing (`framing`): chunked bodies decoded, doubtful lengths refused, and the
  connection closed after any framing error, so a body can never be read as a second request;
- deadlines, kept by the server's `deadlines.Watchdog`: a request's header block must arrive
  within ``header_timeout`` of its first byte (or of the connection's accept), its body within
  ``body_timeout``, its answer be written within ``body_timeout``, and a keep-alive connection
  waits ``idle_timeout`` for its next request before it is closed;
- every answer in the one error shape with ``X-Request-Id`` and ``nosniff``, including what
  ``http.server`` refuses by itself and API Gateway's "Missing Authentication Token" (a 404);
- ``HEAD`` on every ``GET`` route (the ``GET`` answer's headers, no body), and ``OPTIONS``
  passed to the app, which answers 405 with ``Allow`` (no route configures CORS);
- ``TCP_NODELAY`` (`chalice local` answers keep-alive requests ~40 ms late without it).
"""

from __future__ import annotations

import email.utils
import functools
import io
import math
import os
import re
import socket
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from chalice.local import ChaliceRequestHandler, LocalGatewayException

from chalicelib import jsonio
from chalicelib.devserver import framing
from chalicelib.devserver.deadlines import Deadline
from chalicelib.devserver.gateway import OptionsToAppGateway
from chalicelib.http.errors import fresh_request_id
from chalicelib.http.responses import error_body

if TYPE_CHECKING:
    from chalicelib.devserver.server import FastHTTPServer

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    408: "request_timeout",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "not_implemented",
    500: "internal_error",
    505: "http_version_not_supported",
}
"""The error codes of the statuses `BaseHTTPRequestHandler` and Chalice's gateway answer by
themselves (else bad_request)."""

_VERSION = re.compile(r"HTTP/(?P<major>[0-9])\.(?P<minor>[0-9])")

LINGER_SECONDS = 1.0
LINGER_BYTES = 1024 * 1024
"""After refusing a request whose body may be unread, the server stops writing and reads (and
drops) what the client still sends, for at most this long and this much, before closing: closing
a socket with unread input resets the connection, which can destroy the answer in flight."""


def error_answer(status: int, code: str, message: str, **extra: Any) -> tuple[dict[str, str], bytes]:
    """The headers and body of an answer the server gives by itself, in the one error shape."""
    body = jsonio.dumps(error_body(code, message, **extra)).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "X-Content-Type-Options": "nosniff",
        "X-Request-Id": fresh_request_id(),
        "Content-Length": str(len(body)),
    }
    return headers, body


@functools.lru_cache(maxsize=4)
def _http_date(second: int) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate) for a whole second since the epoch."""
    text: str = email.utils.formatdate(second, usegmt=True)
    return text


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side that raises `TimeoutError` once the watchdog has expired its deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        deadline = self._deadline
        try:
            if not deadline.expired:
                received = self._sock.recv_into(buffer)
                if not deadline.expired:
                    return received
        except OSError as exc:
            if not deadline.expired:
                raise
            raise TimeoutError("deadline passed") from exc
        raise TimeoutError("deadline passed")


class FastRequestHandler(ChaliceRequestHandler):
    """One connection: strict framing, deadlines, and every answer with the promised headers."""

    disable_nagle_algorithm = True
    default_request_version = "HTTP/1.0"
    """Answers to a request line too broken to name its version still get a status line and headers."""
    server: FastHTTPServer

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Any) -> None:
        self.local_gateway = OptionsToAppGateway(app_object, config)
        self._accepted: float | None = time.monotonic()
        self._linger = False
        # BaseHTTPRequestHandler.__init__ serves the whole connection; Chalice's __init__ would
        # build a second gateway first.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self._deadline = self.server.watchdog.watch(self.connection)
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self._deadline), 64 * 1024)

    def handle_one_request(self) -> None:
        """Wait (bounded) for a request to begin, then read it against the header deadline."""
        limits = self.server.limits
        first = self._accepted is not None
        begun = self._accepted if self._accepted is not None else time.monotonic()
        self._accepted = None
        try:
            self._move(begun + (limits.header_timeout if first else limits.idle_timeout))
            if not self.rfile.peek(1):
                self.close_connection = True
                return
            if not first:
                self._move(time.monotonic() + limits.header_timeout)
        except OSError:  # the idle or header deadline passed (TimeoutError), or the client went away
            self.close_connection = True
            return
        super().handle_one_request()

    def _move(self, at: float) -> None:
        """Start the connection's next phase, due at ``at``; `TimeoutError` if the last ran out."""
        self.server.watchdog.move(self._deadline, at)

    def parse_request(self) -> bool:
        """The request line and header block, strictly: ``METHOD target HTTP/1.x`` (no HTTP/0.9,
        no HTTP/2 here), then `framing.read_header_block`. Refusals are answered in the one
        error shape and close the connection."""
        self.command = ""  # until the request line is understood
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        version = _VERSION.fullmatch(words[-1]) if len(words) == 3 else None
        if version is None:
            self.send_error(400, "The request line must be: method, target, HTTP version.")
            return False
        if version["major"] != "1":
            self.send_error(
                505 if int(version["major"]) >= 2 else 400, "Only HTTP/1.0 and HTTP/1.1 are served."
            )
            return False
        self.command, self.path, self.request_version = words
        if self.path.startswith("//"):  # not an absolute URI without a scheme to any client
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers, self._fields = framing.read_header_block(self.rfile)
        except framing.FramingError as exc:
            self._send_server_error(exc.status, exc.code, exc.message, close=True, **exc.extra)
            return False
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            version["minor"] == "0" and connection != "keep-alive"
        )
        if self.headers.get("Expect", "").lower() == "100-continue" and version["minor"] != "0":
            return bool(self.handle_expect_100())
        return True

    def _generic_handle(self) -> None:
        limits = self.server.limits
        major, minor = self.request_version.removeprefix("HTTP/").split(".")
        try:
            framing.check_header_block(self._fields, http_1_0=(int(major), int(minor)) < (1, 1))
            length = framing.body_length(self._fields)
            if length > limits.max_body_bytes:
                raise framing.FramingError(
                    413,
                    "payload_too_large",
                    f"The request body is larger than {limits.max_body_bytes} bytes.",
                    limit_bytes=limits.max_body_bytes,
                )
            self._move(time.monotonic() + limits.body_timeout)
            if length == framing.CHUNKED:
                body = framing.read_chunked(self.rfile, limits.max_body_bytes)
            else:
                body = self.rfile.read(length)
                if len(body) < length:
                    raise framing.FramingError(400, "bad_request", "The body is shorter than Content-Length.")
        except framing.FramingError as exc:
            self._send_server_error(exc.status, exc.code, exc.message, close=True, **exc.extra)
            return
        self._move(math.inf)  # the app may take its time (a long poll waits up to 20 s)
        headers = {name: value for name, value in self._fields if name != "transfer-encoding"}
        if length == framing.CHUNKED:
            headers["content-length"] = str(len(body))
        method = "GET" if self.command == "HEAD" else self.command
        try:
            response = self.local_gateway.handle_request(
                method=method, path=self.path, headers=headers, body=body or None
            )
        except LocalGatewayException as error:
            self._send_error_response(error)
            return
        answer_headers = {**response["headers"], **response["multiValueHeaders"]}
        if response["statusCode"] == 405 and "GET" in str(answer_headers.get("Allow", "")).split(", "):
            answer_headers["Allow"] += ", HEAD"
        self._send(response["statusCode"], answer_headers, self._handle_binary(response)["body"])

    # The base class binds do_GET & co. to *its* _generic_handle, so they are rebound here. TRACE
    # and QUERY join them, so that the app answers them 405 rather than http.server a 501.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle
    do_TRACE = do_QUERY = _generic_handle

    def _send(self, status: int, headers: Mapping[str, Any], body: str | bytes | None) -> None:
        """Write one answer, status line to body in one write; a ``HEAD`` request gets the headers
        (length included) without the body."""
        payload = body.encode("utf-8") if isinstance(body, str) else body or b""
        self.send_response(status)
        out = {"Content-Type": "application/json", **headers, "Content-Length": str(len(payload))}
        if self.close_connection:
            out["Connection"] = "close"
        for name, value in out.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, item)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and status >= 200 and status not in (204, 304):
            self._headers_buffer.append(payload)
        self.flush_headers()

    def flush_headers(self) -> None:
        """Write what is buffered, within ``body_timeout``; a write the watchdog cut off is a timeout."""
        self._move(time.monotonic() + self.server.limits.body_timeout)
        try:
            super().flush_headers()
        except OSError as exc:
            if self._deadline.expired:
                raise TimeoutError("deadline passed") from exc
            raise

    def finish(self) -> None:
        self.server.watchdog.forget(self._deadline)
        super().finish()
        if not self._linger:
            return
        try:
            self.connection.shutdown(socket.SHUT_WR)
            deadline, drained = time.monotonic() + LINGER_SECONDS, 0
            while drained < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                chunk = self.connection.recv(64 * 1024)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    def _send_server_error(self, status: int, code: str, message: str, *, close: bool, **extra: Any) -> None:
        if close:
            self.close_connection = True
            self._linger = True
        headers, body = error_answer(status, code, message, **extra)
        self.log_error("%d %s (request id %s)", status, code, headers["X-Request-Id"])
        self._send(status, headers, body)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """API Gateway's 403 for an unknown path is a 404 here; other gateway errors keep their status."""
        body = error.body or b""
        if b"Missing Authentication Token" in body or b"Authorization header requires" in body:
            self._send_server_error(
                404, "not_found", f"No route matches {self.command} {self.path}.", close=False
            )
            return
        status = HTTPStatus(error.CODE)
        self._send_server_error(status, _ERROR_CODES.get(status, "bad_request"), status.phrase, close=False)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """`BaseHTTPRequestHandler`'s own refusals in the one error shape, then the connection closes.

        It answers before any route runs: a method no ``do_*`` handles (501), a malformed request
        line (400), a request line or header too long (414, 431), an unsupported version (505).
        """
        status = HTTPStatus(code)
        self._send_server_error(
            code, _ERROR_CODES.get(code, "bad_request"), message or status.phrase, close=True
        )

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header's value, as `http.server` writes it, formatted once per second."""
        return _http_date(math.floor(time.time() if timestamp is None else timestamp))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("FI_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)
