"""The `MessageQueue` contract, run against every adapter: in-memory and SQS (on moto).

Each test states one behaviour of the port. Where SQS (or moto standing in for it) cannot honour
the port, the test still runs against SQS, marked ``xfail(strict=True)`` for the ``sqs`` parameter
only, with the reason: the gap stays visible, and a strict xfail fails the day it starts passing.
No test sleeps: expiry is forced with ``visibility_timeout=0`` or ``change_visibility(h, 0)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws.sqs import SqsQueue
from chalicelib.adapters.aws.sqs_setup import create_queues
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    InfrastructureError,
    PayloadTooLarge,
    QueueArgumentError,
    ReceiptHandleMalformed,
    ReceiptHandleSuperseded,
    ReceiptHandleUnknown,
)
from chalicelib.ports.queue import MessageQueue, ReceivedMessage

# Fixtures, used by name through request.getfixturevalue:
from tests.integration.aws_fixtures import aws_credentials, mocked_aws, sqs_client  # noqa: F401

MAX_RECEIVES = 3
LIMIT = 262_144
EXACT = Decimal("12.34567890123456789012345")
DID_NOT_RAISE = pytest.fail.Exception
"""What ``pytest.raises`` raises when nothing was raised: the failure of most SQS gaps."""


def _params(gap: pytest.MarkDecorator | None = None) -> list[Any]:
    sqs_marks = [pytest.mark.aws] if gap is None else [pytest.mark.aws, gap]
    return [pytest.param("memory", id="memory"), pytest.param("sqs", id="sqs", marks=sqs_marks)]


def sqs_gap(reason: str, raises: type[BaseException]) -> pytest.MarkDecorator:
    """Run the test on both adapters, expecting it to fail on SQS with ``raises`` for ``reason``."""
    gap = pytest.mark.xfail(strict=True, reason=reason, raises=raises)
    return pytest.mark.parametrize("queue", _params(gap), indirect=True)


@pytest.fixture(params=_params())
def queue(request: pytest.FixtureRequest) -> MessageQueue:
    if request.param == "memory":
        return InMemoryQueue(clock=FakeClock(), max_receive_count=MAX_RECEIVES)
    client = request.getfixturevalue("sqs_client")
    queue_url, dlq_url = create_queues(
        client,
        name_prefix="contract",
        max_receive_count=MAX_RECEIVES,
        visibility_timeout=30,
        retention_seconds=3600,
    )
    return SqsQueue(
        client=client,
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        max_receive_count=MAX_RECEIVES,
        peek_wait_seconds=0,
    )


@pytest.fixture
def peer(queue: MessageQueue, request: pytest.FixtureRequest) -> MessageQueue:
    """Another producer on the same queue: a second process for SQS, the same object in memory."""
    if isinstance(queue, SqsQueue):
        return SqsQueue(
            client=request.getfixturevalue("sqs_client"),
            queue_url=queue.queue_url,
            dead_letter_queue_url=queue.dead_letter_queue_url,
            max_receive_count=MAX_RECEIVES,
            peek_wait_seconds=0,
        )
    return queue


def formula(n: int = 1) -> dict[str, Any]:
    return {"type": "formula.submitted", "n": n, "concentration": EXACT, "name": "Ambre \u00f1 \ufffe"}


def receive_one(queue: MessageQueue, **kwargs: int) -> ReceivedMessage:
    received = queue.receive(**kwargs)
    assert len(received) == 1
    return received[0]


def exhaust(queue: MessageQueue, times: int = MAX_RECEIVES) -> None:
    """Receive every ready message ``times`` times without acknowledging it, then once more."""
    for _ in range(times):
        assert queue.receive(max_messages=10, visibility_timeout=0)
    assert queue.receive(max_messages=10, visibility_timeout=0) == []


# ------------------------------------------------------------------------------ send / receive / ack


def test_round_trip_keeps_every_decimal_digit(queue: MessageQueue) -> None:
    message_id = queue.send(formula())
    message = receive_one(queue)
    assert message.message_id == message_id
    assert message.body == formula()
    assert str(message.body["concentration"]) == "12.34567890123456789012345"
    assert message.receive_count == 1
    assert isinstance(message.sent_at, float) and message.first_received_at >= message.sent_at
    queue.ack(message.receipt_handle)
    assert queue.receive(visibility_timeout=0) == []


def test_receive_on_an_empty_queue_returns_nothing(queue: MessageQueue) -> None:
    assert queue.receive(max_messages=10) == []


def test_receive_respects_max_messages(queue: MessageQueue) -> None:
    sent = {queue.send(formula(n)) for n in range(5)}
    first = queue.receive(max_messages=3)
    rest = queue.receive(max_messages=10)
    assert len(first) == 3
    assert {m.message_id for m in first + rest} == sent


def test_long_poll_returns_at_once_when_a_message_is_ready(queue: MessageQueue) -> None:
    queue.send(formula())
    assert receive_one(queue, wait_seconds=20).body == formula()


def test_a_received_message_is_hidden_for_its_visibility_timeout(queue: MessageQueue) -> None:
    queue.send(formula())
    receive_one(queue, visibility_timeout=30)
    assert queue.receive(max_messages=10) == []


def test_each_delivery_has_a_new_receipt_handle(queue: MessageQueue) -> None:
    queue.send(formula())
    first = receive_one(queue, visibility_timeout=0)
    second = receive_one(queue, visibility_timeout=0)
    assert first.message_id == second.message_id
    assert first.receipt_handle != second.receipt_handle
    assert (first.receive_count, second.receive_count) == (1, 2)


def test_nack_makes_the_message_receivable_again(queue: MessageQueue) -> None:
    queue.send(formula())
    first = receive_one(queue, visibility_timeout=600)
    queue.change_visibility(first.receipt_handle, 0)
    again = receive_one(queue)
    assert again.message_id == first.message_id
    assert again.receive_count == 2
    assert again.body == formula()


def test_ack_removes_the_message_for_good(queue: MessageQueue) -> None:
    queue.send(formula())
    queue.ack(receive_one(queue, visibility_timeout=600).receipt_handle)
    assert queue.receive(max_messages=10, visibility_timeout=0) == []
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.dead_letters) == (0, 0, 0)


def test_a_delayed_message_is_not_delivered_before_its_delay(queue: MessageQueue) -> None:
    queue.send(formula(), delay_seconds=60)
    assert queue.receive(max_messages=10) == []
    assert queue.stats().delayed == 1


# ------------------------------------------------------------------------------ limits and arguments


def test_a_body_of_exactly_256_kib_is_accepted(queue: MessageQueue) -> None:
    body = "x" * (LIMIT - 2)
    queue.send(body)
    assert receive_one(queue).body == body


def test_a_body_over_256_kib_is_refused(queue: MessageQueue) -> None:
    with pytest.raises(PayloadTooLarge) as raised:
        queue.send("\u00e9" * (LIMIT // 2))
    assert raised.value.limit_bytes == LIMIT
    assert queue.receive(max_messages=10) == []


BAD_ARGUMENTS: list[tuple[str, Callable[[MessageQueue], object]]] = [
    ("delay_seconds", lambda q: q.send({}, delay_seconds=-1)),
    ("delay_seconds", lambda q: q.send({}, delay_seconds=901)),
    ("delay_seconds", lambda q: q.send({}, delay_seconds=True)),
    ("delay_seconds", lambda q: q.send({}, delay_seconds=1.0)),
    ("delay_seconds", lambda q: q.stage().send({}, delay_seconds=901)),
    ("dedup_id", lambda q: q.send({}, dedup_id="")),
    ("dedup_id", lambda q: q.send({}, dedup_id="has space")),
    ("dedup_id", lambda q: q.send({}, dedup_id="x" * 129)),
    ("dedup_id", lambda q: q.stage().send({}, dedup_id=7)),
    ("body", lambda q: q.send(object())),
    ("body", lambda q: q.send({"n": float("nan")})),
    ("body", lambda q: q.send("lone \ud800 surrogate")),
    ("max_messages", lambda q: q.receive(max_messages=0)),
    ("max_messages", lambda q: q.receive(max_messages=11)),
    ("max_messages", lambda q: q.receive(max_messages=True)),
    ("visibility_timeout", lambda q: q.receive(visibility_timeout=-1)),
    ("visibility_timeout", lambda q: q.receive(visibility_timeout=43_201)),
    ("visibility_timeout", lambda q: q.receive(visibility_timeout="30")),
    ("wait_seconds", lambda q: q.receive(wait_seconds=-1)),
    ("wait_seconds", lambda q: q.receive(wait_seconds=21)),
    ("wait_seconds", lambda q: q.receive(wait_seconds=None)),
    ("seconds", lambda q: q.change_visibility("any-handle", -1)),
    ("seconds", lambda q: q.change_visibility("any-handle", 43_201)),
    ("seconds", lambda q: q.change_visibility("any-handle", False)),
    ("limit", lambda q: q.dead_letters(limit=-1)),
    ("limit", lambda q: q.redrive(limit=-1)),
    ("limit", lambda q: q.redrive(limit=1.5)),
]


@pytest.mark.parametrize(
    ("field", "call"), BAD_ARGUMENTS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_ARGUMENTS)]
)
def test_every_argument_is_validated(
    queue: MessageQueue, field: str, call: Callable[[MessageQueue], object]
) -> None:
    with pytest.raises(QueueArgumentError) as raised:
        call(queue)
    assert [d.field for d in raised.value.details] == [field]
    assert queue.receive(max_messages=10) == []


@pytest.mark.parametrize("handle", ["", "not a handle", "\x00", "h\u00e9", "x" * 100_000, None])
def test_a_malformed_receipt_handle_is_refused(queue: MessageQueue, handle: Any) -> None:
    with pytest.raises(ReceiptHandleMalformed):
        queue.ack(handle)
    with pytest.raises(ReceiptHandleMalformed):
        queue.change_visibility(handle, 0)


def test_garbage_that_looks_printable_is_a_malformed_handle(queue: MessageQueue) -> None:
    with pytest.raises(ReceiptHandleMalformed):
        queue.ack("garbage")


# ------------------------------------------------------------------------------ staged publishing


def test_staged_messages_are_invisible_until_commit(queue: MessageQueue) -> None:
    staged = queue.stage()
    ids = {staged.send(formula(1)), staged.send(formula(2), dedup_id="f-2")}
    assert queue.receive(max_messages=10) == []
    assert queue.stats().ready == 0
    staged.commit()
    received = queue.receive(max_messages=10)
    assert {m.message_id for m in received} == ids
    assert sorted(m.body["n"] for m in received) == [1, 2]


def test_nothing_is_published_after_rollback(queue: MessageQueue) -> None:
    staged = queue.stage()
    staged.send(formula())
    staged.rollback()
    assert queue.receive(max_messages=10) == []
    assert queue.stats().ready == 0


@pytest.mark.parametrize("finish", ["commit", "rollback"])
def test_a_finished_stage_cannot_be_used_again(queue: MessageQueue, finish: str) -> None:
    staged = queue.stage()
    getattr(staged, finish)()
    with pytest.raises(RuntimeError):
        staged.send(formula())
    with pytest.raises(RuntimeError):
        staged.commit()
    with pytest.raises(RuntimeError):
        staged.rollback()


# ------------------------------------------------------------------------------ dead letters


def test_a_message_received_too_often_is_dead_lettered_and_redriven(queue: MessageQueue) -> None:
    message_id = queue.send(formula())
    exhaust(queue)
    [letter] = queue.dead_letters()
    assert (letter.message_id, letter.receive_count, letter.body) == (message_id, MAX_RECEIVES, formula())
    assert letter.dead_lettered_at >= letter.sent_at
    assert queue.stats().dead_letters == 1
    assert queue.redrive() == 1
    assert queue.dead_letters() == []
    back = receive_one(queue)
    assert (back.message_id, back.receive_count, back.body) == (message_id, 1, formula())


def test_dead_letters_are_listed_oldest_first_and_peeking_changes_nothing(queue: MessageQueue) -> None:
    first, second = queue.send(formula(1)), queue.send(formula(2))
    exhaust(queue)
    listed = queue.dead_letters()
    assert [letter.message_id for letter in listed] == [first, second]
    assert queue.dead_letters() == listed
    assert [letter.message_id for letter in queue.dead_letters(limit=1)] == [first]
    assert queue.dead_letters(limit=0) == []
    assert queue.stats().dead_letters == 2


def test_a_staged_message_keeps_its_id_through_dead_lettering_and_redrive(queue: MessageQueue) -> None:
    staged = queue.stage()
    message_id = staged.send(formula())
    staged.commit()
    assert receive_one(queue, visibility_timeout=0).message_id == message_id
    exhaust(queue, MAX_RECEIVES - 1)
    assert [letter.message_id for letter in queue.dead_letters()] == [message_id]
    queue.redrive()
    assert receive_one(queue).message_id == message_id


def test_redrive_moves_at_most_limit(queue: MessageQueue) -> None:
    queue.send(formula(1))
    queue.send(formula(2))
    exhaust(queue)
    assert queue.redrive(limit=1) == 1
    assert len(queue.dead_letters()) == 1
    assert queue.redrive(limit=0) == 0
    assert queue.redrive() == 1
    assert queue.redrive() == 0


# ------------------------------------------------------------------------------ stats


def test_stats_count_ready_in_flight_delayed_and_dead(queue: MessageQueue) -> None:
    for n in range(3):
        queue.send(formula(n))
    queue.send(formula(9), delay_seconds=600)
    held = receive_one(queue, visibility_timeout=600)
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.delayed, stats.dead_letters) == (2, 1, 1, 0)
    queue.ack(held.receipt_handle)
    assert len(queue.receive(max_messages=10, visibility_timeout=0)) == 2
    assert receive_one(queue, visibility_timeout=600).receive_count == 2
    stats = queue.stats()
    assert (stats.ready, stats.in_flight, stats.delayed) == (1, 1, 1)
    if stats.exact:
        assert (stats.sent_total, stats.acked_total, stats.redelivered_total) == (4, 1, 1)


# ------------------------------------------------------------------------------ where SQS differs


@sqs_gap(
    "SQS accepts a superseded receipt handle: DeleteMessage 'succeeds' (moto deletes; SQS need not).",
    DID_NOT_RAISE,
)
def test_a_superseded_handle_is_refused(queue: MessageQueue) -> None:
    queue.send(formula())
    old = receive_one(queue, visibility_timeout=0)
    new = receive_one(queue, visibility_timeout=600)
    with pytest.raises(ReceiptHandleSuperseded):
        queue.ack(old.receipt_handle)
    queue.ack(new.receipt_handle)


@sqs_gap("DeleteMessage is idempotent in SQS: a deleted message's handle is accepted again.", DID_NOT_RAISE)
def test_acking_twice_reports_an_unknown_handle(queue: MessageQueue) -> None:
    queue.send(formula())
    handle = receive_one(queue, visibility_timeout=600).receipt_handle
    queue.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        queue.ack(handle)


@sqs_gap(
    "moto answers ReceiptHandleIsInvalid for a deleted message's handle, which reads as malformed.",
    ReceiptHandleMalformed,
)
def test_changing_visibility_of_an_acked_message_reports_an_unknown_handle(queue: MessageQueue) -> None:
    queue.send(formula())
    handle = receive_one(queue, visibility_timeout=600).receipt_handle
    queue.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        queue.change_visibility(handle, 0)


@sqs_gap(
    "A standard SQS queue does not deduplicate; dedup_id only travels as a message attribute.", AssertionError
)
def test_a_repeated_dedup_id_is_enqueued_once(queue: MessageQueue) -> None:
    first = queue.send(formula(), dedup_id="formula-1")
    assert queue.send(formula(), dedup_id="formula-1") == first
    assert [m.message_id for m in queue.receive(max_messages=10)] == [first]


def test_running_totals_are_exact_or_absent(queue: MessageQueue, peer: MessageQueue) -> None:
    """Totals count every producer (in memory) or are not reported (SQS keeps none)."""
    peer.send(formula(1))
    peer.send(formula(2))
    stats = queue.stats()
    assert stats.ready == 2
    if stats.exact:
        assert stats.sent_total == 2
    else:
        totals = (stats.sent_total, stats.acked_total, stats.redelivered_total, stats.dead_lettered_total)
        assert totals == (None, None, None, None)
        assert not any(name.endswith("_total") for name in stats.to_dict())


def test_dead_lettering_is_counted_without_contradiction(queue: MessageQueue) -> None:
    """A dead-lettered message is in the dead-letter count; a total, if any, agrees with it."""
    queue.send(formula())
    exhaust(queue)
    stats = queue.stats()
    assert stats.dead_letters == 1
    assert stats.dead_lettered_total == (1 if stats.exact else None)


def test_acking_old_and_repeated_handles_never_yields_impossible_figures(queue: MessageQueue) -> None:
    """Issue 12's "sent 3, acked 7": acks that delete nothing must not show up as acks."""
    queue.send(formula())
    old = receive_one(queue, visibility_timeout=0)
    new = receive_one(queue, visibility_timeout=600)
    for handle in (old.receipt_handle, new.receipt_handle, new.receipt_handle):
        try:
            queue.ack(handle)
        except (ReceiptHandleSuperseded, ReceiptHandleUnknown):
            pass
    stats = queue.stats()
    if stats.exact:
        assert stats.sent_total is not None and stats.acked_total is not None
        assert stats.acked_total <= stats.sent_total
    else:
        assert stats.acked_total is None and stats.sent_total is None


# ------------------------------------------------------------------------------ SqsQueue specifics
# Not part of the contract: how the SQS adapter uses SQS, checked on moto through the raw client.


class SqsUnderTest(NamedTuple):
    client: Any
    queue: SqsQueue


@pytest.fixture
def sqs(request: pytest.FixtureRequest) -> SqsUnderTest:
    """An `SqsQueue` on moto and the raw client behind it (which `sqs_client` provides)."""
    client = request.getfixturevalue("sqs_client")
    queue_url, dlq_url = create_queues(client, name_prefix="specifics", max_receive_count=MAX_RECEIVES)
    queue = SqsQueue(
        client=client,
        queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        max_receive_count=MAX_RECEIVES,
        peek_wait_seconds=0,
    )
    return SqsUnderTest(client, queue)


class RefusingClient:
    """A real client whose SendMessageBatch refuses every entry but the first (a plain fake)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        response: dict[str, Any] = self._inner.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[:1])
        response["Failed"] = [
            {"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in Entries[1:]
        ]
        return response


@pytest.mark.aws
def test_create_queues_wires_the_redrive_policy(sqs: SqsUnderTest) -> None:
    attributes = sqs.client.get_queue_attributes(QueueUrl=sqs.queue.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = sqs.client.get_queue_attributes(
        QueueUrl=sqs.queue.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert (policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])) == (dlq_arn, MAX_RECEIVES)
    assert create_queues(sqs.client, name_prefix="specifics", max_receive_count=MAX_RECEIVES) == (
        sqs.queue.queue_url,
        sqs.queue.dead_letter_queue_url,
    )


@pytest.mark.aws
def test_the_wire_format_is_plain_json_with_the_dedup_id_as_an_attribute(sqs: SqsUnderTest) -> None:
    sqs.queue.send({"c": EXACT, "s": "\ufffe"}, dedup_id="formula-1")
    [raw] = sqs.client.receive_message(QueueUrl=sqs.queue.queue_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert raw["Body"] == '{"c":12.34567890123456789012345,"s":"\\ufffe"}'
    assert raw["MessageAttributes"]["dedup_id"]["StringValue"] == "formula-1"


@pytest.mark.aws
def test_a_partly_refused_commit_names_the_refused_messages(sqs: SqsUnderTest) -> None:
    refusing = SqsQueue(
        client=RefusingClient(sqs.client),
        queue_url=sqs.queue.queue_url,
        dead_letter_queue_url=sqs.queue.dead_letter_queue_url,
        max_receive_count=MAX_RECEIVES,
    )
    staged = refusing.stage()
    accepted, refused = staged.send(formula(1)), staged.send(formula(2))
    with pytest.raises(InfrastructureError, match=f"{refused} \\(InternalError\\)"):
        staged.commit()
    assert [m.message_id for m in sqs.queue.receive(max_messages=10)] == [accepted]
    assert (refusing.stats().ready, refusing.stats().in_flight) == (0, 1)


BACKEND_CALLS: list[Callable[[SqsQueue], object]] = [
    lambda q: q.send(formula()),
    lambda q: q.receive(),
    lambda q: q.ack("AQEBwellformedbutunknown"),
    lambda q: q.change_visibility("AQEBwellformedbutunknown", 0),
    lambda q: q.dead_letters(),
    lambda q: q.redrive(),
    lambda q: q.stats(),
]


@pytest.mark.aws
@pytest.mark.parametrize(
    "call", BACKEND_CALLS, ids=["send", "receive", "ack", "nack", "dead", "redrive", "stats"]
)
def test_every_backend_failure_is_an_infrastructure_error(
    sqs: SqsUnderTest, call: Callable[[SqsQueue], object]
) -> None:
    sqs.client.delete_queue(QueueUrl=sqs.queue.queue_url)
    sqs.client.delete_queue(QueueUrl=sqs.queue.dead_letter_queue_url)
    with pytest.raises(InfrastructureError) as raised:
        call(sqs.queue)
    assert isinstance(raised.value.__cause__, ClientError)


@pytest.mark.aws
def test_without_a_client_the_adapter_makes_its_own(sqs: SqsUnderTest) -> None:
    own = SqsQueue(
        queue_url=sqs.queue.queue_url,
        dead_letter_queue_url=sqs.queue.dead_letter_queue_url,
        max_receive_count=MAX_RECEIVES,
    )
    own.send(formula())
    assert sqs.queue.stats().ready == 1


@pytest.mark.aws
def test_a_foreign_non_json_body_is_left_for_the_dlq(
    sqs: SqsUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    sqs.client.send_message(QueueUrl=sqs.queue.queue_url, MessageBody="not json")
    good = sqs.queue.send(formula())
    assert [m.message_id for m in sqs.queue.receive(max_messages=10, visibility_timeout=0)] == [good]
    assert "has no JSON body" in caplog.text
    exhaust(sqs.queue, MAX_RECEIVES - 1)
    bodies = [letter.body for letter in sqs.queue.dead_letters()]
    assert len(bodies) == 2 and "not json" in bodies and formula() in bodies


def test_a_batch_ack_settles_each_handle_on_its_own(queue: MessageQueue) -> None:
    for _ in range(3):
        queue.send(formula())
    handles = [receive_one(queue, visibility_timeout=600).receipt_handle for _ in range(3)]
    outcomes = queue.ack_batch([handles[0], "not a receipt handle!", handles[1], handles[2]])
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], ReceiptHandleMalformed)
    assert queue.receive(max_messages=10, visibility_timeout=0) == []


@pytest.mark.parametrize("size", [0, 11])
def test_a_batch_ack_takes_one_to_ten_handles(queue: MessageQueue, size: int) -> None:
    with pytest.raises(QueueArgumentError):
        queue.ack_batch(["h"] * size)
