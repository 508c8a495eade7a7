"""The OpenAPI document: valid 3.1, complete, true to the policy table, and true to real responses.

Real answers from a representative set of requests (every route, every status the tests can
provoke in process) are validated against the document's schema for their status and content
type, and against its response headers. The limits the document restates from
`chalicelib.services.consumer` are checked against the service at their boundaries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import app
from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from chalicelib.domain import parse_document
from chalicelib.domain.model import name_problem
from chalicelib.errors import InfrastructureError, ValidationError
from chalicelib.http.openapi import document
from chalicelib.http.openapi_schemas import CONCENTRATION_TEXT, PLAIN_DECIMAL, name_pattern
from chalicelib.security.policy import PUBLIC_ROUTES, ROUTE_ROLES
from tests.api.helpers import SUMMER_BREEZE, post
from tests.conftest import make_services, unique_formula
from tests.keys import ROLE_KEYS, KeyedClient

DOC = document()
_URI = "urn:formula-intake:openapi"
_REGISTRY: Registry[Any] = Registry().with_resource(
    _URI, Resource.from_contents(DOC, default_specification=DRAFT202012)
)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(*parts: str) -> Draft202012Validator:
    """A 2020-12 validator for the schema at ``parts`` in the document, resolving its $refs."""
    return Draft202012Validator(
        {"$ref": f"{_URI}#/{_pointer(*parts)}"},
        registry=_REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _resolve(obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        obj = _REGISTRY.resolver(_URI).lookup(obj["$ref"]).contents
    return obj


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    return int(value) if schema.get("type") == "integer" and value.isdigit() else value


def conforms(response: Any, method: str, route: str) -> Any:
    """Assert ``response`` matches the document for ``method route``; return the parsed body."""
    operation = DOC["paths"][route][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {route}: {status} is not documented"
    spec = operation["responses"][status]
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name, header in spec.get("headers", {}).items():
        header = _resolve(header)
        value = headers.get(name.lower())
        if value is None:
            assert not header.get("required"), f"{method} {route} {status}: {name} is missing"
            continue
        errors = list(Draft202012Validator(header["schema"]).iter_errors(_coerce(value, header["schema"])))
        assert not errors, f"{method} {route} {status} header {name}={value!r}: {errors[0].message}"
    if "content" not in spec:
        assert response.body in (b"", ""), f"{method} {route} {status} should have no body"
        return None
    media_type = headers["content-type"].split(";")[0].strip()
    assert media_type in spec["content"], f"{method} {route} {status}: {media_type} is not documented"
    body = json.loads(response.body)
    path = ("paths", route, method.lower(), "responses", status, "content", media_type, "schema")
    errors = sorted(_validator(*path).iter_errors(body), key=str)
    assert not errors, f"{method} {route} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
    return body


def send(client: Client, method: str, path: str, body: Any = None, **headers: str) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    return client.http.request(
        method, path, headers={"Content-Type": "application/json", **headers}, body=raw
    )


# ---- (a) and (b): the document itself -------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    validate_spec(DOC)
    assert DOC["openapi"].startswith("3.1.")
    json.dumps(DOC)  # plain JSON types only
    assert document() == DOC, "document() is a pure function"


def test_every_route_and_method_is_documented_and_nothing_else() -> None:
    served = {
        (m, path): entry.view_name for path, methods in app.routes.items() for m, entry in methods.items()
    }
    documented = {
        (m.upper(), path): op["operationId"] for path, item in DOC["paths"].items() for m, op in item.items()
    }
    assert documented == served


def test_security_matches_the_policy_table() -> None:
    schemes = set(DOC["components"]["securitySchemes"])
    assert schemes == {"bearerAuth", "apiKeyAuth"}
    assert DOC["components"]["securitySchemes"]["apiKeyAuth"]["name"] == "X-Api-Key"
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            key = (method.upper(), path)
            if key in PUBLIC_ROUTES:
                assert op["security"] == [], key
                assert not {"401", "403", "429"} & set(op["responses"]), key
                continue
            alternatives = {(scheme, tuple(roles)) for req in op["security"] for scheme, roles in req.items()}
            assert alternatives == {(s, (role,)) for s in schemes for role in ROUTE_ROLES[key]}, key
            assert {"401", "403", "429"} <= set(op["responses"]), key
    assert {(m.upper(), p) for p, item in DOC["paths"].items() for m in item} == {
        *PUBLIC_ROUTES,
        *ROUTE_ROLES,
    }


def test_the_document_is_served_publicly(services: bootstrap.Services) -> None:
    with KeyedClient(key=None) as anonymous:
        response = anonymous.http.get("/openapi.json")
    assert conforms(response, "GET", "/openapi.json") == DOC


# ---- (c): real responses against the document -------------------------------------------------------


def test_submission_answers_conform(client: Client) -> None:
    created = conforms(
        send(client, "POST", "/formulas", SUMMER_BREEZE, **{"Idempotency-Key": "k-1"}), "POST", "/formulas"
    )
    replay = send(client, "POST", "/formulas", SUMMER_BREEZE, **{"Idempotency-Key": "k-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert conforms(replay, "POST", "/formulas") == created
    batch = conforms(
        send(client, "POST", "/formulas", [unique_formula(), unique_formula()]), "POST", "/formulas"
    )
    assert len(batch["formulas"]) == 2
    duplicate = send(client, "POST", "/formulas", {**SUMMER_BREEZE, "name": "Other"})
    assert conforms(duplicate, "POST", "/formulas")["error"]["existing_id"] == created["id"]
    assert duplicate.headers["Location"] == f"/formulas/{created['id']}"
    twice = unique_formula()
    assert duplicate.status_code == send(client, "POST", "/formulas", [twice, twice]).status_code == 409
    conforms(send(client, "POST", "/formulas", [twice, twice]), "POST", "/formulas")
    reused = send(client, "POST", "/formulas", unique_formula(), **{"Idempotency-Key": "k-1"})
    assert reused.status_code == 422
    conforms(reused, "POST", "/formulas")


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b'{"name": "", "materials": [{"name": " ", "concentration": 101}], "colour": "red"}', {}, 400),
        (b"[]", {}, 400),
        (json.dumps(SUMMER_BREEZE).encode(), {"Idempotency-Key": "has space"}, 400),
        (json.dumps(SUMMER_BREEZE).encode(), {"Content-Type": "text/plain"}, 415),
        (b'{"name": "' + b"x" * (1024 * 1024) + b'"}', {}, 413),
        (json.dumps(SUMMER_BREEZE).encode(), {"Authorization": "Bearer not-a-key"}, 401),
        (json.dumps(SUMMER_BREEZE).encode(), {"Authorization": f"Bearer {ROLE_KEYS['reader']}"}, 403),
        (json.dumps(SUMMER_BREEZE).encode(), {"X-Padding": "x" * (17 * 1024)}, 431),
    ],
)
def test_submission_errors_conform(client: Client, raw: bytes, headers: dict[str, str], status: int) -> None:
    response = client.http.post(
        "/formulas", body=raw, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == status
    conforms(response, "POST", "/formulas")


def test_no_key_is_401_with_www_authenticate(services: bootstrap.Services) -> None:
    with KeyedClient(key=None) as anonymous:
        response = anonymous.http.get("/formulas")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer ")
    conforms(response, "GET", "/formulas")


def test_reads_conform(client: Client) -> None:
    created = [conforms(post(client, unique_formula()), "POST", "/formulas") for _ in range(3)]
    page = conforms(client.http.get("/formulas?limit=2&status=queued"), "GET", "/formulas")
    assert page["next_cursor"] and len(page["formulas"]) == 2
    rest = conforms(client.http.get(f"/formulas?cursor={page['next_cursor']}"), "GET", "/formulas")
    assert rest["next_cursor"] is None
    assert (
        conforms(client.http.get(f"/formulas/{created[0]['id']}"), "GET", "/formulas/{formula_id}")
        == created[0]
    )
    for bad in ("limit=0", "cursor=nope", "status=lost", "colour=red"):
        response = client.http.get(f"/formulas?{bad}")
        assert response.status_code == 400, bad
        conforms(response, "GET", "/formulas")
    conforms(client.http.get("/formulas?cursor=" + "c" * 3000), "GET", "/formulas")  # 414
    missing = client.http.get("/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.status_code == 404
    conforms(missing, "GET", "/formulas/{formula_id}")
    conforms(client.http.get("/health"), "GET", "/health")


def test_consumer_answers_conform(client: Client, clock: FakeClock, services: bootstrap.Services) -> None:
    formula = conforms(post(client, unique_formula()), "POST", "/formulas")
    [message] = conforms(
        send(client, "POST", "/queue/receive", {"visibility_timeout": 1}), "POST", "/queue/receive"
    )["messages"]
    clock.advance(1)
    [again] = conforms(
        send(client, "POST", "/queue/receive", {"max_messages": 10}), "POST", "/queue/receive"
    )["messages"]
    superseded = send(client, "POST", "/queue/ack", {"receipt_handle": message["receipt_handle"]})
    assert superseded.status_code == 409
    conforms(superseded, "POST", "/queue/ack")
    assert (
        send(
            client, "POST", "/queue/nack", {"receipt_handle": again["receipt_handle"], "delay_seconds": 0}
        ).status_code
        == 204
    )
    [third] = conforms(send(client, "POST", "/queue/receive"), "POST", "/queue/receive")["messages"]
    acked = send(client, "POST", "/queue/ack", {"receipt_handle": third["receipt_handle"]})
    assert acked.status_code == 204
    conforms(acked, "POST", "/queue/ack")
    gone = send(client, "POST", "/queue/nack", {"receipt_handle": third["receipt_handle"]})
    assert gone.status_code == 404
    conforms(gone, "POST", "/queue/nack")
    for route, body in [
        ("/queue/ack", {"receipt_handle": "not-a-handle"}),
        ("/queue/ack", None),
        ("/queue/nack", {"receipt_handle": third["receipt_handle"], "delay_seconds": -1}),
        ("/queue/receive", {"max_messages": 11}),
        ("/queue/dead-letters/redrive", {"limit": 0}),
    ]:
        response = send(client, "POST", route, body)
        assert response.status_code == 400, (route, body)
        conforms(response, "POST", route)

    post(client, unique_formula())
    for _ in range(services.settings.queue_max_receive_count + 1):  # the last one dead-letters it
        send(client, "POST", "/queue/receive", {"visibility_timeout": 0})
    letters = conforms(client.http.get("/queue/dead-letters?limit=10"), "GET", "/queue/dead-letters")
    assert len(letters["dead_letters"]) == 1
    conforms(client.http.get("/queue/dead-letters?limit=0"), "GET", "/queue/dead-letters")
    assert conforms(client.http.get("/queue/stats"), "GET", "/queue/stats")["dead_letters"] == 1
    redriven = send(client, "POST", "/queue/dead-letters/redrive", {"limit": 10})
    assert conforms(redriven, "POST", "/queue/dead-letters/redrive") == {"redriven": 1}

    route = "/queue/formulas/{formula_id}/status"
    path = f"/queue/formulas/{formula['id']}/status"
    assert conforms(client.http.get(f"{path}?owner=default"), "GET", route)["status"] == "queued"
    for bad in (
        f"{path}?owner=someone-else",
        f"{path}",
        "/queue/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/status?owner=x",
    ):
        conforms(client.http.get(bad), "GET", route)
    failed = send(
        client, "PUT", path, {"owner": "default", "status": "failed", "error": "boom", "attempts": 5}
    )
    assert conforms(failed, "PUT", route)["formula"]["last_error"] == "boom"
    done = send(client, "PUT", path, {"owner": "default", "status": "processed"})
    assert conforms(done, "PUT", route)["formula"]["status"] == "processed"
    for body in ({"owner": "default", "status": "failed"}, {"owner": "default", "status": "lost"}, None):
        response = send(client, "PUT", path, body)
        assert response.status_code == 400
        conforms(response, "PUT", route)
    unknown = send(
        client,
        "PUT",
        "/queue/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/status",
        {"owner": "x", "status": "processed"},
    )
    assert unknown.status_code == 404
    conforms(unknown, "PUT", route)


def test_a_consumer_key_is_forbidden_from_admin_routes(services: bootstrap.Services) -> None:
    with KeyedClient(ROLE_KEYS["consumer"]) as consumer:
        for method, route in [("GET", "/queue/stats"), ("POST", "/queue/dead-letters/redrive")]:
            response = send(consumer, method, route)
            assert response.status_code == 403
            assert conforms(response, method, route)["error"]["required_roles"] == ["admin"]


def test_a_wrong_method_is_405_in_the_error_shape(client: Client) -> None:
    response = client.http.request("DELETE", "/formulas")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    errors = list(_validator("components", "schemas", "Error").iter_errors(json.loads(response.body)))
    assert not errors and json.loads(response.body)["error"]["code"] == "method_not_allowed"


def test_500_and_503_conform(client: Client, services: bootstrap.Services) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    def unavailable(*args: object, **kwargs: object) -> None:
        raise InfrastructureError("The formula store is unavailable.")

    services.queue.stats = explode  # type: ignore[method-assign]
    assert (
        conforms(client.http.get("/queue/stats"), "GET", "/queue/stats")["error"]["code"] == "internal_error"
    )
    services.store.commit_submission = unavailable  # type: ignore[method-assign]
    response = post(client, unique_formula())
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    conforms(response, "POST", "/formulas")


def test_429_conforms(clock: FakeClock) -> None:
    old = bootstrap.use(make_services(clock, rate_limit_per_second=1.0, rate_limit_burst=1))
    try:
        with KeyedClient() as client:
            client.http.get("/formulas")
            response = client.http.get("/formulas")
        assert response.status_code == 429
        conforms(response, "GET", "/formulas")
    finally:
        bootstrap.use(old)


# ---- the limits the document restates are the service's ---------------------------------------------


def _bounded_fields() -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, route, where, field, schema) for every bounded integer or string the consumer API takes."""
    for route, item in DOC["paths"].items():
        for method, op in item.items():
            if not route.startswith("/queue"):
                continue
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    yield method.upper(), route, "query", param["name"], param["schema"]
            if "requestBody" in op:
                body = _resolve(op["requestBody"]["content"]["application/json"]["schema"])
                body = body["oneOf"][0] if "oneOf" in body else body
                for name, schema in body["properties"].items():
                    yield (
                        method.upper(),
                        route,
                        "body",
                        name,
                        _resolve(schema) if "$ref" in schema else schema,
                    )
    schema = next(p for p in DOC["paths"]["/formulas"]["get"]["parameters"] if p["name"] == "limit")["schema"]
    yield "GET", "/formulas", "query", "limit", schema


def _cases() -> Iterator[Any]:
    for method, route, where, name, schema in _bounded_fields():
        types = schema.get("type")
        types = types if isinstance(types, list) else [types]
        if "integer" in types:
            low, high = schema["minimum"], schema["maximum"]
            values = [(low, True), (high, True), (low - 1, False), (high + 1, False)]
            values += [(None, True)] if "null" in types else []
        elif "maxLength" in schema:
            high = schema["maxLength"]
            values = [("a" * high, True), ("a" * (high + 1), False)]
        else:
            continue
        for value, accepted in values:
            yield pytest.param(
                method, route, where, name, value, accepted, id=f"{method} {route} {name}={str(value)[:12]}"
            )


@pytest.mark.parametrize(("method", "route", "where", "name", "value", "accepted"), list(_cases()))
def test_documented_bounds_are_the_services(
    client: Client, method: str, route: str, where: str, name: str, value: Any, accepted: bool
) -> None:
    """An unknown field rides along, so every request is refused before doing any work; the
    answer's details then say whether the service also objected to the field at its bound."""
    path = route.replace("{formula_id}", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    if where == "query":
        response = client.http.request(method, f"{path}?zzz=1&{name}={value}")
    else:
        response = send(client, method, path, {"zzz": 1, name: value})
    assert response.status_code == 400
    fields = {d["field"] for d in json.loads(response.body)["error"]["details"]}
    assert "zzz" in fields
    assert (name not in fields) == accepted, fields


# ---- the patterns say what the validation code says ----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(PLAIN_DECIMAL, fullmatch=True).filter(lambda s: len(s) <= 30))
def test_the_concentration_pattern_is_the_services_rule(text: str) -> None:
    """For plain decimals, the pattern matches exactly the strings the service accepts."""
    body = {"name": "A", "materials": [{"name": "B", "concentration": text}]}
    try:
        parse_document(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(CONCENTRATION_TEXT, text)) == accepted == (0 < Decimal(text) <= 100)


def test_the_name_pattern_never_refuses_a_valid_name() -> None:
    """Every character the pattern leaves out is one the service refuses (surrogates aside)."""
    pattern = re.compile(name_pattern())
    for code in [*range(0, 0x110000, 7), 0x10FFFF]:
        if 0xD800 <= code <= 0xDFFF:
            continue
        name = f"a{chr(code)}a"
        if not pattern.search(name):
            assert name_problem(name) is not None, hex(code)
    for name in ["Rosé Absolute", "日本の香", "Oud 🪵", "a\u00a0b", "ZWJ a\u200db", "  padded  "]:
        assert pattern.search(name), name


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/queue/receive", b'{"max_messages": "--5"}'),
        ("POST", "/queue/receive", b'{"visibility_timeout": 1e999999999}'),
        ("POST", "/queue/nack", b'{"receipt_handle": "h", "delay_seconds": -1e999999999}'),
        ("GET", "/queue/dead-letters?limit=--5", b""),
    ],
)
def test_integers_out_of_syntax_or_range_are_400_at_once(
    client: Client, method: str, path: str, raw: bytes
) -> None:
    """Regression: "--5" used to reach Decimal() (a 500); 1e999999999 used to reach int() (a stall)."""
    response = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=raw)
    assert response.status_code == 400
    conforms(response, method, path.split("?")[0])


def test_similar_answers_conform(client: Client, services: bootstrap.Services) -> None:
    first = conforms(post(client, SUMMER_BREEZE), "POST", "/formulas")
    nearly = {
        **SUMMER_BREEZE,
        "materials": [*SUMMER_BREEZE["materials"][:2], {"name": "Sandalwood", "concentration": 5}],
    }
    second = conforms(post(client, nearly), "POST", "/formulas")
    worker = bootstrap.build_worker(services)
    for message in services.queue.receive(max_messages=10):
        worker.handle(message)
    processed = conforms(client.http.get(f"/formulas/{second['id']}"), "GET", "/formulas/{formula_id}")
    assert processed["near_duplicates"] == [{"id": first["id"], "similarity": 0.9934}]
    route = "/formulas/{formula_id}/similar"
    found = conforms(client.http.get(f"/formulas/{first['id']}/similar?limit=5"), "GET", route)
    assert [m["id"] for m in found["similar"]] == [second["id"]]
    assert conforms(client.http.get(f"/formulas/{first['id']}/similar?limit=0"), "GET", route) is not None
    conforms(client.http.get("/formulas/01ARZ3NDEKTSV4RRFFQ69G5FAV/similar"), "GET", route)
    answer = conforms(
        send(client, "POST", "/formulas/similar?min_similarity=0.99", nearly), "POST", "/formulas/similar"
    )
    assert [m["id"] for m in answer["similar"]] == [second["id"], first["id"]]
    conforms(send(client, "POST", "/formulas/similar", [nearly]), "POST", "/formulas/similar")
