"""The JSON Schemas of the OpenAPI document: request bodies, resources, messages, the error shape.

OpenAPI 3.1 uses JSON Schema 2020-12 as it is, so these are plain dictionaries. Every limit comes
from the constant the service enforces (`chalicelib.domain`, `chalicelib.services.queries`,
`chalicelib.services.consumer`): change a limit there and the document follows. The consumer
API's other ranges are literals in `chalicelib.services.consumer` and `chalicelib.http.params`;
they are restated once below (`CONSUMER_INTEGERS`, `DEAD_LETTERS_LIMIT`, `OWNER_MAX_CHARS`,
`DEFAULT_MAX_STRING`), and ``tests/api/test_openapi.py`` sends every bound, and one past it, to
the service, so the two cannot drift apart silently.

`chalicelib.http.openapi` assembles these into the document's ``components``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from typing import Any

from chalicelib.domain import (
    MAX_BATCH,
    MAX_FRACTION_DIGITS,
    MAX_MATERIALS,
    MAX_SIGNIFICANT_DIGITS,
    NAME_MAX_CHARS,
)
from chalicelib.domain.model import MAX_CONCENTRATION, MAX_TOTAL_CONCENTRATION
from chalicelib.ports.queue import QueueStats
from chalicelib.ports.store import STATUS_FAILED, STATUS_PROCESSED, STATUSES
from chalicelib.security.apikeys import ROLES
from chalicelib.services import consumer, queries, similarity, views

Schema = dict[str, Any]

ULID = "[0-9A-HJKMNP-TV-Z]{26}"
"""A formula id: 26 Crockford base32 characters (`chalicelib.ids`)."""

PLAIN_DECIMAL = r"^[0-9]+(\.[0-9]+)?$|^[0-9]*\.[0-9]+$"
"""A concentration written as a string: digits and at most one point, no sign or exponent."""

CONCENTRATION_TEXT = r"^0*(?:[1-9][0-9]?(?:\.[0-9]+)?|100(?:\.0+)?|\.[0-9]*[1-9][0-9]*)$"
"""`PLAIN_DECIMAL` narrowed to values greater than 0 and at most 100 (leading zeros allowed)."""

_LONG_RUN = 1024
"""Runs of refused code points at least this long are left out of `name_pattern`'s class."""


def _refused_in_names(char: str) -> bool:
    """`chalicelib.domain.model.name_problem`'s character rule (a test holds the two together)."""
    return not (char.isprintable() or char in "\u200c\u200d" or unicodedata.category(char) == "Zs")


def _class_range(first: int, last: int) -> str:
    def one(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)  # astral: the character itself

    return one(first) if first == last else f"{one(first)}-{one(last)}"


@functools.cache
def name_pattern() -> str:
    """The characters a name may hold: everything but control characters, surrogates and the long
    runs of unassigned and private-use code points the service refuses (derived from `unicodedata`).

    The class lists what is allowed rather than what is not: generators such as Hypothesis expand
    a class code point by code point, and the allowed set is the smaller one. The service refuses
    a few more scattered characters (format and unassigned ones); the description says so.
    """
    barred = [(0x00, 0x1F), (0x7F, 0x9F), (0xD800, 0xDFFF)]
    start: int | None = None
    for code in range(0x110000 + 1):
        refused = code < 0x110000 and _refused_in_names(chr(code))
        if refused and start is None:
            start = code
        elif not refused and start is not None:
            if code - start >= _LONG_RUN:
                barred.append((start, code - 1))
            start = None
    allowed: list[str] = []
    after = 0
    for first, last in sorted(barred):
        if first > after:
            allowed.append(_class_range(after, first - 1))
        after = max(after, last + 1)
    if after <= 0x10FFFF:
        allowed.append(_class_range(after, 0x10FFFF))
    return f"^[{''.join(allowed)}]+$"


DEFAULT_MAX_STRING = 2048
"""`chalicelib.http.params.Fields.string`'s default length limit (receipt handles)."""

CONSUMER_INTEGERS: dict[str, dict[str, tuple[int, int, int]]] = {
    "ReceiveRequest": {
        "max_messages": (1, 10, 1),
        "visibility_timeout": (0, consumer.MAX_VISIBILITY, 30),
        "wait_seconds": (0, 20, 0),
    },
    "NackRequest": {"delay_seconds": (0, consumer.MAX_VISIBILITY, 0)},
    "RedriveRequest": {"limit": (1, 100_000, 100_000)},
    "StatusReport": {"attempts": (1, 1_000_000, 1)},
}
"""(minimum, maximum, default) of each integer field of a consumer API body."""

DEAD_LETTERS_LIMIT = (1, 100, 100)
"""(minimum, maximum, default) of ``GET /queue/dead-letters?limit=``."""

OWNER_MAX_CHARS = 200
"""Longest ``owner`` the status endpoints accept."""


def ref(name: str) -> Schema:
    """A reference to ``#/components/schemas/<name>``."""
    return {"$ref": f"#/components/schemas/{name}"}


def integer(low: int, high: int | None = None, default: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    if default is not None:
        schema["default"] = default
    return schema


def _object(properties: dict[str, Schema], required: list[str], description: str = "") -> Schema:
    schema: Schema = {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


def _name(what: str) -> Schema:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_CHARS,
        "pattern": name_pattern(),
        "not": {"pattern": r"^\s*$"},
        "description": (
            f"The {what}: 1-{NAME_MAX_CHARS} characters after trimming outer whitespace; no control "
            "or invisible characters, no unassigned or private-use code points (the pattern leaves "
            "out the long runs of those)."
        ),
    }


def optional_integer(low: int, high: int, default: int) -> Schema:
    """An optional body field: absent or null both mean the default (`Fields.integer`)."""
    return {**integer(low, high, default), "type": ["integer", "null"]}


def _consumer_body(name: str, description: str, extra: dict[str, Schema], required: list[str]) -> Schema:
    properties = dict(extra)
    for field, bounds in CONSUMER_INTEGERS[name].items():
        properties[field] = optional_integer(*bounds)
    return _object(properties, required, description)


def request_schemas() -> dict[str, Schema]:
    """What clients send: a formula or a batch, and the consumer API's bodies."""
    handle = {"type": "string", "minLength": 1, "maxLength": DEFAULT_MAX_STRING}
    owner = {"type": "string", "minLength": 1, "maxLength": OWNER_MAX_CHARS}
    report = CONSUMER_INTEGERS["StatusReport"]["attempts"]
    return {
        "Concentration": {
            "type": ["number", "string"],
            "exclusiveMinimum": 0,
            "maximum": int(MAX_CONCENTRATION),
            "pattern": CONCENTRATION_TEXT,
            "description": (
                f"Percent by weight, greater than 0 and at most {MAX_CONCENTRATION}: a JSON number, or a "
                f'string holding a plain decimal such as "15.50" (syntax {PLAIN_DECIMAL}; the pattern '
                "also encodes the range). At most "
                f"{MAX_SIGNIFICANT_DIGITS} significant digits and {MAX_FRACTION_DIGITS} decimal places. "
                "Kept as an exact decimal, never a binary float."
            ),
        },
        "Material": _object(
            {"name": _name("material name"), "concentration": ref("Concentration")}, ["name", "concentration"]
        ),
        "Formula": _object(
            {
                "name": _name("formula name"),
                "materials": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_MATERIALS,
                    "items": ref("Material"),
                    "description": (
                        f"1-{MAX_MATERIALS} materials; no material twice (names compare ignoring case, "
                        f"width and spacing); concentrations sum to at most {MAX_TOTAL_CONCENTRATION}."
                    ),
                },
            },
            ["name", "materials"],
            "One formula. Unknown fields are rejected by name.",
        ),
        "FormulaBatch": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BATCH,
            "items": ref("Formula"),
            "description": f"1-{MAX_BATCH} formulas, stored all or nothing and answered in input order.",
        },
        "Submission": {"oneOf": [ref("Formula"), ref("FormulaBatch")]},
        "ReceiveRequest": _consumer_body("ReceiveRequest", "Every field is optional.", {}, []),
        "AckRequest": {
            "oneOf": [
                _object({"receipt_handle": handle}, ["receipt_handle"], "Delete one message: 204."),
                _object(
                    {"receipt_handles": {"type": "array", "items": handle, "minItems": 1, "maxItems": 10}},
                    ["receipt_handles"],
                    "Delete up to 10 messages in one call: 200 with each handle's outcome.",
                ),
            ]
        },
        "NackRequest": _consumer_body(
            "NackRequest",
            "Release a message; it is receivable again after delay_seconds.",
            {"receipt_handle": handle},
            ["receipt_handle"],
        ),
        "RedriveRequest": _consumer_body("RedriveRequest", "Every field is optional.", {}, []),
        "StatusReport": {
            "oneOf": [
                _object(
                    {
                        "owner": owner,
                        "status": {"const": STATUS_PROCESSED},
                        "error": {"type": "string"},
                        "attempts": optional_integer(*report),
                    },
                    ["owner", "status"],
                    "The formula was processed.",
                ),
                _object(
                    {
                        "owner": owner,
                        "status": {"const": STATUS_FAILED},
                        "error": {"type": "string", "description": "Stored clipped to 500 characters."},
                        "attempts": optional_integer(*report),
                    },
                    ["owner", "status", "error"],
                    "Processing failed for good.",
                ),
            ]
        },
    }


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
        "MaterialResource": _object(
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
        "FormulaResource": _object(
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
        "NearDuplicate": _object(
            {"id": ref("FormulaId"), "similarity": ref("Similarity")}, ["id", "similarity"]
        ),
        "SimilarFormula": _object(
            {
                "id": ref("FormulaId"),
                "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS},
                "similarity": ref("Similarity"),
                "shared_materials": integer(1, MAX_MATERIALS),
            },
            ["id", "name", "similarity", "shared_materials"],
            "One of the owner's formulas; shared_materials counts the materials both list.",
        ),
        "SimilarFormulas": _object(
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
        "SimilarToBody": _object(
            {"similar": {"type": "array", "maxItems": similarity.MAX_LIMIT, "items": ref("SimilarFormula")}},
            ["similar"],
            "Most similar first, ties by id.",
        ),
        "FormulaBatchResult": _object(
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
        "FormulaPage": _object(
            {
                "formulas": {"type": "array", "maxItems": queries.MAX_LIMIT, "items": ref("FormulaResource")},
                "next_cursor": {"type": ["string", "null"], "description": "Pass back as ?cursor= for more."},
            },
            ["formulas", "next_cursor"],
        ),
        "FormulaSubmittedMessage": _object(
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
        "ReceivedMessages": _object(
            {
                "messages": {
                    "type": "array",
                    "items": _object(
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
        "DeadLetters": _object(
            {
                "dead_letters": {
                    "type": "array",
                    "items": _object(
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
        "QueueStats": _object(
            {**{name: integer(0) for name in stats}, "exact": {"type": "boolean"}},
            [*counts, "exact"],
            "Counts now (exact, or the backend's approximate figures when `exact` is false), and the"
            " running totals only where the backend can know them (absent on SQS).",
        ),
        "RedriveResult": _object({"redriven": integer(0)}, ["redriven"]),
        "FormulaStatus": _object(
            {"formula_id": ref("FormulaId"), "owner": {"type": "string"}, "status": {"enum": list(STATUSES)}},
            ["formula_id", "owner", "status"],
        ),
        "AckBatchResult": _object(
            {
                "results": {
                    "type": "array",
                    "items": _object(
                        {
                            "receipt_handle": {"type": "string"},
                            "acked": {"type": "boolean"},
                            "error": _object(
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
        "StatusReportResult": _object(
            {"changed": {"type": "boolean"}, "formula": ref("FormulaResource")}, ["changed", "formula"]
        ),
        "Health": _object({"status": {"const": "ok"}}, ["status"]),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
        "Error": error_schema(),
    }


def error_schema() -> Schema:
    """The one error shape, ``{"error": {"code", "message", ...}}``, with every optional field."""
    field_error = _object({"field": {"type": "string"}, "message": {"type": "string"}}, ["field", "message"])
    index = integer(0)
    conflict = _object(
        {
            "fingerprint": ref("Fingerprint"),
            "index": index,
            "existing_id": ref("FormulaId"),
            "duplicate_of_index": index,
        },
        ["fingerprint"],
    )
    inner = _object(
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
    return _object({"error": inner}, ["error"], "Every error response, whatever produced it.")


def error_with_codes(codes: list[str]) -> Schema:
    """The error shape narrowed to the codes one response can carry."""
    return {
        "allOf": [ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": sorted(set(codes))}}}},
    }
