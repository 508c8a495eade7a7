"""The DynamoDB outbox: one item per committed submission, holding the messages to publish.

Item (``pk = OUTBOX#<shard>``, ``sk = <outbox id>``; the id is the submission's first message
id, ``evt_<ulid>``, so items sort by creation within a shard)::

    kind           "outbox"
    outbox_id      S  the sort key again, for stream consumers
    owner          S
    created_at     N  epoch seconds when the submission was committed
    message_count  N
    messages       S  JSON (`chalicelib.jsonio.dumps`, exact decimals):
                      [{"message_id": "...", "body": {...}}, ...]
    lease_owner    S? the relay publishing the item now (a random token)
    lease_until    N? epoch seconds; after this the lease is free to take again

**Leases.** A relay publishes an item only while it holds its lease: `claim` is ONE conditional
``UpdateItem`` that succeeds only when the item exists and no live lease is on it, so the inline
relay, the stream relay and the sweeper never publish the same item at the same time on purpose.
The submission's transaction writes the item already leased to the request that committed it
(which publishes it right away); a relay that fails releases its lease (`release`), which is
what invokes the stream relay (`tables.STREAM_FILTER_PATTERN`; the stream relay itself keeps
the lease when it fails), and one that dies lets it expire after `LEASE_SECONDS`, longer than
any function's timeout. Duplicates remain
possible (a lease that expires while its holder still runs, a crash between send and delete)
and stay harmless: consumers are idempotent on the formula.

The item is written by the submission's transaction (`put_action`) and deleted once every
message was sent (`mark_sent`), so the OUTBOX partitions hold only the backlog and `pending` is
a Query of them, never a Scan. Items are spread over ``shards`` partitions by a hash of the id,
so a burst of submissions does not queue up behind one partition's write limit; every reader
must use the same shard count (raise it only, never lower it: a lowered count strands items).

Message bodies are kept as JSON text rather than DynamoDB maps because DynamoDB trims leading
and trailing zeros of numbers ("12.50" would come back as "12.5").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import jsonio
from chalicelib.adapters.aws import tables
from chalicelib.errors import InfrastructureError, PayloadTooLarge
from chalicelib.ports.outbox import OutboxItem, outbox_id_for
from chalicelib.ports.store import OutboundMessage

MAX_MESSAGE_BYTES = 262_144
"""SQS's limit on a message body (256 KiB of UTF-8): a bigger one could never be relayed."""

LEASE_SECONDS = 30
"""How long a claimed item stays reserved: longer than the 25 s function timeout of any relay."""

_BOTO_ERRORS = (ClientError, BotoCoreError)
_CLAIMABLE = "attribute_exists(#pk) AND (attribute_not_exists(#until) OR #until <= :now)"
_LEASE_NAMES = {"#pk": tables.PK, "#owner": tables.OUTBOX_LEASE_OWNER, "#until": "lease_until"}


class DynamoOutbox:
    """Pending outbox items on the single table (see `chalicelib.adapters.aws.tables`)."""

    def __init__(self, client: Any, table_name: str, *, shards: int = 4) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self._client = client
        self._table = table_name
        self._shards = shards

    def partition(self, outbox_id: str) -> str:
        digest = hashlib.sha256(outbox_id.encode("utf-8")).digest()
        return f"{tables.OUTBOX_PREFIX}{int.from_bytes(digest[:4], 'big') % self._shards}"

    def put_action(
        self,
        owner: str,
        messages: Sequence[OutboundMessage],
        *,
        created_at: float,
        lease_owner: str | None = None,
    ) -> dict[str, Any]:
        """The ``Put`` of the outbox item for a submission's ``TransactWriteItems``.

        With ``lease_owner`` the item is written already claimed by it (the committing request,
        which publishes it next). Raises `PayloadTooLarge` for a message body SQS would refuse,
        before anything is written.
        """
        parts = []
        for message in messages:
            body = jsonio.dumps(message.body)
            if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
                raise PayloadTooLarge(
                    f"Message {message.message_id} is larger than {MAX_MESSAGE_BYTES} bytes.",
                    limit_bytes=MAX_MESSAGE_BYTES,
                )
            parts.append(f'{{"message_id":{jsonio.dumps(message.message_id)},"body":{body}}}')
        outbox_id = outbox_id_for(messages)
        lease: dict[str, Any] = {}
        if lease_owner is not None:
            lease = {
                tables.OUTBOX_LEASE_OWNER: {"S": lease_owner},
                "lease_until": tables.number(created_at + LEASE_SECONDS),
            }
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **lease,
                    tables.PK: {"S": self.partition(outbox_id)},
                    tables.SK: {"S": outbox_id},
                    "kind": {"S": "outbox"},
                    "outbox_id": {"S": outbox_id},
                    "owner": {"S": owner},
                    "created_at": {"N": str(Decimal(repr(created_at)))},
                    "message_count": {"N": str(len(parts))},
                    "messages": {"S": "[" + ",".join(parts) + "]"},
                },
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": tables.PK},
            }
        }

    def pending(self, *, limit: int, older_than: float) -> list[OutboxItem]:
        """Up to ``limit`` pending items created at or before ``older_than``, oldest first."""
        found: list[OutboxItem] = []
        for shard in range(self._shards):
            found.extend(self._pending_in(f"{tables.OUTBOX_PREFIX}{shard}", limit, older_than))
        found.sort(key=lambda item: (item.created_at, item.outbox_id))
        return found[:limit]

    def get(self, outbox_id: str) -> OutboxItem | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=self._key(outbox_id), ConsistentRead=True
            )
        except _BOTO_ERRORS as exc:
            raise InfrastructureError("The outbox is unavailable.") from exc
        item = response.get("Item")
        return None if item is None else decode_image(item)

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        """Take the item's lease for ``token`` until ``now + LEASE_SECONDS``.

        False if the item is gone (sent) or another relay holds a live lease on it.
        """
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(outbox_id),
                UpdateExpression="SET #owner = :token, #until = :until",
                ConditionExpression=_CLAIMABLE,
                ExpressionAttributeNames=_LEASE_NAMES,
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":until": tables.number(now + LEASE_SECONDS),
                    ":now": tables.number(now),
                },
            )
        except _BOTO_ERRORS as exc:
            if tables.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise InfrastructureError("The outbox is unavailable.") from exc
        return True

    def release(self, outbox_id: str, token: str) -> None:
        """Give the lease back if ``token`` still holds it, so the next relay may retry at once."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(outbox_id),
                UpdateExpression="REMOVE #owner, #until",
                ConditionExpression="#owner = :token",
                ExpressionAttributeNames={"#owner": tables.OUTBOX_LEASE_OWNER, "#until": "lease_until"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except _BOTO_ERRORS as exc:
            if tables.error_code(exc) != "ConditionalCheckFailedException":
                raise InfrastructureError("The outbox is unavailable.") from exc

    def mark_sent(self, outbox_id: str) -> None:
        """Delete the item; deleting one that is already gone is a no-op."""
        try:
            self._client.delete_item(TableName=self._table, Key=self._key(outbox_id))
        except _BOTO_ERRORS as exc:
            raise InfrastructureError("The outbox is unavailable.") from exc

    def _key(self, outbox_id: str) -> dict[str, dict[str, str]]:
        return {tables.PK: {"S": self.partition(outbox_id)}, tables.SK: {"S": outbox_id}}

    def _pending_in(self, partition: str, limit: int, older_than: float) -> list[OutboxItem]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "FilterExpression": "created_at <= :cutoff",
            "ExpressionAttributeNames": {"#pk": tables.PK},
            "ExpressionAttributeValues": {
                ":pk": {"S": partition},
                ":cutoff": {"N": str(Decimal(repr(older_than)))},
            },
            "ConsistentRead": True,
        }
        items: list[OutboxItem] = []
        try:
            while len(items) < limit:
                # Oldest first (the sort key is the time-ordered id): read no more than is wanted.
                request["Limit"] = limit - len(items)
                response = self._client.query(**request)
                items.extend(decode_image(raw) for raw in response["Items"])
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except _BOTO_ERRORS as exc:
            raise InfrastructureError("The outbox is unavailable.") from exc
        return items[:limit]


def decode_image(image: dict[str, Any]) -> OutboxItem:
    """An outbox item from its DynamoDB image (a Query result or a stream record's NewImage)."""
    messages = jsonio.loads(image["messages"]["S"])
    return OutboxItem(
        outbox_id=image["outbox_id"]["S"],
        created_at=float(Decimal(image["created_at"]["N"])),
        messages=tuple(OutboundMessage(m["message_id"], m["body"]) for m in messages),
    )
