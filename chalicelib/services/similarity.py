"""Similar formulas: the two queries of the API, and the processing step that flags near-duplicates.

A formula is searchable once processing has indexed it (`flag_near_duplicates`), which then
stores on the formula the owner's formulas at or above the stage's threshold
(``FI_NEAR_DUPLICATE_THRESHOLD``, at most `NEAR_DUPLICATE_LIMIT`), before the formula is marked
processed. A worker that holds the store runs it as a step (`near_duplicate_step`: the in-process
worker, the Lambda consumer); for a remote worker, the consumer API runs it when the worker
reports the formula processed (`chalicelib.services.consumer.report_status`). Both writes are
idempotent, so a redelivered message indexes nothing twice and stores the same finding again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain import Formula
from chalicelib.domain.similarity import makeup_of
from chalicelib.errors import NotFound
from chalicelib.ports.similarity import SimilarityIndex, SimilarMatch
from chalicelib.ports.store import FormulaRecord, FormulaStore, NearDuplicate
from chalicelib.services.processing import Handler, MalformedMessage, ProcessingContext

DEFAULT_MIN_SIMILARITY = Decimal("0.8")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
NEAR_DUPLICATE_LIMIT = 10


def record_makeup(record: FormulaRecord) -> dict[str, Decimal]:
    return makeup_of((m.name, m.concentration) for m in record.materials)


def _matches(matches: list[SimilarMatch]) -> list[dict[str, Any]]:
    return [
        {"id": m.id, "name": m.name, "similarity": m.similarity, "shared_materials": m.shared_materials}
        for m in matches
    ]


def similar_to_formula(
    store: FormulaStore,
    index: SimilarityIndex,
    owner: str,
    formula_id: str,
    *,
    min_similarity: Decimal,
    limit: int,
) -> dict[str, Any]:
    """The owner's other formulas like ``formula_id`` (NotFound for an unknown or foreign id)."""
    record = store.get(owner, formula_id)
    if record is None:
        raise NotFound(f"No formula with id {formula_id!r}.")
    found = index.search(
        owner, record_makeup(record), min_similarity=min_similarity, limit=limit, exclude=formula_id
    )
    return {"formula_id": formula_id, "similar": _matches(found.matches)}


def similar_to_makeup(
    index: SimilarityIndex, owner: str, formula: Formula, *, min_similarity: Decimal, limit: int
) -> dict[str, Any]:
    """The owner's formulas like a formula that is not stored (nothing is written)."""
    makeup = {m.key: m.concentration for m in formula.materials}
    return {
        "similar": _matches(index.search(owner, makeup, min_similarity=min_similarity, limit=limit).matches)
    }


def flag_near_duplicates(
    store: FormulaStore,
    index: SimilarityIndex,
    threshold: Decimal,
    record: FormulaRecord,
) -> None:
    """Index ``record``, then store on it the owner's other formulas at or above ``threshold``
    (at most `NEAR_DUPLICATE_LIMIT`). Both writes are idempotent, so running it again is harmless."""
    index.index(record)
    matches = index.search(
        record.owner,
        record_makeup(record),
        min_similarity=threshold,
        limit=NEAR_DUPLICATE_LIMIT,
        exclude=record.id,
    ).matches
    store.set_near_duplicates(record.owner, record.id, [NearDuplicate(m.id, m.similarity) for m in matches])


def near_duplicate_step(store: FormulaStore, index: SimilarityIndex, threshold: Decimal) -> Handler:
    """A `formula.submitted` step of a worker that holds the store: `flag_near_duplicates`."""

    def flag_step(message: dict[str, Any], context: ProcessingContext) -> None:
        owner, formula_id = message.get("owner"), message.get("formula_id")
        if not isinstance(owner, str) or not isinstance(formula_id, str):
            raise MalformedMessage("formula.submitted needs string owner and formula_id")
        record = context.formula or store.get(owner, formula_id)  # the worker's read, when it made one
        if record is None:
            raise NotFound(f"No formula {formula_id} for the message's owner.")
        flag_near_duplicates(store, index, threshold, record)

    return flag_step
