"""The similar-formula index port (weighted Jaccard over make-ups, `chalicelib.domain.similarity`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from chalicelib.ports.store import FormulaRecord


@dataclass(frozen=True, slots=True)
class SimilarMatch:
    """A formula found by a similarity query: its similarity and how many materials it shares."""

    id: str
    name: str
    similarity: Decimal
    shared_materials: int


class SimilaritySearch(Protocol):
    """What a similarity search found; an adapter may report the work it did beside it."""

    @property
    def matches(self) -> list[SimilarMatch]: ...


class SimilarityIndex(Protocol):
    """The owner's indexed formulas, searchable by make-up. Answers are exact: every indexed
    formula of the owner whose similarity (truncated to 4 places) is at least the threshold is a
    candidate, and the ``limit`` most similar are returned, most similar first, ties by id.
    """

    def index(self, record: FormulaRecord) -> None:
        """Make ``record`` searchable under its owner. Idempotent: indexing it again changes nothing."""
        ...

    def search(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> SimilaritySearch:
        """Its ``matches``: the owner's formulas at or above ``min_similarity`` (0 < x <= 1) to
        ``makeup`` (canonical key -> concentration), best first, at most ``limit``, never
        ``exclude``."""
        ...
