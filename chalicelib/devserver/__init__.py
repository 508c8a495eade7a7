"""`make run`'s server: Chalice's own `LocalDevServer` with a hardened request handler.

It serves the same app, routes, stage configuration and API Gateway imitation as `chalice
local`, and adds strict HTTP/1.1 framing, connection deadlines, a bound on open connections, the
promised headers on every answer, ``HEAD``, and ``TCP_NODELAY``. What it guarantees is written
in docs/devserver.md. `make run-aws-local` (scripts/run_aws_local.py) serves through it too.

- `cli`: options, the in-process worker, signals, the reloader (``python -m chalicelib.devserver``);
- `server`: `create_server`, `Limits`, the connection bound;
- `handler`: one connection's requests; `framing`: where a request's body ends;
- `deadlines`: the watchdog that keeps every connection's deadline;
- `placement`: the server's threads on one CPU (``--cpu``).
"""

from chalicelib.devserver.cli import (
    add_server_arguments,
    limits_from,
    main,
    place_threads,
    serve,
    start_worker,
)
from chalicelib.devserver.server import (
    MAX_BODY_BYTES,
    CannotListen,
    Limits,
    create_server,
    make_thread_safe,
)

__all__ = [
    "MAX_BODY_BYTES",
    "CannotListen",
    "Limits",
    "add_server_arguments",
    "create_server",
    "limits_from",
    "main",
    "make_thread_safe",
    "place_threads",
    "serve",
    "start_worker",
]
