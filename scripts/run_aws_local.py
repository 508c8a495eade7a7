"""`make run-aws-local`: the whole AWS flow on one machine, offline, against a local moto server.

    python -m scripts.run_aws_local --host 127.0.0.1 --port 8000 [--worker auto|0|1]

1. starts a moto server on 127.0.0.1 (a free port unless ``--moto-port``), in this process;
2. creates the table and the two queues with the helpers the tests use and whose numbers the
   deployment template is rendered from (`tables.create_tables`, `sqs_setup.create_queues`);
3. serves the API with `make run`'s fast dev server on the ``aws-local`` stage, and runs
   production's Lambda handlers the way Lambda does (`chalicelib.entrypoints.local_lambda`): an
   SQS poller invokes ``handlers["consume_messages"]`` with SQS events and deletes what the partial
   batch response does not name, a stream poller invokes ``handlers["relay_outbox"]`` with the table's
   DynamoDB stream records, and ``app.sweep_outbox`` runs on its schedule (every minute;
   ``--sweep-interval``).

On SIGINT or SIGTERM, and on any startup error, it stops everything it started, moto included.

**Where settings come from.** The ``aws-local`` stage sets ``FI_BACKEND=aws``, ``FI_TABLE_NAME``
and ``FI_WORKER``; a setting given in the shell wins over the stage's, for the moto resources
this script creates and for the server alike (`chalicelib.config.serving_environment`). This
script puts ``FI_AWS_ENDPOINT_URL`` (the moto URL), ``FI_QUEUE_URL``, ``FI_DEAD_LETTER_QUEUE_URL``
and the region into the process environment, over whatever the shell or the stage said. It also
replaces any AWS credentials with fake ones, so nothing it does can reach a real account.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from chalice.app import Chalice
from chalice.cli.factory import CLIFactory

from chalicelib import bootstrap, devserver
from chalicelib.adapters.aws import sqs_setup, tables
from chalicelib.adapters.aws.serialized import SerializedClient
from chalicelib.config import Settings, serving_environment
from chalicelib.entrypoints import local_lambda

PROJECT_DIR = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
DEFAULT_REGION = "us-east-1"

SWEEP_INTERVAL_SECONDS = 60.0
"""The deployed ``sweep_outbox`` schedule: ``rate(1 minute)``."""
POLL_PAUSE_SECONDS = 0.1
"""Between two polls of the queue (each a 1-second long poll) or of the stream."""

log = logging.getLogger("formula_intake.aws_local")


def isolate_credentials(env: MutableMapping[str, str], region: str) -> None:
    """Fake credentials and a fixed region: boto3 must never find a real profile or key here."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env[name] = "testing"
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = region
    env["AWS_EC2_METADATA_DISABLED"] = "true"


def stage_variables(project_dir: Path, stage: str) -> dict[str, str]:
    """The environment variables ``stage`` sets (top level and stage), without loading the app."""
    config = CLIFactory(project_dir=str(project_dir), environ=dict(os.environ)).create_config_obj(stage)
    variables: dict[str, str] = config.environment_variables
    return variables


@contextlib.contextmanager
def moto_server(port: int) -> Iterator[str]:
    """A moto server on loopback for the duration of the block; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield f"http://{host}:{bound}"
    finally:
        server.stop()
        # stop() ends serve_forever but leaves the listening socket open until collected.
        wsgi_server = getattr(server, "_server", None)
        if wsgi_server is not None:
            wsgi_server.server_close()


def provision(endpoint: str, settings: Settings, *, name_prefix: str) -> tuple[str, str]:
    """Create the table and the queues on ``endpoint``; return (queue URL, dead-letter queue URL)."""
    options: dict[str, Any] = {"region_name": settings.aws_region, "endpoint_url": endpoint}
    tables.create_tables(boto3.client("dynamodb", **options), [settings.table_name])
    return sqs_setup.create_queues(
        boto3.client("sqs", **options),
        name_prefix=name_prefix,
        max_receive_count=settings.queue_max_receive_count,
        retention_seconds=settings.queue_retention_seconds,
    )


def start_lambda_event_sources(
    app: Chalice, endpoint: str, settings: Settings, *, consumer: bool, sweep_interval: float
) -> list[local_lambda.Repeating]:
    """Poll the queue and the stream and run the sweeper's schedule, invoking ``app``'s handlers.

    The functions Lambda invokes in AWS (``app.handler_map``, as Chalice resolves the handler
    names of the template), with events shaped as Lambda sends them
    (`chalicelib.entrypoints.local_lambda`). Without ``consumer`` messages stay on the queue.
    """
    handlers = app.handler_map
    options: dict[str, Any] = {"region_name": settings.aws_region, "endpoint_url": endpoint}
    # Streams' endpoint is not account-scoped; botocore would otherwise need an account id.
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"), **options)
    dynamodb = boto3.client("dynamodb", **options)
    relay = local_lambda.StreamPoller(
        dynamodb, SerializedClient(streams), settings.table_name, handlers["relay_outbox"]
    )
    loops = [local_lambda.Repeating("stream-relay", relay.poll_once, POLL_PAUSE_SECONDS)]
    if consumer:
        sqs = boto3.client("sqs", **options)
        poller = local_lambda.SqsPoller(sqs, settings.queue_url, handlers["consume_messages"])
        loops.append(local_lambda.Repeating("sqs-consumer", poller.poll_once, POLL_PAUSE_SECONDS))

    def sweep() -> None:
        handlers["sweep_outbox"](
            local_lambda.scheduled_event(settings.aws_region), local_lambda.context_for("sweep_outbox")
        )

    loops.append(local_lambda.Repeating("outbox-sweeper", sweep, sweep_interval))
    for loop in loops:
        loop.start()
    return loops


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    devserver.add_server_arguments(
        parser,
        stage="aws-local",
        worker_help="invoke the SQS consumer handler on the queue (auto: the stage's FI_WORKER setting)",
    )
    parser.add_argument("--moto-port", type=int, default=0, help="moto's port on 127.0.0.1 (0: any free)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument(
        "--sweep-interval", type=float, default=SWEEP_INTERVAL_SECONDS, help="seconds between sweeps"
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    for noisy in ("werkzeug", "botocore"):  # moto's access log; "Found credentials in ..."
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not devserver.place_threads(args.cpu):  # before moto, the server and the pollers start threads
        return 2
    isolate_credentials(os.environ, args.region)
    variables = stage_variables(args.project_dir, args.stage)
    settings = Settings.from_env(serving_environment(variables, os.environ))  # as the server will
    if settings.backend != "aws":
        raise SystemExit(f"stage {args.stage!r} must set FI_BACKEND=aws, not {settings.backend!r}")

    with contextlib.ExitStack() as running:
        endpoint = running.enter_context(moto_server(args.moto_port))
        queue_url, dead_letter_queue_url = provision(endpoint, settings, name_prefix=settings.table_name)
        os.environ.update(
            FI_AWS_ENDPOINT_URL=endpoint,
            FI_QUEUE_URL=queue_url,
            FI_DEAD_LETTER_QUEUE_URL=dead_letter_queue_url,
        )
        print(f"Moto server on {endpoint}: table {settings.table_name}, queue {queue_url}", flush=True)

        try:
            server = devserver.create_server(
                str(args.project_dir), args.stage, args.host, args.port, devserver.limits_from(args)
            )
        except devserver.CannotListen as exc:
            print(exc, file=sys.stderr)
            return 2
        running.callback(server.server.server_close)
        # moto's DynamoDB is not thread-safe (see SerializedClient): serialise this process's calls.
        local = Settings.from_env()
        dynamodb = boto3.client("dynamodb", region_name=local.aws_region, endpoint_url=endpoint)
        services = bootstrap.build_aws(local, dynamodb=SerializedClient(dynamodb))
        bootstrap.use(services)
        consumer = args.worker == "1" or (args.worker == "auto" and local.worker_enabled)
        for loop in start_lambda_event_sources(
            server.app_object, endpoint, local, consumer=consumer, sweep_interval=args.sweep_interval
        ):
            running.callback(loop.stop)
        devserver.serve(server, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
