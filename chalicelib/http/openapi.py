"""The OpenAPI 3.1 document of the HTTP API, generated from the tables the service itself runs on.

Nothing here is written twice. Which roles a route needs comes from
`chalicelib.security.policy`; limits come from the validation constants (via
`chalicelib.http.openapi_schemas`); which status an error gets comes from
`chalicelib.http.errors.STATUS_BY_ERROR`. Each operation (`chalicelib.http.openapi_operations`)
lists only what is particular to it: its parameters, body, success answers and the domain errors
it can raise. `document` adds what every route shares: the edge's answers (401, 403, 429, 414,
431, 415, 500), the headers the edge puts on every response, and the security requirements.

`document` is a pure function, called per request by ``GET /openapi.json``; importing this
module does no work.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib import errors
from chalicelib.http.errors import STATUS_BY_ERROR
from chalicelib.http.middleware import CONSUMER_API_PREFIX, NO_STORE_PREFIXES
from chalicelib.http.openapi_operations import EDGE_ALWAYS, EDGE_BODY, EDGE_PROTECTED, OPERATIONS, Operation
from chalicelib.http.openapi_responses import error_with_codes, response_schemas
from chalicelib.http.openapi_schemas import ULID, Schema, integer, ref, request_schemas
from chalicelib.security.policy import PUBLIC_ROUTES, ROUTE_ROLES
from chalicelib.services import views

SECURITY_SCHEMES = ("bearerAuth", "apiKeyAuth")

_RETRY_AFTER = (errors.RequestInProgress, errors.QueueFull, errors.InfrastructureError)
"""The errors `chalicelib.http.errors.response_for` answers with a Retry-After header."""


def _header(schema: Schema, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


LOCATION = _header(
    {"type": "string", "pattern": f"^{re.escape(views.location(''))}{ULID}$"}, "The formula's URL."
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


_SCHEMA_REF = "#/components/schemas/"


def _referenced_schemas(node: Any, schemas: dict[str, Schema]) -> set[str]:
    """The names of the component schemas ``node`` refers to, directly or through one another."""
    found: set[str] = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            target = item.get("$ref")
            if isinstance(target, str) and target.startswith(_SCHEMA_REF):
                name = target.removeprefix(_SCHEMA_REF)
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def document(*, consumer_api: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document, built fresh (a few milliseconds) on each call: every route, or
    without the consumer API's (``consumer_api=False``, a stage that answers them 404). It holds
    the schemas its routes use, and no other."""
    operations = [op for op in OPERATIONS if consumer_api or not op.path.startswith(CONSUMER_API_PREFIX)]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    schemas = {**request_schemas(), **response_schemas()}
    headers = header_components()
    used = _referenced_schemas([paths, headers], schemas)
    tags = [
        {"name": "formulas", "description": "Submitting and reading formulas."},
        {"name": "queue", "description": "The consumer API over the formula.submitted queue."},
        {"name": "service", "description": "Health and this document."},
    ]
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
        "tags": [tag for tag in tags if tag["name"] in {op.tag for op in operations}],
        "paths": paths,
        "components": {
            "schemas": {name: schemas[name] for name in schemas if name in used},
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <key>",
                },
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            },
            "headers": headers,
        },
    }
