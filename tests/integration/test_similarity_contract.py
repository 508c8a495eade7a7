"""The `SimilarityIndex` contract, run against every adapter (memory; DynamoDB on moto)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
from chalicelib.adapters.aws.similarity import DynamoSimilarityIndex
from chalicelib.adapters.memory.similarity import InMemorySimilarityIndex
from chalicelib.domain.similarity import makeup_of, similarity
from chalicelib.ports.similarity import SimilarityIndex, SimilarMatch
from chalicelib.ports.store import FormulaRecord, MaterialRecord
from tests.integration.aws_dynamo_fixtures import TABLE, aws_credentials, dynamodb_client  # noqa: F401

D = Decimal
ALICE, BOB = "alice", "bob"


class Indexed:
    """An index and, for DynamoDB, the store that holds the formula items queries read back."""

    def __init__(self, index: SimilarityIndex, store: DynamoFormulaStore | None) -> None:
        self.index = index
        self.store = store
        self.count = 0

    def add(self, owner: str, materials: dict[str, Decimal], name: str | None = None) -> FormulaRecord:
        self.count += 1
        record = FormulaRecord(
            id=f"01SIM{self.count:021d}",
            owner=owner,
            name=name or f"formula {self.count}",
            materials=tuple(MaterialRecord(n, v) for n, v in materials.items()),
            fingerprint=f"v2:{self.count}",
            status="queued",
            created_at=0.0,
            message_id=f"evt_{self.count}",
        )
        if self.store is not None:
            self.store.commit_submission(owner, [record], [], None)
        self.index.index(record)
        return record

    def query(
        self, owner: str, materials: dict[str, Decimal], t: str, limit: int = 10, **kw: Any
    ) -> list[SimilarMatch]:
        found = self.index.search(owner, makeup_of(materials.items()), min_similarity=D(t), limit=limit, **kw)
        return found.matches


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.aws)])
def indexed(request: pytest.FixtureRequest) -> Indexed:
    if request.param == "memory":
        return Indexed(InMemorySimilarityIndex(), None)
    client = request.getfixturevalue("dynamodb_client")
    return Indexed(DynamoSimilarityIndex(client, TABLE), DynamoFormulaStore(client, TABLE))


def test_the_worked_examples(indexed: Indexed) -> None:
    near = indexed.add(ALICE, {"Rose": D(10), "Musk": D("5.5")}, "Near")
    half = indexed.add(ALICE, {"Rose": D(10)}, "Half")
    indexed.add(ALICE, {"Oud": D(3)})
    query = {"rose": D(10), "MUSK": D("5.0")}
    assert indexed.query(ALICE, query, "0.5") == [
        SimilarMatch(near.id, "Near", D("0.9677"), 2),
        SimilarMatch(half.id, "Half", D("0.6666"), 1),
    ]
    assert [m.id for m in indexed.query(ALICE, query, "0.9677")] == [near.id]
    assert indexed.query(ALICE, query, "0.9678") == []


def test_never_across_owners_and_exclude(indexed: Indexed) -> None:
    mine = indexed.add(ALICE, {"Rose": D(10)})
    indexed.add(BOB, {"Rose": D(10)})
    assert [m.id for m in indexed.query(ALICE, {"Rose": D(10)}, "1")] == [mine.id]
    assert indexed.query(ALICE, {"Rose": D(10)}, "1", exclude=mine.id) == []
    assert indexed.query("carol", {"Rose": D(10)}, "0.1") == []


def test_indexing_twice_is_idempotent(indexed: Indexed) -> None:
    record = indexed.add(ALICE, {"Rose": D(10), "Iris": D("0.25")})
    indexed.index.index(record)
    assert [m.id for m in indexed.query(ALICE, {"Rose": D(10)}, "0.1")] == [record.id]


def test_most_similar_first_ties_by_id_and_limit(indexed: Indexed) -> None:
    twins = [indexed.add(ALICE, {"Rose": D(10), "Musk": D(5), f"Trace {n}": D(1)}) for n in range(3)]
    exact = indexed.add(ALICE, {"Rose": D(10), "Musk": D(5)})
    got = indexed.query(ALICE, {"Rose": D(10), "Musk": D(5)}, "0.8", limit=3)
    assert [m.id for m in got] == [exact.id, twins[0].id, twins[1].id]
    assert [m.similarity for m in got] == [D(1), D("0.9375"), D("0.9375")]


def test_exact_against_brute_force(indexed: Indexed) -> None:
    rng = random.Random(16)
    names = [f"M{n}" for n in range(12)]
    made: list[dict[str, Decimal]] = []
    for _ in range(40):
        if made and rng.random() < 0.4:
            makeup = dict(rng.choice(made))
            makeup[rng.choice(names)] = D(rng.randint(1, 300)) / 100
        else:
            makeup = {n: D(rng.randint(1, 300)) / 100 for n in rng.sample(names, rng.randint(1, 5))}
        made.append(makeup)
    records = [indexed.add(ALICE, makeup) for makeup in made]
    for threshold in ("0.4", "0.8", "0.95"):
        for query in made[::8]:
            key = makeup_of(query.items())
            expected = sorted(
                (
                    (r.id, s)
                    for r in records
                    if (s := similarity(makeup_of((m.name, m.concentration) for m in r.materials), key))
                    >= D(threshold)
                ),
                key=lambda pair: (-pair[1], pair[0]),
            )
            got = indexed.query(ALICE, query, threshold, limit=100)
            assert [(m.id, m.similarity) for m in got] == expected
