"""Malformed requests get a 4xx in the one error shape, naming the problem; never a 500."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from tests.api.helpers import SUMMER_BREEZE, error_code, post


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
