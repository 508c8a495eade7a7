"""Idempotency keys in DynamoDB: one item per (owner, key), taken with a conditional write.

Item (``pk = IDEMPOTENCY#<key>``, ``sk = OWNER#<owner>``)::

    kind               "idempotency"
    request_hash       S  digest of the request body the key was first used with
    token              S  random id of the request holding the lock
    state              S  "in_progress" | "completed"
    locked_until       N  epoch seconds; an in-progress lock older than this is abandoned
    expires_at         N  whole epoch seconds (the table's TTL attribute)
    response_status    N  \\
    response_body      S   } the answer to replay, once completed
    response_location  S  /  (absent when the response has no Location)

``begin`` is ONE conditional ``PutItem`` that succeeds when the key is free: no item, an expired
item, or an abandoned lock of the same request. When the condition fails, the item that made it
fail comes back in the error (``ReturnValuesOnConditionCheckFailure=ALL_OLD``, no second read)
and tells which answer applies. ``TransactionConflictException`` means another request's
transaction is completing the key right now: that request holds it, so the answer is
`RequestInProgress` (409), as for any key still in progress. Completion is not written here but
inside the submission's transaction (`completion_update`), conditioned on the token still
holding the lock.

DynamoDB's TTL deletes expired items lazily (typically within two days), so every decision also
treats ``expires_at <= now`` as absent. ``expires_at`` is rounded UP to whole seconds because
TTL expects an integer epoch time: a key may outlive its exact expiry by under a second.
"""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import tables
from chalicelib.errors import IdempotencyKeyReused, InfrastructureError, RequestInProgress
from chalicelib.ports.store import (
    IdempotencyCompletion,
    IdempotencyStore,
    KeyAcquired,
    KeyCompleted,
    StoredResponse,
)

IN_PROGRESS = "in_progress"
COMPLETED = "completed"

_NAMES = {
    "#pk": tables.PK,
    "#state": "state",
    "#token": "token",
    "#hash": "request_hash",
    "#locked": "locked_until",
    "#expires": tables.TTL_ATTRIBUTE,
}
_FREE = (
    "attribute_not_exists(#pk) OR #expires <= :now"
    " OR (#state = :in_progress AND #locked <= :now AND #hash = :hash)"
)
_ATTEMPTS = 3
_BOTO_ERRORS = (ClientError, BotoCoreError)


def ttl_value(expires_at: float) -> int:
    """The TTL value stored for an exact expiry time."""
    return math.ceil(expires_at)


def completion_update(table_name: str, completion: IdempotencyCompletion) -> dict[str, Any]:
    """The ``Update`` action that completes a key, for the submission's ``TransactWriteItems``.

    It fails (and with it the whole transaction) unless ``completion.token`` still holds the key.
    """
    values: dict[str, Any] = {
        ":completed": {"S": COMPLETED},
        ":in_progress": {"S": IN_PROGRESS},
        ":token": {"S": completion.token},
        ":status": {"N": str(completion.response.status)},
        ":body": {"S": completion.response.body},
        ":exp": {"N": str(ttl_value(completion.expires_at))},
    }
    update = "SET #state = :completed, response_status = :status, response_body = :body, #expires = :exp"
    if completion.response.location is not None:
        values[":location"] = {"S": completion.response.location}
        update += ", response_location = :location"
    return {
        "Update": {
            "TableName": table_name,
            "Key": tables.idempotency_key(completion.owner, completion.key),
            "UpdateExpression": update + " REMOVE #locked",
            "ConditionExpression": "#token = :token AND #state = :in_progress",
            "ExpressionAttributeNames": {k: _NAMES[k] for k in ("#state", "#token", "#locked", "#expires")},
            "ExpressionAttributeValues": values,
        }
    }


class DynamoIdempotencyStore:
    """`IdempotencyStore` on the single table (see `chalicelib.adapters.aws.tables`)."""

    def __init__(self, client: Any, table_name: str, *, ttl_seconds: int = 24 * 3600) -> None:
        """``client``: a low-level boto3 DynamoDB client (None: one from the environment)."""
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds

    def begin(
        self, owner: str, key: str, request_hash: str, *, now: float, lock_seconds: int
    ) -> KeyAcquired | KeyCompleted:
        for _ in range(_ATTEMPTS):
            token = uuid.uuid4().hex
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **tables.idempotency_key(owner, key),
                        "kind": {"S": "idempotency"},
                        "request_hash": {"S": request_hash},
                        "token": {"S": token},
                        "state": {"S": IN_PROGRESS},
                        "locked_until": tables.number(now + lock_seconds),
                        tables.TTL_ATTRIBUTE: {"N": str(ttl_value(now + self._ttl))},
                    },
                    ConditionExpression=_FREE,
                    ExpressionAttributeNames={k: v for k, v in _NAMES.items() if k in _FREE},
                    ExpressionAttributeValues={
                        ":now": tables.number(now),
                        ":in_progress": {"S": IN_PROGRESS},
                        ":hash": {"S": request_hash},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return KeyAcquired(token)
            except _BOTO_ERRORS as exc:
                code = tables.error_code(exc)
                if code == "TransactionConflictException":
                    raise RequestInProgress(
                        "Another request with this Idempotency-Key is being committed."
                    ) from exc
                if code != "ConditionalCheckFailedException":
                    raise InfrastructureError("The idempotency store is unavailable.") from exc
                held = _holder(exc)
            answer = None if held is None else _answer(held, request_hash, now)
            if answer is not None:
                return answer
        raise InfrastructureError("The Idempotency-Key kept changing while it was being taken.")

    def release(self, owner: str, key: str, token: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=tables.idempotency_key(owner, key),
                ConditionExpression="#token = :token AND #state = :in_progress",
                ExpressionAttributeNames={"#token": "token", "#state": "state"},
                ExpressionAttributeValues={":token": {"S": token}, ":in_progress": {"S": IN_PROGRESS}},
            )
        except _BOTO_ERRORS as exc:
            if tables.error_code(exc) != "ConditionalCheckFailedException":
                raise InfrastructureError("The idempotency store is unavailable.") from exc


def _holder(exc: Exception) -> dict[str, Any] | None:
    item = getattr(exc, "response", {}).get("Item")
    return item if isinstance(item, dict) else None


def _answer(item: dict[str, Any], request_hash: str, now: float) -> KeyCompleted | None:
    """The answer for a key held by ``item`` (raised if an error); None if it is free after all."""
    if Decimal(item[tables.TTL_ATTRIBUTE]["N"]) <= Decimal(repr(now)):
        return None
    if item["request_hash"]["S"] != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body.")
    if item["state"]["S"] == COMPLETED:
        location = item.get("response_location", {}).get("S")
        return KeyCompleted(
            StoredResponse(int(item["response_status"]["N"]), item["response_body"]["S"], location)
        )
    locked_until = float(Decimal(item["locked_until"]["N"]))
    if locked_until > now:
        raise RequestInProgress(retry_after=max(1, min(5, int(locked_until - now))))
    return None


if TYPE_CHECKING:

    def _is_an_idempotency_store(store: DynamoIdempotencyStore) -> IdempotencyStore:
        return store
