"""The OpenAPI 3.1 document of the HTTP API, generated from the tables the service itself runs on.

Nothing here is written twice. Which roles a route needs comes from
`chalicelib.security.policy`; limits come from the validation constants (via
`chalicelib.http.openapi_schemas`); which status an error gets comes from
`chalicelib.http.errors.STATUS_BY_ERROR`. Each operation below lists only what is particular to
it: its parameters, body, success answers and the domain errors it can raise. `document` adds
what every route shares: the edge's answers (401, 403, 429, 414, 431, 415, 500), the headers
the edge puts on every response, and the security requirements.

`document` is a pure function, called per request by ``GET /openapi.json``; importing this
module does no work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib import errors
from chalicelib.config import Settings
from chalicelib.http.errors import STATUS_BY_ERROR
from chalicelib.http.middleware import NO_STORE_PREFIXES
from chalicelib.http.openapi_schemas import (
    DEAD_LETTERS_LIMIT,
    OWNER_MAX_CHARS,
    ULID,
    Schema,
    error_with_codes,
    integer,
    ref,
    request_schemas,
    response_schemas,
)
from chalicelib.ports.store import STATUSES
from chalicelib.security.policy import PUBLIC_ROUTES, ROUTE_ROLES
from chalicelib.services import queries, similarity, views
from chalicelib.services.submission import MAX_KEY_LENGTH

SECURITY_SCHEMES = ("bearerAuth", "apiKeyAuth")

_STORE = (errors.InfrastructureError,)
"""Every route that reads or writes the store or the queue can meet a backend failure (503)."""

_HANDLE_ERRORS = (
    errors.ValidationError,
    errors.ReceiptHandleMalformed,
    errors.ReceiptHandleUnknown,
    errors.ReceiptHandleSuperseded,
    *_STORE,
)

_RETRY_AFTER = (errors.RequestInProgress, errors.QueueFull, errors.InfrastructureError)
"""The errors `chalicelib.http.errors.response_for` answers with a Retry-After header."""


@dataclass(frozen=True, slots=True)
class Edge:
    """An answer the HTTP edge (middleware, Chalice, the dev server) gives before or around a route."""

    status: int
    code: str
    description: str


EDGE_ALWAYS = (
    Edge(414, "query_too_long", "The query string is too long (limit_bytes)."),
    Edge(415, "unsupported_media_type", "A Content-Type other than JSON (a missing one is read as JSON)."),
    Edge(431, "headers_too_large", "The request headers are too large (limit_bytes)."),
    Edge(500, "internal_error", "An unexpected failure; request_id names the log entry."),
)
EDGE_PROTECTED = (
    Edge(401, "unauthenticated", "No API key, or not a valid one."),
    Edge(403, "forbidden", "The key lacks every role this route allows (required_roles)."),
    Edge(429, "rate_limited", "Too many requests for this key; retry after Retry-After seconds."),
)
EDGE_BODY = (
    Edge(
        413,
        errors.PayloadTooLarge.code,
        f"The body is over the limit ({Settings.max_body_bytes} bytes unless the stage sets another; "
        "limit_bytes says which).",
    ),
)


@dataclass(frozen=True, slots=True)
class Operation:
    """What is particular to one route: the rest is derived in `document`."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    ok: dict[int, tuple[str, Schema | None]]
    raises: tuple[type[errors.FormulaIntakeError], ...] = ()
    parameters: tuple[dict[str, Any], ...] = ()
    body: str | None = None
    body_required: bool = True
    examples: dict[str, Any] = field(default_factory=dict)
    ok_headers: dict[int, tuple[str, ...]] = field(default_factory=dict)
    ok_links: dict[int, dict[str, Any]] = field(default_factory=dict)


def _param(name: str, where: str, schema: Schema, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


_FORMULA_ID = _param("formula_id", "path", ref("FormulaId"), "The formula's id.", required=True)
_OWNER = _param(
    "owner",
    "query",
    {"type": "string", "minLength": 1, "maxLength": OWNER_MAX_CHARS},
    "The principal that owns the formula (from the message).",
    required=True,
)

_SIMILAR_PARAMS = (
    _param(
        "min_similarity",
        "query",
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": float(similarity.DEFAULT_MIN_SIMILARITY),
        },
        "Only formulas at least this similar (the similarity is truncated to 4 places before comparing).",
    ),
    _param(
        "limit",
        "query",
        integer(1, similarity.MAX_LIMIT, similarity.DEFAULT_LIMIT),
        "At most this many, the most similar.",
    ),
)

_SUMMER_BREEZE = {
    "name": "Summer Breeze",
    "materials": [
        {"name": "Bergamot Oil", "concentration": 15.5},
        {"name": "Lavender Absolute", "concentration": "10.0"},
        {"name": "Sandalwood", "concentration": 5.2},
    ],
}
_BATCH = [
    {"name": "Iris", "materials": [{"name": "Orris Butter", "concentration": "2.5"}]},
    {"name": "Oud", "materials": [{"name": "Agarwood Oil", "concentration": 0.75}]},
]


def _header(schema: Schema, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


LOCATION = _header(
    {"type": "string", "pattern": f"^{re.escape(views.location(''))}{ULID}$"}, "The formula's URL."
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/health",
        "health",
        "Liveness: the process answers.",
        "service",
        ok={200: ("The service is up.", ref("Health"))},
    ),
    Operation(
        "GET",
        "/openapi.json",
        "openapi_document",
        "This document.",
        "service",
        ok={200: ("The OpenAPI 3.1 document.", ref("OpenApiDocument"))},
    ),
    Operation(
        "POST",
        "/formulas",
        "submit_formulas",
        "Submit a formula, or a batch of formulas.",
        "formulas",
        ok={
            201: (
                'Stored and queued: the formula, or {"formulas": [...]} for a batch.',
                {"oneOf": [ref("FormulaResource"), ref("FormulaBatchResult")]},
            )
        },
        ok_headers={201: ("Location", "Idempotent-Replayed")},
        ok_links={
            201: {
                "GetFormula": {
                    "operationId": "get_formula",
                    "parameters": {"formula_id": "$response.body#/id"},
                    "description": "The formula just stored (a single submission).",
                }
            }
        },
        raises=(
            errors.ValidationError,
            errors.DuplicateFormula,
            errors.RequestInProgress,
            errors.IdempotencyKeyReused,
            errors.QueueFull,
            *_STORE,
        ),
        parameters=(
            _param(
                "Idempotency-Key",
                "header",
                {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
                "Makes a retry safe: the same key and body replay the first answer (24 h, per owner).",
            ),
        ),
        body="Submission",
        examples={
            "single": {"summary": "One formula", "value": _SUMMER_BREEZE},
            "batch": {"summary": "A batch, all or nothing", "value": _BATCH},
        },
    ),
    Operation(
        "GET",
        "/formulas",
        "list_formulas",
        "List the caller's formulas, oldest first.",
        "formulas",
        ok={200: ("A page of formulas.", ref("FormulaPage"))},
        raises=(errors.ValidationError, *_STORE),
        parameters=(
            _param("limit", "query", integer(1, queries.MAX_LIMIT, queries.DEFAULT_LIMIT), "Page size."),
            _param("cursor", "query", {"type": "string", "minLength": 1}, "next_cursor of the last page."),
            _param("status", "query", {"enum": list(STATUSES)}, "Only formulas in this status."),
        ),
    ),
    Operation(
        "GET",
        "/formulas/{formula_id}",
        "get_formula",
        "Read one of the caller's formulas.",
        "formulas",
        ok={200: ("The formula.", ref("FormulaResource"))},
        raises=(errors.NotFound, *_STORE),
        parameters=(_FORMULA_ID,),
    ),
    Operation(
        "GET",
        "/formulas/{formula_id}/similar",
        "similar_formulas",
        "The caller's other formulas whose make-up is like this one's (exact weighted Jaccard).",
        "formulas",
        ok={200: ("The similar formulas, most similar first, ties by id.", ref("SimilarFormulas"))},
        raises=(errors.ValidationError, errors.NotFound, *_STORE),
        parameters=(_FORMULA_ID, *_SIMILAR_PARAMS),
    ),
    Operation(
        "POST",
        "/formulas/similar",
        "similar_to_body",
        "The caller's formulas like the formula in the body; nothing is stored or published.",
        "formulas",
        ok={200: ("The similar formulas, most similar first, ties by id.", ref("SimilarToBody"))},
        raises=(errors.ValidationError, *_STORE),
        parameters=_SIMILAR_PARAMS,
        body="Formula",
        examples={"single": {"summary": "One formula", "value": _SUMMER_BREEZE}},
    ),
    Operation(
        "POST",
        "/queue/receive",
        "queue_receive",
        "Receive messages, hiding them for a while.",
        "queue",
        ok={200: ("Zero or more messages.", ref("ReceivedMessages"))},
        raises=(errors.ValidationError, *_STORE),
        body="ReceiveRequest",
        body_required=False,
    ),
    Operation(
        "POST",
        "/queue/ack",
        "queue_ack",
        "Delete a received message, or up to 10 in one call.",
        "queue",
        ok={204: ("Deleted.", None), 200: ("Each handle's outcome (a batch).", ref("AckBatchResult"))},
        raises=_HANDLE_ERRORS,
        body="AckRequest",
    ),
    Operation(
        "POST",
        "/queue/nack",
        "queue_nack",
        "Release a received message for redelivery.",
        "queue",
        ok={204: ("Released.", None)},
        raises=_HANDLE_ERRORS,
        body="NackRequest",
    ),
    Operation(
        "GET",
        "/queue/stats",
        "queue_stats",
        "Queue counts and totals.",
        "queue",
        ok={200: ("The counts.", ref("QueueStats"))},
        raises=_STORE,
    ),
    Operation(
        "GET",
        "/queue/dead-letters",
        "queue_dead_letters",
        "Dead-lettered messages, oldest first.",
        "queue",
        ok={200: ("The dead letters.", ref("DeadLetters"))},
        raises=(errors.ValidationError, *_STORE),
        parameters=(_param("limit", "query", integer(*DEAD_LETTERS_LIMIT), "At most this many."),),
    ),
    Operation(
        "POST",
        "/queue/dead-letters/redrive",
        "queue_redrive",
        "Move dead letters back to the queue.",
        "queue",
        ok={200: ("How many were moved.", ref("RedriveResult"))},
        raises=(errors.ValidationError, *_STORE),
        body="RedriveRequest",
        body_required=False,
    ),
    Operation(
        "GET",
        "/queue/formulas/{formula_id}/status",
        "queue_formula_status",
        "Read a formula's processing status (for consumers).",
        "queue",
        ok={200: ("The status.", ref("FormulaStatus"))},
        raises=(errors.ValidationError, errors.NotFound, *_STORE),
        parameters=(_FORMULA_ID, _OWNER),
    ),
    Operation(
        "PUT",
        "/queue/formulas/{formula_id}/status",
        "queue_report_status",
        "Report a formula processed or failed (for consumers).",
        "queue",
        ok={200: ("The formula after the report; changed is false for a repeat.", ref("StatusReportResult"))},
        raises=(errors.ValidationError, errors.NotFound, *_STORE),
        parameters=(_FORMULA_ID,),
        body="StatusReport",
    ),
)


def status_of(error: type[errors.FormulaIntakeError]) -> int:
    """The status `chalicelib.http.errors.status_for` gives instances of ``error``."""
    for cls, status in STATUS_BY_ERROR:
        if issubclass(error, cls):
            return status
    return 500


def security_for(method: str, path: str) -> list[dict[str, list[str]]]:
    """``[]`` for a public route; else one alternative per (scheme, role) from the policy table.

    OpenAPI 3.1 lets a non-OAuth requirement list role names; listing each role in its own
    requirement object says "any one of these roles", which is what the policy means.
    """
    if (method, path) in PUBLIC_ROUTES:
        return []
    roles = ROUTE_ROLES.get((method, path))
    if not roles:
        raise ValueError(f"{method} {path} is in neither PUBLIC_ROUTES nor ROUTE_ROLES")
    return [{scheme: [role]} for role in sorted(roles) for scheme in SECURITY_SCHEMES]


def header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def header_components() -> dict[str, Any]:
    """The response headers; ``required`` says the header is on every response that lists it."""
    return {
        "X-Request-Id": _header({"type": "string", "minLength": 1}, "Names this request in the access log."),
        "X-Content-Type-Options": _header({"const": "nosniff"}, "Always nosniff."),
        "Cache-Control": _header({"const": "no-store"}, "Formulas and queue data are never cached."),
        "WWW-Authenticate": _header({"type": "string", "pattern": "^Bearer "}, "How to authenticate."),
        "Retry-After": _header(integer(0), "Seconds to wait before retrying."),
        "Location": {**LOCATION, "required": False},
        "Idempotent-Replayed": _header(
            {"const": "true"}, "Present when the answer replays an Idempotency-Key.", required=False
        ),
    }


def _common_headers(path: str, *, from_app: bool = True) -> dict[str, Any]:
    if not from_app:  # the dev server answers (413) before the app and its middleware run
        return {
            "X-Request-Id": {**header_components()["X-Request-Id"], "required": False},
            "X-Content-Type-Options": header_ref("X-Content-Type-Options"),
        }
    headers = {name: header_ref(name) for name in ("X-Request-Id", "X-Content-Type-Options")}
    if path.startswith(NO_STORE_PREFIXES):
        headers["Cache-Control"] = header_ref("Cache-Control")
    return headers


def _error_headers(status: int, raised: list[type[errors.FormulaIntakeError]]) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if status == 401:
        headers["WWW-Authenticate"] = header_ref("WWW-Authenticate")
    retrying = [cls for cls in raised if issubclass(cls, _RETRY_AFTER)]
    if status == 429 or (retrying and len(retrying) == len(raised)):
        headers["Retry-After"] = header_ref("Retry-After")
    elif retrying:
        headers["Retry-After"] = {**header_components()["Retry-After"], "required": False}
    if errors.DuplicateFormula in raised:
        headers["Location"] = header_ref("Location")
    return headers


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, schema) in sorted(op.ok.items()):
        response: dict[str, Any] = {
            "description": description,
            "headers": {
                **_common_headers(op.path),
                **{name: header_ref(name) for name in op.ok_headers.get(status, ())},
            },
        }
        if schema is not None:
            response["content"] = {"application/json": {"schema": schema}}
        if status in op.ok_links:
            response["links"] = op.ok_links[status]
        responses[str(status)] = response
    edges = [*EDGE_ALWAYS, *(EDGE_PROTECTED if (op.method, op.path) not in PUBLIC_ROUTES else ())]
    edges += EDGE_BODY if op.body else ()
    by_status: dict[int, tuple[list[str], list[str], list[type[errors.FormulaIntakeError]]]] = {}
    for edge in edges:
        codes, notes, _ = by_status.setdefault(edge.status, ([], [], []))
        codes.append(edge.code)
        notes.append(f"`{edge.code}`: {edge.description}")
    for cls in op.raises:
        codes, notes, raised = by_status.setdefault(status_of(cls), ([], [], []))
        raised.append(cls)
        if cls.code not in codes:
            codes.append(cls.code)
            notes.append(f"`{cls.code}`: {(cls.__doc__ or '').splitlines()[0]}")
    for status, (codes, notes, raised) in sorted(by_status.items()):
        responses[str(status)] = {
            "description": " ".join(notes),
            # The dev server answers 413 itself, before the app (and its request id) runs.
            "headers": {**_common_headers(op.path, from_app=status != 413), **_error_headers(status, raised)},
            "content": {"application/json": {"schema": error_with_codes(codes)}},
        }
    return responses


def _operation(op: Operation) -> dict[str, Any]:
    security = security_for(op.method, op.path)
    roles = sorted({role for requirement in security for names in requirement.values() for role in names})
    who = f"Requires an API key with one of the roles: {', '.join(roles)}." if roles else "Public: no key."
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": who,
        "tags": [op.tag],
        "security": security,
        "responses": _responses(op),
    }
    if op.parameters:
        out["parameters"] = list(op.parameters)
    if op.body:
        media: dict[str, Any] = {"schema": ref(op.body)}
        if op.examples:
            media["examples"] = op.examples
        out["requestBody"] = {"required": op.body_required, "content": {"application/json": media}}
    return out


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route, built fresh (a few milliseconds) on each call."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "formula-intake",
            "version": "1",
            "description": (
                "Accepts fragrance formula submissions, stores each make-up once per owner, and "
                "publishes a formula.submitted message for every accepted formula. Concentrations "
                'are exact decimals. Every error has the shape {"error": {"code", "message", ...}}; '
                "a wrong method answers 405 method_not_allowed with Allow, an unknown path 404 not_found."
            ),
        },
        "tags": [
            {"name": "formulas", "description": "Submitting and reading formulas."},
            {"name": "queue", "description": "The consumer API over the formula.submitted queue."},
            {"name": "service", "description": "Health and this document."},
        ],
        "paths": paths,
        "components": {
            "schemas": {**request_schemas(), **response_schemas()},
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <key>",
                },
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
            "headers": header_components(),
        },
    }
