"""`InMemoryQueue` receipt handles: only the current one works, and every refusal says why."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.clock import FakeClock
from chalicelib.errors import (
    ReceiptHandleMalformed,
    ReceiptHandleSuperseded,
    ReceiptHandleUnknown,
)
from tests.unit.queue.helpers import held, one


def test_every_delivery_gets_a_fresh_handle(q: InMemoryQueue) -> None:
    q.send("x")
    handles = {one(q, visibility_timeout=0).receipt_handle for _ in range(4)}
    assert len(handles) == 4


def test_a_superseded_handle_never_deletes_the_new_lease(q: InMemoryQueue, clock: FakeClock) -> None:
    q.send("x")
    old = one(q, visibility_timeout=5)
    clock.advance(5)
    new = one(q)
    with pytest.raises(ReceiptHandleSuperseded):
        q.ack(old.receipt_handle)
    with pytest.raises(ReceiptHandleSuperseded):
        q.change_visibility(old.receipt_handle, 0)
    assert held(q) == (0, 1, 0, 0)
    assert q.receive() == []
    q.ack(new.receipt_handle)
    assert held(q) == (0, 0, 0, 0)


def test_acking_twice_reports_an_unknown_handle(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    q.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.change_visibility(handle, 0)
    assert q.stats().acked_total == 1


def test_a_superseded_handle_of_an_acked_message_is_unknown(q: InMemoryQueue) -> None:
    q.send("x")
    old = one(q, visibility_timeout=0)
    new = one(q)
    q.ack(new.receipt_handle)
    with pytest.raises(ReceiptHandleUnknown):
        q.ack(old.receipt_handle)


@pytest.mark.parametrize(
    "handle",
    ["", "garbage", "rh1.", "rh1." + "0" * 32, "rh1." + "g" * 32, "rh2." + "0" * 32, None, 42, b"rh1."],
)
def test_a_malformed_handle_is_refused(q: InMemoryQueue, handle: object) -> None:
    q.send("x")
    one(q)
    with pytest.raises(ReceiptHandleMalformed):
        q.ack(handle)  # type: ignore[arg-type]
    with pytest.raises(ReceiptHandleMalformed):
        q.change_visibility(handle, 0)  # type: ignore[arg-type]
    assert held(q) == (0, 1, 0, 0)


def test_only_the_exact_handle_is_accepted(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    for variant in (handle.upper(), handle + "0", handle[:-1], " " + handle, handle.replace("rh1.", "RH1.")):
        with pytest.raises(ReceiptHandleMalformed):
            q.ack(variant)
    q.ack(handle)


def test_a_handle_from_another_queue_is_malformed_here(make: Callable[..., InMemoryQueue]) -> None:
    first, second = make(), make()
    first.send("x")
    second.send("x")
    handle = one(first).receipt_handle
    one(second)
    with pytest.raises(ReceiptHandleMalformed):
        second.ack(handle)
    assert held(second) == (0, 1, 0, 0)


def test_handles_are_opaque_versioned_strings(q: InMemoryQueue) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    assert handle.startswith("rh1.")
    assert "m1" not in handle
