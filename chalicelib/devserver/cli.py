"""`make run`: serve the Chalice app the way `chalice local` does, but fast and hardened.

    python -m chalicelib.devserver --host 127.0.0.1 --port 8000 --stage local

The options, the worker, signals and the reloader are here; what the server guarantees on the
wire is in `handler` and `server` (and docs/devserver.md).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from chalice.local import LocalDevServer

from chalicelib import bootstrap
from chalicelib.devserver import placement
from chalicelib.devserver.server import CannotListen, Limits, check_can_listen, create_server
from chalicelib.worker import Worker

log = logging.getLogger("formula_intake.devserver")


def start_worker(choice: str) -> Worker | None:
    """Start the in-process worker if ``choice`` is "1", or "auto" and the stage enables it."""
    services = bootstrap.services()
    if choice == "1" or (choice == "auto" and services.settings.worker_enabled):
        worker = bootstrap.build_worker(services)
        worker.start()
        log.info("in-process worker started (concurrency %d)", services.settings.worker_concurrency)
        return worker
    return None


def place_threads(choice: str) -> bool:
    """Keep this process's threads on one CPU as ``choice`` says (`placement.place`), and say so
    in one line; False, having printed why, if that CPU cannot be used. Call it before any
    thread starts."""
    try:
        cpu = placement.place(choice)
    except placement.PlacementError as exc:
        print(exc, file=sys.stderr)
        return False
    if cpu is not None:
        log.info("threads kept on CPU %d, with the interpreter lock they share (--cpu all: any CPU)", cpu)
    return True


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


def run_with_autoreload(
    project_dir: str, stage: str, host: str, port: int, worker: str, limits: Limits
) -> int:
    """`chalice local`'s reloader with this server: a parent restarts a child on file changes.

    The child (``CHALICE_WORKER`` set) serves and watches the project with Chalice's file
    watcher, exiting with its restart code on a change; the parent starts it again. SIGTERM or
    SIGINT to the parent stops the child too.
    """
    from chalice.cli import reloader
    from chalice.cli.filewatch import RESTART_REQUEST_RC

    if os.environ.get("CHALICE_WORKER") is not None:

        def factory() -> LocalDevServer:
            server = create_server(project_dir, stage, host, port, limits)
            start_worker(worker)
            return server

        try:
            return int(reloader.start_worker_process(factory, project_dir))
        except CannotListen as exc:
            print(exc, file=sys.stderr)
            return 2

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
        if (code := child.wait()) != RESTART_REQUEST_RC:
            return code
        log.info("restarting: a file under %s changed", project_dir)


def add_server_arguments(parser: argparse.ArgumentParser, *, stage: str, worker_help: str) -> None:
    """The options of a server built by `create_server` and `start_worker`: ``--host`` and
    ``--port`` (defaults from ``HOST`` and ``PORT``, else 127.0.0.1:8000), ``--stage`` and
    ``--worker`` (default from ``WORKER``, else "auto"), and the connection limits (`limits_from`).
    `make run` and `make run-aws-local` share them."""
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--stage", default=stage)
    parser.add_argument(
        "--worker", choices=["0", "1", "auto"], default=os.environ.get("WORKER", "auto"), help=worker_help
    )
    parser.add_argument(
        "--cpu",
        type=placement.cpu_choice,
        default=placement.AUTO,
        help="keep the server's threads on one CPU: auto (the one it starts on; the default), "
        "a CPU number, or all (let the kernel place them). make run: SERVER_CPU=...",
    )
    defaults = Limits()
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=defaults.header_timeout,
        help="seconds a client has to send a request's headers (default %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=defaults.idle_timeout,
        help="seconds a keep-alive connection may wait for its next request (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=defaults.max_connections,
        help="open connections served at once; more get 503 (default %(default)s)",
    )


def _seconds(text: str) -> float:
    """A timeout option: a finite number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def limits_from(args: argparse.Namespace) -> Limits:
    """The `Limits` chosen by the options `add_server_arguments` added."""
    return Limits(
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout,
        max_connections=args.max_connections,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_server_arguments(
        parser, stage="local", worker_help="run the in-process worker (auto: the stage's FI_WORKER setting)"
    )
    parser.add_argument(
        "--project-dir", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    )
    parser.add_argument(
        "--autoreload",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("AUTORELOAD", "0") == "1",
        help="restart when a file under the project changes (in-memory data does not survive a restart)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    serving = not args.autoreload or os.environ.get("CHALICE_WORKER") is not None
    if serving and not place_threads(args.cpu):  # the reloader's parent serves nothing
        return 2
    if args.autoreload and os.environ.get("CHALICE_WORKER") is None:
        try:
            check_can_listen(args.host, args.port)
        except CannotListen as exc:
            print(exc, file=sys.stderr)
            return 2
    if args.autoreload:
        return run_with_autoreload(
            args.project_dir, args.stage, args.host, args.port, args.worker, limits_from(args)
        )

    try:
        server = create_server(args.project_dir, args.stage, args.host, args.port, limits_from(args))
    except CannotListen as exc:
        print(exc, file=sys.stderr)
        return 2
    worker = start_worker(args.worker)
    try:
        serve(server, args.host)
    finally:
        server.server.server_close()
        if worker is not None:
            worker.stop(timeout=10)
    return 0
