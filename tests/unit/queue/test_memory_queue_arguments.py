"""`InMemoryQueue` argument checks: SQS's ranges, integers only, each refusal naming the argument."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory._arguments import check_send
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.errors import (
    QueueArgumentError,
)
from tests.unit.queue.helpers import held, one

BAD_INTS: list[object] = [True, False, 1.0, "1", None, Decimal("1")]


@pytest.mark.parametrize(
    ("field", "bad"),
    [("max_messages", v) for v in (0, 11, -1, *BAD_INTS)]
    + [("visibility_timeout", v) for v in (-1, 43_201, *BAD_INTS)]
    + [("wait_seconds", v) for v in (-1, 21, *BAD_INTS)],
)
def test_receive_arguments_are_checked(q: InMemoryQueue, field: str, bad: object) -> None:
    q.send("x")
    with pytest.raises(QueueArgumentError) as caught:
        q.receive(**{field: bad})  # type: ignore[arg-type]
    assert caught.value.details[0].field == field
    assert field in caught.value.message
    assert held(q) == (1, 0, 0, 0)


class _Int(int):
    """An int subclass: equal to a valid argument, but not an int, so refused like bool."""


@pytest.mark.parametrize("field", ["max_messages", "visibility_timeout", "wait_seconds"])
def test_receive_refuses_int_subclasses_even_of_valid_values(q: InMemoryQueue, field: str) -> None:
    q.send("x")
    value = {"max_messages": 1, "visibility_timeout": 30, "wait_seconds": 0}[field]
    with pytest.raises(QueueArgumentError) as caught:
        q.receive(**{field: _Int(value)})
    assert caught.value.details[0].field == field


@pytest.mark.parametrize(
    ("max_messages", "visibility_timeout", "wait_seconds"),
    [(1, 0, 0), (1, 43_200, 0), (10, 30, 0), (1, 30, 20), (int("1"), 2**40 // 2**40, 0), (2, 0, 1)],
)
def test_receive_accepts_every_valid_combination(
    q: InMemoryQueue, max_messages: int, visibility_timeout: int, wait_seconds: int
) -> None:
    q.send("x")
    got = q.receive(
        max_messages=max_messages, visibility_timeout=visibility_timeout, wait_seconds=wait_seconds
    )
    assert [m.body for m in got] == ["x"]


def test_receive_accepts_its_boundaries(q: InMemoryQueue) -> None:
    for _ in range(3):
        q.send("x")
    assert len(q.receive(max_messages=1, visibility_timeout=0, wait_seconds=0)) == 1
    assert len(q.receive(max_messages=10, visibility_timeout=43_200, wait_seconds=20)) == 3


@pytest.mark.parametrize("bad", [-1, 901, *BAD_INTS[:1], *BAD_INTS[2:]])
def test_delay_seconds_is_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as caught:
        q.send("x", delay_seconds=bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "delay_seconds"
    assert q.stats().sent_total == 0


def test_delay_seconds_false_is_refused_not_read_as_zero(q: InMemoryQueue) -> None:
    with pytest.raises(QueueArgumentError):
        q.send("x", delay_seconds=False)


@pytest.mark.parametrize("bad", ["", "a" * 129, "has space", "tab\t", "é", "\x7f", 5, b"bytes"])
def test_dedup_id_is_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as caught:
        q.send("x", dedup_id=bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "dedup_id"


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=130) | st.sampled_from(["!", "~" * 128]))
def test_a_dedup_id_is_what_the_documented_pattern_matches(value: str) -> None:
    """1-128 printable ASCII characters without spaces: ``[!-~]{1,128}``."""
    try:
        check_send(0, value)
        accepted = True
    except QueueArgumentError:
        accepted = False
    assert accepted is (re.fullmatch(r"[!-~]{1,128}", value) is not None)


@pytest.mark.parametrize("bad", [-1, 43_201, *BAD_INTS])
def test_change_visibility_seconds_is_checked(q: InMemoryQueue, bad: object) -> None:
    q.send("x")
    handle = one(q).receipt_handle
    with pytest.raises(QueueArgumentError) as caught:
        q.change_visibility(handle, bad)  # type: ignore[arg-type]
    assert caught.value.details[0].field == "seconds"
    assert held(q) == (0, 1, 0, 0)


@pytest.mark.parametrize("bad", [-1, *BAD_INTS])
def test_dead_letter_and_redrive_limits_are_checked(q: InMemoryQueue, bad: object) -> None:
    with pytest.raises(QueueArgumentError) as listing:
        q.dead_letters(limit=bad)  # type: ignore[arg-type]
    assert listing.value.details[0].field == "limit"
    if bad is not None:
        with pytest.raises(QueueArgumentError) as moving:
            q.redrive(limit=bad)  # type: ignore[arg-type]
        assert moving.value.details[0].field == "limit"


@pytest.mark.parametrize(
    "option", ["capacity", "max_receive_count", "retention_seconds", "dedup_window_seconds"]
)
@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_constructor_settings_are_checked(option: str, bad: object) -> None:
    with pytest.raises(ValueError, match=option):
        InMemoryQueue(**{option: bad})  # type: ignore[arg-type]
