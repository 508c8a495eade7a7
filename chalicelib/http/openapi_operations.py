"""What is particular to each route of the HTTP API, for the OpenAPI document (`chalicelib.http.openapi`).

One `Operation` per route: its parameters, body, examples, success answers and the domain errors
it can raise; and the answers the edge gives around every route (`EDGE_ALWAYS`, `EDGE_PROTECTED`,
`EDGE_BODY`). Limits come from the constants the service runs on, never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib import errors
from chalicelib.config import Settings
from chalicelib.http.openapi_schemas import (
    DEAD_LETTERS_LIMIT,
    OWNER_MAX_CHARS,
    Schema,
    integer,
    ref,
)
from chalicelib.ports.store import STATUSES
from chalicelib.services import queries, similarity
from chalicelib.services.submission import MAX_KEY_LENGTH

_STORE = (errors.InfrastructureError,)
"""Every route that reads or writes the store or the queue can meet a backend failure (503)."""

_HANDLE_ERRORS = (
    errors.ValidationError,
    errors.ReceiptHandleMalformed,
    errors.ReceiptHandleUnknown,
    errors.ReceiptHandleSuperseded,
    *_STORE,
)


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
        "Report a formula processed or failed (for consumers). A processed report for a formula not "
        "yet processed first indexes it for similar-formula search and stores its near_duplicates.",
        "queue",
        ok={200: ("The formula after the report; changed is false for a repeat.", ref("StatusReportResult"))},
        raises=(errors.ValidationError, errors.NotFound, *_STORE),
        parameters=(_FORMULA_ID,),
        body="StatusReport",
    ),
)
