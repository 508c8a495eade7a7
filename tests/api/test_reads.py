"""GET /formulas/{id} and GET /formulas (creation order, opaque cursor)."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib.clock import FakeClock
from tests.api.helpers import error_code, post
from tests.conftest import unique_formula


def test_get_returns_the_resource(client: Client) -> None:
    created = json.loads(post(client, unique_formula()).body)
    fetched = client.http.get(f"/formulas/{created['id']}")
    assert fetched.status_code == 200
    assert json.loads(fetched.body) == created
    assert fetched.headers["Content-Type"] == "application/json"


def test_list_pages_in_creation_order_until_next_cursor_is_null(client: Client, clock: FakeClock) -> None:
    ids = []
    for _ in range(7):
        ids.append(json.loads(post(client, unique_formula()).body)["id"])
        clock.advance(0.001)
    seen: list[str] = []
    cursor = None
    while True:
        path = "/formulas?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(client.http.get(path).body)
        seen.extend(f["id"] for f in page["formulas"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_list_defaults_and_empty(client: Client) -> None:
    page = json.loads(client.http.get("/formulas").body)
    assert page == {"formulas": [], "next_cursor": None}


def test_list_exactly_one_page_has_no_next_cursor(client: Client) -> None:
    for _ in range(3):
        post(client, unique_formula())
    page = json.loads(client.http.get("/formulas?limit=3").body)
    assert len(page["formulas"]) == 3 and page["next_cursor"] is None


@pytest.mark.parametrize(
    "query,field",
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=c1.AAAA", "cursor"),
        ("status=done", "status"),
        ("sort=name", "sort"),
    ],
)
def test_invalid_list_parameters_are_400(client: Client, query: str, field: str) -> None:
    response = client.http.get(f"/formulas?{query}")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert json.loads(response.body)["error"]["details"][0]["field"] == field


def test_list_filters_by_status(client: Client) -> None:
    post(client, unique_formula())
    assert len(json.loads(client.http.get("/formulas?status=queued").body)["formulas"]) == 1
    assert json.loads(client.http.get("/formulas?status=processed").body)["formulas"] == []
