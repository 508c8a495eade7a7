"""`make run`: serve the Chalice app the way `chalice local` does, but fast.

`chalice local` answers every keep-alive request ~44 ms late (Nagle's algorithm meets delayed
ACKs) and listens with a backlog of 5. This server reuses Chalice's own `LocalDevServer` and
`ChaliceRequestHandler` (same routing, stage config and environment variables, same API Gateway
imitation) with these changes: ``TCP_NODELAY`` on every connection, a larger listen backlog,
API Gateway's 403 "Missing Authentication Token" for unknown paths answered as a 404 in the
service's one error shape, and what `http.server` refuses by itself (an unknown method, a
malformed or over-long request line) answered in that shape too rather than as an HTML page.
Plain `chalice local` still works against the same app.

    python -m chalicelib.devserver --host 127.0.0.1 --port 8000 --stage local
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from http import HTTPStatus
from types import FrameType
from typing import Any

from chalice.cli.factory import CLIFactory
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGatewayException,
    ThreadedHTTPServer,
)

from chalicelib import bootstrap, jsonio
from chalicelib.http.responses import error_body
from chalicelib.worker import Worker

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body read from the socket; larger ones are refused with 413 unread."""

log = logging.getLogger("formula_intake.devserver")

_STDLIB_ERROR_CODES = {
    400: "bad_request",
    408: "request_timeout",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "not_implemented",
    505: "http_version_not_supported",
}
"""The error codes of the statuses `BaseHTTPRequestHandler` answers by itself (else bad_request)."""


class FastRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with Nagle disabled and gateway errors in the one error shape."""

    disable_nagle_algorithm = True

    def _generic_handle(self) -> None:
        raw_length = self.headers.get("content-length", "0")
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            self._send_json_error(400, "bad_request", "Content-Length is not a valid length.")
            self.close_connection = True
            return
        if length > MAX_BODY_BYTES:
            self._send_json_error(
                413,
                "payload_too_large",
                f"The request body is larger than {MAX_BODY_BYTES} bytes.",
                limit_bytes=MAX_BODY_BYTES,
            )
            self.close_connection = True
            return
        super()._generic_handle()

    # The base class binds do_GET & co. to *its* _generic_handle, so they must be rebound for the
    # override above to run. TRACE and QUERY join them, so that the app answers them 405 in the
    # one error shape rather than BaseHTTPRequestHandler with an HTML 501.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle
    do_TRACE = do_QUERY = _generic_handle

    def _send_error_response(self, error: LocalGatewayException) -> None:
        body = error.body or b""
        if b"Missing Authentication Token" in body or b"Authorization header requires" in body:
            self._send_json_error(404, "not_found", f"No route matches {self.command} {self.path}.")
            return
        super()._send_error_response(error)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """`BaseHTTPRequestHandler`'s own refusals in the one error shape, not its HTML page.

        It answers before any route runs: a method no ``do_*`` handles (501), a malformed request
        line or header block (400), a request line or header too long (414, 431), an unsupported
        HTTP version (505). As there, the connection is closed afterwards.
        """
        self.log_error("code %d, message %s", code, message)
        status = HTTPStatus(code)
        body = jsonio.dumps(
            error_body(_STDLIB_ERROR_CODES.get(code, "bad_request"), message or status.phrase)
        )
        self.send_response(code, message)
        self.send_header("Connection", "close")
        payload = body.encode("utf-8")
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if (
            self.command != "HEAD"
            and code >= 200
            and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        ):
            self.wfile.write(payload)

    def _send_json_error(self, status: int, code: str, message: str, **extra: Any) -> None:
        payload = jsonio.dumps(error_body(code, message, **extra))
        self._send_http_response(
            status,
            {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"},
            payload,
        )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("FI_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


class FastHTTPServer(ThreadedHTTPServer):
    """Chalice's threaded server with a listen backlog fit for concurrent clients."""

    request_queue_size = 1024
    allow_reuse_address = True


def make_thread_safe(app: Any) -> None:
    """Keep ``app.current_request`` per thread, as `chalice local` does for its threaded server."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


def create_server(project_dir: str, stage: str, host: str, port: int) -> LocalDevServer:
    """Build the server exactly as `chalice local --stage STAGE` would, with the fast handler."""
    factory = CLIFactory(project_dir=project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    make_thread_safe(app)
    return LocalDevServer(app, config, host, port, handler_cls=FastRequestHandler, server_cls=FastHTTPServer)


def start_worker(choice: str) -> Worker | None:
    """Start the in-process worker if ``choice`` is "1", or "auto" and the stage enables it."""
    services = bootstrap.services()
    if choice == "1" or (choice == "auto" and services.settings.worker_enabled):
        worker = bootstrap.build_worker(services)
        worker.start()
        log.info("in-process worker started (concurrency %d)", services.settings.worker_concurrency)
        return worker
    return None


def serve(server: LocalDevServer, host: str) -> None:
    """Serve until SIGTERM or SIGINT, then return (the caller closes the socket)."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Serving on http://{host}:{server.server.server_address[1]}", flush=True)
    server.server.serve_forever()


def run_with_autoreload(project_dir: str, stage: str, host: str, port: int, worker: str) -> int:
    """`chalice local`'s reloader with this server: a parent restarts a child on file changes.

    The child (``CHALICE_WORKER`` set) serves and watches the project with Chalice's file
    watcher, exiting with its restart code on a change; the parent starts it again. SIGTERM or
    SIGINT to the parent stops the child too.
    """
    from chalice.cli import reloader
    from chalice.cli.filewatch import RESTART_REQUEST_RC

    if os.environ.get("CHALICE_WORKER") is not None:

        def factory() -> LocalDevServer:
            server = create_server(project_dir, stage, host, port)
            start_worker(worker)
            return server

        return int(reloader.start_worker_process(factory, project_dir))

    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    command = [sys.executable, "-m", "chalicelib.devserver", *sys.argv[1:]]
    while True:
        child = subprocess.Popen(command, env={**os.environ, "CHALICE_WORKER": "true"})
        if child.wait() != RESTART_REQUEST_RC:
            return 0
        log.info("restarting: a file under %s changed", project_dir)


def add_server_arguments(parser: argparse.ArgumentParser, *, stage: str, worker_help: str) -> None:
    """The options of a server built by `create_server` and `start_worker`: ``--host`` and
    ``--port`` (defaults from ``HOST`` and ``PORT``, else 127.0.0.1:8000), ``--stage`` and
    ``--worker`` (default from ``WORKER``, else "auto"). `make run` and `make run-aws-local` share them."""
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--stage", default=stage)
    parser.add_argument(
        "--worker", choices=["0", "1", "auto"], default=os.environ.get("WORKER", "auto"), help=worker_help
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(
        parser, stage="local", worker_help="run the in-process worker (auto: the stage's FI_WORKER setting)"
    )
    parser.add_argument("--project-dir", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument(
        "--autoreload",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("AUTORELOAD", "0") == "1",
        help="restart when a file under the project changes (in-memory data does not survive a restart)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    if args.autoreload:
        return run_with_autoreload(args.project_dir, args.stage, args.host, args.port, args.worker)

    server = create_server(args.project_dir, args.stage, args.host, args.port)
    worker = start_worker(args.worker)
    try:
        serve(server, args.host)
    finally:
        server.server.server_close()
        if worker is not None:
            worker.stop(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
