"""The outbox is never published twice on purpose: leases, batch sends, a bounded sweeper.

Relays race on real AWS (the inline relay, the stream relay and the sweeper can all see one item
at once); here the race is made deterministic by calling one relay from inside another's send.
DynamoDB is moto; the queue is `FakeQueue` (batch calls, ``Failed`` entries) or moto's SQS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from chalicelib.adapters.aws.outbox import LEASE_SECONDS
from chalicelib.adapters.aws.relay import INLINE_BUDGET_SECONDS, SWEEP_BUDGET_SHARE, OutboxRelay, RelayResult
from chalicelib.adapters.aws.sqs import SqsQueue
from chalicelib.adapters.aws.sqs_setup import create_queues
from chalicelib.entrypoints import lambda_handlers
from chalicelib.ports.store import OutboundMessage
from tests.integration.aws_dynamo_fixtures import REGION, TABLE, aws_credentials, dynamodb_client  # noqa: F401
from tests.integration.test_dynamodb_failures import OWNER, SWEEP_AGE, harness, submission

pytestmark = pytest.mark.aws


@pytest.fixture
def client(dynamodb_client: Any) -> Any:  # noqa: F811
    return dynamodb_client


def test_a_leased_item_is_skipped_by_other_relays_until_the_lease_expires(client: Any) -> None:
    h = harness(client, inline_relay=False)
    h.service.submit(OWNER, submission(2), None)
    (item,) = h.pending()
    h.clock.advance(SWEEP_AGE)
    assert h.store.outbox.claim(item.outbox_id, "someone-else", now=h.clock())
    assert h.relay.relay_if_pending(item.outbox_id) == RelayResult(skipped=(item.outbox_id,))
    assert h.relay.sweep(older_than_seconds=0).skipped == (item.outbox_id,)
    assert h.queue.sent == []
    h.clock.advance(LEASE_SECONDS)
    assert h.relay.sweep(older_than_seconds=0).messages_sent == 2
    assert len(h.queue.sent) == 2 and h.pending() == []


def test_the_stream_relay_leaves_an_item_the_committing_request_is_publishing(client: Any) -> None:
    h = harness(client)
    stream_results: list[RelayResult] = []

    def stream_record_arrives() -> None:
        (item,) = h.store.pending_outbox(limit=10, older_than=h.clock() + 1)
        stream_results.append(h.relay.relay_if_pending(item.outbox_id))

    h.queue.on_call = stream_record_arrives
    h.service.submit(OWNER, submission(3), None)
    assert len(stream_results) == 1 and stream_results[0].messages_sent == 0
    assert stream_results[0].skipped and h.queue.calls == 1
    assert len(h.queue.sent) == 3 and h.pending() == []


def test_refused_batch_entries_keep_the_item_pending_and_release_its_lease(client: Any) -> None:
    h = harness(client)
    h.queue.refuse_calls = {1}
    h.service.submit(OWNER, submission(3), None)
    assert len(h.queue.sent) == 1 and len(h.pending()) == 1
    other = OutboxRelay(h.store.outbox, h.queue, h.clock)
    h.clock.advance(SWEEP_AGE)
    result = other.sweep(older_than_seconds=SWEEP_AGE)
    assert result.ok and result.messages_sent == 3 and h.pending() == []


def test_messages_go_out_in_batches_of_ten_with_their_dedup_id(client: Any) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url, dlq_url = create_queues(sqs, name_prefix="leases", max_receive_count=3)
    calls: list[int] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message_batch(self, **kwargs: Any) -> Any:
            calls.append(len(kwargs["Entries"]))
            return sqs.send_message_batch(**kwargs)

    queue = SqsQueue(
        queue_url=queue_url, dead_letter_queue_url=dlq_url, max_receive_count=3, client=Counting()
    )
    h = harness(client)
    relay = OutboxRelay(h.store.outbox, queue, h.clock)
    h.store.relay = relay
    h.service.submit(OWNER, submission(12), None)
    assert calls == [10, 2] and h.pending() == []
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        received += batch
    ids = {m["MessageAttributes"]["dedup_id"]["StringValue"] for m in received}
    assert ids == {json.loads(m["Body"])["message_id"] for m in received} and len(ids) == 12


def test_a_refused_entry_from_sqs_names_the_message(client: Any) -> None:
    class Refusing:
        def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "Successful": [],
                "Failed": [
                    {"Id": e["Id"], "Code": "InvalidParameterValue", "SenderFault": True} for e in Entries
                ],
            }

    queue = SqsQueue(queue_url="q", dead_letter_queue_url="dlq", max_receive_count=3, client=Refusing())
    refused = queue.publish([OutboundMessage("evt_1", {"a": 1}), OutboundMessage("evt_2", {"a": 2})])
    assert refused == {"evt_1": "InvalidParameterValue", "evt_2": "InvalidParameterValue"}


def test_the_sweeper_stops_starting_items_at_its_budget_and_never_raises(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(client, inline_relay=False)
    for _ in range(6):
        h.service.submit(OWNER, submission(1), None)
    h.clock.advance(SWEEP_AGE)
    h.queue.on_call = lambda: h.clock.advance(5)
    h.queue.fail_calls = {2}
    with caplog.at_level(logging.INFO):
        result = lambda_handlers.sweep(
            SimpleNamespace(relay=h.relay, store=h.store, clock=h.clock, queue=h.queue), budget_seconds=25
        )  # type: ignore[arg-type]
    started = h.queue.calls
    assert started == int(25 * SWEEP_BUDGET_SHARE / 5)
    assert len(result.failures) == 1 and len(result.completed) == started - 1
    # every item the sweep did not start is reported skipped (and stays pending for the next one)
    assert len(result.skipped) == 6 - started and len(h.pending()) == 6 - len(result.completed)
    line = json.loads([r.message for r in caplog.records if "outbox_sweep" in r.message][-1])
    assert line == {
        "event": "outbox_sweep",
        "completed": 3,
        "messages_sent": 3,
        "skipped": 2,
        "failed": 1,
        "dead_letters_marked_failed": 0,
    }
    h.queue.on_call = None
    h.clock.advance(SWEEP_AGE)
    assert lambda_handlers.sweep(
        SimpleNamespace(relay=h.relay, store=h.store, clock=h.clock, queue=h.queue)
    ).ok  # type: ignore[arg-type]
    assert h.pending() == []


def test_the_scheduled_sweep_takes_its_budget_from_the_invocations_remaining_time(client: Any) -> None:
    from chalice.test import Client

    from app import app
    from chalicelib import bootstrap

    class LambdaContext:
        def get_remaining_time_in_millis(self) -> int:
            return 10_000

    h = harness(client, inline_relay=False)
    for _ in range(4):
        h.service.submit(OWNER, submission(1), None)
    h.clock.advance(SWEEP_AGE)
    h.queue.on_call = lambda: h.clock.advance(5)
    tick = Client(app).events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
    old = bootstrap.use(SimpleNamespace(relay=h.relay, store=h.store, clock=h.clock, queue=h.queue))  # type: ignore[arg-type]
    try:
        app.handler_map["sweep_outbox"](tick, LambdaContext())
    finally:
        bootstrap.use(old)
    # 8 s of the 10 left (SWEEP_BUDGET_SHARE): sends start at 0 s and 5 s; the default 25 s would start 4.
    assert SWEEP_BUDGET_SHARE == 0.8 and h.queue.calls == 2


def test_an_item_leased_by_a_request_that_died_is_swept_once_the_lease_expires(client: Any) -> None:
    class DiesAfterCommit(OutboxRelay):
        def publish_pending(self, messages: Sequence[OutboundMessage], lease_token: str) -> RelayResult:
            return RelayResult()

    h = harness(client)
    h.store.relay = DiesAfterCommit(h.store.outbox, h.queue, h.clock)
    h.service.submit(OWNER, submission(2), None)
    (item,) = h.pending()
    assert h.relay.relay_if_pending(item.outbox_id).skipped == (item.outbox_id,)
    h.clock.advance(max(SWEEP_AGE, LEASE_SECONDS))
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).messages_sent == 2 and h.pending() == []


def test_the_request_starts_batch_calls_only_within_its_inline_budget(client: Any) -> None:
    h = harness(client)
    h.queue.on_call = lambda: h.clock.advance(INLINE_BUDGET_SECONDS)
    assert h.service.submit(OWNER, submission(25), None).status == 201
    assert h.queue.calls == 1 and len(h.queue.sent) == 10 and len(h.pending()) == 1
    h.queue.on_call = None
    h.clock.advance(SWEEP_AGE)
    assert h.relay.sweep(older_than_seconds=SWEEP_AGE).messages_sent == 25 and h.pending() == []


def test_a_sweep_relays_several_items_at_once(client: Any) -> None:
    """A backlog drains SWEEP_CONCURRENCY items at a time: the queue sees overlapping sends."""
    import threading

    from chalicelib.adapters.aws.relay import SWEEP_CONCURRENCY

    h = harness(client, inline_relay=False)
    for _ in range(SWEEP_CONCURRENCY):
        h.service.submit(OWNER, submission(1), None)
    h.clock.advance(SWEEP_AGE)
    arrived = threading.Barrier(SWEEP_CONCURRENCY, timeout=10)
    h.queue.on_call = arrived.wait  # passes only when every item's send is under way at once
    relay = OutboxRelay(h.store.outbox, h.queue, h.clock)
    result = relay.sweep(older_than_seconds=SWEEP_AGE)
    assert len(result.completed) == SWEEP_CONCURRENCY and result.ok
    assert h.pending() == []


def test_a_failure_says_whether_the_relay_kept_the_items_lease(client: Any) -> None:
    h = harness(client, inline_relay=False)
    h.service.submit(OWNER, submission(2), None)
    (item,) = h.pending()
    h.queue.fail_calls = {1, 2}
    token = h.relay.new_lease_token()
    assert h.store.outbox.claim(item.outbox_id, token, now=h.clock())
    inline = h.relay.publish_pending(item.messages, token)  # the request's publish gives it back
    assert [f.lease_kept for f in inline.failures] == [False]
    kept = h.relay.relay_one(item)  # the stream relay's or the sweeper's publish keeps it
    assert [f.lease_kept for f in kept.failures] == [True]
    assert not h.store.outbox.claim(item.outbox_id, "someone-else", now=h.clock())
    h.clock.advance(LEASE_SECONDS)
    assert h.store.outbox.claim(item.outbox_id, "someone-else", now=h.clock())
