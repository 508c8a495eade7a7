"""In-memory similarity index: an inverted index from canonical material key to postings.

Per owner, each indexed formula gets a number (its position in ``entries``) and one posting
``(number, concentration)`` in the postings list of each of its materials. A query for make-up A
at threshold t reads few of those lists and verifies few formulas, and still misses none
(``docs/similarity.md`` has the proofs):

1. **Prefix filtering.** A's materials are read rarest first (shortest postings list first; a
   material no formula has costs nothing). Once the materials not yet read weigh less than
   ``t * |A|`` (`prefix_length`), a formula sharing none of the ones read cannot reach t, so
   the candidates are the formulas in the postings lists read.
2. **Length filtering.** similarity <= min(|A|, |B|) / max(|A|, |B|) on total concentrations,
   so a candidate whose total is out of range is dropped when first met.
3. **Overlap bound.** While reading, each candidate accumulates ``min(a_m, b_m)`` over the
   materials read; the rest of A can add at most the weight not read. A candidate whose bound
   cannot reach t (`can_reach`) is not verified.
4. **Verification** computes the exact similarity (`shared_weight`, `ratio`) of the survivors.

**Concurrency.** `index` holds the lock only while it appends one formula (its materials, not
the data). Queries take no lock: every structure is append-only, and each append is atomic
under CPython's GIL. A formula's entry is appended before any of its postings, and a posting's
concentration before its number, so a reader that meets a number finds its concentration and
its entry. A query running while a formula is being indexed may or may not see that formula,
as with any query concurrent with a write; it never sees a formula partly verified, because
verification reads the entry, which is complete when appended.

Concentrations are interned (equal values share one `Decimal`), which real libraries, with
their recurring round figures, make cheap.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.model import total_concentration
from chalicelib.domain.similarity import EXACT, can_reach, makeup_of, prefix_length, ratio, shared_weight
from chalicelib.ports import FormulaRecord, SimilarMatch


@dataclass(frozen=True, slots=True)
class _Entry:
    """An indexed formula: what verification reads and what a match reports."""

    id: str
    name: str
    total: Decimal
    keys: tuple[str, ...]
    values: tuple[Decimal, ...]


class _Postings:
    """One material's postings: formula numbers and their concentrations, appended in step."""

    __slots__ = ("key", "numbers", "values")

    def __init__(self, key: str) -> None:
        self.key = key
        self.numbers = array("q")
        self.values: list[Decimal] = []

    def append(self, number: int, value: Decimal) -> None:
        self.values.append(value)
        self.numbers.append(number)

    def __len__(self) -> int:
        return len(self.numbers)


class _OwnerIndex:
    __slots__ = ("entries", "numbers", "postings")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.numbers: dict[str, int] = {}
        self.postings: dict[str, _Postings] = {}


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A query's matches and its work: formulas met in postings, and formulas verified."""

    matches: list[SimilarMatch]
    candidates: int
    verified: int


class InMemorySimilarityIndex:
    """`SimilarityIndex` in process memory, partitioned by owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, _OwnerIndex] = {}
        self._values: dict[Decimal, Decimal] = {}

    def index(self, record: FormulaRecord) -> None:
        pairs = makeup_of((m.name, m.concentration) for m in record.materials)
        with self._lock:
            owner = self._owners.get(record.owner)
            if owner is None:
                owner = self._owners[record.owner] = _OwnerIndex()
            if record.id in owner.numbers:
                return
            lists = []
            for key in pairs:
                postings = owner.postings.get(key)
                if postings is None:
                    postings = owner.postings[key] = _Postings(key)
                lists.append(postings)
            values = tuple(self._values.setdefault(value, value) for value in pairs.values())
            number = len(owner.entries)
            owner.entries.append(
                _Entry(
                    record.id,
                    record.name,
                    total_concentration(values),
                    tuple(postings.key for postings in lists),
                    values,
                )
            )
            for postings, value in zip(lists, values, strict=True):
                postings.append(number, value)
            owner.numbers[record.id] = number

    def query(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> list[SimilarMatch]:
        return self.search(owner, makeup, min_similarity=min_similarity, limit=limit, exclude=exclude).matches

    def search(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> SearchResult:
        """`query`, with the work it did (for the benchmark and the tests of the pruning)."""
        index = self._owners.get(owner)
        if index is None or not makeup:
            return SearchResult([], 0, 0)
        threshold = min_similarity
        total_a = total_concentration(makeup.values())
        ordered = sorted(
            ((index.postings.get(key), value) for key, value in makeup.items()),
            key=lambda pair: 0 if pair[0] is None else len(pair[0]),
        )
        read = prefix_length([value for _, value in ordered], total_a, threshold)
        unread = total_concentration(value for _, value in ordered[read:])
        entries = index.entries
        partial: dict[int, Decimal] = {}
        dropped: set[int] = set()
        for postings, a_value in ordered[:read]:
            if postings is None:
                continue
            for number, b_value in zip(postings.numbers, postings.values, strict=False):
                shared = partial.get(number)
                if shared is not None:
                    partial[number] = EXACT.add(shared, min(a_value, b_value))
                elif number not in dropped:
                    entry = entries[number]
                    if entry.id == exclude or not can_reach(entry.total, total_a, entry.total, threshold):
                        dropped.add(number)
                    else:
                        partial[number] = min(a_value, b_value)
        matches = []
        verified = 0
        for number, shared in partial.items():
            entry = entries[number]
            if not can_reach(EXACT.add(shared, unread), total_a, entry.total, threshold):
                continue
            verified += 1
            exact, count = shared_weight(makeup, zip(entry.keys, entry.values, strict=True))
            value = ratio(exact, total_a, entry.total)
            if value >= threshold:
                matches.append(SimilarMatch(entry.id, entry.name, value, count))
        matches.sort(key=lambda match: (-match.similarity, match.id))
        return SearchResult(matches[:limit], len(partial) + len(dropped), verified)
