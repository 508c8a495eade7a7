"""The DynamoDB table of the AWS backend: one definition for tests, local runs and the template.

One table holds every item (single-table design). A submission's formulas, make-up guards,
outbox item and Idempotency-Key completion are written by ONE ``TransactWriteItems``; that
works across tables too, but one table also gives one stream (the outbox relay's trigger), one
TTL setting (only idempotency items carry ``expires_at``, so nothing else ever expires), and one
resource to back up, grant and render into the template.

Item layout (``pk`` / ``sk`` are strings; ``<owner>`` is the caller's owner id)::

    pk                      sk                  item
    OWNER#<owner>           FORMULA#<ulid>      a formula (ids are ULIDs: sk order = creation order)
    FINGERPRINT#<v2:...>    OWNER#<owner>       make-up guard {formula_id}; it exists = make-up taken
    IDEMPOTENCY#<key>       OWNER#<owner>       an Idempotency-Key: state, token, lock, response, TTL
    OUTBOX#<shard>          <outbox id>         the messages of one submission not yet published
    POSTING#<n>#<owner>#<material key>  <formula id>  a similarity posting (`similarity`); n = len(owner)

The status index is a sparse global secondary index, `STATUS_INDEX`: only formula items carry
its key ``status_pk`` = ``STATUS#<status>#OWNER#<owner>`` (written with the formula and changed
by the same ``UpdateItem`` that changes its status), and its sort key is the table's ``sk``
(``FORMULA#<ulid>``), so a status listing is one ``Query`` reading the page and nothing else.

Only formulas share a partition per owner, because listing needs them in one ordered range.
Guards and keys are looked up one by one, so each gets its own partition: their writes spread
over the table instead of adding to the owner's partition (DynamoDB serves about 1,000 write
units a second per partition). An owner or key is always a whole key component after a fixed
prefix, so no character in it can make two different keys collide.

The attributes of each item are documented in the adapter that writes it
(`dynamodb_store`, `dynamodb_idempotency`, `outbox`). The stream carries NEW_IMAGE of every
write; the relay's event source keeps only the outbox items no relay holds
(`STREAM_FILTER_PATTERN`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.errors import PayloadTooLarge

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"

OWNER_PREFIX = "OWNER#"
FORMULA_PREFIX = "FORMULA#"
FINGERPRINT_PREFIX = "FINGERPRINT#"
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
OUTBOX_PREFIX = "OUTBOX#"
STATUS_PREFIX = "STATUS#"

STATUS_INDEX = "by-status"
STATUS_PK = "status_pk"

_ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": PK, "AttributeType": "S"},
    {"AttributeName": SK, "AttributeType": "S"},
    {"AttributeName": STATUS_PK, "AttributeType": "S"},
]
_KEY_SCHEMA = [
    {"AttributeName": PK, "KeyType": "HASH"},
    {"AttributeName": SK, "KeyType": "RANGE"},
]
_GLOBAL_SECONDARY_INDEXES = [
    {
        "IndexName": STATUS_INDEX,
        "KeySchema": [
            {"AttributeName": STATUS_PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
]

OUTBOX_LEASE_OWNER = "lease_owner"
"""The outbox item's attribute naming the relay that holds it (`chalicelib.adapters.aws.outbox`)."""

STREAM_FILTER_PATTERN: dict[str, Any] = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {
        "NewImage": {
            PK: {"S": [{"prefix": OUTBOX_PREFIX}]},
            OUTBOX_LEASE_OWNER: {"S": [{"exists": False}]},
        }
    },
}
"""Lambda event-source filter: an outbox item reaches the stream relay when a write leaves it held
by no relay: a relay that failed gave its lease back (MODIFY), or it was committed without one
(INSERT). The request's own leased insert, a claim and a delete invoke nothing. (``exists``
tests a leaf, so it names the attribute's ``S``.)"""


def create_table_kwargs(table_name: str) -> dict[str, Any]:
    """Arguments of the DynamoDB ``CreateTable`` API call for the table (TTL is a separate call)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [dict(a) for a in _ATTRIBUTE_DEFINITIONS],
        "KeySchema": [dict(k) for k in _KEY_SCHEMA],
        "GlobalSecondaryIndexes": _global_secondary_indexes(),
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    }


def _global_secondary_indexes() -> list[dict[str, Any]]:
    """Fresh copies of the index definitions (callers may change what they get)."""
    return json.loads(json.dumps(_GLOBAL_SECONDARY_INDEXES))  # type: ignore[no-any-return]


def cloudformation_properties(table_name: str | None = None) -> dict[str, Any]:
    """The ``Properties`` of an ``AWS::DynamoDB::Table`` resource (leave the name to CloudFormation)."""
    properties: dict[str, Any] = {
        "AttributeDefinitions": [dict(a) for a in _ATTRIBUTE_DEFINITIONS],
        "KeySchema": [dict(k) for k in _KEY_SCHEMA],
        "GlobalSecondaryIndexes": _global_secondary_indexes(),
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    if table_name is not None:
        properties["TableName"] = table_name
    return properties


def stream_filter_criteria() -> dict[str, Any]:
    """The ``FilterCriteria`` of the stream event source (each pattern is a JSON string)."""
    return {"Filters": [{"Pattern": json.dumps(STREAM_FILTER_PATTERN, separators=(",", ":"))}]}


def create_tables(dynamodb_client: Any, names: Iterable[str]) -> list[str]:
    """Create each named table (skipping ones that exist), wait until active, enable TTL.

    For tests (moto) and ``make run-aws-local``; deployed stages get the table from the template.
    """
    created = []
    for name in names:
        try:
            dynamodb_client.create_table(**create_table_kwargs(name))
        except dynamodb_client.exceptions.ResourceInUseException:
            continue
        dynamodb_client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        dynamodb_client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        )
        created.append(name)
    return created


def owner_key(owner: str) -> str:
    """The partition key of an owner's formulas (and the sort key of its guards and keys)."""
    return OWNER_PREFIX + owner


def formula_key(owner: str, formula_id: str) -> dict[str, dict[str, str]]:
    return {PK: {"S": owner_key(owner)}, SK: {"S": FORMULA_PREFIX + formula_id}}


def status_key(owner: str, status: str) -> str:
    """The status index's partition key of an owner's formulas that have ``status``."""
    return f"{STATUS_PREFIX}{status}#{owner_key(owner)}"


def guard_key(owner: str, fingerprint: str) -> dict[str, dict[str, str]]:
    return {PK: {"S": FINGERPRINT_PREFIX + fingerprint}, SK: {"S": owner_key(owner)}}


def idempotency_key(owner: str, key: str) -> dict[str, dict[str, str]]:
    return {PK: {"S": IDEMPOTENCY_PREFIX + key}, SK: {"S": owner_key(owner)}}


POSTING_PREFIX = "POSTING#"


def posting_partition(owner: str, material_key: str) -> str:
    """The partition of an owner's postings of one material (owner length first: no collisions)."""
    return f"{POSTING_PREFIX}{len(owner)}#{owner}#{material_key}"


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code of a botocore ``ClientError`` (None for any other error)."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None


MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's limit on one item (attribute names included)."""

MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit on the aggregate size of the items in one ``TransactWriteItems``."""


def attribute_size(value: dict[str, Any]) -> int:
    """An upper bound of what DynamoDB counts for one attribute value (numbers as their text)."""
    ((kind, raw),) = value.items()
    if kind in ("S", "N"):
        return len(raw.encode("utf-8"))
    if kind == "B":
        return len(raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + item_size({k: v}) for k, v in raw.items())
    if kind in ("SS", "NS"):
        return sum(len(v.encode("utf-8")) for v in raw)
    return 1


def item_size(item: dict[str, Any]) -> int:
    """An upper bound of an item's size as DynamoDB counts it (names plus values)."""
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def action_size(action: dict[str, Any]) -> int:
    """The bytes a ``TransactWriteItems`` action writes (an Update's: its key plus new values)."""
    ((kind, body),) = action.items()
    if kind == "Put":
        return item_size(body["Item"])
    values = body.get("ExpressionAttributeValues", {})
    return item_size(body["Key"]) + sum(attribute_size(v) for v in values.values())


def check_transaction_size(actions: list[dict[str, Any]]) -> None:
    """Refuse, as the client error it is, a transaction DynamoDB would reject for its size."""
    sizes = [action_size(action) for action in actions]
    if max(sizes) > MAX_ITEM_BYTES:
        raise PayloadTooLarge(
            f"The submission is too large to store: one of its items would be {max(sizes)} bytes.",
            limit_bytes=MAX_ITEM_BYTES,
        )
    if sum(sizes) > MAX_TRANSACTION_BYTES:
        raise PayloadTooLarge(
            f"The submission is too large to store in one transaction ({sum(sizes)} bytes).",
            limit_bytes=MAX_TRANSACTION_BYTES,
        )


def number(value: float) -> dict[str, str]:
    """A time or count as a DynamoDB number attribute, written from its shortest exact text."""
    return {"N": str(Decimal(repr(value)))}
