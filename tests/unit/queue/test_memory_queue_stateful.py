"""`InMemoryQueue` against a small reference model, under random interleavings (hypothesis).

The model states the queue's rules plainly (lists and sets, no heaps, no lazy deletion): which
messages are ready and in what order, who holds which lease, what has been acked, dead-lettered
or dropped by retention. Each step applies one operation to both and compares what comes back;
after every step the invariants compare the queue's exact counts and dead letters to the model.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, precondition, rule

from chalicelib import jsonio
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    QueueFull,
    ReceiptHandleError,
    ReceiptHandleMalformed,
    ReceiptHandleSuperseded,
    ReceiptHandleUnknown,
)

START = 1_700_000_000.0
CAPACITY = 6
MAX_RECEIVES = 2
RETENTION = 120
DEDUP_WINDOW = 40
HELD = ("ready", "in_flight", "delayed")
BODIES = [
    {"c": Decimal("1.50")},
    "text",
    [Decimal("0.001"), None, True],
    {"n": Decimal("-0.0"), "nested": {"x": Decimal("1E+3")}},
]


@dataclass
class Model:
    """What the model knows of one message."""

    body: Any
    sent_at: float
    kept_until: float
    state: str
    due: float = 0.0
    order: int = 0
    receive_count: int = 0
    first_received_at: float | None = None
    current: str | None = None
    superseded: set[str] = field(default_factory=set)
    voided: set[str] = field(default_factory=set)


class QueueMachine(RuleBasedStateMachine):
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        ids = itertools.count(1)
        self.queue = InMemoryQueue(
            clock=self.clock,
            capacity=CAPACITY,
            max_receive_count=MAX_RECEIVES,
            retention_seconds=RETENTION,
            dedup_window_seconds=DEDUP_WINDOW,
            id_factory=lambda: f"m{next(ids)}",
        )
        self.now = START
        self.messages: dict[str, Model] = {}
        self.owner: dict[str, str] = {}
        self.ready: list[str] = []
        self.dead: list[str] = []
        self.dedup: dict[str, tuple[str, float]] = {}
        self.orders = itertools.count(1)
        self.sent = self.acked = self.redelivered = self.dead_lettered = 0

    # ------------------------------------------------------------------------------ the model's rules

    def held(self) -> int:
        return sum(1 for m in self.messages.values() if m.state in HELD)

    def sync(self) -> None:
        """Apply what is due at ``now``: retention first, then ended leases and delays in order."""
        for message_id, m in self.messages.items():
            if m.state in (*HELD, "dead") and m.kept_until <= self.now:
                if m.state == "ready":
                    self.ready.remove(message_id)
                if m.state == "dead":
                    self.dead.remove(message_id)
                m.state = "dropped"
        due = [(m.due, m.order, i) for i, m in self.messages.items() if m.state in ("in_flight", "delayed")]
        for when, _, message_id in sorted(due):
            if when <= self.now:
                self.messages[message_id].state = "ready"
                self.ready.append(message_id)
        self.dedup = {k: v for k, v in self.dedup.items() if v[1] > self.now}

    def schedule(self, m: Model, state: str, due: float) -> None:
        m.state, m.due, m.order = state, due, next(self.orders)

    def expected_handle_error(self, handle: str) -> type[ReceiptHandleError] | None:
        m = self.messages[self.owner[handle]]
        if m.state not in HELD:
            return ReceiptHandleUnknown
        if handle == m.current:
            return None
        return ReceiptHandleSuperseded if handle in m.superseded else ReceiptHandleUnknown

    # ------------------------------------------------------------------------------ rules

    @rule(
        body=st.sampled_from(BODIES),
        delay=st.sampled_from([0, 0, 0, 5, 20]),
        dedup_id=st.sampled_from([None, None, "d1", "d2"]),
    )
    def send(self, body: Any, delay: int, dedup_id: str | None) -> None:
        self.sync()
        if dedup_id is not None and dedup_id in self.dedup:
            assert self.queue.send(body, delay_seconds=delay, dedup_id=dedup_id) == self.dedup[dedup_id][0]
            return
        if self.held() >= CAPACITY:
            with pytest.raises(QueueFull):
                self.queue.send(body, delay_seconds=delay, dedup_id=dedup_id)
            return
        message_id = self.queue.send(body, delay_seconds=delay, dedup_id=dedup_id)
        assert message_id not in self.messages
        m = Model(body, self.now, self.now + RETENTION, "ready")
        self.messages[message_id] = m
        if delay:
            self.schedule(m, "delayed", self.now + delay)
        else:
            self.ready.append(message_id)
        if dedup_id is not None:
            self.dedup[dedup_id] = (message_id, self.now + DEDUP_WINDOW)
        self.sent += 1

    @rule(
        target=handles,
        max_messages=st.integers(min_value=1, max_value=3),
        visibility=st.sampled_from([0, 1, 5, 30]),
    )
    def receive(self, max_messages: int, visibility: int) -> Any:
        self.sync()
        expected: list[str] = []
        while self.ready and len(expected) < max_messages:
            message_id = self.ready.pop(0)
            m = self.messages[message_id]
            if m.receive_count >= MAX_RECEIVES:
                m.state, m.kept_until = "dead", self.now + RETENTION
                if m.current is not None:
                    m.voided.add(m.current)
                m.current = None
                self.dead.append(message_id)
                self.dead_lettered += 1
                continue
            m.receive_count += 1
            if m.first_received_at is None:
                m.first_received_at = self.now
            if m.receive_count > 1:
                self.redelivered += 1
            self.schedule(m, "in_flight", self.now + visibility)
            expected.append(message_id)
        got = self.queue.receive(max_messages=max_messages, visibility_timeout=visibility)
        assert [r.message_id for r in got] == expected
        for r in got:
            m = self.messages[r.message_id]
            assert r.receive_count == m.receive_count
            assert r.sent_at == m.sent_at
            assert r.first_received_at == m.first_received_at
            assert jsonio.dumps(r.body) == jsonio.dumps(m.body)
            assert r.receipt_handle not in self.owner
            if m.current is not None:
                m.superseded.add(m.current)
            m.superseded |= m.voided
            m.voided.clear()
            m.current = r.receipt_handle
            self.owner[r.receipt_handle] = r.message_id
        return multiple(*(r.receipt_handle for r in got))

    @rule(handle=handles)
    def ack(self, handle: str) -> None:
        self.sync()
        error = self.expected_handle_error(handle)
        if error is not None:
            with pytest.raises(error):
                self.queue.ack(handle)
            return
        self.queue.ack(handle)
        message_id = self.owner[handle]
        m = self.messages[message_id]
        if m.state == "ready":
            self.ready.remove(message_id)
        m.state, m.current = "acked", None
        self.acked += 1

    @rule(handle=handles, seconds=st.sampled_from([0, 0, 3, 25]))
    def change_visibility(self, handle: str, seconds: int) -> None:
        self.sync()
        error = self.expected_handle_error(handle)
        if error is not None:
            with pytest.raises(error):
                self.queue.change_visibility(handle, seconds)
            return
        self.queue.change_visibility(handle, seconds)
        message_id = self.owner[handle]
        m = self.messages[message_id]
        if seconds == 0:
            if m.state == "in_flight":
                m.state = "ready"
                self.ready.append(message_id)
        else:
            if m.state == "ready":
                self.ready.remove(message_id)
            self.schedule(m, "in_flight", self.now + seconds)

    @rule(handle=st.sampled_from(["", "rh1." + "0" * 32, "rh2." + "0" * 56, "nonsense"]))
    def ack_a_malformed_handle(self, handle: str) -> None:
        with pytest.raises(ReceiptHandleMalformed):
            self.queue.ack(handle)

    @rule(seconds=st.sampled_from([0.5, 1, 5, 10, 30, 60, 130]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.now += seconds

    @precondition(lambda self: bool(self.dead))
    @rule(limit=st.sampled_from([None, 1, 2]))
    def redrive(self, limit: int | None) -> None:
        self.sync()
        room = CAPACITY - self.held()
        count = max(0, min(len(self.dead), room, len(self.dead) if limit is None else limit))
        assert self.queue.redrive(limit=limit) == count
        for message_id in self.dead[:count]:
            m = self.messages[message_id]
            m.state, m.receive_count, m.kept_until = "ready", 0, self.now + RETENTION
            self.ready.append(message_id)
        del self.dead[:count]

    # ------------------------------------------------------------------------------ invariants

    @invariant()
    def counts_match_the_model(self) -> None:
        self.sync()
        states = [m.state for m in self.messages.values()]
        stats = self.queue.stats()
        assert stats.ready == states.count("ready") == len(self.ready)
        assert stats.in_flight == states.count("in_flight")
        assert stats.delayed == states.count("delayed")
        assert stats.dead_letters == states.count("dead") == len(self.dead)
        assert stats.sent_total == self.sent == len(self.messages)
        assert stats.acked_total == self.acked == states.count("acked")
        assert stats.redelivered_total == self.redelivered
        assert stats.dead_lettered_total == self.dead_lettered

    @invariant()
    def dead_letters_match_the_model(self) -> None:
        letters = self.queue.dead_letters(limit=CAPACITY * 10)
        assert [d.message_id for d in letters] == self.dead
        for letter in letters:
            m = self.messages[letter.message_id]
            assert letter.receive_count == m.receive_count == MAX_RECEIVES
            assert jsonio.dumps(letter.body) == jsonio.dumps(m.body)

    @invariant()
    def every_message_is_accounted_for_and_leased_at_most_once(self) -> None:
        for m in self.messages.values():
            assert m.state in (*HELD, "dead", "acked", "dropped")
            assert 0 <= m.receive_count <= MAX_RECEIVES
        current = {m.current for m in self.messages.values() if m.state in HELD and m.current is not None}
        leases = self.queue._leases
        assert set(leases) == current
        assert len({message.id for message in leases.values()}) == len(leases)


QueueMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
test_queue_against_the_model = QueueMachine.TestCase
