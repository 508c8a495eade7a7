"""A submission's one ``TransactWriteItems``, and what its cancellation means.

Per formula a ``Put`` of the formula item and one of its make-up guard, both conditioned on
``attribute_not_exists(pk)``; one ``Put`` of the outbox item with all the submission's messages;
with an Idempotency-Key, the ``Update`` completing it, conditioned on the lock token. A cancelled
transaction is explained from its CancellationReasons: a failed guard -> `DuplicateFormula`
(every conflicting index, read back from the guards), the key's condition -> `RequestInProgress`
(lock lost). When every reason is ``TransactionConflict`` (another transaction touched the same
items), a throttle or ``None``, nothing was written and the transaction is retried with jittered
backoff (`chalicelib.adapters.aws.backoff`) for up to `TRANSACTION_RETRY_SECONDS`; then, and for
anything else, `InfrastructureError` (503, Retry-After).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import tables
from chalicelib.adapters.aws.backoff import Backoff, Sleep
from chalicelib.adapters.aws.dynamodb_idempotency import completion_update
from chalicelib.adapters.aws.formula_items import formula_item, guard_item
from chalicelib.adapters.aws.outbox import DynamoOutbox
from chalicelib.clock import Clock
from chalicelib.domain import MAX_BATCH
from chalicelib.errors import Conflict, DuplicateFormula, InfrastructureError, RequestInProgress
from chalicelib.ports.store import FormulaRecord, IdempotencyCompletion, OutboundMessage

_BOTO_ERRORS = (ClientError, BotoCoreError)
_ABSENT = "attribute_not_exists(#pk)"
_RETRYABLE_REASONS = frozenset(
    {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
"""Cancellation reasons that mean "try again": a cancelled transaction wrote nothing."""
TRANSACTION_RETRY_SECONDS = 2.0
"""How long a submission keeps retrying a transaction cancelled by conflicts or throttling."""
READ_RETRY_SECONDS = 2.0
"""How long the read-back of conflicting guards keeps retrying unprocessed keys."""


def unavailable(exc: BaseException) -> InfrastructureError:
    """The store's error for a DynamoDB call that failed (503)."""
    return InfrastructureError(f"The formula store is unavailable ({tables.error_code(exc) or exc}).")


class SubmissionTransaction:
    """Writes a submission in one transaction on the table (`DynamoFormulaStore` owns one)."""

    def __init__(self, client: Any, table: str, outbox: DynamoOutbox, clock: Clock, *, sleep: Sleep) -> None:
        self._client = client
        self._table = table
        self._outbox = outbox
        self._clock = clock
        self._transaction_backoff = Backoff(TRANSACTION_RETRY_SECONDS, clock=clock, sleep=sleep)
        self._read_backoff = Backoff(READ_RETRY_SECONDS, clock=clock, sleep=sleep)

    def write(
        self,
        owner: str,
        records: Sequence[FormulaRecord],
        messages: Sequence[OutboundMessage],
        completion: IdempotencyCompletion | None,
        lease: str | None = None,
    ) -> None:
        """Write the submission, its outbox item (leased to ``lease``) and its key's completion."""
        if len(records) > MAX_BATCH:  # the domain's batch limit, chosen so that a batch fits one
            raise ValueError(f"at most {MAX_BATCH} formulas fit in one transaction, got {len(records)}")
        actions: list[dict[str, Any]] = []
        kinds: list[str] = []
        for record in records:
            actions += [self._put(formula_item(record)), self._put(guard_item(record))]
            kinds += ["formula", "guard"]
        if messages:
            actions.append(
                self._outbox.put_action(owner, messages, created_at=self._clock(), lease_owner=lease)
            )
            kinds.append("outbox")
        if completion is not None:
            actions.append(completion_update(self._table, completion))
            kinds.append("key")
        if not actions:
            return
        tables.check_transaction_size(actions)
        try:
            self._transact(actions)
        except _BOTO_ERRORS as exc:
            reasons = _cancellation_reasons(exc)
            failed = {
                kind for kind, code in zip(kinds, reasons, strict=False) if code == "ConditionalCheckFailed"
            }
            if not failed:
                raise InfrastructureError(f"The transaction was cancelled: {reasons}.") from exc
            holders = _read_guards(self._client, self._table, owner, records, self._read_backoff)
            if records and all(holders.get(r.fingerprint) == r.id for r in records):
                return  # an earlier attempt of this very transaction committed; its answer was lost
            conflicts = [
                Conflict(index=i, fingerprint=r.fingerprint, existing_id=holders[r.fingerprint])
                for i, r in enumerate(records)
                if holders.get(r.fingerprint, r.id) != r.id
            ]
            if conflicts:
                raise DuplicateFormula(conflicts) from exc
            if "key" in failed:
                raise RequestInProgress(
                    "The Idempotency-Key lock expired and was taken by another request."
                ) from exc
            raise InfrastructureError(f"An id is already in use ({sorted(failed)}).") from exc

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """Run the transaction, retrying it while every cancellation reason says "try again".

        Raises the cancellation (`ClientError`) for the caller to explain, and `InfrastructureError`
        for any other failure or when the retry budget is spent.
        """
        retries = self._transaction_backoff.retries()
        while True:
            try:
                self._client.transact_write_items(TransactItems=actions)
                return
            except _BOTO_ERRORS as exc:
                if tables.error_code(exc) != "TransactionCanceledException":
                    raise unavailable(exc) from exc
                if not set(_cancellation_reasons(exc)) <= _RETRYABLE_REASONS:
                    raise
                if next(retries, None) is None:
                    raise InfrastructureError(
                        "The formula store kept cancelling the transaction "
                        f"({sorted(set(_cancellation_reasons(exc)))}); retry."
                    ) from exc

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": _ABSENT,
                "ExpressionAttributeNames": {"#pk": tables.PK},
            }
        }


def _cancellation_reasons(exc: BaseException) -> list[str]:
    """The code of each action's cancellation reason, in order ("None": that action was fine)."""
    if tables.error_code(exc) != "TransactionCanceledException":
        return []
    response = getattr(exc, "response", {})
    return [str(reason.get("Code", "None")) for reason in response.get("CancellationReasons", [])]


def _read_guards(
    client: Any, table: str, owner: str, records: Sequence[FormulaRecord], backoff: Backoff
) -> dict[str, str]:
    """Fingerprint -> id of the formula holding it, for every record's guard (consistent reads).

    Keys DynamoDB leaves unprocessed (throttling) are read again after a backoff, within its budget.
    """
    keys = {r.fingerprint: tables.guard_key(owner, r.fingerprint) for r in records}
    pending: dict[str, Any] = {table: {"Keys": list(keys.values()), "ConsistentRead": True}}
    holders: dict[str, str] = {}
    retries = backoff.retries()
    try:
        while True:
            response = client.batch_get_item(RequestItems=pending)
            for item in response["Responses"].get(table, []):
                holders[item[tables.PK]["S"][len(tables.FINGERPRINT_PREFIX) :]] = item["formula_id"]["S"]
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return holders
            if next(retries, None) is None:
                break
    except _BOTO_ERRORS as exc:
        raise unavailable(exc) from exc
    raise InfrastructureError("The formula store is throttling reads; retry.")
