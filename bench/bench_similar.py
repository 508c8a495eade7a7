"""Similar-formula search on the in-memory index, and its read cost on DynamoDB (moto).

The synthetic library is shaped like real ones: each formula lists 3-40 materials drawn from a
vocabulary of 5,000 names with Zipf(1.1) frequencies, at concentrations of 0.01-2.50 % in steps
of 0.01; about 30 % of formulas are derived from one of the 20,000 before them by a small change
(a concentration moved, a trace material added, or one dropped). One owner holds them all.

Figures, for min_similarity 0.8 and 0.95 with limit 10 (``t80_...``, ``t95_...``):

- ``p50_ms`` / ``p99_ms``: query time, in process, half the queries for a stored formula (its own
  id excluded, as ``GET /formulas/{id}/similar`` does) and half for a new one (``POST``);
- ``candidates`` / ``verified``: formulas met in the postings read, and formulas whose exact
  similarity was computed, per query (the library has ``n`` formulas);
- ``exact_pct``: answers equal to brute force, over queries against a 10,000-formula subset
  indexed as an owner of its own (must be 100);
- ``moto_items_read``: DynamoDB items read per query (postings + formula items) on moto, for a
  library of ``moto_n`` formulas.

And ``index_bytes_per_formula``: the growth of the process's resident memory while indexing,
per formula. Run with ``python -m bench --only similar [--similar-n N]``; figures are printed,
never asserted.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import time
from collections.abc import Iterator
from decimal import Decimal

from chalicelib.adapters.memory.similarity import InMemorySimilarityIndex
from chalicelib.domain.similarity import makeup_of, similarity
from chalicelib.ports.store import FormulaRecord, MaterialRecord

VOCABULARY = 5_000
ZIPF = 1.1
DERIVED = 0.3
PARENT_WINDOW = 20_000
SUBSET = 10_000
OWNER, SUBSET_OWNER = "library", "subset"
THRESHOLDS = (Decimal("0.8"), Decimal("0.95"))
LIMIT = 10

_NAMES = [f"Material {rank:04d}" for rank in range(VOCABULARY)]
_CUMULATIVE = list(itertools.accumulate(1 / (rank + 1) ** ZIPF for rank in range(VOCABULARY)))
_VALUES = [Decimal(step) / 100 for step in range(0, 251)]

Makeup = dict[int, int]
"""Vocabulary rank -> concentration in hundredths (the generator's compact form)."""


def _fresh(rng: random.Random) -> Makeup:
    size = rng.randint(3, 40)
    chosen: set[int] = set()
    while len(chosen) < size:
        chosen.update(rng.choices(range(VOCABULARY), cum_weights=_CUMULATIVE, k=size - len(chosen)))
    return {rank: rng.randint(1, 250) for rank in chosen}


def _derived(rng: random.Random, parent: Makeup) -> Makeup:
    child = dict(parent)
    change = rng.random()
    if change < 0.5 or len(child) <= 3:
        rank = rng.choice(list(child))
        child[rank] = min(250, max(1, child[rank] + rng.choice((-3, -2, -1, 1, 2, 3))))
    elif change < 0.8 and len(child) < 40:
        child.setdefault(rng.choices(range(VOCABULARY), cum_weights=_CUMULATIVE)[0], rng.randint(1, 5))
    else:
        del child[rng.choice(list(child))]
    return child


def library(n: int, seed: int = 16) -> Iterator[Makeup]:
    """``n`` make-ups, about `DERIVED` of them derived from a recent one."""
    rng = random.Random(seed)
    recent: list[Makeup] = []
    for number in range(n):
        makeup = _derived(rng, rng.choice(recent)) if recent and rng.random() < DERIVED else _fresh(rng)
        if len(recent) < PARENT_WINDOW:
            recent.append(makeup)
        else:
            recent[number % PARENT_WINDOW] = makeup
        yield makeup


def record(owner: str, number: int, makeup: Makeup) -> FormulaRecord:
    return FormulaRecord(
        id=f"F{number:08d}",
        owner=owner,
        name=f"Formula {number}",
        materials=tuple(MaterialRecord(_NAMES[rank], _VALUES[value]) for rank, value in makeup.items()),
        fingerprint=f"bench:{number}",
        status="processed",
        created_at=0.0,
        message_id="",
    )


def canonical(makeup: Makeup) -> dict[str, Decimal]:
    return makeup_of((_NAMES[rank], _VALUES[value]) for rank, value in makeup.items())


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(n: int, *, queries: int = 1_000, exact_queries: int = 40, moto_n: int = 100) -> dict[str, float]:
    """The figures of the module docstring for a library of ``n`` formulas."""
    rng = random.Random(1)
    index = InMemorySimilarityIndex()
    sample: list[tuple[str, Makeup]] = []
    subset: list[tuple[str, Makeup]] = []
    before = _resident_bytes()
    started = time.perf_counter()
    for number, makeup in enumerate(library(n)):
        formula = record(OWNER, number, makeup)
        index.index(formula)
        if number < SUBSET:
            subset.append((formula.id, makeup))
        if len(sample) < queries:
            sample.append((formula.id, makeup))
        elif (slot := rng.randrange(number + 1)) < queries:
            sample[slot] = (formula.id, makeup)
    figures: dict[str, float] = {
        "n": n,
        "index_s": round(time.perf_counter() - started, 1),
        "index_bytes_per_formula": round((_resident_bytes() - before) / n),
    }
    fresh = list(library(queries // 2, seed=99))
    for threshold in THRESHOLDS:
        name = f"t{int(threshold * 100)}"
        times, candidates, verified = [], [], []
        for position, (formula_id, makeup) in enumerate(sample):
            query, exclude = (makeup, formula_id) if position % 2 == 0 else (fresh[position // 2], None)
            key = canonical(query)
            began = time.perf_counter()
            result = index.search(OWNER, key, min_similarity=threshold, limit=LIMIT, exclude=exclude)
            times.append(time.perf_counter() - began)
            candidates.append(result.candidates)
            verified.append(result.verified)
        figures[f"{name}_p50_ms"] = round(1000 * _percentile(times, 0.5), 3)
        figures[f"{name}_p99_ms"] = round(1000 * _percentile(times, 0.99), 3)
        figures[f"{name}_candidates"] = round(statistics.fmean(candidates))
        figures[f"{name}_verified"] = round(statistics.fmean(verified), 1)
        figures[f"{name}_exact_pct"] = _exactness(subset, threshold, exact_queries)
    for threshold, items in _moto_items_read(moto_n, min(exact_queries, 10)).items():
        figures[f"t{int(threshold * 100)}_moto_items_read"] = items
    figures["moto_n"] = moto_n
    return figures


def _exactness(subset: list[tuple[str, Makeup]], threshold: Decimal, queries: int) -> float:
    """Percent of queries whose answer equals brute force over ``subset`` (an owner of its own)."""
    index = InMemorySimilarityIndex()
    keyed = [(formula_id, canonical(makeup)) for formula_id, makeup in subset]
    for number, (_, makeup) in enumerate(subset):
        index.index(record(SUBSET_OWNER, number, makeup))
    rng = random.Random(2)
    agree = 0
    for formula_id, query in rng.sample(keyed, min(queries, len(keyed))):
        scored = ((other, similarity(query, makeup)) for other, makeup in keyed if other != formula_id)
        expected = sorted(((i, s) for i, s in scored if s >= threshold), key=lambda p: (-p[1], p[0]))[:LIMIT]
        got = index.search(
            SUBSET_OWNER, query, min_similarity=threshold, limit=LIMIT, exclude=formula_id
        ).matches
        agree += [(m.id, m.similarity) for m in got] == expected
    return round(100 * agree / min(queries, len(keyed)), 2)


def _moto_items_read(n: int, queries: int) -> dict[Decimal, float]:
    """Mean DynamoDB items read per query on moto at each threshold, for ``n`` formulas."""
    import boto3

    from bench.bench_aws import moto_with_fake_credentials
    from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
    from chalicelib.adapters.aws.similarity import DynamoSimilarityIndex
    from chalicelib.adapters.aws.tables import create_tables

    with moto_with_fake_credentials():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, ["bench"])
        store, index = DynamoFormulaStore(client, "bench"), DynamoSimilarityIndex(client, "bench")
        made = list(library(n))
        for number, makeup in enumerate(made):
            formula = record(OWNER, number, makeup)
            store.commit_submission(OWNER, [formula], [], None)
            index.index(formula)
        chosen = random.Random(3).sample(range(n), min(queries, n))
        reads: dict[Decimal, float] = {}
        for threshold in THRESHOLDS:
            costs = [
                index.search(
                    OWNER,
                    canonical(made[number]),
                    min_similarity=threshold,
                    limit=LIMIT,
                    exclude=f"F{number:08d}",
                ).items_read
                for number in chosen
            ]
            reads[threshold] = round(statistics.fmean(costs), 1)
    return reads
