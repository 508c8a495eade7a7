"""Responses in the service's one JSON shape.

Success bodies are serialised with `chalicelib.jsonio` (exact decimals); every error body is
``{"error": {"code": "...", "message": "...", ...}}``.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib import jsonio

BASE_HEADERS = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response whose body is serialised with exact decimals."""
    return serialised_response(status, jsonio.dumps(body), headers)


def serialised_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from an already serialised body (for example a replayed one)."""
    all_headers: dict[str, str | list[str]] = {**BASE_HEADERS, **headers} if headers else dict(BASE_HEADERS)
    return Response(body=body, status_code=status, headers=all_headers)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    """A response without a body (204 No Content)."""
    all_headers: dict[str, str | list[str]] = {"X-Content-Type-Options": "nosniff"}
    if headers:
        all_headers.update(headers)
    return Response(body="", status_code=status, headers=all_headers)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", ...extra}}``."""
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """An error response in the one shape."""
    return json_response(status, error_body(code, message, **extra), headers)
