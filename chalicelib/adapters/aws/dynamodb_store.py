"""Formulas in DynamoDB: one transaction stores a submission, its make-up guards and its outbox.

Items: a formula and its make-up guard (`chalicelib.adapters.aws.formula_items` writes and reads
them; the layout of the whole table is in `chalicelib.adapters.aws.tables`).

`DynamoFormulaStore.commit_submission` writes ONE ``TransactWriteItems``
(`chalicelib.adapters.aws.submission_transaction`): the formulas, their make-up guards (which make
uniqueness by make-up the database's job: two racing submissions of the same make-up cannot both
commit), the outbox item with all the submission's messages, and the Idempotency-Key's
completion. A cancelled transaction becomes `DuplicateFormula`, `RequestInProgress` or, after
retries, `InfrastructureError` (that module says which, and when it retries).

Once the transaction has committed, the store hands the messages to its `OutboxRelay` (when it
was given a queue), which publishes them and deletes the outbox item; the transaction wrote the
item already leased to this request, so no stream relay is invoked for it meanwhile. A failed
publish gives the lease back, which invokes the stream relay (`tables.STREAM_FILTER_PATTERN`);
a request that dies leaves the item to the sweeper. The caller sees one unit of work, as with
the in-memory store.

A transaction holds at most 100 actions, which is why the domain's `MAX_BATCH` (the one batch
limit on every backend) is 49; ``docs/api.md`` ("Batches") has the arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.backoff import Sleep
from chalicelib.adapters.aws.formula_items import near_duplicates_value, record_of
from chalicelib.adapters.aws.outbox import DynamoOutbox
from chalicelib.adapters.aws.relay import MessageSender, OutboxRelay
from chalicelib.adapters.aws.submission_transaction import SubmissionTransaction, unavailable
from chalicelib.clock import Clock
from chalicelib.domain import MAX_BATCH
from chalicelib.errors import (
    NotFound,
)
from chalicelib.ports.outbox import OutboxItem
from chalicelib.ports.store import (
    STATUS_FAILED,
    STATUS_PROCESSED,
    FormulaRecord,
    FormulaStore,
    IdempotencyCompletion,
    NearDuplicate,
    OutboundMessage,
    Page,
    StatusChange,
)

_BOTO_ERRORS = (ClientError, BotoCoreError)


class DynamoFormulaStore:
    """`FormulaStore` on the single table, plus the outbox the relay drains."""

    MAX_BATCH = MAX_BATCH
    """Formulas per transaction: the domain's batch limit, chosen so that a batch fits one."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Clock | None = None,
        outbox_shards: int = 4,
        queue: MessageSender | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        """``client``: a low-level boto3 DynamoDB client (None: one from the environment).

        ``queue``: where committed messages are published (None: they wait in the outbox for a
        relay elsewhere, as in tests of the store alone). ``sleep`` pauses between retries of a
        cancelled transaction or unprocessed reads (tests pass a fake clock's ``advance``).
        """
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._clock = clock or time.time
        self.outbox = DynamoOutbox(client, table_name, shards=outbox_shards)
        self._transaction = SubmissionTransaction(client, table_name, self.outbox, self._clock, sleep=sleep)
        self.relay = None if queue is None else OutboxRelay(self.outbox, queue, self._clock)

    def commit_submission(
        self,
        owner: str,
        records: Sequence[FormulaRecord],
        messages: Sequence[OutboundMessage],
        completion: IdempotencyCompletion | None,
    ) -> None:
        lease = None if self.relay is None or not messages else self.relay.new_lease_token()
        self._transaction.write(owner, records, messages, completion, lease)
        if self.relay is not None and lease is not None:
            self.relay.publish_pending(messages, lease)

    def get(self, owner: str, formula_id: str) -> FormulaRecord | None:
        item = self._get_item(tables.formula_key(owner, formula_id))
        return None if item is None else record_of(item)

    def find_by_fingerprint(self, owner: str, fingerprint: str) -> FormulaRecord | None:
        guard = self._get_item(tables.guard_key(owner, fingerprint))
        return None if guard is None else self.get(owner, guard["formula_id"]["S"])

    def list(self, owner: str, *, limit: int, after: str | None, status: str | None) -> Page:
        """A page of the owner's partition, or of the status index: reads ``limit + 1`` items.

        The status index is a global secondary index, which DynamoDB updates within about a
        second of the write and cannot read consistently: a status listing may lag a status
        change by that much (the plain listing and ``get`` read consistently).
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        request: dict[str, Any] = {"TableName": self._table}
        if status is None:
            request["KeyConditionExpression"] = "#pk = :pk AND begins_with(#sk, :prefix)"
            request["ExpressionAttributeNames"] = {"#pk": tables.PK, "#sk": tables.SK}
            request["ExpressionAttributeValues"] = {
                ":pk": {"S": tables.owner_key(owner)},
                ":prefix": {"S": tables.FORMULA_PREFIX},
            }
            request["ConsistentRead"] = True
        else:
            request["IndexName"] = tables.STATUS_INDEX
            request["KeyConditionExpression"] = "#spk = :spk"
            request["ExpressionAttributeNames"] = {"#spk": tables.STATUS_PK}
            request["ExpressionAttributeValues"] = {":spk": {"S": tables.status_key(owner, status)}}
        if after is not None:
            request["ExclusiveStartKey"] = tables.formula_key(owner, after)
            if status is not None:
                request["ExclusiveStartKey"][tables.STATUS_PK] = {"S": tables.status_key(owner, status)}
        items: list[FormulaRecord] = []
        try:
            while len(items) <= limit:
                request["Limit"] = limit + 1 - len(items)
                response = self._client.query(**request)
                items.extend(record_of(raw) for raw in response["Items"])
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except _BOTO_ERRORS as exc:
            raise unavailable(exc) from exc
        page = items[:limit]
        return Page(tuple(page), page[-1].id if len(items) > limit else None)

    def mark_processed(self, owner: str, formula_id: str, *, at: float, attempts: int = 1) -> StatusChange:
        return self._set_status(
            owner,
            formula_id,
            "SET #status = :new, #spk = :spk, processed_at = :at, attempts = :attempts REMOVE last_error",
            {
                ":new": {"S": STATUS_PROCESSED},
                ":spk": {"S": tables.status_key(owner, STATUS_PROCESSED)},
                ":at": tables.number(at),
                ":attempts": {"N": str(attempts)},
            },
        )

    def mark_failed(
        self, owner: str, formula_id: str, *, error: str, at: float, attempts: int = 1
    ) -> StatusChange:
        return self._set_status(
            owner,
            formula_id,
            "SET #status = :new, #spk = :spk, last_error = :error, attempts = :attempts",
            {
                ":new": {"S": STATUS_FAILED},
                ":spk": {"S": tables.status_key(owner, STATUS_FAILED)},
                ":error": {"S": error},
                ":attempts": {"N": str(attempts)},
            },
        )

    def set_near_duplicates(self, owner: str, formula_id: str, near: Sequence[NearDuplicate]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=tables.formula_key(owner, formula_id),
                UpdateExpression="SET near_duplicates = :near",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": tables.PK},
                ExpressionAttributeValues={":near": near_duplicates_value(near)},
            )
        except _BOTO_ERRORS as exc:
            if tables.error_code(exc) == "ConditionalCheckFailedException":
                raise NotFound(f"No formula {formula_id}.") from None
            raise unavailable(exc) from exc

    def pending_outbox(self, *, limit: int, older_than: float) -> Sequence[OutboxItem]:
        return self.outbox.pending(limit=limit, older_than=older_than)

    def mark_outbox_sent(self, outbox_id: str) -> None:
        self.outbox.mark_sent(outbox_id)

    def _set_status(self, owner: str, formula_id: str, update: str, values: dict[str, Any]) -> StatusChange:
        """Apply ``update`` unless the formula is processed (terminal); NotFound if absent.

        One call either way: the new item comes back from the update, the old one from the
        failed condition. The update moves the item in the status index too (``#spk``).
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=tables.formula_key(owner, formula_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#pk) AND #status <> :processed",
                ExpressionAttributeNames={"#pk": tables.PK, "#status": "status", "#spk": tables.STATUS_PK},
                ExpressionAttributeValues={**values, ":processed": {"S": STATUS_PROCESSED}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _BOTO_ERRORS as exc:
            if tables.error_code(exc) != "ConditionalCheckFailedException":
                raise unavailable(exc) from exc
            if "Item" not in exc.response:
                raise NotFound(f"No formula {formula_id}.") from None
            return StatusChange(False, record_of(exc.response["Item"]))
        return StatusChange(True, record_of(response["Attributes"]))

    def _get_item(self, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        except _BOTO_ERRORS as exc:
            raise unavailable(exc) from exc
        item = response.get("Item")
        return item if isinstance(item, dict) else None


if TYPE_CHECKING:

    def _is_a_formula_store(store: DynamoFormulaStore) -> FormulaStore:
        return store
