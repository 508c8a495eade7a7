"""Helpers for driving the API through `chalice.test.Client`."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

SUMMER_BREEZE: dict[str, Any] = {
    "name": "Summer Breeze",
    "materials": [
        {"name": "Bergamot Oil", "concentration": 15.5},
        {"name": "Lavender Absolute", "concentration": 10.0},
        {"name": "Sandalwood", "concentration": 5.2},
    ],
}


def post(
    client: Client,
    doc: Any,
    *,
    key: str | None = None,
    raw: bytes | None = None,
    content_type: str | None = "application/json",
) -> Any:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    body = raw if raw is not None else json.dumps(doc).encode()
    return client.http.post("/formulas", body=body, headers=headers)


def error_code(response: Any) -> str:
    body = json.loads(response.body)
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["code"])
