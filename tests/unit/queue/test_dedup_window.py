"""`DedupWindow`: the in-memory queue's deduplication records (the queue's own tests cover how
sends use it: tests/integration/test_queue_contract.py)."""

from __future__ import annotations

import math

from chalicelib.adapters.memory._dedup import DedupWindow


def test_a_record_names_its_message_until_the_window_ends() -> None:
    window = DedupWindow(300)
    assert window.next_due == math.inf
    assert window.remember("d1", "m1", now=10.0) == 310.0
    assert window.known("d1") == "m1" and window.known("d2") is None
    assert window.next_due == 310.0
    window.expire(309.9)
    assert window.known("d1") == "m1"
    window.expire(310.0)
    assert window.known("d1") is None and window.next_due == math.inf


def test_a_record_made_again_outlives_its_first_expiry() -> None:
    window = DedupWindow(300)
    window.remember("d1", "m1", now=0.0)
    window.remember("d1", "m2", now=100.0)
    window.expire(300.0)  # the first record's entry comes due, but the record is the second's
    assert window.known("d1") == "m2"
    window.expire(400.0)
    assert window.known("d1") is None


def test_forget_drops_a_record_only_if_it_still_names_the_message() -> None:
    window = DedupWindow(300)
    window.remember("d1", "m1", now=0.0)
    window.forget("d1", "other")
    assert window.known("d1") == "m1"
    window.forget("d1", "m1")
    assert window.known("d1") is None
    window.forget("d1", "m1")  # nothing left: no error
    window.expire(300.0)  # its stale entry is skipped
    assert window.next_due == math.inf
