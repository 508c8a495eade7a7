"""The standalone worker: process formula-intake messages from a running API's consumer endpoints.

python -m chalicelib.entrypoints.worker --url http://127.0.0.1:8000 --concurrency 4
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from chalicelib import jsonio
from chalicelib.adapters.http_consumer import HttpConsumer
from chalicelib.services.processing import HandlerRegistry, Processor, load_plugins
from chalicelib.worker import Backoff, Worker

log = logging.getLogger("formula_intake.worker")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Process formula-intake messages from a running API.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the API")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--visibility-timeout", type=int, default=30)
    parser.add_argument("--wait-seconds", type=int, default=5)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10,
        choices=range(1, 11),
        metavar="1-10",
        help="messages per receive; their acks go in one call (default 10)",
    )
    parser.add_argument("--max-receive-count", type=int, default=5)
    parser.add_argument("--backoff-base", type=int, default=1)
    parser.add_argument("--plugins", default="", help="extra steps: module:function[,module:function]")
    parser.add_argument("--api-key", default=None, help="API key (or set FI_API_KEY)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")

    api_key = args.api_key or os.environ.get("FI_API_KEY")
    registry = HandlerRegistry()
    load_plugins(registry, args.plugins)
    consumer = HttpConsumer(args.url, api_key=api_key)
    worker = Worker(
        consumer,
        Processor(registry, consumer, time.time),
        max_receive_count=args.max_receive_count,
        concurrency=args.concurrency,
        visibility_timeout=args.visibility_timeout,
        wait_seconds=args.wait_seconds,
        batch_size=args.batch_size,
        backoff=Backoff(base=args.backoff_base),
    )
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.start()
    log.info(jsonio.dumps({"event": "worker_started", "url": args.url, "concurrency": args.concurrency}))
    stopped.wait()
    clean = worker.stop(timeout=args.wait_seconds + args.visibility_timeout)
    log.info(jsonio.dumps({"event": "worker_stopped", "clean": clean}))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
