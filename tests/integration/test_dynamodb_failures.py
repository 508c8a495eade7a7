"""A failure injected at each step of the AWS path: commit -> outbox -> publish -> mark sent.

The path is: one DynamoDB transaction stores the formulas, their guards, the completed key and
ONE outbox item; then the relay sends the outbox's messages and deletes the item; a sweep
relays whatever is left. Whatever fails, a formula is stored iff its message is (or will be)
published, and a consumer that dedupes on ``message_id`` handles each message once in effect.
The queue is a fake that records sends (moto SQS adds nothing to these properties).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
from chalicelib.adapters.aws.outbox import MAX_MESSAGE_BYTES, DynamoOutbox, decode_image
from chalicelib.adapters.aws.relay import OutboxRelay
from chalicelib.adapters.aws.tables import OUTBOX_PREFIX, PK, cloudformation_properties
from chalicelib.clock import FakeClock
from chalicelib.domain import Submission, parse_document
from chalicelib.errors import DuplicateFormula, InfrastructureError, PayloadTooLarge
from chalicelib.ids import UlidFactory
from chalicelib.ports.outbox import OutboxItem
from chalicelib.ports.store import (
    STATUS_QUEUED,
    FormulaRecord,
    IdempotencyCompletion,
    KeyAcquired,
    MaterialRecord,
    OutboundMessage,
    StoredResponse,
)
from chalicelib.services.submission import SubmissionService
from tests.conftest import unique_formula
from tests.integration.aws_dynamo_fixtures import (  # noqa: F401
    REGION,
    TABLE,
    aws_credentials,
    dynamodb_client,
)

pytestmark = pytest.mark.aws
OWNER = "default"
SWEEP_AGE = 60


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("dynamodb_client")


class QueueDown(RuntimeError):
    pass


@dataclass
class FakeQueue:
    """Records every message a batch call accepted; the calls numbered in ``fail_calls`` (from 1)
    fail, and those in ``refuse_calls`` accept only their first message (SendMessageBatch's
    ``Failed`` entries for the others)."""

    sent: list[tuple[str | None, Any]] = field(default_factory=list)
    fail_calls: set[int] = field(default_factory=set)
    refuse_calls: set[int] = field(default_factory=set)
    calls: int = 0
    on_call: Any = None

    def publish(self, messages: Sequence[OutboundMessage]) -> dict[str, str]:
        self.calls += 1
        if self.on_call is not None:
            self.on_call()
        if self.calls in self.fail_calls:
            raise QueueDown("the queue is unavailable")
        accepted = messages[:1] if self.calls in self.refuse_calls else messages
        self.sent.extend((m.message_id, m.body) for m in accepted)
        return {m.message_id: "InternalError" for m in messages[len(accepted) :]}

    def dead_letters(self, *, limit: int = 100) -> list[Any]:
        return []  # what the sweeper peeks at: nothing is ever dead-lettered here


class DedupingConsumer:
    """Processes each message id once, however often it is delivered."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.processed: list[str] = []

    def handle(self, message_id: str | None, body: Any) -> None:
        assert message_id == body["message_id"]
        if message_id not in self.seen:
            self.seen.add(message_id)
            self.processed.append(body["formula_id"])


class ForgetfulOutbox:
    """The real outbox, except that the next ``fail_next`` ``mark_sent`` calls crash."""

    def __init__(self, real: DynamoOutbox, fail_next: int) -> None:
        self._real = real
        self.fail_next = fail_next

    def pending(self, *, limit: int, older_than: float) -> list[OutboxItem]:
        return self._real.pending(limit=limit, older_than=older_than)

    def get(self, outbox_id: str) -> OutboxItem | None:
        return self._real.get(outbox_id)

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        return self._real.claim(outbox_id, token, now=now)

    def release(self, outbox_id: str, token: str) -> None:
        self._real.release(outbox_id, token)

    def mark_sent(self, outbox_id: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise InfrastructureError("crashed before marking the outbox item sent")
        self._real.mark_sent(outbox_id)


class FailingClient:
    """The real client, except that ``operation`` raises ``error_code`` once."""

    def __init__(self, real: Any, operation: str, error_code: str) -> None:
        self._real, self._operation, self._code = real, operation, error_code

    def __getattr__(self, name: str) -> Any:
        if name == self._operation and self._code:
            code, self._code = self._code, ""
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, name)
        return getattr(self._real, name)


@dataclass
class Harness:
    clock: FakeClock
    store: DynamoFormulaStore
    keys: DynamoIdempotencyStore
    queue: FakeQueue
    relay: OutboxRelay
    service: SubmissionService

    def pending(self) -> list[OutboxItem]:
        return self.store.pending_outbox(limit=100, older_than=self.clock() + 1)

    def stored(self) -> list[FormulaRecord]:
        return list(self.store.list(OWNER, limit=100, after=None, status=None).items)


def harness(client: Any, *, inline_relay: bool = True, outbox: Any = None) -> Harness:
    clock = FakeClock()
    store = DynamoFormulaStore(client, TABLE, clock=clock)
    keys = DynamoIdempotencyStore(client, TABLE)
    queue = FakeQueue()
    # One item at a time: these tests follow a fake clock that the queue moves call by call.
    relay = OutboxRelay(outbox or store.outbox, queue, clock, sweep_concurrency=1)
    store.relay = relay if inline_relay else None
    service = SubmissionService(store, keys, clock=clock, new_id=UlidFactory(clock))
    return Harness(clock, store, keys, queue, relay, service)


def submission(count: int = 2) -> Submission:
    return parse_document([unique_formula() for _ in range(count)])


def test_happy_path_publishes_each_message_once_and_empties_the_outbox(client: Any) -> None:
    h = harness(client)
    assert h.service.submit(OWNER, submission(3), "k1").status == 201
    assert sorted(m for m, _ in h.queue.sent) == sorted(r.message_id for r in h.stored())
    assert h.pending() == []


def test_cancelled_transaction_stores_nothing_and_leaves_no_outbox(client: Any) -> None:
    h = harness(client)
    first = unique_formula()
    h.service.submit(OWNER, parse_document(first), None)
    sent_before = list(h.queue.sent)
    clash = parse_document([unique_formula(), {**first, "name": "Same make-up, another name"}])
    with pytest.raises(DuplicateFormula) as caught:
        h.service.submit(OWNER, clash, "k2")
    assert [c.index for c in caught.value.conflicts] == [1]
    assert len(h.stored()) == 1 and h.pending() == [] and h.queue.sent == sent_before
    again = h.service.submit(OWNER, parse_document([unique_formula()]), "k2")
    assert again.status == 201 and not again.replayed


@pytest.mark.parametrize(
    "code", ["TransactionConflictException", "ThrottlingException", "InternalServerError"]
)
def test_backend_error_on_commit_is_an_infrastructure_error(client: Any, code: str) -> None:
    h = harness(FailingClient(client, "transact_write_items", code))
    with pytest.raises(InfrastructureError) as caught:
        h.service.submit(OWNER, submission(), "k1")
    assert isinstance(caught.value.__cause__, ClientError)
    assert h.stored() == [] and h.pending() == [] and h.queue.sent == []
    assert h.service.submit(OWNER, submission(), "k1").status == 201


def test_queue_failure_leaves_the_outbox_pending_and_a_sweep_publishes_once(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(client)
    h.queue.fail_calls = {1}
    with caplog.at_level(logging.ERROR, logger="chalicelib.adapters.aws.relay"):
        assert h.service.submit(OWNER, submission(2), None).status == 201
    assert "stays pending" in caplog.text
    assert len(h.stored()) == 2 and h.queue.sent == [] and len(h.pending()) == 1
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).completed == ()
    h.clock.advance(SWEEP_AGE)
    result = h.relay.sweep(older_than_seconds=SWEEP_AGE)
    assert result.ok and result.messages_sent == 2
    assert sorted(m for m, _ in h.queue.sent) == sorted(r.message_id for r in h.stored())
    assert h.pending() == [] and h.relay.sweep(older_than_seconds=0).messages_sent == 0


def test_crash_between_commit_and_publish_is_recovered_by_the_sweep(client: Any) -> None:
    h = harness(client, inline_relay=False)
    h.service.submit(OWNER, submission(2), "k1")
    assert h.queue.sent == [] and len(h.pending()) == 1
    h.clock.advance(SWEEP_AGE)
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).messages_sent == 2
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).messages_sent == 0
    assert len(h.queue.sent) == 2


def test_crash_after_publish_before_mark_sent_publishes_again_and_the_consumer_dedups(
    client: Any,
) -> None:
    store = DynamoFormulaStore(client, TABLE)
    h = harness(client, outbox=ForgetfulOutbox(store.outbox, fail_next=1))
    h.service.submit(OWNER, submission(2), None)
    assert len(h.queue.sent) == 2 and len(h.pending()) == 1
    h.clock.advance(SWEEP_AGE)
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).ok
    assert len(h.queue.sent) == 4 and h.pending() == []
    consumer = DedupingConsumer()
    for message_id, body in h.queue.sent:
        consumer.handle(message_id, body)
    assert sorted(consumer.processed) == sorted(r.id for r in h.stored())
    for formula_id in consumer.processed:
        assert h.store.mark_processed(OWNER, formula_id, at=h.clock()).changed is True
        assert h.store.mark_processed(OWNER, formula_id, at=h.clock()).changed is False


def test_failure_midway_through_a_batch_keeps_the_item_for_the_sweep(client: Any) -> None:
    h = harness(client)
    h.queue.fail_calls = {2}
    h.service.submit(OWNER, submission(12), None)
    assert len(h.queue.sent) == 10 and len(h.pending()) == 1
    h.clock.advance(SWEEP_AGE)
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).messages_sent == 12
    assert len({m for m, _ in h.queue.sent}) == 12 and h.pending() == []


def test_a_retried_transaction_whose_answer_was_lost_succeeds(client: Any) -> None:
    h = harness(client, inline_relay=False)
    record = _record(h, 0)
    messages = [OutboundMessage(record.message_id, {"message_id": record.message_id})]
    token = h.keys.begin(OWNER, "k1", "h1", now=h.clock(), lock_seconds=60)
    assert isinstance(token, KeyAcquired)
    done = IdempotencyCompletion(OWNER, "k1", token.token, StoredResponse(201, "{}", None), h.clock() + 60)
    h.store.commit_submission(OWNER, [record], messages, done)
    h.store.commit_submission(OWNER, [record], messages, done)
    assert h.stored() == [record] and len(h.pending()) == 1


def test_size_limits_refuse_before_writing(client: Any) -> None:
    h = harness(client)
    too_many = [_record(h, n) for n in range(DynamoFormulaStore.MAX_BATCH + 1)]
    with pytest.raises(ValueError):
        h.store.commit_submission(OWNER, too_many, [], None)
    record = _record(h, 0)
    huge = [OutboundMessage(record.message_id, {"blob": "x" * MAX_MESSAGE_BYTES})]
    with pytest.raises(PayloadTooLarge):
        h.store.commit_submission(OWNER, [record], huge, None)
    batch = [_record(h, n) for n in range(3)]
    big = [OutboundMessage(r.message_id, {"blob": "x" * 200_000}) for r in batch]
    with pytest.raises(PayloadTooLarge):
        h.store.commit_submission(OWNER, batch, big, None)
    assert h.stored() == [] and h.pending() == []


def _record(h: Harness, n: int) -> FormulaRecord:
    formula_id = UlidFactory(h.clock)()
    return FormulaRecord(
        id=formula_id,
        owner=OWNER,
        name=f"F{n}",
        materials=(MaterialRecord("Musk", Decimal(n)),),
        fingerprint=f"v1:{n}",
        status=STATUS_QUEUED,
        created_at=h.clock(),
        message_id=f"evt_{formula_id}",
    )


def test_the_stream_image_of_an_outbox_item_can_be_relayed(client: Any) -> None:
    h = harness(client, inline_relay=False)
    h.service.submit(OWNER, submission(2), None)
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    images = [r["dynamodb"]["NewImage"] for r in records if r["eventName"] == "INSERT"]
    images = [image for image in images if image[PK]["S"].startswith(OUTBOX_PREFIX)]
    (item,) = [decode_image(image) for image in images]
    assert item == h.pending()[0]
    assert h.relay.relay_if_pending(item.outbox_id).messages_sent == 2
    assert h.relay.relay_if_pending(item.outbox_id).messages_sent == 0
    assert len(h.queue.sent) == 2


def test_a_sweep_that_cannot_read_the_outbox_fails_loudly(client: Any) -> None:
    h = harness(client, inline_relay=False)
    h.service.submit(OWNER, submission(1), None)
    broken = OutboxRelay(
        DynamoOutbox(FailingClient(client, "query", "InternalServerError"), TABLE), h.queue, h.clock
    )
    with pytest.raises(InfrastructureError):
        broken.sweep(older_than_seconds=0)
    assert h.queue.sent == [] and len(h.pending()) == 1


def test_the_created_table_matches_the_template_properties(client: Any) -> None:
    table = client.describe_table(TableName=TABLE)["Table"]
    template = cloudformation_properties()
    assert table["KeySchema"] == template["KeySchema"]
    assert table["StreamSpecification"]["StreamViewType"] == template["StreamSpecification"]["StreamViewType"]
    assert client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": template["TimeToLiveSpecification"]["AttributeName"],
    }
