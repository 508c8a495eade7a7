"""The standalone worker's HTTP consumer: what each message costs in calls to the API.

The transport routes each call through `chalice.test.Client` to the real app, so the API's answers
are the ones a remote worker gets; only the socket is missing.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib import bootstrap, errors, jsonio
from chalicelib.adapters.http_consumer import HttpConsumer
from chalicelib.clock import FakeClock
from chalicelib.services.processing import HandlerRegistry, Processor
from chalicelib.worker import Backoff, Worker
from tests.api.helpers import post
from tests.conftest import unique_formula


class AppTransport:
    """Stands in for `_Client`: sends each call to the app and records method and path."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls: list[tuple[str, str]] = []

    def expect(self, method: str, path: str, body: Any, ok: int) -> Any:
        self.calls.append((method, path.split("?")[0]))
        payload = b"" if body is None else jsonio.dumps(body).encode()
        response = self.client.http.request(
            method, path, body=payload, headers={"Content-Type": "application/json"}
        )
        if response.status_code != ok:
            raise errors.InfrastructureError(f"{method} {path}: {response.status_code} {response.body!r}")
        return json.loads(response.body) if response.body else None


def consumer_for(client: Client) -> tuple[HttpConsumer, AppTransport]:
    consumer = HttpConsumer("http://127.0.0.1:1")
    transport = AppTransport(client)
    consumer._client = transport  # type: ignore[assignment]
    return consumer, transport


def worker(consumer: HttpConsumer, clock: FakeClock, batch_size: int = 1) -> Worker:
    return Worker(
        consumer,
        Processor(HandlerRegistry(), consumer, clock),
        max_receive_count=3,
        wait_seconds=0,
        batch_size=batch_size,
        backoff=Backoff(base=0),
        clock=clock,
    )


def test_a_message_costs_one_receive_one_report_and_one_ack(
    client: Client, services: bootstrap.Services, clock: FakeClock
) -> None:
    created = json.loads(post(client, unique_formula()).body)
    consumer, transport = consumer_for(client)
    assert worker(consumer, clock).run_once() == 1
    status_path = f"/queue/formulas/{created['id']}/status"
    assert transport.calls == [("POST", "/queue/receive"), ("PUT", status_path), ("POST", "/queue/ack")]
    assert json.loads(client.http.get(f"/formulas/{created['id']}").body)["status"] == "processed"


def test_a_redelivered_processed_formula_is_acked_without_a_status_call(
    client: Client, services: bootstrap.Services, clock: FakeClock
) -> None:
    created = json.loads(post(client, unique_formula()).body)
    services.store.mark_processed("default", created["id"], at=clock())
    consumer, transport = consumer_for(client)
    assert worker(consumer, clock).run_once() == 1
    assert transport.calls == [("POST", "/queue/receive"), ("POST", "/queue/ack")]


def test_the_delivery_names_the_formula_status(client: Client, services: bootstrap.Services) -> None:
    created = json.loads(post(client, unique_formula()).body)
    received = client.http.post(
        "/queue/receive", body=b'{"max_messages": 10}', headers={"Content-Type": "application/json"}
    )
    [message] = json.loads(received.body)["messages"]
    assert message["body"]["formula_id"] == created["id"]
    assert message["formula_status"] == "queued"


def test_without_a_status_in_the_delivery_the_consumer_asks_for_it(
    client: Client, services: bootstrap.Services
) -> None:
    created = json.loads(post(client, unique_formula()).body)
    consumer, transport = consumer_for(client)
    assert consumer.lookup("default", created["id"]).processed is False
    assert transport.calls == [("GET", f"/queue/formulas/{created['id']}/status")]


def test_a_batch_of_messages_costs_one_receive_a_report_each_and_one_ack(
    client: Client, services: bootstrap.Services, clock: FakeClock
) -> None:
    created = [json.loads(post(client, unique_formula()).body)["id"] for _ in range(4)]
    consumer, transport = consumer_for(client)
    assert worker(consumer, clock, batch_size=10).run_once() == 4
    reports = [("PUT", f"/queue/formulas/{formula_id}/status") for formula_id in created]
    assert transport.calls == [("POST", "/queue/receive"), *reports, ("POST", "/queue/ack")]
    assert services.queue.stats().in_flight == 0 and services.queue.stats().ready == 0


def test_a_batch_ack_answers_each_handle_on_its_own(client: Client, services: bootstrap.Services) -> None:
    for _ in range(2):
        post(client, unique_formula())
    received = client.http.post(
        "/queue/receive", body=b'{"max_messages": 10}', headers={"Content-Type": "application/json"}
    )
    handles = [m["receipt_handle"] for m in json.loads(received.body)["messages"]]
    body = json.dumps({"receipt_handles": [*handles, "not a handle"]}).encode()
    answer = client.http.post("/queue/ack", body=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    results = json.loads(answer.body)["results"]
    assert [r["acked"] for r in results] == [True, True, False]
    assert results[2]["error"]["code"] == "invalid_receipt_handle"
    assert services.queue.stats().in_flight == 0
    consumer, _ = consumer_for(client)
    [refused] = consumer.ack_batch(["not a handle"])
    assert isinstance(refused, errors.ReceiptHandleMalformed)
