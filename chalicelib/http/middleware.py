"""The HTTP edge: one Chalice middleware that every request passes through.

In order: a request id; hard limits on headers; authentication (``Authorization: Bearer <key>``
or ``X-Api-Key``) and the route's roles; the principal's rate limit; then the route. On the way
out it rewrites Chalice's own error bodies into the service's shape, adds security headers, and
writes one structured log line.

This is the service's authorizer. It runs inside the app, so it behaves identically under
``chalice local``, the fast dev server, ``chalice.test.Client`` and API Gateway + Lambda, and
its 401/403 answers use the one error shape. (A Chalice ``@app.authorizer`` was not used: its
local emulation answers a missing header with its own body before any app code runs, and a
TOKEN authorizer can read only one header, so ``X-Api-Key`` could not work.)

The log line holds the request id, principal, method, route template, status and latency —
never a body, a query string, a formula or a key.

The middleware finds the stage's keys and rate limiter through a callable it is given
(`make_edge`), so this layer imports nothing from the composition root above it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from chalice.app import Request, Response

from chalicelib import jsonio, observability
from chalicelib.errors import FieldError, InfrastructureError, UnsupportedMediaType, ValidationError
from chalicelib.http import media
from chalicelib.http.errors import (
    current_request_id,
    fresh_request_id,
    normalize_chalice_errors,
    response_for,
)
from chalicelib.http.responses import error_response
from chalicelib.security.apikeys import KeyRing, presented_key
from chalicelib.security.policy import roles_for
from chalicelib.security.ratelimit import RateLimiter

log = logging.getLogger("formula_intake.access")

MAX_HEADER_BYTES = 16 * 1024
MAX_QUERY_BYTES = 2048
NO_STORE_PREFIXES = ("/formulas", "/queue")
CONSUMER_API_PREFIX = "/queue/"
"""The consumer API's routes, answered only where the stage enables them (``FI_CONSUMER_API``)."""
SINGLE_HEADERS = ("authorization", "x-api-key")
"""Credentials sent twice are refused: API Gateway would use the last copy, a local server the first."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
QUERY_WITH_BODY = frozenset({("POST", "/formulas/similar")})
"""Body routes that also read query parameters (the route validates them itself)."""

Middleware = Callable[[Request, Callable[[Request], Response]], Response]


class EdgeServices(Protocol):
    """What the edge needs from the stage's services: its API keys and its rate limiter."""

    @property
    def api_keys(self) -> KeyRing: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def consumer_api_enabled(self) -> bool: ...


def request_id(request: Request) -> str:
    context = request.context
    rid = context.get("requestId")
    if not isinstance(rid, str) or not rid:
        rid = fresh_request_id()
        context["requestId"] = rid
    return rid


def principal_of(request: Request) -> str:
    """The authenticated principal (the owner) of the request."""
    authorizer = request.context.get("authorizer") or {}
    principal = authorizer.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise RuntimeError("no authenticated principal on a route that requires one")
    return principal


def _unauthenticated(message: str) -> Response:
    return error_response(
        401, "unauthenticated", message, headers={"WWW-Authenticate": 'Bearer realm="formula-intake"'}
    )


@functools.lru_cache(maxsize=64)
def _roles_text(roles: frozenset[str]) -> str:
    """``"reader,submitter"``: the roles as the authorizer context carries them (few distinct sets)."""
    return ",".join(sorted(roles))


def _guard(
    request: Request, route: str, services: Callable[[], EdgeServices]
) -> tuple[Response | None, str | None]:
    headers = request.headers
    sent = request.to_original_event().get("headers") or {}  # a plain dict: cheaper to measure
    headers_size = sum(map(len, sent)) + sum(map(len, sent.values()))
    if headers_size > MAX_HEADER_BYTES:
        return error_response(
            431,
            "headers_too_large",
            f"Request headers exceed {MAX_HEADER_BYTES} bytes.",
            limit_bytes=MAX_HEADER_BYTES,
        ), None
    params = request.query_params
    if params and sum(len(k) + len(v) for k, v in dict(params).items()) > MAX_QUERY_BYTES:
        return error_response(
            414,
            "query_too_long",
            f"The query string exceeds {MAX_QUERY_BYTES} bytes.",
            limit_bytes=MAX_QUERY_BYTES,
        ), None
    repeated = _repeated_header(request)
    if repeated is not None:
        return error_response(
            400, "bad_request", f"The {repeated} header appears more than once.", header=repeated
        ), None
    if route.startswith(CONSUMER_API_PREFIX) and not services().consumer_api_enabled:
        # Off in deployed stages: the Lambda consumer owns the queue there.
        return error_response(404, "not_found", "No route matches the request."), None
    allowed = roles_for(request.method, route)
    if allowed is None:  # a public route, or a method the route does not have (405)
        return None, None
    stage = services()
    authorization = headers.get("authorization")
    # X-Api-Key counts only without an Authorization header, so it is looked up only then.
    key = presented_key(authorization, None if authorization else headers.get("x-api-key"))
    if key is None:
        return _unauthenticated("An API key is required (Authorization: Bearer <key>, or X-Api-Key)."), None
    try:
        principal = stage.api_keys.authenticate(key)
    except InfrastructureError as exc:  # the stage's keys could not be read: a 503, not a 401
        return response_for(exc), None
    if principal is None:
        return _unauthenticated("The API key is not valid."), None
    if principal.roles.isdisjoint(allowed):
        return error_response(
            403,
            "forbidden",
            f"This key may not call {request.method} {route}.",
            required_roles=sorted(allowed),
        ), principal.name
    wait = stage.rate_limiter.allow(principal.name)
    if wait:
        return error_response(
            429, "rate_limited", "Too many requests for this API key.", headers={"Retry-After": str(wait)}
        ), principal.name
    request.context["authorizer"] = {
        "principalId": principal.name,
        "roles": _roles_text(principal.roles),
    }
    return _body_refusal(request, route), principal.name


def _repeated_header(request: Request) -> str | None:
    """A credential header sent more than once (API Gateway lists every copy in ``multiValueHeaders``)."""
    multi = request.to_original_event().get("multiValueHeaders") or {}
    counts: dict[str, int] = {}
    for name, values in multi.items():
        counts[name.lower()] = counts.get(name.lower(), 0) + len(values or ())
    return next((name for name in SINGLE_HEADERS if counts.get(name, 0) > 1), None)


def _body_refusal(request: Request, route: str) -> Response | None:
    """415 for a body not declared as UTF-8 JSON; 400 for query parameters on a POST or PUT
    (except on the routes of `QUERY_WITH_BODY`)."""
    if request.method not in BODY_METHODS:
        return None
    content_type = request.headers.get("content-type")
    if content_type is not None and not media.is_json(content_type):
        return response_for(
            UnsupportedMediaType(f"The body must be application/json (UTF-8), not {content_type[:100]!r}.")
        )
    if request.query_params and (request.method, route) not in QUERY_WITH_BODY:
        unknown = [FieldError(name, "unknown query parameter") for name in sorted(request.query_params)]
        return response_for(ValidationError(unknown, "This route takes no query parameters."))
    return None


def make_edge(services: Callable[[], EdgeServices]) -> Middleware:
    """The Chalice ``http`` middleware, taking keys and rate limits from ``services()`` per request.

    ``services`` is called on every request (not once), so a stage's services can be built
    lazily and replaced in tests.
    """

    def edge(event: Request, get_response: Callable[[Request], Response]) -> Response:
        """Limits, authentication, authorization, rate limits, security headers, one log line."""
        started = time.perf_counter()
        rid = request_id(event)
        current_request_id.set(rid)
        observability.set_correlation_id(rid)
        route = str(event.context.get("resourcePath") or event.path)
        refusal, principal = _guard(event, route, services)
        response = refusal if refusal is not None else normalize_chalice_errors(event, get_response)
        response.headers["X-Request-Id"] = rid
        response.headers["X-Content-Type-Options"] = "nosniff"
        if route.startswith(NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        line: dict[str, Any] = {
            "event": "request",
            "request_id": rid,
            "principal": principal,
            "method": event.method,
            "route": route,
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        log.info(jsonio.dumps(line))
        observability.flush()
        return response

    return edge
