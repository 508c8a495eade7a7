"""The in-memory similarity index answers exactly what brute force answers, while reading less."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory.similarity import InMemorySimilarityIndex, band_range, total_band
from chalicelib.domain.similarity import makeup_of, similarity
from chalicelib.ports.similarity import SimilarMatch
from chalicelib.ports.store import FormulaRecord, MaterialRecord

D = Decimal


def record(owner: str, number: int, materials: dict[str, Decimal]) -> FormulaRecord:
    return FormulaRecord(
        id=f"F{number:06d}",
        owner=owner,
        name=f"formula {number}",
        materials=tuple(MaterialRecord(name, value) for name, value in materials.items()),
        fingerprint=f"fp{number}",
        status="queued",
        created_at=0.0,
        message_id=f"evt_{number}",
    )


def library(seed: int, size: int) -> list[dict[str, Decimal]]:
    """Random make-ups over a small skewed vocabulary, a third derived from an earlier one."""
    rng = random.Random(seed)
    names = [f"M{n}" for n in range(40)]
    weights = [1 / (rank + 1) for rank in range(len(names))]
    made: list[dict[str, Decimal]] = []
    for _ in range(size):
        if made and rng.random() < 0.35:
            makeup = dict(rng.choice(made))
            key = rng.choice(list(makeup))
            makeup[key] = D(rng.randint(1, 500)) / 100
            if rng.random() < 0.5:
                makeup[rng.choice(names)] = D(rng.randint(1, 50)) / 100
        else:
            chosen = set(rng.choices(names, weights, k=rng.randint(1, 8)))
            makeup = {name: D(rng.randint(1, 500)) / 100 for name in chosen}
        made.append(makeup)
    return made


def brute_force(
    formulas: list[FormulaRecord], query: dict[str, Decimal], threshold: Decimal, limit: int
) -> list[tuple[str, Decimal]]:
    scored = [
        (r.id, similarity(makeup_of((m.name, m.concentration) for m in r.materials), query)) for r in formulas
    ]
    hits = sorted(((i, s) for i, s in scored if s >= threshold), key=lambda pair: (-pair[1], pair[0]))
    return hits[:limit]


def found(matches: list[SimilarMatch]) -> list[tuple[str, Decimal]]:
    return [(m.id, m.similarity) for m in matches]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    threshold=st.sampled_from([D("0.3"), D("0.5"), D("0.8"), D("0.95"), D("0.9677"), D(1)]),
    limit=st.sampled_from([1, 3, 10, 100]),
)
def test_the_index_answers_what_brute_force_answers(seed: int, threshold: Decimal, limit: int) -> None:
    made = library(seed, 300)
    formulas = [record("alice", n, makeup) for n, makeup in enumerate(made)]
    index = InMemorySimilarityIndex()
    for formula in formulas:
        index.index(formula)
    rng = random.Random(seed)
    for query in [*rng.sample(made, 10), *library(seed + 1, 5)]:
        query = makeup_of(query.items())
        got = index.search("alice", query, min_similarity=threshold, limit=limit).matches
        assert found(got) == brute_force(formulas, query, threshold, limit)


def test_it_examines_a_fraction_of_the_library() -> None:
    made = library(7, 400)
    index = InMemorySimilarityIndex()
    for n, makeup in enumerate(made):
        index.index(record("alice", n, makeup))
    query = makeup_of(made[123].items())
    result = index.search("alice", query, min_similarity=D("0.95"), limit=10)
    assert result.matches[0].id == "F000123"
    assert result.matches[0].similarity == 1
    assert result.candidates < 400 and result.verified < result.candidates


def test_shared_materials_name_and_exclusion() -> None:
    index = InMemorySimilarityIndex()
    index.index(record("alice", 1, {"Rose": D(10), "Musk": D(5)}))
    index.index(record("alice", 2, {"Rose": D(10), "Musk": D("5.5")}))
    query = {"rose": D(10), "musk": D(5)}
    matches = index.search("alice", query, min_similarity=D("0.9"), limit=10, exclude="F000001").matches
    assert matches == [SimilarMatch("F000002", "formula 2", D("0.9677"), 2)]


def test_indexing_again_changes_nothing_and_owners_are_apart() -> None:
    index = InMemorySimilarityIndex()
    formula = record("alice", 1, {"Rose": D(10)})
    index.index(formula)
    index.index(formula)
    assert len(index.search("alice", {"rose": D(10)}, min_similarity=D("0.1"), limit=10).matches) == 1
    assert index.search("bob", {"rose": D(10)}, min_similarity=D("0.1"), limit=10).matches == []


@given(
    total_a=st.decimals(D("0.0001"), D(100), places=4),
    total_b=st.decimals(D("0.0001"), D(100), places=4),
    threshold=st.decimals(D("0.01"), D(1), places=4),
)
def test_the_bands_read_hold_every_total_in_the_length_range(
    total_a: Decimal, total_b: Decimal, threshold: Decimal
) -> None:
    if threshold * total_a <= total_b and threshold * total_b <= total_a:
        assert total_band(total_b) in band_range(total_a, threshold)


def test_formulas_whose_total_is_out_of_range_are_never_met() -> None:
    index = InMemorySimilarityIndex()
    index.index(record("alice", 1, {"Rose": D(10), "Musk": D(5)}))
    for n in range(2, 12):
        index.index(record("alice", n, {"Rose": D(10), "Musk": D(5), "Oud": D(40)}))
        index.index(record("alice", 100 + n, {"Rose": D("0.5")}))
    result = index.search("alice", {"rose": D(10), "musk": D("5.5")}, min_similarity=D("0.8"), limit=10)
    assert [m.id for m in result.matches] == ["F000001"]
    assert result.candidates == 1


def test_formulas_met_only_under_a_later_material_are_not_verified() -> None:
    index = InMemorySimilarityIndex()
    index.index(record("alice", 1, {"Rare": D(1), "Common": D(9)}))
    for n in range(2, 6):
        index.index(record("alice", n, {"Common": D(1), "Other": D(9)}))
    # Rare is read first; a formula met only under Common shares at most min(9, 1) = 1 of 10,
    # so the positional bound drops it when met (exactness is the brute-force test's).
    result = index.search("alice", {"rare": D(1), "common": D(9)}, min_similarity=D("0.8"), limit=10)
    assert [m.id for m in result.matches] == ["F000001"]
    assert result.candidates == 5 and result.verified == 1
