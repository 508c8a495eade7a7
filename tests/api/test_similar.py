"""The similar-formula routes, and near-duplicates flagged by the processing step (memory backend)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.errors import InfrastructureError
from chalicelib.services.processing import ProcessingContext
from chalicelib.services.similarity import near_duplicate_step
from tests.api.helpers import SUMMER_BREEZE, error_code, post
from tests.keys import ROLE_KEYS, TENANT_B_KEY, KeyedClient


def formula(name: str, **materials: str) -> dict[str, Any]:
    return {"name": name, "materials": [{"name": n, "concentration": c} for n, c in materials.items()]}


ROSE_MUSK = formula("Rose Musk", Rose="10", Musk="5")
ROSE_MUSK_2 = formula("Rose Musk 2", Rose="10", Musk="5.5")
ROSE = formula("Rose", Rose="10")


def submit_and_process(client: Client, services: bootstrap.Services, *docs: dict[str, Any]) -> list[str]:
    ids = [json.loads(post(client, doc).body)["id"] for doc in docs]
    worker = bootstrap.build_worker(services)
    while services.queue.stats().ready:
        for message in services.queue.receive(max_messages=10):
            assert worker.handle(message) == "processed"
    return ids


def similar(client: Client, path: str, **kwargs: Any) -> Any:
    response = client.http.get(path, **kwargs)
    return response.status_code, json.loads(response.body)


def test_get_similar_lists_the_owners_formulas_most_similar_first(
    client: Client, services: bootstrap.Services
) -> None:
    first, second, third = submit_and_process(client, services, ROSE_MUSK, ROSE_MUSK_2, ROSE)
    status, body = similar(client, f"/formulas/{first}/similar?min_similarity=0.5")
    assert status == 200
    assert body == {
        "formula_id": first,
        "similar": [
            {"id": second, "name": "Rose Musk 2", "similarity": 0.9677, "shared_materials": 2},
            {"id": third, "name": "Rose", "similarity": 0.6666, "shared_materials": 1},
        ],
    }
    raw = client.http.get(f"/formulas/{first}/similar?limit=1").body.decode()
    assert '"similarity":0.9677' in raw.replace(" ", "")
    assert similar(client, f"/formulas/{first}/similar?min_similarity=0.97")[1]["similar"] == []


def test_processing_stores_near_duplicates_on_the_formula(
    client: Client, services: bootstrap.Services
) -> None:
    first, second = submit_and_process(client, services, ROSE_MUSK, formula("Again", Rose="10", Musk="5.1"))
    assert json.loads(client.http.get(f"/formulas/{first}").body)["near_duplicates"] == []
    near = json.loads(client.http.get(f"/formulas/{second}").body)["near_duplicates"]
    assert near == [{"id": first, "similarity": 0.9933}]  # 15/15.1
    queued = json.loads(post(client, ROSE).body)
    assert "near_duplicates" not in queued


def test_redelivery_indexes_and_flags_once(client: Client, services: bootstrap.Services) -> None:
    first, second = submit_and_process(client, services, ROSE_MUSK, ROSE_MUSK_2)
    record = services.store.get("default", second)
    assert record is not None
    step = near_duplicate_step(
        services.store, services.similarity, services.settings.near_duplicate_threshold
    )
    message = {"type": "formula.submitted", "owner": "default", "formula_id": second}
    step(message, ProcessingContext("evt", 2, 5))
    step(message, ProcessingContext("evt", 3, 5))
    assert services.store.get("default", second) == record
    _, body = similar(client, f"/formulas/{first}/similar")
    assert [m["id"] for m in body["similar"]] == [second]


def report_processed(client: Client, formula_id: str) -> Any:
    """What a remote worker sends over the consumer API once it has processed a formula."""
    body = json.dumps({"owner": "default", "status": "processed"}).encode()
    headers = {"Content-Type": "application/json"}
    return client.http.put(f"/queue/formulas/{formula_id}/status", body=body, headers=headers)


def test_a_formula_a_remote_worker_reports_processed_is_indexed_and_flagged(
    client: Client, services: bootstrap.Services
) -> None:
    first, second = (json.loads(post(client, doc).body)["id"] for doc in (ROSE_MUSK, ROSE_MUSK_2))
    assert similar(client, f"/formulas/{first}/similar")[1]["similar"] == []  # queued: not indexed
    for formula_id in (first, second):
        answer = report_processed(client, formula_id)
        assert answer.status_code == 200, answer.body
        assert json.loads(answer.body)["changed"] is True
    assert json.loads(report_processed(client, second).body)["formula"]["near_duplicates"] == [
        {"id": first, "similarity": 0.9677}
    ]
    _, body = similar(client, f"/formulas/{first}/similar")
    assert [(m["id"], m["similarity"]) for m in body["similar"]] == [(second, 0.9677)]
    assert json.loads(client.http.get(f"/formulas/{second}").body)["near_duplicates"] == [
        {"id": first, "similarity": 0.9677}
    ]


def test_a_repeated_processed_report_indexes_nothing_again(
    client: Client, services: bootstrap.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    formula_id = json.loads(post(client, ROSE_MUSK).body)["id"]
    assert report_processed(client, formula_id).status_code == 200

    def index(record: object) -> None:
        raise AssertionError("a processed formula was indexed again")

    monkeypatch.setattr(services.similarity, "index", index)
    again = report_processed(client, formula_id)
    assert again.status_code == 200 and json.loads(again.body)["changed"] is False


def test_when_indexing_fails_the_report_fails_and_nothing_is_marked(
    client: Client, services: bootstrap.Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    formula_id = json.loads(post(client, ROSE_MUSK).body)["id"]

    def index(record: object) -> None:
        raise InfrastructureError("the index is unavailable")

    monkeypatch.setattr(services.similarity, "index", index)
    answer = report_processed(client, formula_id)
    assert answer.status_code == 503, answer.body
    assert json.loads(client.http.get(f"/formulas/{formula_id}").body)["status"] == "queued"
    monkeypatch.undo()
    assert json.loads(report_processed(client, formula_id).body)["changed"] is True


def test_post_similar_finds_without_storing(client: Client, services: bootstrap.Services) -> None:
    (first,) = submit_and_process(client, services, ROSE_MUSK)
    response = client.http.post(
        "/formulas/similar?min_similarity=0.9", body=json.dumps(ROSE_MUSK_2).encode(), headers={}
    )
    assert response.status_code == 200, response.body
    assert json.loads(response.body) == {
        "similar": [{"id": first, "name": "Rose Musk", "similarity": 0.9677, "shared_materials": 2}]
    }
    assert len(services.store.list("default", limit=10, after=None, status=None).items) == 1
    assert services.queue.stats().sent_total == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_similarity=0", "min_similarity"),
        ("min_similarity=1.01", "min_similarity"),
        ("min_similarity=abc", "min_similarity"),
        ("min_similarity=-0.5", "min_similarity"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("sort=id", "sort"),
    ],
)
def test_invalid_parameters_are_400(
    client: Client, services: bootstrap.Services, query: str, field: str
) -> None:
    (first,) = submit_and_process(client, services, ROSE_MUSK)
    for response in (
        client.http.get(f"/formulas/{first}/similar?{query}"),
        client.http.post(f"/formulas/similar?{query}", body=json.dumps(ROSE).encode()),
    ):
        assert response.status_code == 400, response.body
        assert [d["field"] for d in json.loads(response.body)["error"]["details"]] == [field]


def test_post_refuses_a_batch_and_an_invalid_formula(client: Client) -> None:
    for body in ([ROSE, ROSE_MUSK], {"name": "x", "materials": []}, "nope"):
        response = client.http.post("/formulas/similar", body=json.dumps(body).encode())
        assert response.status_code == 400
        assert error_code(response) == "validation_error"


def test_unknown_and_foreign_ids_are_404(client: Client, services: bootstrap.Services) -> None:
    (first,) = submit_and_process(client, services, ROSE_MUSK)
    assert client.http.get("/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/similar").status_code == 404
    with KeyedClient(key=TENANT_B_KEY) as other:
        assert other.http.get(f"/formulas/{first}/similar").status_code == 404
        response = other.http.post("/formulas/similar", body=json.dumps(ROSE_MUSK).encode())
        assert json.loads(response.body) == {"similar": []}


def test_submitters_may_post_but_not_get(client: Client, services: bootstrap.Services) -> None:
    (first,) = submit_and_process(client, services, SUMMER_BREEZE)
    with KeyedClient(key=ROLE_KEYS["submitter"]) as submitter:
        assert submitter.http.post("/formulas/similar", body=json.dumps(ROSE).encode()).status_code == 200
        assert submitter.http.get(f"/formulas/{first}/similar").status_code == 403


def test_the_near_duplicate_threshold_is_a_stage_setting() -> None:
    from decimal import Decimal

    from chalicelib.config import ConfigError, Settings

    assert Settings.from_env({}).near_duplicate_threshold == Decimal("0.95")
    assert Settings.from_env({"FI_NEAR_DUPLICATE_THRESHOLD": "0.9"}).near_duplicate_threshold == Decimal(
        "0.9"
    )
    for bad in ("0", "1.5", "abc", "NaN"):
        with pytest.raises(ConfigError):
            Settings.from_env({"FI_NEAR_DUPLICATE_THRESHOLD": bad})
