"""The similarity index on DynamoDB: postings written by the processing step, read by Query.

Items (one per material of each indexed formula; the table layout is in `tables`)::

    pk POSTING#<len(owner)>#<owner>#<material key>   sk <formula id>
       kind "posting", c S (the concentration, exact text), t S (the formula's total, exact text)

`index` writes a formula's postings with ``BatchWriteItem`` (25 a call, unprocessed items
retried). A put of the same item is idempotent, so a redelivered message changes nothing.

`search` never scans. For make-up A at threshold t it reads A's materials heaviest first (the
fewest lists that cover the prefix; DynamoDB keeps no list lengths to order by rarity) and
Queries the postings of the prefix (`prefix_length`): every formula that can reach t shares one
of them, so the union of those partitions holds every answer. Each posting carries its
formula's total and its concentration, so the length filter and the overlap bound (`can_reach`)
drop candidates without reading them. The survivors' formula items are read with
``BatchGetItem`` (100 a call) and verified exactly (`shared_weight`, `ratio`). All reads are
strongly consistent. Read cost per query: the postings of the prefix materials, plus one formula
item per surviving candidate (``docs/similarity.md`` has the figures measured on moto).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.backoff import Backoff
from chalicelib.domain.model import total_concentration
from chalicelib.domain.similarity import EXACT, can_reach, makeup_of, prefix_length, ratio, shared_weight
from chalicelib.errors import InfrastructureError
from chalicelib.ports.similarity import SimilarMatch
from chalicelib.ports.store import FormulaRecord

_BOTO_ERRORS = (ClientError, BotoCoreError)
_WRITE_BATCH = 25
_READ_BATCH = 100
RETRY_SECONDS = 2.0
"""How long a write or read keeps retrying keys DynamoDB left unprocessed (throttling)."""


@dataclass(frozen=True, slots=True)
class QueryCost:
    """A query's matches and what it read: posting items, formula items, and API calls."""

    matches: list[SimilarMatch]
    postings_read: int
    formulas_read: int
    calls: int

    @property
    def items_read(self) -> int:
        return self.postings_read + self.formulas_read


def _unavailable(exc: BaseException) -> InfrastructureError:
    return InfrastructureError(f"The similarity index is unavailable ({tables.error_code(exc) or exc}).")


class DynamoSimilarityIndex:
    """`SimilarityIndex` on the service's table."""

    def __init__(self, client: Any, table_name: str, *, backoff: Backoff | None = None) -> None:
        """``backoff``: the pause between retries of keys DynamoDB left unprocessed (throttling)."""
        self._client = client
        self._table = table_name
        self._backoff = backoff or Backoff(RETRY_SECONDS)

    def index(self, record: FormulaRecord) -> None:
        pairs = makeup_of((m.name, m.concentration) for m in record.materials)
        total = str(total_concentration(pairs.values()))
        items = [
            {
                tables.PK: {"S": tables.posting_partition(record.owner, key)},
                tables.SK: {"S": record.id},
                "kind": {"S": "posting"},
                "c": {"S": str(value)},
                "t": {"S": total},
            }
            for key, value in pairs.items()
        ]
        for start in range(0, len(items), _WRITE_BATCH):
            self._write([{"PutRequest": {"Item": item}} for item in items[start : start + _WRITE_BATCH]])

    def _write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self._table: requests}
        retries = self._backoff.retries()
        try:
            while True:
                pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    return
                if next(retries, None) is None:
                    break
        except _BOTO_ERRORS as exc:
            raise _unavailable(exc) from exc
        raise InfrastructureError("The similarity index is throttling writes; retry.")

    def search(
        self,
        owner: str,
        makeup: Mapping[str, Decimal],
        *,
        min_similarity: Decimal,
        limit: int,
        exclude: str | None = None,
    ) -> QueryCost:
        """The matches (see `SimilarityIndex.search`), with what it read (for the read-cost figures)."""
        if not makeup:
            return QueryCost([], 0, 0, 0)
        threshold = min_similarity
        total_a = total_concentration(makeup.values())
        ordered = sorted(makeup.items(), key=lambda pair: (-pair[1], pair[0]))
        read = prefix_length([value for _, value in ordered], total_a, threshold)
        unread = total_concentration(value for _, value in ordered[read:])
        partial: dict[str, Decimal] = {}
        totals: dict[str, Decimal] = {}
        dropped: set[str] = set()
        postings = calls = 0
        for key, a_value in ordered[:read]:
            for page in self._postings(owner, key):
                calls += 1
                postings += len(page)
                for item in page:
                    formula_id = item[tables.SK]["S"]
                    shared = min(a_value, Decimal(item["c"]["S"]))
                    if formula_id in partial:
                        partial[formula_id] = EXACT.add(partial[formula_id], shared)
                    elif formula_id not in dropped:
                        total_b = Decimal(item["t"]["S"])
                        if formula_id == exclude or not can_reach(total_b, total_a, total_b, threshold):
                            dropped.add(formula_id)
                        else:
                            partial[formula_id], totals[formula_id] = shared, total_b
        survivors = [
            formula_id
            for formula_id, shared in partial.items()
            if can_reach(EXACT.add(shared, unread), total_a, totals[formula_id], threshold)
        ]
        matches = []
        formulas, reads = self._formulas(owner, survivors)
        for item in formulas:
            materials = item["materials"]["L"]
            b = makeup_of((m["M"]["name"]["S"], Decimal(m["M"]["concentration"]["S"])) for m in materials)
            exact, count = shared_weight(makeup, b.items())
            value = ratio(exact, total_a, total_concentration(b.values()))
            if value >= threshold:
                matches.append(SimilarMatch(item["id"]["S"], item["name"]["S"], value, count))
        matches.sort(key=lambda match: (-match.similarity, match.id))
        return QueryCost(matches[:limit], postings, len(formulas), calls + reads)

    def _postings(self, owner: str, key: str) -> Any:
        """The pages of one material's postings (a strongly consistent Query, paginated)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": tables.PK},
            "ExpressionAttributeValues": {":pk": {"S": tables.posting_partition(owner, key)}},
            "ConsistentRead": True,
        }
        try:
            while True:
                response = self._client.query(**request)
                yield response["Items"]
                if "LastEvaluatedKey" not in response:
                    return
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except _BOTO_ERRORS as exc:
            raise _unavailable(exc) from exc

    def _formulas(self, owner: str, formula_ids: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
        """The formula items of ``formula_ids`` (BatchGetItem, 100 a call) and how many calls it took."""
        found: list[dict[str, Any]] = []
        calls = 0
        for start in range(0, len(formula_ids), _READ_BATCH):
            keys = [tables.formula_key(owner, i) for i in formula_ids[start : start + _READ_BATCH]]
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "id, #name, materials",
                    "ExpressionAttributeNames": {"#name": "name"},
                }
            }
            retries = self._backoff.retries()
            try:
                while True:
                    response = self._client.batch_get_item(RequestItems=pending)
                    calls += 1
                    found.extend(response["Responses"].get(self._table, []))
                    pending = response.get("UnprocessedKeys") or {}
                    if not pending:
                        break
                    if next(retries, None) is None:
                        raise InfrastructureError("The similarity index is throttling reads; retry.")
            except _BOTO_ERRORS as exc:
                raise _unavailable(exc) from exc
        return found, calls
