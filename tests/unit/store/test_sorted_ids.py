"""The ordered id set behind the in-memory store's listings, against a sorted list as the model."""

from __future__ import annotations

import random

import pytest

from chalicelib.adapters.memory import _sorted_ids
from chalicelib.adapters.memory._sorted_ids import SortedIds


@pytest.mark.parametrize("bucket", [2, 512])
def test_adds_discards_and_pages_match_a_sorted_list(monkeypatch: pytest.MonkeyPatch, bucket: int) -> None:
    monkeypatch.setattr(_sorted_ids, "BUCKET", bucket)
    rng = random.Random(15)
    ids, model = SortedIds(), set[str]()
    for step in range(3000):
        item = f"{rng.randrange(400):04d}"
        if rng.random() < 0.6:
            ids.add(item)
            model.add(item)
        else:
            ids.discard(item)
            model.discard(item)
        if step % 50 == 0:
            ordered = sorted(model)
            start = rng.choice([None, f"{rng.randrange(400):04d}"])
            count = rng.randrange(1, 30)
            expected = [i for i in ordered if start is None or i > start][:count]
            assert ids.after(start, count) == expected
    assert ids.after(None, 10_000) == sorted(model)


def test_a_page_reads_only_the_buckets_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sorted_ids, "BUCKET", 4)
    ids = SortedIds()
    for number in range(1000):
        ids.add(f"{number:04d}")
    assert ids.after("0500", 3) == ["0501", "0502", "0503"]
    assert max(len(bucket) for bucket in ids._buckets) <= 8
    ids.discard("0501")
    ids.discard("nope")
    assert ids.after("0500", 2) == ["0502", "0503"]
    assert ids.after("0999", 5) == []
