"""Mapping from the domain error hierarchy (and Chalice's own errors) to HTTP responses.

Routes raise domain errors; `api_view` turns them into responses, turns anything unexpected into a
500 ``internal_error`` carrying a request id (the traceback goes to the log, never to the client),
and `normalize_chalice_errors` rewrites the ``{"Code", "Message"}`` bodies Chalice produces on its
own (405, 415, its 500) into the service's shape.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib import errors, observability
from chalicelib.http.responses import error_response
from chalicelib.services import views

log = logging.getLogger("formula_intake.http")

STATUS_BY_ERROR: list[tuple[type[errors.FormulaIntakeError], int]] = [
    (errors.ValidationError, 400),
    (errors.ReceiptHandleMalformed, 400),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.NotFound, 404),
    (errors.ReceiptHandleUnknown, 404),
    (errors.ConflictError, 409),
    (errors.IdempotencyKeyReused, 422),
    (errors.QueueFull, 503),
    (errors.InfrastructureError, 503),
]

_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequestError": "bad_request",
    "BadRequest": "bad_request",
    "UnauthorizedError": "unauthenticated",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "ConflictError": "conflict",
    "TooManyRequestsError": "rate_limited",
    "RequestTimeoutError": "request_timeout",
    "InternalServerError": "internal_error",
}


def status_for(exc: errors.FormulaIntakeError) -> int:
    """The HTTP status for a domain error (500 for a class the table does not know)."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def response_for(exc: errors.FormulaIntakeError, headers: dict[str, str] | None = None) -> Response:
    """The error response for a domain error, with ``Retry-After`` where a retry makes sense."""
    out = dict(headers or {})
    if isinstance(exc, errors.DuplicateFormula) and exc.existing_id is not None:
        out["Location"] = views.location(exc.existing_id)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        out["Retry-After"] = str(retry_after)
    elif isinstance(exc, errors.InfrastructureError):
        out["Retry-After"] = "1"
    return error_response(status_for(exc), exc.code, exc.message, headers=out, **exc.extra())


current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
"""Set by the edge middleware, so a 500 body names the id the access log names."""


def fresh_request_id() -> str:
    """A new request id, in the form of API Gateway's: a dashed UUID."""
    return str(uuid.uuid4())


def new_request_id() -> str:
    return current_request_id.get() or fresh_request_id()


def internal_error(request_id: str) -> Response:
    return error_response(500, "internal_error", "An internal error occurred.", request_id=request_id)


def _count_rejection(exc: errors.FormulaIntakeError) -> None:
    if isinstance(exc, errors.DuplicateFormula):
        observability.count(observability.DUPLICATES_REJECTED)
    elif isinstance(exc, errors.ValidationError):
        observability.count(observability.VALIDATION_REJECTIONS)


def api_view(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a route: domain errors become their responses, anything else a 500 with a request id."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except errors.FormulaIntakeError as exc:
            _count_rejection(exc)
            return response_for(exc)
        except Exception:
            request_id = new_request_id()
            log.exception("unhandled error in %s (request_id=%s)", view.__name__, request_id)
            return internal_error(request_id)

    return wrapper


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower().removesuffix("_error") or "error"


def normalize_chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware: rewrite Chalice's ``{"Code", "Message"}`` bodies into the one shape."""
    response = get_response(event)
    body = response.body
    if isinstance(body, str) and body.startswith('{"Code"'):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        chalice_code = str(body["Code"])
        code = _CHALICE_CODES.get(chalice_code) or _snake(chalice_code)
        message = str(body["Message"])
        extra: dict[str, Any] = {}
        if response.status_code >= 500:
            extra["request_id"] = new_request_id()
            message = "An internal error occurred."
        headers = {
            k: v for k, v in response.headers.items() if k.lower() != "content-type" and isinstance(v, str)
        }
        return error_response(response.status_code, code, message, headers=headers, **extra)
    return response
