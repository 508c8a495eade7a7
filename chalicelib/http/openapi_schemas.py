"""The JSON Schemas of the OpenAPI document's request bodies, and the building blocks of every schema.

OpenAPI 3.1 uses JSON Schema 2020-12 as it is, so these are plain dictionaries. Every limit comes
from the constant the service enforces (`chalicelib.domain`, `chalicelib.services.queries`,
`chalicelib.services.consumer`): change a limit there and the document follows. The consumer
API's other ranges are literals in `chalicelib.services.consumer` and `chalicelib.http.params`;
they are restated once below (`CONSUMER_INTEGERS`, `DEAD_LETTERS_LIMIT`, `OWNER_MAX_CHARS`,
`DEFAULT_MAX_STRING`), and ``tests/api/test_openapi.py`` sends every bound, and one past it, to
the service, so the two cannot drift apart silently.

The answers' schemas (resources, messages, the error shape) are in `chalicelib.http.openapi_responses`;
`chalicelib.http.openapi` assembles both into the document's ``components``.
"""

from __future__ import annotations

import functools
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
from chalicelib.ports.store import STATUS_FAILED, STATUS_PROCESSED
from chalicelib.services import consumer

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


def object_schema(properties: dict[str, Schema], required: list[str], description: str = "") -> Schema:
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
    return object_schema(properties, required, description)


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
        "Material": object_schema(
            {"name": _name("material name"), "concentration": ref("Concentration")},
            ["name", "concentration"],
        ),
        "Formula": object_schema(
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
                object_schema({"receipt_handle": handle}, ["receipt_handle"], "Delete one message: 204."),
                object_schema(
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
                object_schema(
                    {
                        "owner": owner,
                        "status": {"const": STATUS_PROCESSED},
                        "error": {"type": "string"},
                        "attempts": optional_integer(*report),
                    },
                    ["owner", "status"],
                    "The formula was processed.",
                ),
                object_schema(
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
