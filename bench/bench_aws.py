"""The worst a submission can spend on AWS calls under the Config of `chalicelib.adapters.aws.clients`.

Every AWS call is charged the worst the Config allows (each attempt times out: connect + read
timeout, plus standard-mode backoff before each retry), on a fake clock, while the real service,
DynamoDB store, Idempotency-Key store and outbox relay run against moto. Transactions are
cancelled with ``TransactionConflict`` as real DynamoDB does under contention. Figures:

- ``worst_call_s`` and ``botocore_attempts_per_call``: one call that stalls on every attempt;
- ``success_path_s`` / ``success_path_calls`` / ``transaction_retries``: a 49-formula submission
  with an Idempotency-Key whose transactions conflict until the store's retry budget allows one
  more attempt, which commits; then the inline relay publishes;
- ``give_up_path_s`` / ``give_up_path_calls``: transactions that conflict until the budget is
  spent, answered 503 (the key is released);
- ``function_timeout_s``: what both must stay well inside.

Nothing is slept and nothing is asserted. Run with ``python -m bench --only aws``.

The moto helpers the other AWS benchmarks share live here too: `moto_with_fake_credentials`,
`aws_services` (a table and queues on moto with the AWS services built on them) and `Latency`
(a client whose every call first waits a modelled round trip).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters.aws import clients
from chalicelib.clock import FakeClock
from chalicelib.domain import parse_document
from chalicelib.errors import InfrastructureError

REGION = "us-east-1"
FUNCTION_TIMEOUT_SECONDS = 25
BATCH = 49


def worst_call_seconds(config: Any) -> float:
    """A call whose every attempt times out, with the longest backoff before each retry."""
    attempts = int(config.retries["total_max_attempts"])
    backoff = sum(min(2**i, 20) for i in range(attempts - 1))
    return float(attempts * (config.connect_timeout + config.read_timeout) + backoff)


class Stalling:
    """A client whose every call costs ``seconds`` on ``clock``; the first ``conflicts``
    transactions are cancelled with TransactionConflict."""

    def __init__(self, real: Any, clock: FakeClock, seconds: float, conflicts: int = 0) -> None:
        self._real, self._clock, self._seconds = real, clock, seconds
        self.conflicts = conflicts
        self.calls = 0
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._real, name)
        if name == "meta" or not callable(target):
            return target

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            self._clock.advance(self._seconds)
            if name == "transact_write_items":
                self.transactions += 1
                if self.transactions <= self.conflicts:
                    reasons = [{"Code": "TransactionConflict"} for _ in kwargs["TransactItems"]]
                    error = {"Code": "TransactionCanceledException", "Message": "conflict"}
                    raise ClientError({"Error": error, "CancellationReasons": reasons}, name)
            return target(**kwargs)

        return call


def _submission_path(conflicts: int, seconds: float) -> tuple[float, int, int, bool]:
    """Seconds on the clock, calls made, transactions tried, and whether it committed."""
    import boto3

    from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
    from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
    from chalicelib.adapters.aws.sqs import SqsQueue
    from chalicelib.adapters.aws.sqs_setup import create_queues
    from chalicelib.adapters.aws.tables import create_tables
    from chalicelib.ids import UlidFactory
    from chalicelib.services.submission import SubmissionService

    clock = FakeClock()
    dynamodb = Stalling(boto3.client("dynamodb", region_name=REGION), clock, seconds, conflicts)
    sqs = Stalling(boto3.client("sqs", region_name=REGION), clock, seconds)
    create_tables(dynamodb._real, ["bench"])
    queue_url, dlq_url = create_queues(sqs._real, name_prefix=f"bench{conflicts}", max_receive_count=3)
    queue = SqsQueue(queue_url=queue_url, dead_letter_queue_url=dlq_url, max_receive_count=3, client=sqs)
    store = DynamoFormulaStore(dynamodb, "bench", clock=clock, queue=queue, sleep=clock.advance)
    keys = DynamoIdempotencyStore(dynamodb, "bench")
    service = SubmissionService(store, keys, clock=clock, new_id=UlidFactory(clock))
    document = [
        {"name": f"F{n}", "materials": [{"name": f"Material {n}", "concentration": "1.5"}]}
        for n in range(BATCH)
    ]
    start = clock()
    try:
        committed = service.submit("bench", parse_document(document), f"key-{conflicts}").status == 201
    except InfrastructureError:
        committed = False
    return clock() - start, dynamodb.calls + sqs.calls, dynamodb.transactions, committed


@contextmanager
def moto_with_fake_credentials() -> Iterator[None]:
    """moto's in-process backends, with fake credentials in the environment for the block."""
    from moto import mock_aws

    fake = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}
    saved = {name: os.environ.get(name) for name in fake}
    os.environ.update(fake)
    try:
        with mock_aws():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def aws_services(table: str, *, latency: float = 0.0) -> Iterator[dict[str, Any]]:
    """moto's table ``table`` and its queues and the AWS services on them, installed for the app; with
    ``latency``, their clients wait that long on each call (`Latency`)."""
    import boto3

    from chalicelib.adapters.aws.serialized import SerializedClient
    from chalicelib.adapters.aws.sqs_setup import create_queues
    from chalicelib.adapters.aws.tables import create_tables
    from chalicelib.config import Settings

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    create_tables(dynamodb, [table])
    queue_url, dlq_url = create_queues(sqs, name_prefix=table, max_receive_count=5)
    settings = Settings(backend="aws", table_name=table, queue_url=queue_url, dead_letter_queue_url=dlq_url)
    if latency:
        services = bootstrap.build_aws(
            settings,
            dynamodb=Latency(SerializedClient(dynamodb), latency),
            sqs=Latency(SerializedClient(sqs), latency),
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


class Latency:
    """A client whose every call first waits ``seconds``, outside the (serialised) moto
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


def run() -> dict[str, float]:
    """The figures named in the module docstring."""
    config = clients.aws_client_config()
    seconds = worst_call_seconds(config)
    with moto_with_fake_credentials():
        give_up_s, give_up_calls, tried, _ = _submission_path(10_000, seconds)
        success_s, success_calls, _, committed = _submission_path(tried - 1, seconds)
    if not committed:
        raise RuntimeError("the success path did not commit")
    return {
        "worst_call_s": seconds,
        "botocore_attempts_per_call": float(config.retries["total_max_attempts"]),
        "success_path_s": round(success_s, 3),
        "success_path_calls": float(success_calls),
        "transaction_retries": float(tried - 1),
        "give_up_path_s": round(give_up_s, 3),
        "give_up_path_calls": float(give_up_calls),
        "function_timeout_s": float(FUNCTION_TIMEOUT_SECONDS),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:28} {value}")
