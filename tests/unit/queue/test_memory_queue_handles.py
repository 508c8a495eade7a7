"""`InMemoryQueue` receipt handles: only the current one works, none can be forged, and every
refusal says why.

A handle is ``"rh2."`` then, in hex, the message's 8-byte key, the 4-byte delivery (lease) number
and a 16-byte tag that only the queue's secret can make (`chalicelib.adapters.memory._receipts`).
The forging tests below take every step the old, guessable scheme (a per-queue tag and two
counters) allowed, and check that the result never matches a delivery.
"""

from __future__ import annotations

import string
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
    [
        "",
        "garbage",
        "rh1.",
        "rh1." + "0" * 32,
        "rh2." + "0" * 32,
        "rh2." + "0" * 56,
        "rh2." + "0" * 15 + "1" + "0" * 7 + "1" + "0" * 32,
        "rh2." + "g" * 56,
        None,
        42,
        b"rh2.",
    ],
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
    for variant in (handle.upper(), handle + "0", handle[:-1], " " + handle, handle.replace("rh2.", "RH2.")):
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
    assert handle.startswith("rh2.")
    assert "m1" not in handle


# ---------------------------------------------------------------------------------- forging

KEY, LEASE, TAG = slice(4, 20), slice(20, 28), slice(28, 60)


def forge(handle: str, *, key: int = 0, lease: int = 0, tag: str | None = None) -> str:
    """``handle`` with its message number moved by ``key``, its delivery number by ``lease``, and
    (if given) its tag replaced: what a client could make from a handle it was given."""
    number = int(handle[KEY], 16) + key
    delivery = int(handle[LEASE], 16) + lease
    return f"rh2.{number:016x}{delivery:08x}{handle[TAG] if tag is None else tag}"


def refuses(q: InMemoryQueue, handle: str) -> None:
    """``ack`` and ``change_visibility`` both refuse ``handle`` as not issued by this queue."""
    with pytest.raises(ReceiptHandleMalformed):
        q.ack(handle)
    with pytest.raises(ReceiptHandleMalformed):
        q.change_visibility(handle, 0)


@pytest.mark.parametrize(("key", "lease"), [(0, 1), (0, 2), (0, -1), (1, 0), (1, 1), (-1, 0), (2, 1)])
def test_a_handle_built_from_an_earlier_one_matches_no_delivery(
    q: InMemoryQueue, key: int, lease: int
) -> None:
    """The attack from issue 12: a handle computed before the delivery it names is received."""
    for body in ("a", "b", "c", "d"):
        q.send(body)
    earlier = q.receive(max_messages=2, visibility_timeout=0)
    issued = {m.receipt_handle for m in earlier}
    forged = {forge(m.receipt_handle, key=key, lease=lease) for m in earlier}
    held_now = q.receive(max_messages=10, visibility_timeout=60)  # leases 2 of a, b; 1 of c, d
    issued |= {m.receipt_handle for m in held_now}
    assert not forged & issued
    for handle in forged:
        refuses(q, handle)
    assert q.stats().in_flight == 4
    assert q.receive() == []
    for message in held_now:
        q.ack(message.receipt_handle)
    assert q.stats().acked_total == 4


def test_a_handle_with_another_deliverys_numbers_and_its_own_tag_is_refused(q: InMemoryQueue) -> None:
    q.send("a")
    q.send("b")
    a, b = q.receive(max_messages=2)
    swapped = [
        forge(a.receipt_handle, tag=b.receipt_handle[TAG]),
        forge(b.receipt_handle, tag=a.receipt_handle[TAG]),
    ]
    for handle in swapped:
        refuses(q, handle)
    assert q.stats().in_flight == 2
    q.ack(a.receipt_handle)
    q.ack(b.receipt_handle)


def test_a_tag_with_any_one_bit_changed_is_refused(q: InMemoryQueue) -> None:
    q.send("x")
    got = one(q)
    tag = int(got.receipt_handle[TAG], 16)
    for bit in range(128):
        refuses(q, forge(got.receipt_handle, tag=f"{tag ^ (1 << bit):032x}"))
    assert held(q) == (0, 1, 0, 0)
    q.ack(got.receipt_handle)


def test_an_old_handle_with_its_numbers_intact_is_superseded_not_accepted(
    q: InMemoryQueue, clock: FakeClock
) -> None:
    """Reusing an issued handle as it is: the queue knows it (superseded), and it still acks nothing."""
    q.send("x")
    old = one(q, visibility_timeout=1)
    clock.advance(1)
    new = one(q)
    assert forge(old.receipt_handle) == old.receipt_handle
    with pytest.raises(ReceiptHandleSuperseded):
        q.ack(old.receipt_handle)
    assert held(q) == (0, 1, 0, 0)
    q.ack(new.receipt_handle)


def test_handles_carry_128_bits_that_are_not_predictable(make: Callable[..., InMemoryQueue]) -> None:
    q = make(capacity=10_000)
    for n in range(5_000):
        q.send(n)
    handles = [
        m.receipt_handle for _ in range(1_000) for m in q.receive(max_messages=10, visibility_timeout=0)
    ]
    assert len(handles) == 10_000
    assert len(set(handles)) == 10_000
    tags = [handle[TAG] for handle in handles]
    assert all(len(tag) == 32 and set(tag) <= set(string.hexdigits.lower()) for tag in tags)
    assert len(set(tags)) == 10_000
    # Every bit of the tag is set in about half of the handles (not a counter, nor a constant).
    for bit in range(128):
        ones = sum(int(tag, 16) >> bit & 1 for tag in tags)
        assert 4_500 < ones < 5_500, bit


def test_two_queues_give_the_same_delivery_different_tags(make: Callable[..., InMemoryQueue]) -> None:
    first, second = make(), make()
    first.send("x")
    second.send("x")
    a, b = one(first), one(second)
    assert a.receipt_handle[: TAG.start] == b.receipt_handle[: TAG.start]
    assert a.receipt_handle[TAG] != b.receipt_handle[TAG]
