"""The sweeper's backlog gauge reads the outbox through its port, whatever the store."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.aws.relay import OutboxRelay
from chalicelib.clock import FakeClock
from chalicelib.ports.outbox import OutboxItem
from chalicelib.ports.store import OutboundMessage


class Outbox:
    """Pending items in memory; records each read so the test can see it is bounded."""

    def __init__(self, created: Sequence[float]) -> None:
        messages = [(OutboundMessage(f"evt_{n}", {}),) for n in range(len(created))]
        self.items = [OutboxItem(m[0].message_id, at, m) for m, at in zip(messages, created, strict=True)]
        self.reads: list[tuple[int, float]] = []

    def pending(self, *, limit: int, older_than: float) -> list[OutboxItem]:
        self.reads.append((limit, older_than))
        return [item for item in self.items if item.created_at <= older_than][:limit]

    def get(self, outbox_id: str) -> OutboxItem | None:
        raise AssertionError("measuring the backlog reads no single item")

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        raise AssertionError("measuring the backlog claims nothing")

    def release(self, outbox_id: str, token: str) -> None:
        raise AssertionError("measuring the backlog releases nothing")

    def mark_sent(self, outbox_id: str) -> None:
        raise AssertionError("measuring the backlog sends nothing")


class Queue:
    """The relay's queue, which measuring the backlog never uses."""

    def publish(self, messages: Sequence[OutboundMessage]) -> dict[str, str]:
        raise AssertionError("measuring the backlog publishes nothing")


def test_the_backlog_is_the_pending_count_and_the_oldest_items_wait() -> None:
    clock = FakeClock(1_000.0)
    outbox = Outbox([940.0, 700.0, 990.0])
    assert OutboxRelay(outbox, Queue(), clock).backlog(limit=1000) == (3, 300.0)
    assert outbox.reads == [(1000, 1_000.0)]


def test_the_count_stops_at_the_limit_and_an_empty_outbox_has_waited_nothing() -> None:
    clock = FakeClock(1_000.0)
    assert OutboxRelay(Outbox([900.0, 950.0, 990.0]), Queue(), clock).backlog(limit=2) == (2, 100.0)
    assert OutboxRelay(Outbox([]), Queue(), clock).backlog(limit=1000) == (0, 0.0)
