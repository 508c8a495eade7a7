"""An ordered set of ids whose every operation costs O(log n + what it returns).

A plain sorted list inserts and deletes by moving every later element, so removing the oldest
queued formula from an index of a million costs a million moves, under the store's lock. Here
the ids live in buckets of at most `BUCKET` sorted ids, found by bisecting the buckets' largest
ids: an insert or delete moves at most a bucket's worth, and a bucket is split or dropped only
when it grows past twice `BUCKET` or empties (the same layout as ``sortedcontainers.SortedList``,
kept to what the store needs so the standard library suffices).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

BUCKET = 512
"""Ids per bucket after a split; a bucket splits in two when it reaches twice this."""


class SortedIds:
    """A set of strings kept in sorted order, read as pages after a given id."""

    __slots__ = ("_buckets", "_maxes")

    def __init__(self) -> None:
        self._buckets: list[list[str]] = []
        self._maxes: list[str] = []

    def add(self, item: str) -> None:
        """Insert ``item`` (already present: unchanged)."""
        maxes, buckets = self._maxes, self._buckets
        if not maxes or item > maxes[-1]:
            if not buckets or len(buckets[-1]) >= 2 * BUCKET:
                buckets.append([item])
                maxes.append(item)
            else:
                buckets[-1].append(item)
                maxes[-1] = item
            return
        position = bisect_left(maxes, item)
        bucket = buckets[position]
        at = bisect_left(bucket, item)
        if at < len(bucket) and bucket[at] == item:
            return
        insort(bucket, item)
        if len(bucket) > 2 * BUCKET:
            buckets[position : position + 1] = [bucket[:BUCKET], bucket[BUCKET:]]
            maxes[position : position + 1] = [bucket[BUCKET - 1], bucket[-1]]

    def discard(self, item: str) -> None:
        """Remove ``item`` if present."""
        maxes, buckets = self._maxes, self._buckets
        position = bisect_left(maxes, item)
        if position == len(maxes):
            return
        bucket = buckets[position]
        at = bisect_left(bucket, item)
        if at == len(bucket) or bucket[at] != item:
            return
        del bucket[at]
        if not bucket:
            del buckets[position], maxes[position]
        elif at == len(bucket):
            maxes[position] = bucket[-1]

    def after(self, start: str | None, count: int) -> list[str]:
        """Up to ``count`` ids greater than ``start`` (from the smallest if None), in order."""
        maxes, buckets = self._maxes, self._buckets
        position = 0 if start is None else bisect_right(maxes, start)
        found: list[str] = []
        while position < len(buckets) and len(found) < count:
            bucket = buckets[position]
            at = bisect_right(bucket, start) if start is not None and not found else 0
            found.extend(bucket[at : at + count - len(found)])
            position += 1
        return found
