"""Which stream records reach the stream relay: the template's filter and the local poller's
predicate (`lambda_handlers.is_unheld_outbox_item`) agree, record by record."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.aws.tables import STREAM_FILTER_PATTERN
from chalicelib.entrypoints.lambda_handlers import is_unheld_outbox_item


def matches(pattern: Any, value: Any) -> bool:
    """Lambda's event filter on one record, for what the pattern uses: nested keys, lists of
    values, ``prefix`` and ``exists``. As in Lambda, ``exists`` sees only leaves: an object or a
    list where the rule sits counts as absent (so ``{"lease_owner": [{"exists": false}]}``
    would pass every item, leased or not)."""
    if isinstance(pattern, dict):
        return all(
            matches(rule, value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT)
            for key, rule in pattern.items()
        )
    for rule in pattern:
        if isinstance(rule, dict) and "exists" in rule:
            if rule["exists"] == (value is not _ABSENT and not isinstance(value, dict | list)):
                return True
        elif isinstance(rule, dict) and "prefix" in rule:
            if isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
        elif value == rule:
            return True
    return False


_ABSENT = object()


def record(event: str, pk: str, *, leased: bool) -> dict[str, Any]:
    image: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": "evt_01J"}, "kind": {"S": "outbox"}}
    if leased:
        image["lease_owner"] = {"S": "token"}
        image["lease_until"] = {"N": "1700000030"}
    dynamodb: dict[str, Any] = {"Keys": {"pk": image["pk"], "sk": image["sk"]}}
    if event != "REMOVE":
        dynamodb["NewImage"] = image
    return {"eventName": event, "dynamodb": dynamodb}


CASES = {
    "the request's own insert, leased": (record("INSERT", "OUTBOX#3", leased=True), False),
    "an insert committed without a lease": (record("INSERT", "OUTBOX#3", leased=False), True),
    "a relay's claim": (record("MODIFY", "OUTBOX#0", leased=True), False),
    "a relay's release after a failure": (record("MODIFY", "OUTBOX#0", leased=False), True),
    "the delete once sent": (record("REMOVE", "OUTBOX#0", leased=False), False),
    "a formula item": (record("INSERT", "OWNER#o", leased=False), False),
    "a formula's status change": (record("MODIFY", "OWNER#o", leased=False), False),
}


def test_a_lease_test_on_the_attribute_rather_than_its_leaf_would_pass_leased_items() -> None:
    """The evaluator knows Lambda's leaf rule: the pattern has to name the ``S``."""
    wrong = {**STREAM_FILTER_PATTERN, "dynamodb": {"NewImage": {"lease_owner": [{"exists": False}]}}}
    assert matches(wrong, record("INSERT", "OUTBOX#3", leased=True))
    assert not matches(STREAM_FILTER_PATTERN, record("INSERT", "OUTBOX#3", leased=True))


@pytest.mark.parametrize(("stream_record", "relayed"), list(CASES.values()), ids=list(CASES))
def test_the_filter_and_the_pollers_predicate_pass_exactly_the_unheld_outbox_items(
    stream_record: dict[str, Any], relayed: bool
) -> None:
    assert matches(STREAM_FILTER_PATTERN, stream_record) is relayed
    assert is_unheld_outbox_item(stream_record) is relayed
