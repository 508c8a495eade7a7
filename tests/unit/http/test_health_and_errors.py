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
