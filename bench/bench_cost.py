"""What a formula costs on AWS, how fast the handler module starts, and how fast the sweeper drains.

All on moto, in process, through the real services and handlers; every AWS call is counted with
botocore's ``before-call`` hook on the clients the services use. Nothing is asserted.

- ``cost_*_single`` / ``cost_*_batch``: per accepted formula, for one single-formula submission
  with an Idempotency-Key and for one full batch (49 formulas): DynamoDB transactions and other
  calls on the request path (submit, then the inline relay), SQS calls (the consumer's event
  source receive and batch delete, and the consumer handler's own), Lambda invocations, and USD
  per million formulas at the list prices in `PRICES` (docs/performance.md cites them). The
  consumer runs as Lambda runs it: `local_lambda.SqsPoller` invoking ``app.consume_messages``;
  the stream relay as ``app.relay_outbox`` on whatever records its filter passes (none when the
  inline publish succeeds).
- ``cold_start_ms``: median over fresh interpreters of ``import app`` plus
  `bootstrap.build_aws` (its clients made, no call sent); ``package_mb``: the installed size of
  the runtime requirements and what they require.
- the sweeper's drain rate: `bench.bench_drain`.
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
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.bench_aws import REGION, aws_services, moto_with_fake_credentials
from bench.bench_drain import NETWORK_SECONDS, drain, drain_network

PROJECT_DIR = Path(__file__).resolve().parents[1]
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

    with aws_services(f"{TABLE}-n{count}") as aws:
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
