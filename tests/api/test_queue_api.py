"""The consumer HTTP API: receive, ack, nack, stats, dead letters, redrive, status reports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate as validate_spec

from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from chalicelib.config import Settings
from chalicelib.security.policy import ROUTE_ROLES
from deploy import render
from tests.api.helpers import error_code, post
from tests.conftest import make_services, unique_formula
from tests.keys import KeyedClient


def call(client: Client, path: str, body: Any = None) -> Any:
    return client.http.post(
        path,
        body=b"" if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def receive(client: Client, **params: Any) -> list[dict[str, Any]]:
    response = call(client, "/queue/receive", params)
    assert response.status_code == 200, response.body
    return list(json.loads(response.body)["messages"])


def stats(client: Client) -> dict[str, int]:
    return dict(json.loads(client.http.get("/queue/stats").body))


def test_receive_empty_queue(client: Client) -> None:
    assert receive(client) == []


def test_message_shape_and_ack(client: Client) -> None:
    created = json.loads(post(client, unique_formula()).body)
    [message] = receive(client, max_messages=10, visibility_timeout=30)
    assert message["receive_count"] == 1
    body = message["body"]
    assert body["type"] == "formula.submitted" and body["version"] == 1
    assert body["formula_id"] == created["id"] and body["message_id"] == created["message_id"]
    assert body["owner"] == "default" and body["fingerprint"] == created["fingerprint"]
    assert body["materials"] == created["materials"] and body["name"] == created["name"]
    assert body["occurred_at"] == created["created_at"]
    assert stats(client)["in_flight"] == 1
    ack = call(client, "/queue/ack", {"receipt_handle": message["receipt_handle"]})
    assert ack.status_code == 204 and ack.body == b""
    assert stats(client)["in_flight"] == 0 and stats(client)["acked_total"] == 1


def test_visibility_expiry_supersedes_the_old_handle(client: Client, clock: FakeClock) -> None:
    post(client, unique_formula())
    [first] = receive(client, visibility_timeout=1)
    assert stats(client)["in_flight"] == 1
    clock.advance(1)
    [second] = receive(client, visibility_timeout=1)
    assert second["message_id"] == first["message_id"]
    assert second["receive_count"] == 2 and second["receipt_handle"] != first["receipt_handle"]
    stale = call(client, "/queue/ack", {"receipt_handle": first["receipt_handle"]})
    assert stale.status_code == 409 and error_code(stale) == "receipt_superseded"
    assert call(client, "/queue/ack", {"receipt_handle": second["receipt_handle"]}).status_code == 204
    assert stats(client)["redelivered_total"] == 1


def test_nack_makes_a_message_receivable_again(client: Client) -> None:
    post(client, unique_formula())
    [first] = receive(client)
    assert call(client, "/queue/nack", {"receipt_handle": first["receipt_handle"]}).status_code == 204
    [again] = receive(client)
    assert again["receive_count"] == 2


def test_nack_with_delay(client: Client, clock: FakeClock) -> None:
    post(client, unique_formula())
    [first] = receive(client)
    call(client, "/queue/nack", {"receipt_handle": first["receipt_handle"], "delay_seconds": 10})
    assert receive(client) == []
    clock.advance(10)
    assert len(receive(client)) == 1


def test_malformed_and_unknown_handles(client: Client) -> None:
    malformed = call(client, "/queue/ack", {"receipt_handle": "not-a-handle"})
    assert malformed.status_code == 400 and error_code(malformed) == "invalid_receipt_handle"
    post(client, unique_formula())
    [message] = receive(client)
    call(client, "/queue/ack", {"receipt_handle": message["receipt_handle"]})
    unknown = call(client, "/queue/ack", {"receipt_handle": message["receipt_handle"]})
    assert unknown.status_code == 404 and error_code(unknown) == "receipt_handle_not_found"


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/queue/receive", {"max_messages": 0}, "max_messages"),
        ("/queue/receive", {"max_messages": 11}, "max_messages"),
        ("/queue/receive", {"visibility_timeout": 43201}, "visibility_timeout"),
        ("/queue/receive", {"wait_seconds": 21}, "wait_seconds"),
        ("/queue/receive", {"wait_seconds": True}, "wait_seconds"),
        ("/queue/receive", {"wait_seconds": 1.5}, "wait_seconds"),
        ("/queue/receive", {"extra": 1}, "extra"),
        ("/queue/receive", [], "body"),
        ("/queue/ack", {}, "receipt_handle"),
        ("/queue/ack", {"receipt_handle": 5}, "receipt_handle"),
        ("/queue/nack", {"receipt_handle": "x", "delay_seconds": -1}, "delay_seconds"),
        ("/queue/nack", {"receipt_handle": "x", "delay_seconds": 43201}, "delay_seconds"),
    ],
)
def test_bad_consumer_input_is_400_naming_the_field(client: Client, path: str, body: Any, field: str) -> None:
    response = call(client, path, body)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert field in [d["field"] for d in json.loads(response.body)["error"]["details"]]


def test_dead_letters_listing_and_redrive(
    client: Client, clock: FakeClock, services: bootstrap.Services
) -> None:
    post(client, unique_formula())
    for _ in range(services.settings.queue_max_receive_count):
        [message] = receive(client, visibility_timeout=0)
    assert receive(client) == []
    listing = json.loads(client.http.get("/queue/dead-letters?limit=10").body)["dead_letters"]
    assert len(listing) == 1 and listing[0]["receive_count"] == services.settings.queue_max_receive_count
    assert listing[0]["message_id"] == message["message_id"]
    assert stats(client)["dead_letters"] == 1
    redriven = call(client, "/queue/dead-letters/redrive")
    assert redriven.status_code == 200 and json.loads(redriven.body) == {"redriven": 1}
    [again] = receive(client)
    assert again["receive_count"] == 1
    bad = client.http.get("/queue/dead-letters?limit=0")
    assert bad.status_code == 400


def test_status_reports_are_idempotent(client: Client) -> None:
    created = json.loads(post(client, unique_formula()).body)
    path = f"/queue/formulas/{created['id']}/status"
    assert json.loads(client.http.get(f"{path}?owner=default").body)["status"] == "queued"

    def put(body: Any) -> Any:
        return client.http.put(
            path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )

    first = put({"owner": "default", "status": "processed", "attempts": 2})
    assert first.status_code == 200 and json.loads(first.body)["changed"] is True
    assert json.loads(first.body)["formula"]["attempts"] == 2
    assert json.loads(put({"owner": "default", "status": "processed"}).body)["changed"] is False
    assert json.loads(put({"owner": "default", "status": "failed", "error": "x"}).body)["changed"] is False
    assert put({"owner": "default", "status": "bogus"}).status_code == 400
    assert put({"owner": "other", "status": "processed"}).status_code == 404
    fetched = json.loads(client.http.get(f"/formulas/{created['id']}").body)
    assert fetched["status"] == "processed" and "processed_at" in fetched
    listed = json.loads(client.http.get("/formulas?status=processed").body)["formulas"]
    assert [f["id"] for f in listed] == [created["id"]]


def test_a_status_report_answers_from_the_write_without_reading_back(
    client: Client, services: bootstrap.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = json.loads(post(client, unique_formula()).body)

    def no_reads(owner: str, formula_id: str) -> None:
        raise AssertionError("the report read the formula back")

    monkeypatch.setattr(services.store, "get", no_reads)
    path = f"/queue/formulas/{created['id']}/status"
    body = json.dumps({"owner": "default", "status": "failed", "error": "boom", "attempts": 3}).encode()
    answer = client.http.put(path, body=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    doc = json.loads(answer.body)
    assert doc["changed"] is True
    assert (doc["formula"]["status"], doc["formula"]["last_error"], doc["formula"]["attempts"]) == (
        "failed",
        "boom",
        3,
    )


QUEUE_ROUTES = [
    ("POST", "/queue/receive"),
    ("POST", "/queue/ack"),
    ("POST", "/queue/nack"),
    ("GET", "/queue/stats"),
    ("GET", "/queue/dead-letters"),
    ("POST", "/queue/dead-letters/redrive"),
    ("GET", "/queue/formulas/01J0000000000000000000000/status"),
    ("PUT", "/queue/formulas/01J0000000000000000000000/status"),
]


@pytest.mark.parametrize(("method", "path"), QUEUE_ROUTES)
def test_a_stage_without_the_consumer_api_answers_404(clock: FakeClock, method: str, path: str) -> None:
    old = bootstrap.use(make_services(clock, consumer_api_enabled=False))
    try:
        with KeyedClient() as client:
            response = client.http.request(
                method, path, body=b"{}", headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 404 and error_code(response) == "not_found"
            assert client.http.get("/formulas").status_code == 200  # the rest of the API is unchanged
    finally:
        bootstrap.use(old)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_document_lists_the_consumer_api_only_where_it_answers(clock: FakeClock, enabled: bool) -> None:
    old = bootstrap.use(make_services(clock, consumer_api_enabled=enabled))
    try:
        with KeyedClient() as client:
            response = client.http.get("/openapi.json")
    finally:
        bootstrap.use(old)
    document = json.loads(response.body)
    validate_spec(document)
    listed = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    queue_routes = {route for route in ROUTE_ROLES if route[1].startswith("/queue/")}
    assert len(queue_routes) == len(QUEUE_ROUTES)
    assert listed & queue_routes == (queue_routes if enabled else set())
    assert ("POST", "/formulas") in listed and ("GET", "/health") in listed
    tags = {tag["name"] for tag in document["tags"]}
    assert tags == ({"formulas", "queue", "service"} if enabled else {"formulas", "service"})
    assert {op["tags"][0] for ops in document["paths"].values() for op in ops.values()} == tags
    schemas = document["components"]["schemas"]
    assert set(schemas) == referenced_schemas([document["paths"], document["components"]["headers"]], schemas)
    assert ("ReceivedMessages" in schemas) is enabled


def referenced_schemas(node: Any, schemas: dict[str, Any]) -> set[str]:
    """The component schemas ``node`` refers to, following the schemas' own references."""
    found: set[str] = set()
    pending = [node]
    while pending:
        for target in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(pending.pop())):
            if target not in found:
                found.add(target)
                pending.append(schemas[target])
    return found


def test_the_deployed_stage_turns_the_consumer_api_off() -> None:
    assert render.stage_config()["environment_variables"]["FI_CONSUMER_API"] == "false"
    assert Settings.from_env({"FI_CONSUMER_API": "false"}).consumer_api_enabled is False
    assert Settings.from_env({}).consumer_api_enabled is True
