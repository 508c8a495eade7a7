"""What real DynamoDB does under contention, injected into moto: conflicts, throttles, unprocessed keys.

moto runs transactions one at a time and never throttles, so these tests wrap its client in
`Contended`, which answers the way DynamoDB does when transactions race or a partition is hot:
``TransactionCanceledException`` with ``CancellationReasons`` of ``TransactionConflict`` /
``ThrottlingError`` / ``None``, ``TransactionConflictException`` on a ``PutItem`` of an item a
transaction is writing, and ``BatchGetItem`` answers that leave keys in ``UnprocessedKeys``.
Time is a `FakeClock`; every backoff pause advances it instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws.dynamodb_idempotency import DynamoIdempotencyStore
from chalicelib.adapters.aws.dynamodb_store import DynamoFormulaStore
from chalicelib.adapters.aws.serialized import SerializedClient
from chalicelib.adapters.aws.submission_transaction import TRANSACTION_RETRY_SECONDS
from chalicelib.clock import FakeClock
from chalicelib.domain import parse_document
from chalicelib.errors import DuplicateFormula, InfrastructureError, RequestInProgress
from chalicelib.http.errors import response_for
from chalicelib.ids import UlidFactory
from chalicelib.services.submission import SubmissionService
from tests.conftest import unique_formula
from tests.integration.aws_dynamo_fixtures import TABLE, aws_credentials, dynamodb_client  # noqa: F401

pytestmark = pytest.mark.aws
OWNER = "default"


def cancelled(reasons: list[str]) -> ClientError:
    """The error botocore raises for a cancelled TransactWriteItems, with one reason per action."""
    return ClientError(
        {
            "Error": {
                "Code": "TransactionCanceledException",
                "Message": f"Transaction cancelled [{reasons}]",
            },
            "CancellationReasons": [{"Code": code, "Message": code} for code in reasons],
        },
        "TransactWriteItems",
    )


class Contended:
    """moto's client, except for the failures queued per operation (each used once, in order).

    A queued failure is either a list of cancellation reason codes (for ``transact_write_items``,
    padded with "None" to the number of actions), an error code, or "unprocessed" (for
    ``batch_get_item``: the call reads nothing and returns every key as unprocessed).
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.failures: dict[str, list[Any]] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._real, name)
        if not callable(target) or name.startswith("_") or name == "meta":
            return target

        def call(**kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
                queued = self.failures.get(name, [])
                failure = queued.pop(0) if queued else None
            if failure is None:
                return target(**kwargs)
            if failure == "unprocessed":
                return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
            if isinstance(failure, list):
                actions = len(kwargs["TransactItems"])
                raise cancelled((failure + ["None"] * actions)[:actions])
            raise ClientError({"Error": {"Code": failure, "Message": "injected"}}, name)

        return call


class Setup:
    def __init__(self, client: Any) -> None:
        self.clock = FakeClock()
        self.pauses: list[float] = []
        self.client = Contended(client)
        self.store = DynamoFormulaStore(self.client, TABLE, clock=self.clock, sleep=self.pause)
        self.keys = DynamoIdempotencyStore(self.client, TABLE)
        self.service = SubmissionService(
            self.store, self.keys, clock=self.clock, new_id=UlidFactory(self.clock)
        )

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.clock.advance(seconds)

    def stored(self) -> int:
        return len(self.store.list(OWNER, limit=100, after=None, status=None).items)


@pytest.fixture
def setup(dynamodb_client: Any) -> Setup:  # noqa: F811
    return Setup(dynamodb_client)


def test_a_transaction_cancelled_by_conflicts_and_throttles_is_retried_with_backoff(setup: Setup) -> None:
    setup.client.failures["transact_write_items"] = [
        ["TransactionConflict", "None"],
        ["None", "ThrottlingError"],
        ["TransactionConflict", "TransactionConflict"],
    ]
    result = setup.service.submit(OWNER, parse_document(unique_formula()), "k1")
    assert result.status == 201 and not result.replayed
    assert setup.client.calls["transact_write_items"] == 4 and setup.stored() == 1
    assert len(setup.pauses) == 3 and all(0 <= p <= 0.05 * 2**n for n, p in enumerate(setup.pauses))


def test_when_the_retry_budget_runs_out_the_answer_is_a_503_with_retry_after(setup: Setup) -> None:
    setup.client.failures["transact_write_items"] = [["TransactionConflict"]] * 1000
    with pytest.raises(InfrastructureError) as caught:
        setup.service.submit(OWNER, parse_document(unique_formula()), "k1")
    assert sum(setup.pauses) <= TRANSACTION_RETRY_SECONDS
    assert 2 < setup.client.calls["transact_write_items"] < 1000
    response = response_for(caught.value)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert setup.stored() == 0
    setup.client.failures.clear()
    assert setup.service.submit(OWNER, parse_document(unique_formula()), "k1").status == 201


def test_a_cancellation_that_is_not_contention_is_not_retried(setup: Setup) -> None:
    setup.client.failures["transact_write_items"] = [["ValidationError"]]
    with pytest.raises(InfrastructureError):
        setup.service.submit(OWNER, parse_document(unique_formula()), None)
    assert setup.client.calls["transact_write_items"] == 1 and setup.pauses == []


def test_a_transaction_conflict_on_the_key_put_means_the_key_is_in_progress(setup: Setup) -> None:
    setup.client.failures["put_item"] = ["TransactionConflictException"]
    with pytest.raises(RequestInProgress) as caught:
        setup.service.submit(OWNER, parse_document(unique_formula()), "k1")
    assert response_for(caught.value).status_code == 409
    assert setup.client.calls.get("transact_write_items", 0) == 0


def test_unprocessed_guard_reads_are_retried_with_backoff_so_a_duplicate_stays_a_409(setup: Setup) -> None:
    formula = unique_formula()
    first = setup.service.submit(OWNER, parse_document(formula), None)
    setup.client.failures["batch_get_item"] = ["unprocessed"] * 5
    with pytest.raises(DuplicateFormula) as caught:
        setup.service.submit(OWNER, parse_document({**formula, "name": "again"}), None)
    assert caught.value.existing_id == json.loads(first.body)["id"]
    assert setup.client.calls["batch_get_item"] == 6
    assert len(setup.pauses) == 5 and all(0 <= p <= 0.05 * 2**n for n, p in enumerate(setup.pauses))


def test_guard_reads_unprocessed_past_the_budget_are_a_503(setup: Setup) -> None:
    formula = unique_formula()
    setup.service.submit(OWNER, parse_document(formula), None)
    setup.client.failures["batch_get_item"] = ["unprocessed"] * 1000
    with pytest.raises(InfrastructureError, match="throttling"):
        setup.service.submit(OWNER, parse_document({**formula, "name": "again"}), None)
    assert 1 < setup.client.calls["batch_get_item"] < 1000


def test_racing_submissions_of_one_make_up_commit_at_most_one_formula(dynamodb_client: Any) -> None:  # noqa: F811
    """Real DynamoDB cancels overlapping transactions with TransactionConflict: here all of the
    first attempts are cancelled. At most one commits; every other request is a 409 or a 503 to
    retry, and a retried 503 then gets its 409: never a second formula."""
    threads = 8
    setup = Setup(SerializedClient(dynamodb_client))
    setup.client.failures["transact_write_items"] = [["TransactionConflict"]] * threads
    barrier = threading.Barrier(threads)
    formula = unique_formula()

    def submit(i: int) -> int:
        barrier.wait(10)
        try:
            return setup.service.submit(OWNER, parse_document(formula), f"key-{i}").status
        except (DuplicateFormula, InfrastructureError) as exc:
            return response_for(exc).status_code

    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(submit, range(threads)))
    assert statuses.count(201) <= 1
    assert set(statuses) <= {201, 409, 503}
    assert setup.stored() == statuses.count(201)
    retried = [submit_again(setup, formula, i) for i, s in enumerate(statuses) if s == 503]
    assert setup.stored() == 1 and retried.count(201) <= 1


def submit_again(setup: Setup, formula: dict[str, Any], i: int) -> int:
    try:
        return setup.service.submit(OWNER, parse_document(formula), f"key-{i}").status
    except DuplicateFormula:
        return 409
