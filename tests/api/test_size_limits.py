"""Size limits that every backend can honour (issue 12 item 5): a formula whose name and materials
take at most MAX_FORMULA_BYTES as JSON, and a batch whose formulas take at most MAX_BATCH_BYTES
together, is accepted; one byte more is a 400 naming the field, on the in-memory backend here and
on the AWS backend in tests/integration/test_api_aws.py (`check_size_limits` runs on both)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.test import Client

from chalicelib import bootstrap, jsonio
from chalicelib.domain.model import MAX_FORMULA_BYTES
from chalicelib.domain.validation import MAX_BATCH, MAX_BATCH_BYTES
from tests.api.helpers import error_code, post
from tests.conftest import formula_of_size, unique_formula


def check_size_limits(client: Client, delivered: Callable[[], list[Any]]) -> None:
    """At the limits: stored and published whole; one byte over: a 400 naming the field."""
    biggest = formula_of_size(MAX_FORMULA_BYTES, "single")
    answer = post(client, biggest)
    assert answer.status_code == 201, answer.body
    [message] = delivered()
    assert message["materials"] == jsonio.loads(answer.body)["materials"]

    over = post(client, formula_of_size(MAX_FORMULA_BYTES + 1, "single"))
    assert over.status_code == 400 and error_code(over) == "validation_error"
    assert json.loads(over.body)["error"]["details"][0]["field"] == "materials"

    third = MAX_BATCH_BYTES // 3
    batch = [formula_of_size(third, "batch") for _ in range(2)] + [
        formula_of_size(MAX_BATCH_BYTES - 2 * third, "batch")
    ]
    answer = post(client, batch)
    assert answer.status_code == 201, answer.body
    assert len(delivered()) == 3

    too_big = [formula_of_size(third, "over") for _ in range(2)] + [
        formula_of_size(MAX_BATCH_BYTES - 2 * third + 1, "over")
    ]
    over = post(client, too_big)
    assert over.status_code == 400
    assert json.loads(over.body)["error"]["details"][0]["field"] == "body"


TOO_MANY_FORMULAS = {
    "code": "validation_error",
    "message": "The request is invalid.",
    "details": [
        {
            "field": "body",
            "message": "must be a formula object or an array of 1-49 formula objects (the array has 50)",
        }
    ],
}
"""The answer to a batch of 50 formulas, on every backend."""


def check_batch_limit(client: Client) -> None:
    """A batch of `MAX_BATCH` (49) formulas is stored; one more is the same 400 on every backend."""
    assert MAX_BATCH == 49
    full = post(client, [unique_formula() for _ in range(MAX_BATCH)])
    assert full.status_code == 201, full.body
    assert len(json.loads(full.body)["formulas"]) == MAX_BATCH
    over = post(client, [unique_formula() for _ in range(MAX_BATCH + 1)])
    assert over.status_code == 400
    assert json.loads(over.body)["error"] == TOO_MANY_FORMULAS


def test_the_batch_limit_on_the_in_memory_backend(client: Client) -> None:
    check_batch_limit(client)


def test_the_size_limits_on_the_in_memory_backend(client: Client, services: bootstrap.Services) -> None:
    def delivered() -> list[Any]:
        messages = services.queue.receive(max_messages=10)
        for message in messages:
            services.queue.ack(message.receipt_handle)
        return [m.body for m in messages]

    check_size_limits(client, delivered)
