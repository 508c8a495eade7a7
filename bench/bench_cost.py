"""What a formula costs on AWS, how fast the handler module starts, and how fast the sweeper drains.

All on moto, in process, through the real services and handlers; every AWS call is counted with
botocore's ``before-call`` hook on the clients the services use. Nothing is asserted.

- ``cost_*_single`` / ``cost_*_batch``: per accepted formula, for one single-formula submission
  with an Idempotency-Key and for one full batch (49 formulas): DynamoDB transactions and other
  calls on the request path (submit, then the inline relay), SQS calls (the consumer's event
  source receive and batch delete, and the consumer handler's own), Lambda invocations, and USD
  per million formulas at the list prices in `PRICES` (docs/performance.md cites them). The
  consumer runs as Lambda runs it: `local_lambda.SqsPoller` invoking ``app.consume_messages``;
  the stream relay as ``app.relay_outbox`` on the outbox insert.
- ``cold_start_ms``: median over fresh interpreters of ``import app`` plus
  `bootstrap.build_aws` (its clients made, no call sent); ``package_mb``: the installed size of
  the runtime requirements and what they require.
- ``sweep_items_per_s``: outbox items published per second by `lambda_handlers.sweep` from a
  stranded backlog; ``drain_60k_minutes``: 60,000 items at one sweep a minute, each working for
  `SWEEP_BUDGET_SHARE` of its 25-second budget.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.bench_aws import moto_with_fake_credentials

PROJECT_DIR = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
TABLE = "bench-cost"
BATCH = 49
LAMBDA_MEMORY_GB = 0.5
"""The stage's ``lambda_memory_size`` (512 MB)."""

PRICES = {
    "dynamodb_write_unit": 0.625e-6,
    "dynamodb_read_unit": 0.125e-6,
    "sqs_request": 0.40e-6,
    "lambda_request": 0.20e-6,
    "lambda_gb_second": 0.0000166667,
    "api_request": 3.50e-6,
}
"""USD, us-east-1 list prices (see docs/performance.md for the sources and date)."""
SQS_CHUNK = 64 * 1024


@dataclass
class Tally:
    """AWS calls by operation, with the request units they bill, and Lambda invocations."""

    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    sqs_requests: int = 0
    invocations: int = 0
    lambda_seconds: float = 0.0

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """botocore's ``before-call``: ``params`` is the serialised request (a JSON body)."""
        name, service = model.name, model.service_model.signing_name
        params = json.loads(params.get("body") or b"{}")
        self.calls[f"{service}:{name}"] += 1
        if service == "sqs":
            size = sum(len(str(entry.get("MessageBody", ""))) for entry in params.get("Entries", []))
            size += len(str(params.get("MessageBody", "")))
            self.sqs_requests += max(1, math.ceil(size / SQS_CHUNK))
        elif name == "TransactWriteItems":  # transactional writes bill two units per KiB per item
            self.write_units += sum(2 * _kib(item) for item in params["TransactItems"])
        elif name in {"PutItem", "UpdateItem", "DeleteItem"}:
            self.write_units += _kib(params)
        elif name in {"GetItem", "Query", "BatchGetItem"}:
            self.read_units += 1.0  # one strongly consistent read of up to 4 KiB (an upper bound)

    def invoke(self, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.invocations += 1
            self.lambda_seconds += math.ceil((time.perf_counter() - started) * 1000) / 1000


def _kib(params: dict[str, Any]) -> int:
    return max(1, math.ceil(len(json.dumps(params, default=str)) / 1024))


@contextmanager
def _aws_services(prefix: str, *, latency: float = 0.0) -> Iterator[dict[str, Any]]:
    """moto's table and queues and the AWS services on them, installed for the app; with
    ``latency``, their clients wait that long on each call (`_Latency`)."""
    import boto3

    from chalicelib import bootstrap
    from chalicelib.adapters.aws.serialized import SerializedClient
    from chalicelib.adapters.aws.sqs_setup import create_queues
    from chalicelib.adapters.aws.tables import create_tables
    from chalicelib.config import Settings

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    create_tables(dynamodb, [f"{TABLE}-{prefix}"])
    queue_url, dlq_url = create_queues(sqs, name_prefix=f"{TABLE}-{prefix}", max_receive_count=5)
    settings = Settings(
        backend="aws", table_name=f"{TABLE}-{prefix}", queue_url=queue_url, dead_letter_queue_url=dlq_url
    )
    if latency:
        services = bootstrap.build_aws(
            settings,
            dynamodb=_Latency(SerializedClient(dynamodb), latency),
            sqs=_Latency(SerializedClient(sqs), latency),
        )
    else:
        services = bootstrap.build_aws(
            settings, dynamodb=SerializedClient(dynamodb), sqs=SerializedClient(sqs)
        )
    old = bootstrap.use(services)
    try:
        yield {"services": services, "dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url}
    finally:
        bootstrap.use(old)


def _documents(count: int, tag: str) -> Any:
    return [
        {"name": f"F{n}", "materials": [{"name": f"{tag} material {n}", "concentration": "12.50"}]}
        for n in range(count)
    ]


def formula_path(count: int) -> dict[str, float]:
    """One submission of ``count`` formulas from request to processed, per accepted formula."""
    import boto3
    from botocore.config import Config

    from app import app
    from chalicelib.domain import parse_document
    from chalicelib.entrypoints import local_lambda

    with _aws_services(f"n{count}") as aws:
        request, consumer = Tally(), Tally()
        for client in (aws["dynamodb"], aws["sqs"]):
            client.meta.events.register("before-call.*.*", request.hook)
        document = _documents(count, "bench")
        body = document[0] if count == 1 else document
        submit = aws["services"].submissions.submit
        result = request.invoke(submit, "bench", parse_document(body), f"key-{count}")
        if result.status != 201:
            raise RuntimeError(f"the submission was answered {result.status}")
        for client in (aws["dynamodb"], aws["sqs"]):
            client.meta.events.unregister("before-call.*.*", request.hook)
        streams = boto3.client(
            "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
        )
        relay = local_lambda.StreamPoller(
            aws["dynamodb"],
            streams,
            aws["services"].settings.table_name,
            lambda e, c: consumer.invoke(app.handler_map["relay_outbox"], e, c),
        )
        poller = local_lambda.SqsPoller(
            aws["sqs"],
            aws["queue_url"],
            lambda e, c: consumer.invoke(app.handler_map["consume_messages"], e, c),
            wait_seconds=0,
        )
        for client in (aws["dynamodb"], aws["sqs"]):  # stream reads by Lambda are not billed
            client.meta.events.register("before-call.*.*", consumer.hook)
        relay.poll_once()
        received = 0
        while received < count:  # as many receives as the messages need, not the idle polls after
            got = poller.poll_once().received
            if not got:
                raise RuntimeError("a message did not reach the consumer")
            received += got
    return _figures(count, request, consumer)


def _figures(count: int, request: Tally, consumer: Tally) -> dict[str, float]:
    suffix = "single" if count == 1 else "batch"
    total = Tally(
        calls=request.calls + consumer.calls,
        write_units=request.write_units + consumer.write_units,
        read_units=request.read_units + consumer.read_units,
        sqs_requests=request.sqs_requests + consumer.sqs_requests,
        invocations=request.invocations + consumer.invocations,
        lambda_seconds=request.lambda_seconds + consumer.lambda_seconds,
    )
    usd = (
        total.write_units * PRICES["dynamodb_write_unit"]
        + total.read_units * PRICES["dynamodb_read_unit"]
        + total.sqs_requests * PRICES["sqs_request"]
        + total.invocations * PRICES["lambda_request"]
        + total.lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second"]
        + PRICES["api_request"]
    )
    dynamodb_request = sum(n for op, n in request.calls.items() if op.startswith("dynamodb:"))
    sqs_ops = {op: n for op, n in total.calls.items() if op.startswith("sqs:")}
    return {
        f"cost_request_transactions_{suffix}": float(request.calls["dynamodb:TransactWriteItems"]),
        f"cost_request_dynamodb_calls_{suffix}": float(dynamodb_request),
        f"cost_aws_calls_per_formula_{suffix}": sum(total.calls.values()) / count,
        f"cost_sqs_calls_per_formula_{suffix}": sum(sqs_ops.values()) / count,
        f"cost_sqs_send_calls_{suffix}": float(
            sqs_ops.get("sqs:SendMessageBatch", 0) + sqs_ops.get("sqs:SendMessage", 0)
        ),
        f"cost_write_units_per_formula_{suffix}": total.write_units / count,
        f"cost_read_units_per_formula_{suffix}": total.read_units / count,
        f"cost_lambda_invocations_per_formula_{suffix}": total.invocations / count,
        f"cost_usd_per_million_{suffix}": round(usd / count * 1_000_000, 2),
    }


COLD_START = """
import time
started = time.perf_counter()
import app
from chalicelib import bootstrap
from chalicelib.config import Settings
bootstrap.build_aws(Settings(backend="aws", table_name="t", queue_url="https://q", dead_letter_queue_url="https://d"))
print(time.perf_counter() - started)
"""


def cold_start_ms(runs: int) -> float:
    """Median milliseconds of import plus client set-up, each run in a fresh interpreter."""
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", COLD_START],
                cwd=PROJECT_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]
    return round(statistics.median(times) * 1000, 1)


def package_mb() -> float:
    """Installed size of the runtime requirements and everything they require (not extras)."""
    wanted = [
        line.split("==")[0]
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    seen: set[str] = set()
    size = 0
    while wanted:
        name = wanted.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        size += sum(f.size or 0 for f in dist.files or [])
        wanted += [
            r.split(";")[0]
            .split("[")[0]
            .split("<")[0]
            .split(">")[0]
            .split("=")[0]
            .split("!")[0]
            .split("~")[0]
            .strip()
            for r in dist.requires or []
            if "extra ==" not in r
        ]
    return round(size / 1_000_000, 1)


NETWORK_SECONDS = 0.010
"""Round-trip time modelled for each AWS call in the ``latency`` drain (a call inside one region
takes a few to a few tens of milliseconds; moto answers in-process in well under one)."""


class _Latency:
    """A client whose every call first waits `NETWORK_SECONDS`, outside the (serialised) moto
    client, so calls from several threads wait at once as they would on a network."""

    def __init__(self, client: Any, seconds: float) -> None:
        self._client = client
        self._seconds = seconds
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            time.sleep(self._seconds)
            return attribute(*args, **kwargs)

        return call


def drain(backlog: int, *, latency: float = 0.0) -> dict[str, float]:
    """Publish a stranded backlog with the sweeper; its rate and what it means for 60,000 items.

    With ``latency``, every AWS call waits that long first (`_Latency`): the sweep then spends
    its time as it does on AWS, waiting on the network, which it overlaps across items.
    """
    from chalicelib.adapters.aws.relay import SWEEP_BUDGET_SECONDS, SWEEP_BUDGET_SHARE
    from chalicelib.entrypoints import lambda_handlers
    from chalicelib.ports.store import OutboundMessage

    with _aws_services(f"drain{int(latency * 1000)}", latency=latency) as aws:
        store = aws["services"].store
        for n in range(backlog):
            message = OutboundMessage(
                f"evt_{n:08d}", {"type": "formula.submitted", "formula_id": f"F{n:08d}", "owner": "bench"}
            )
            put = store.outbox.put_action("bench", [message], created_at=time.time() - 120)["Put"]
            aws["dynamodb"].put_item(TableName=put["TableName"], Item=put["Item"])
        started = time.perf_counter()
        published = 0
        while published < backlog:
            result = lambda_handlers.sweep(
                aws["services"], older_than_seconds=0, budget_seconds=SWEEP_BUDGET_SECONDS
            )
            if not result.completed:
                break
            published += len(result.completed)
        elapsed = time.perf_counter() - started
    rate = published / elapsed
    per_sweep = rate * SWEEP_BUDGET_SECONDS * SWEEP_BUDGET_SHARE
    suffix = f"_at_{int(latency * 1000)}ms" if latency else ""
    return {
        f"sweep_backlog{suffix}": float(backlog),
        f"sweep_items_per_s{suffix}": round(rate, 1),
        f"sweep_items_per_invocation{suffix}": round(per_sweep),
        f"drain_60k_minutes{suffix}": round(60_000 / per_sweep, 1),
    }


class _NetworkOutbox:
    """An outbox in memory whose every call first waits `NETWORK_SECONDS`, as a DynamoDB call
    does: for the sweeper's rate with the network as its only cost (moto's CPU taken out)."""

    def __init__(self, items: list[Any]) -> None:
        import threading

        self._items = {item.outbox_id: item for item in items}
        self._leases: dict[str, str] = {}
        self._lock = threading.Lock()

    def pending(self, *, limit: int, older_than: float) -> list[Any]:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            return sorted(self._items.values(), key=lambda i: i.outbox_id)[:limit]

    def get(self, outbox_id: str) -> Any:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            return self._items.get(outbox_id)

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            if outbox_id not in self._items or outbox_id in self._leases:
                return False
            self._leases[outbox_id] = token
            return True

    def release(self, outbox_id: str, token: str) -> None:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            self._leases.pop(outbox_id, None)

    def mark_sent(self, outbox_id: str) -> None:
        time.sleep(NETWORK_SECONDS)
        with self._lock:
            self._items.pop(outbox_id, None)
            self._leases.pop(outbox_id, None)


class _NetworkQueue:
    """SendMessageBatch that takes `NETWORK_SECONDS` and accepts everything."""

    def publish(self, messages: Any) -> dict[str, str]:
        time.sleep(NETWORK_SECONDS)
        return {}


def drain_network(backlog: int) -> dict[str, float]:
    """The sweeper's own rate when each call costs only a 10 ms round trip (`_NetworkOutbox`):
    one `OutboxRelay.sweep` over a backlog, with the deployed concurrency and page size."""
    from chalicelib.adapters.aws.relay import SWEEP_BUDGET_SECONDS, SWEEP_BUDGET_SHARE, OutboxRelay
    from chalicelib.ports.outbox import OutboxItem
    from chalicelib.ports.store import OutboundMessage

    items = [
        OutboxItem(f"evt_{n:08d}", 0.0, (OutboundMessage(f"evt_{n:08d}", {"n": n}),)) for n in range(backlog)
    ]
    relay = OutboxRelay(_NetworkOutbox(items), _NetworkQueue(), time.time)
    started = time.perf_counter()
    result = relay.sweep(older_than_seconds=0)
    elapsed = time.perf_counter() - started
    rate = len(result.completed) / elapsed
    per_sweep = rate * SWEEP_BUDGET_SECONDS * SWEEP_BUDGET_SHARE
    return {
        "sweep_items_per_s_network_only": round(rate, 1),
        "drain_60k_minutes_network_only": round(60_000 / per_sweep, 1),
    }


def run(*, backlog: int = 2000, cold_runs: int = 5, batch: int = BATCH) -> dict[str, float]:
    """The figures named in the module docstring."""
    figures: dict[str, float] = {}
    with moto_with_fake_credentials():
        figures |= formula_path(1)
        figures |= formula_path(batch)
        figures |= drain(backlog)
        figures |= drain(max(10, backlog // 4), latency=NETWORK_SECONDS)
    figures |= drain_network(backlog)
    figures["cold_start_ms"] = cold_start_ms(cold_runs)
    figures["package_mb"] = package_mb()
    return figures
