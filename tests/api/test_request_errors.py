"""Malformed requests get a 4xx in the one error shape, naming the problem; never a 500."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.http.media import is_json
from tests.api.helpers import SUMMER_BREEZE, error_code, post
from tests.conftest import unique_formula


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"42", b'"a string"', b"{not json", b"[]", b"\xff\xfe", b"true", b'{"name": NaN}'],
)
def test_bad_bodies_are_400_naming_the_body(client: Client, raw: bytes, services: bootstrap.Services) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == 400, raw
    assert error_code(response) == "validation_error"
    assert json.loads(response.body)["error"]["details"][0]["field"] == "body"
    assert len(services.store) == 0  # type: ignore[arg-type]


def test_every_problem_is_listed(client: Client) -> None:
    doc = {
        "name": "",
        "colour": "blue",
        "materials": [{"name": "A", "concentration": True}, {"name": "", "concentration": "1e5"}],
    }
    response = post(client, doc)
    assert response.status_code == 400
    fields = {d["field"] for d in json.loads(response.body)["error"]["details"]}
    assert {
        "name",
        "colour",
        "materials[0].concentration",
        "materials[1].name",
        "materials[1].concentration",
    } <= fields


def test_missing_content_type_is_parsed_as_json(client: Client) -> None:
    assert post(client, SUMMER_BREEZE, content_type=None).status_code == 201


def test_non_json_content_type_is_415(client: Client) -> None:
    response = post(client, SUMMER_BREEZE, content_type="text/plain")
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


def test_body_over_one_mebibyte_is_413(client: Client) -> None:
    raw = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(client, None, raw=raw)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_unknown_formula_is_404(client: Client) -> None:
    response = client.http.get("/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json;",
    ],
)
def test_json_with_no_charset_or_utf_8_is_read(client: Client, content_type: str) -> None:
    assert post(client, unique_formula(), content_type=content_type).status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin-1",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-16",
        "application/json; charset=utf-8; boundary=x",
        "application/json, text/plain",
        "text/plain, application/json",
        "*/*",
        "application/*",
        "text/json",
        "application/jsonx",
        "",
    ],
)
def test_other_content_types_are_415(client: Client, content_type: str, services: bootstrap.Services) -> None:
    response = post(client, SUMMER_BREEZE, content_type=content_type)
    assert response.status_code == 415, content_type
    assert error_code(response) == "unsupported_media_type"
    assert len(services.store) == 0  # type: ignore[arg-type]


def test_the_json_media_type_rule_accepts_plus_json() -> None:
    assert is_json("application/problem+json; charset=utf-8")
    assert is_json("application/vnd.api+JSON")
    assert not is_json("application/+json") and not is_json("text/x+json")


@pytest.mark.parametrize(
    ("path", "body"),
    [("/formulas", SUMMER_BREEZE), ("/queue/receive", {}), ("/queue/dead-letters/redrive", {})],
)
def test_post_refuses_query_parameters_naming_them(client: Client, path: str, body: object) -> None:
    response = client.http.post(
        f"{path}?dry_run=1&b=2", body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert [d["field"] for d in json.loads(response.body)["error"]["details"]] == ["b", "dry_run"]


def test_query_parameters_on_a_put_are_refused_too(client: Client) -> None:
    response = client.http.put(
        "/queue/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/status?owner=default",
        body=b'{"owner": "default", "status": "processed"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["details"] == [
        {"field": "owner", "message": "unknown query parameter"}
    ]


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/queue/receive", "max_messages", "3"),
        ("/queue/receive", "visibility_timeout", "30"),
        ("/queue/receive", "wait_seconds", "0"),
        ("/queue/nack", "delay_seconds", "5"),
        ("/queue/dead-letters/redrive", "limit", "10"),
    ],
)
def test_consumer_bodies_refuse_integers_written_as_text(
    client: Client, path: str, field: str, value: str
) -> None:
    body = {field: value, **({"receipt_handle": "rh"} if path == "/queue/nack" else {})}
    response = client.http.post(
        path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert [d["field"] for d in json.loads(response.body)["error"]["details"]] == [field]


def test_consumer_query_parameters_still_take_digits(client: Client) -> None:
    assert client.http.get("/queue/dead-letters?limit=5").status_code == 200
    assert client.http.post("/queue/receive", body=b'{"max_messages": 3}').status_code == 200


def test_a_number_beyond_the_decimal_range_is_400_at_its_field_in_words(client: Client) -> None:
    raw = b'{"name": "x", "materials": [{"name": "Rose", "concentration": 1e99999999999999999999}]}'
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    error = json.loads(response.body)["error"]
    assert error["details"] == [
        {
            "field": "materials[0].concentration",
            "message": (
                "must be a number greater than 0 and at most 100 (1e99999999999999999999 is far out of range)"
            ),
        }
    ]
    assert b"<class" not in response.body and b"decimal." not in response.body


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.api+json", "application/problem+json; charset=utf-8", "Application/X+JSON"],
)
def test_a_plus_json_body_is_read_as_json(client: Client, content_type: str) -> None:
    assert post(client, unique_formula(), content_type=content_type).status_code == 201
