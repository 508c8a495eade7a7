"""In-memory similarity index: an inverted index from canonical material key to postings.

Per owner, each indexed formula gets a number (its position in ``entries``) and one posting
``(number, concentration)`` in the postings of each of its materials. A material's postings are
split into **bands by the formula's total concentration**: band ``k`` holds the formulas whose
total lies in ``[BOUNDS[k-1], BOUNDS[k])``, a geometric ladder (`total_band`). A query for
make-up A at threshold t reads few bands and verifies few formulas, and still misses none
(``docs/similarity.md`` has the proofs):

1. **Length filtering, as a range.** similarity <= min(|A|, |B|) / max(|A|, |B|), so only
   formulas with ``t * |A| <= |B| <= |A| / t`` can reach t. A query reads, of each material,
   only the bands that overlap that range (`band_range`); the two edge bands may hold formulas
   just outside it, which the bound of step 3 drops on sight.
2. **Prefix filtering.** A's materials are read rarest first (fewest postings in the bands read;
   a material no formula has costs nothing). Once the materials not yet read weigh less than
   ``t * |A|`` (`prefix_length`), a formula sharing none of the ones read cannot reach t, so
   the candidates are the formulas in the bands read.
3. **Positional bound.** A formula first met in the postings of A's ``i``-th material has none
   of the materials read before it (it would have been met there: its total puts it in the same
   bands), so it shares at most ``min(a_i, b_i)`` plus the weight of A's materials after the
   ``i``-th. If that cannot reach t (`can_reach`, which also applies the totals), it is dropped
   when first met and never accumulated.
4. **Overlap bound.** While reading, each candidate accumulates ``min(a_m, b_m)`` over the
   materials read; the rest of A can add at most the weight not read. A candidate whose bound
   cannot reach t is not verified.
5. **Verification** computes the exact similarity (`shared_weight`, `ratio`) of the survivors.

**Concurrency.** `index` holds the lock only while it appends one formula (its materials, not
the data). Queries take no lock: every structure is append-only (a band is created once, with a
single dict assignment, and then only appended to), and each append is atomic under CPython's
GIL. A formula's entry is appended before any of its postings, and a posting's concentration
before its number, so a reader that meets a number finds its concentration and its entry.
Bands are looked up by key (never by iterating a dict a writer may grow). A query running
while a formula is being indexed may or may not see that formula, as with any query concurrent
with a write; it never sees a formula partly verified, because verification reads the entry,
which is complete when appended.

Concentrations are interned (equal values share one `Decimal`), which real libraries, with
their recurring round figures, make cheap.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal

from chalicelib.domain.model import MAX_TOTAL_CONCENTRATION, total_concentration
from chalicelib.domain.similarity import EXACT, can_reach, makeup_of, prefix_length, ratio, shared_weight
from chalicelib.ports.similarity import SimilarMatch
from chalicelib.ports.store import FormulaRecord

BAND_RATIO = Decimal("1.05")
"""How much wider each band's upper bound is than its lower: finer bands read fewer formulas
outside the length range, at the cost of more (smaller) postings arrays per material."""

_LOWEST_BOUND = Decimal("0.01")
_LADDER = Context(prec=4)
_UPWARD = Context(prec=40, rounding=ROUND_CEILING)


def _ladder() -> tuple[Decimal, ...]:
    bounds = [_LOWEST_BOUND]
    while bounds[-1] < MAX_TOTAL_CONCENTRATION:
        bounds.append(_LADDER.multiply(bounds[-1], BAND_RATIO))
    return tuple(bounds)


BOUNDS = _ladder()
"""Increasing band edges from 0.01 to just past 100; totals below 0.01 share band 0."""


def total_band(total: Decimal) -> int:
    """The band of a formula whose total concentration is ``total`` (non-decreasing in it)."""
    return bisect_right(BOUNDS, total)


def band_range(total_a: Decimal, threshold: Decimal) -> range:
    """The bands holding every formula B with ``t * |A| <= |B| <= |A| / t`` (and perhaps a few more).

    ``|A| / t`` is rounded upward, and `total_band` never decreases, so no qualifying band is left out.
    """
    low = total_band(EXACT.multiply(threshold, total_a))
    high = total_band(_UPWARD.divide(total_a, threshold))
    return range(low, high + 1)


@dataclass(frozen=True, slots=True)
class _Entry:
    """An indexed formula: what verification reads and what a match reports."""

    id: str
    name: str
    total: Decimal
    keys: tuple[str, ...]
    values: tuple[Decimal, ...]


class _Postings:
    """The postings of one material in one band: formula numbers and concentrations, in step."""

    __slots__ = ("numbers", "values")

    def __init__(self) -> None:
        self.numbers = array("q")
        self.values: list[Decimal] = []

    def append(self, number: int, value: Decimal) -> None:
        self.values.append(value)
        self.numbers.append(number)

    def __len__(self) -> int:
        return len(self.numbers)


class _Material:
    """One material's postings, banded by the formula's total (band number -> postings)."""

    __slots__ = ("bands", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self.bands: dict[int, _Postings] = {}

    def append(self, band: int, number: int, value: Decimal) -> None:
        postings = self.bands.get(band)
        if postings is None:
            postings = self.bands[band] = _Postings()
        postings.append(number, value)

    def within(self, bands: range) -> list[_Postings]:
        """The postings of the bands in ``bands`` that exist."""
        found = (self.bands.get(band) for band in bands)
        return [postings for postings in found if postings is not None]


class _OwnerIndex:
    __slots__ = ("entries", "materials", "numbers")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.numbers: dict[str, int] = {}
        self.materials: dict[str, _Material] = {}


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A query's matches and its work: formulas met in postings, and formulas verified."""

    matches: list[SimilarMatch]
    candidates: int
    verified: int


@dataclass(frozen=True, slots=True)
class _Read:
    """One of A's materials as a query reads it: its weight in A and its postings in range."""

    weight: Decimal
    postings: list[_Postings]
    size: int


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
            materials = []
            for key in pairs:
                material = owner.materials.get(key)
                if material is None:
                    material = owner.materials[key] = _Material(key)
                materials.append(material)
            values = tuple(self._values.setdefault(value, value) for value in pairs.values())
            total = total_concentration(values)
            number = len(owner.entries)
            owner.entries.append(
                _Entry(record.id, record.name, total, tuple(material.key for material in materials), values)
            )
            band = total_band(total)
            for material, value in zip(materials, values, strict=True):
                material.append(band, number, value)
            owner.numbers[record.id] = number

    def search(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> SearchResult:
        """The matches (see `SimilarityIndex.search`), with the work it did (for the benchmark and
        the tests of the pruning)."""
        index = self._owners.get(owner)
        if index is None or not makeup:
            return SearchResult([], 0, 0)
        threshold = min_similarity
        total_a = total_concentration(makeup.values())
        bands = band_range(total_a, threshold)
        ordered = sorted(
            (_reading(index.materials.get(key), value, bands) for key, value in makeup.items()),
            key=lambda material: material.size,
        )
        read = prefix_length([material.weight for material in ordered], total_a, threshold)
        rest = total_concentration(material.weight for material in ordered[read:])
        entries = index.entries
        partial: dict[int, Decimal] = {}
        dropped: set[int] = set()
        after = total_a
        for material in ordered[:read]:
            a_value = material.weight
            after = EXACT.subtract(after, a_value)
            for postings in material.postings:
                for number, b_value in zip(postings.numbers, postings.values, strict=False):
                    shared = partial.get(number)
                    if shared is not None:
                        partial[number] = EXACT.add(shared, min(a_value, b_value))
                    elif number not in dropped:
                        entry = entries[number]
                        first = min(a_value, b_value)
                        if entry.id == exclude or not can_reach(
                            EXACT.add(first, after), total_a, entry.total, threshold
                        ):
                            dropped.add(number)
                        else:
                            partial[number] = first
        matches = []
        verified = 0
        for number, shared in partial.items():
            entry = entries[number]
            if not can_reach(EXACT.add(shared, rest), total_a, entry.total, threshold):
                continue
            verified += 1
            exact, count = shared_weight(makeup, zip(entry.keys, entry.values, strict=True))
            value = ratio(exact, total_a, entry.total)
            if value >= threshold:
                matches.append(SimilarMatch(entry.id, entry.name, value, count))
        matches.sort(key=lambda match: (-match.similarity, match.id))
        return SearchResult(matches[:limit], len(partial) + len(dropped), verified)


def _reading(material: _Material | None, weight: Decimal, bands: range) -> _Read:
    postings = [] if material is None else material.within(bands)
    return _Read(weight, postings, sum(len(p) for p in postings))
