"""The health route and the one error shape for errors Chalice produces on its own."""

from __future__ import annotations

from tests.keys import KeyedClient


def test_health_ok() -> None:
    with KeyedClient() as client:
        response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_wrong_method_uses_the_error_shape() -> None:
    with KeyedClient() as client:
        response = client.http.post("/health", body=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "method_not_allowed"
    assert set(response.json_body) == {"error"}


def test_header_map_is_the_lower_cased_dict_behind_chalices_headers() -> None:
    from chalice.app import CaseInsensitiveMapping

    from chalicelib.http.middleware import header_map

    class _Request:
        headers = CaseInsensitiveMapping({"Idempotency-Key": "k", "X-API-KEY": "x"})

    headers = header_map(_Request())  # type: ignore[arg-type]
    assert type(headers) is dict
    assert headers == {"idempotency-key": "k", "x-api-key": "x"}

    class _Plain:
        headers = {"authorization": "Bearer k"}  # any mapping without ``_dict`` is used as it is

    assert header_map(_Plain()).get("authorization") == "Bearer k"  # type: ignore[arg-type]
