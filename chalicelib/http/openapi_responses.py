"""The JSON Schemas of what the service answers: resources, pages, queue messages and statistics,
and the one error shape. Limits come from the constants the service enforces, as in
`chalicelib.http.openapi_schemas`, whose building blocks these use.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.domain import (
    MAX_BATCH,
    MAX_MATERIALS,
    NAME_MAX_CHARS,
)
from chalicelib.domain.model import MAX_CONCENTRATION
from chalicelib.http.openapi_schemas import ULID, Schema, integer, object_schema, ref
from chalicelib.ports.queue import QueueStats
from chalicelib.ports.store import STATUSES
from chalicelib.security.apikeys import ROLES
from chalicelib.services import queries, similarity, views


def response_schemas() -> dict[str, Schema]:
    """What the service answers: resources, pages, queue messages, stats, the error shape."""
    moment = {"type": "string", "format": "date-time"}
    epoch = {"type": "number", "minimum": 0, "description": "Seconds since the Unix epoch."}
    stats = [f.name for f in dataclasses.fields(QueueStats) if f.name != "exact"]
    counts = [name for name in stats if not name.endswith("_total")]
    return {
        "FormulaId": {"type": "string", "pattern": f"^{ULID}$"},
        "MessageId": {"type": "string", "pattern": f"^{re.escape(views.message_id_for(''))}{ULID}$"},
        "Fingerprint": {"type": "string", "pattern": "^v2:[0-9a-f]{64}$"},
        "MaterialResource": object_schema(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS},
                "concentration": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": int(MAX_CONCENTRATION),
                    "description": "The exact decimal submitted, digits and trailing zeros kept.",
                },
            },
            ["name", "concentration"],
        ),
        "FormulaResource": object_schema(
            {
                "id": ref("FormulaId"),
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS},
                "materials": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_MATERIALS,
                    "items": ref("MaterialResource"),
                },
                "fingerprint": ref("Fingerprint"),
                "status": {"enum": list(STATUSES)},
                "created_at": moment,
                "message_id": ref("MessageId"),
                "processed_at": moment,
                "last_error": {"type": "string"},
                "attempts": integer(1),
                "near_duplicates": {
                    "type": "array",
                    "maxItems": similarity.NEAR_DUPLICATE_LIMIT,
                    "items": ref("NearDuplicate"),
                    "description": "Once processed: the owner's formulas the processing step found at or "
                    "above the stage's near-duplicate threshold, most similar first.",
                },
            },
            ["id", "name", "materials", "fingerprint", "status", "created_at", "message_id"],
            "A stored formula; materials in submitted order.",
        ),
        "Similarity": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "Weighted Jaccard similarity of the make-ups, exact, truncated to 4 places.",
        },
        "NearDuplicate": object_schema(
            {"id": ref("FormulaId"), "similarity": ref("Similarity")}, ["id", "similarity"]
        ),
        "SimilarFormula": object_schema(
            {
                "id": ref("FormulaId"),
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS},
                "similarity": ref("Similarity"),
                "shared_materials": integer(1, MAX_MATERIALS),
            },
            ["id", "name", "similarity", "shared_materials"],
            "One of the owner's formulas; shared_materials counts the materials both list.",
        ),
        "SimilarFormulas": object_schema(
            {
                "formula_id": ref("FormulaId"),
                "similar": {
                    "type": "array",
                    "maxItems": similarity.MAX_LIMIT,
                    "items": ref("SimilarFormula"),
                },
            },
            ["formula_id", "similar"],
            "Most similar first, ties by id.",
        ),
        "SimilarToBody": object_schema(
            {"similar": {"type": "array", "maxItems": similarity.MAX_LIMIT, "items": ref("SimilarFormula")}},
            ["similar"],
            "Most similar first, ties by id.",
        ),
        "FormulaBatchResult": object_schema(
            {
                "formulas": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                    "items": ref("FormulaResource"),
                }
            },
            ["formulas"],
        ),
        "FormulaPage": object_schema(
            {
                "formulas": {"type": "array", "maxItems": queries.MAX_LIMIT, "items": ref("FormulaResource")},
                "next_cursor": {"type": ["string", "null"], "description": "Pass back as ?cursor= for more."},
            },
            ["formulas", "next_cursor"],
        ),
        "FormulaSubmittedMessage": object_schema(
            {
                "type": {"const": views.MESSAGE_TYPE},
                "version": {"const": views.MESSAGE_VERSION},
                "message_id": ref("MessageId"),
                "formula_id": ref("FormulaId"),
                "owner": {"type": "string", "minLength": 1},
                "fingerprint": ref("Fingerprint"),
                "name": {"type": "string", "minLength": 1},
                "materials": {"type": "array", "minItems": 1, "items": ref("MaterialResource")},
                "occurred_at": moment,
            },
            [
                "type",
                "version",
                "message_id",
                "formula_id",
                "owner",
                "fingerprint",
                "name",
                "materials",
                "occurred_at",
            ],
            "The message published for every accepted formula; message_id is stable per formula.",
        ),
        "ReceivedMessages": object_schema(
            {
                "messages": {
                    "type": "array",
                    "items": object_schema(
                        {
                            "message_id": {"type": "string", "minLength": 1},
                            "receipt_handle": {"type": "string", "minLength": 1},
                            "receive_count": integer(1),
                            "sent_at": epoch,
                            "first_received_at": epoch,
                            "body": ref("FormulaSubmittedMessage"),
                            "formula_status": {
                                "type": ["string", "null"],
                                "enum": ["queued", "processed", "failed", None],
                                "description": (
                                    "For a formula.submitted message: the formula's status now "
                                    "(null if it no longer exists), so a worker skips processed ones."
                                ),
                            },
                        },
                        [
                            "message_id",
                            "receipt_handle",
                            "receive_count",
                            "sent_at",
                            "first_received_at",
                            "body",
                        ],
                    ),
                }
            },
            ["messages"],
        ),
        "DeadLetters": object_schema(
            {
                "dead_letters": {
                    "type": "array",
                    "items": object_schema(
                        {
                            "message_id": {"type": "string", "minLength": 1},
                            "receive_count": integer(1),
                            "sent_at": epoch,
                            "dead_lettered_at": epoch,
                            "body": ref("FormulaSubmittedMessage"),
                        },
                        ["message_id", "receive_count", "sent_at", "dead_lettered_at", "body"],
                    ),
                }
            },
            ["dead_letters"],
        ),
        "QueueStats": object_schema(
            {**{name: integer(0) for name in stats}, "exact": {"type": "boolean"}},
            [*counts, "exact"],
            "Counts now (exact, or the backend's approximate figures when `exact` is false), and the"
            " running totals only where the backend can know them (absent on SQS).",
        ),
        "RedriveResult": object_schema({"redriven": integer(0)}, ["redriven"]),
        "FormulaStatus": object_schema(
            {"formula_id": ref("FormulaId"), "owner": {"type": "string"}, "status": {"enum": list(STATUSES)}},
            ["formula_id", "owner", "status"],
        ),
        "AckBatchResult": object_schema(
            {
                "results": {
                    "type": "array",
                    "items": object_schema(
                        {
                            "receipt_handle": {"type": "string"},
                            "acked": {"type": "boolean"},
                            "error": object_schema(
                                {"code": {"type": "string"}, "message": {"type": "string"}},
                                ["code", "message"],
                            ),
                        },
                        ["receipt_handle", "acked"],
                    ),
                }
            },
            ["results"],
            "One result per handle, in the request's order; an error says why that one was not acked.",
        ),
        "StatusReportResult": object_schema(
            {"changed": {"type": "boolean"}, "formula": ref("FormulaResource")}, ["changed", "formula"]
        ),
        "Health": object_schema({"status": {"const": "ok"}}, ["status"]),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
        "Error": error_schema(),
    }


def error_schema() -> Schema:
    """The one error shape, ``{"error": {"code", "message", ...}}``, with every optional field."""
    field_error = object_schema(
        {"field": {"type": "string"}, "message": {"type": "string"}}, ["field", "message"]
    )
    index = integer(0)
    conflict = object_schema(
        {
            "fingerprint": ref("Fingerprint"),
            "index": index,
            "existing_id": ref("FormulaId"),
            "duplicate_of_index": index,
        },
        ["fingerprint"],
    )
    inner = object_schema(
        {
            "code": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]*$",
                "description": "Stable; branch on it.",
            },
            "message": {"type": "string", "minLength": 1, "description": "For people; may change."},
            "details": {
                "type": "array",
                "items": field_error,
                "description": "validation_error: every problem.",
            },
            "conflicts": {
                "type": "array",
                "items": conflict,
                "description": "duplicate_formula: each clash.",
            },
            "existing_id": ref("FormulaId"),
            "limit_bytes": integer(1),
            "request_id": {
                "type": "string",
                "minLength": 1,
                "description": "internal_error: also in the log.",
            },
            "required_roles": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": list(ROLES)},
            },
        },
        ["code", "message"],
    )
    return object_schema({"error": inner}, ["error"], "Every error response, whatever produced it.")


def error_with_codes(codes: list[str]) -> Schema:
    """The error shape narrowed to the codes one response can carry."""
    return {
        "allOf": [ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": sorted(set(codes))}}}},
    }
