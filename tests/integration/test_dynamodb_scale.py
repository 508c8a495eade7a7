"""What an owner with many formulas costs on DynamoDB: a status listing reads its page, not the
partition (moto's ConsumedCapacity is a constant, so the items a query reads are counted)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
from chalicelib.adapters.aws.formula_items import formula_item
from chalicelib.clock import FakeClock
from chalicelib.ids import UlidFactory
from chalicelib.ports.store import STATUS_FAILED, STATUS_QUEUED, FormulaRecord, MaterialRecord
from chalicelib.services import views
from tests.integration.aws_dynamo_fixtures import TABLE, aws_credentials, dynamodb_client  # noqa: F401

pytestmark = pytest.mark.aws
OWNER = "alice"
T0 = 1_700_000_000.0
PAGE = 50


class CountingClient:
    """The DynamoDB client, recording what each ``Query`` read: items examined and their bytes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.queries: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        response = self._client.query(**request)
        read = sum(tables.item_size(item) for item in response["Items"])
        self.queries.append((response["ScannedCount"], read))
        return response

    def read_units(self) -> float:
        """Read units of the recorded queries, as DynamoDB bills an eventually consistent query:
        half a unit per 4 KB read, rounded up per query."""
        return sum(math.ceil(size / 4096) * 0.5 for _, size in self.queries)


def fill(client: Any, new_id: UlidFactory, count: int, start: int) -> list[FormulaRecord]:
    records = []
    for number in range(start, start + count):
        formula_id = new_id()
        records.append(
            FormulaRecord(
                id=formula_id,
                owner=OWNER,
                name=f"Formula {number}",
                materials=(
                    MaterialRecord("Bergamot", Decimal("12.50")),
                    MaterialRecord("Musk", Decimal(number)),
                ),
                fingerprint=f"v2:{number}",
                status=STATUS_QUEUED,
                created_at=T0,
                message_id=views.message_id_for(formula_id),
            )
        )
    # The items the store's transaction writes, put 25 at a time: moto copies the whole table
    # for every transaction, which would make filling quadratic.
    for batch in range(0, count, 25):
        writes = [{"PutRequest": {"Item": formula_item(r)}} for r in records[batch : batch + 25]]
        client.batch_write_item(RequestItems={TABLE: writes})
    return records


def test_a_status_page_reads_the_same_items_at_60_and_at_2000_stored(dynamodb_client: Any) -> None:  # noqa: F811
    counting = CountingClient(dynamodb_client)
    store = DynamoFormulaStore(counting, TABLE, clock=FakeClock(T0))
    new_id = UlidFactory(FakeClock(T0))
    figures = []
    stored: list[FormulaRecord] = []
    for size in (60, 2000):
        stored += fill(dynamodb_client, new_id, size - len(stored), len(stored))
        failing = stored[-(PAGE + 1) :]  # the newest: a scan would walk every older formula first
        for record in failing:
            store.mark_failed(OWNER, record.id, error="boom", at=T0)
        counting.queries.clear()
        page = store.list(OWNER, limit=PAGE, after=None, status=STATUS_FAILED)
        assert [r.id for r in page.items] == [r.id for r in failing[:PAGE]]
        assert page.next_after == failing[PAGE - 1].id
        figures.append(([scanned for scanned, _ in counting.queries], counting.read_units()))
        for record in failing:
            store.mark_processed(OWNER, record.id, at=T0)
    # One query, PAGE + 1 items read (the extra one says whether there is a next page), at
    # either size: the read units of a page do not grow with the formulas stored.
    assert figures[0] == figures[1]
    assert figures[0][0] == [PAGE + 1]


DOC = Path(__file__).resolve().parents[2] / "docs" / "dynamodb.md"


def documented_keys() -> list[tuple[str, str]]:
    """The (pk, sk) patterns of the item table and the index table in docs/dynamodb.md."""
    text = DOC.read_text()
    items = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (?:a formula|make-up guard|an Idem|unpub)", text, re.M)
    index = re.findall(rf"^\| `{tables.STATUS_INDEX}` \| `([^`]+)`[^|]*\| `([^`]+)`", text, re.M)
    return items + index


def pattern(text: str) -> re.Pattern[str]:
    """A documented key such as ``OWNER#<owner>`` as a regular expression (``<...>`` = any)."""
    parts = re.split(r"<[^>]+>", text.replace("…", ""))
    return re.compile(".+".join(re.escape(part) for part in parts) + "$")


def test_the_items_a_submission_writes_have_the_documented_keys(dynamodb_client: Any) -> None:  # noqa: F811
    from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
    from chalicelib.ports.store import IdempotencyCompletion, KeyAcquired, OutboundMessage, StoredResponse

    store = DynamoFormulaStore(dynamodb_client, TABLE, clock=FakeClock(T0))
    keys = DynamoIdempotencyStore(dynamodb_client, TABLE)
    begun = keys.begin(OWNER, "key-1", "hash", now=T0, lock_seconds=60)
    assert isinstance(begun, KeyAcquired)
    (record,) = fill(dynamodb_client, UlidFactory(FakeClock(T0)), 1, 0)
    dynamodb_client.delete_item(TableName=TABLE, Key=tables.formula_key(OWNER, record.id))
    done = IdempotencyCompletion(OWNER, "key-1", begun.token, StoredResponse(201, "{}", None), T0 + 60)
    store.commit_submission(OWNER, [record], [OutboundMessage(record.message_id, {"m": 1})], done)
    store.mark_failed(OWNER, record.id, error="boom", at=T0)
    items = dynamodb_client.scan(TableName=TABLE)["Items"]
    documented = documented_keys()
    assert len(documented) == 5
    table_rows, (index_row,) = documented[:4], documented[4:]
    written = sorted((item[tables.PK]["S"], item[tables.SK]["S"]) for item in items)
    assert len(written) == 4  # formula, guard, key, outbox: one item each
    for pk, sk in written:
        assert [row for row in table_rows if pattern(row[0]).match(pk) and pattern(row[1]).match(sk)], (
            pk,
            sk,
        )
    (formula,) = [item for item in items if item[tables.SK]["S"].startswith(tables.FORMULA_PREFIX)]
    assert pattern(index_row[0]).match(formula[tables.STATUS_PK]["S"])
    assert formula[tables.STATUS_PK]["S"] == f"STATUS#failed#OWNER#{OWNER}"
    assert pattern(index_row[1]).match(formula[tables.SK]["S"])
    assert [item for item in items if tables.STATUS_PK in item] == [formula]  # the index is sparse
