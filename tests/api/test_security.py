"""Authentication, roles (table-driven), tenant isolation, rate limits, hard limits, headers, logs."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stdout
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.clock import FakeClock
from chalicelib.security import apikeys
from chalicelib.security.apikeys import ApiKeyConfigError, ApiKeys, hash_key
from chalicelib.security.policy import PUBLIC_ROUTES, ROUTE_ROLES
from tests.api.helpers import SUMMER_BREEZE, error_code, post
from tests.conftest import make_services, unique_formula
from tests.keys import ALL_ROLES_KEY, ROLE_KEYS, TENANT_A_KEY, TENANT_B_KEY, KeyedClient, auth
from tests.request_ids import is_request_id

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/formulas"): SUMMER_BREEZE,
    ("POST", "/formulas/similar"): SUMMER_BREEZE,
    ("POST", "/queue/receive"): {},
    ("POST", "/queue/ack"): {"receipt_handle": "nope"},
    ("POST", "/queue/nack"): {"receipt_handle": "nope"},
    ("PUT", "/queue/formulas/{formula_id}/status"): {"owner": "default", "status": "processed"},
    ("POST", "/queue/dead-letters/redrive"): {},
}


def call(client: Client, method: str, route: str, key: str | None) -> Any:
    path = route.replace("{formula_id}", ULID)
    if route == "/queue/formulas/{formula_id}/status" and method == "GET":
        path += "?owner=default"
    body = SAMPLE_BODIES.get((method, route))
    headers = {"Content-Type": "application/json", **(auth(key) if key else {})}
    raw = b"" if body is None else json.dumps(body).encode()
    return client.http.request(method, path, headers=headers, body=raw)


@pytest.mark.parametrize("role", sorted(ROLE_KEYS))
@pytest.mark.parametrize("endpoint", sorted(ROUTE_ROLES), ids=lambda e: f"{e[0]} {e[1]}")
def test_each_role_against_each_endpoint(
    services: bootstrap.Services, endpoint: tuple[str, str], role: str
) -> None:
    method, route = endpoint
    with KeyedClient(key=None) as client:
        response = call(client, method, route, ROLE_KEYS[role])
    if role in ROUTE_ROLES[endpoint]:
        assert response.status_code not in (401, 403), response.body
    else:
        assert response.status_code == 403, response.body
        assert error_code(response) == "forbidden"
        assert json.loads(response.body)["error"]["required_roles"] == sorted(ROUTE_ROLES[endpoint])


@pytest.mark.parametrize("endpoint", sorted(ROUTE_ROLES), ids=lambda e: f"{e[0]} {e[1]}")
def test_every_protected_endpoint_needs_a_key(
    services: bootstrap.Services, endpoint: tuple[str, str]
) -> None:
    with KeyedClient(key=None) as client:
        response = call(client, *endpoint, key=None)
    assert response.status_code == 401
    assert error_code(response) == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer fi_wrong"},
        {"Authorization": f"Basic {ALL_ROLES_KEY}"},
        {"Authorization": "Bearer "},
        {"X-Api-Key": "fi_wrong"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
)
def test_invalid_keys_are_401(services: bootstrap.Services, headers: dict[str, str]) -> None:
    with KeyedClient(key=None) as client:
        response = client.http.get("/formulas", headers=headers)
    assert response.status_code == 401 and error_code(response) == "unauthenticated"
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_x_api_key_and_case_insensitive_bearer_are_accepted(services: bootstrap.Services) -> None:
    with KeyedClient(key=None) as client:
        assert client.http.get("/formulas", headers={"X-Api-Key": ALL_ROLES_KEY}).status_code == 200
        assert (
            client.http.get("/formulas", headers={"Authorization": f"bearer {ALL_ROLES_KEY}"}).status_code
            == 200
        )


@pytest.mark.parametrize("endpoint", sorted(PUBLIC_ROUTES))
def test_public_routes_need_no_key(services: bootstrap.Services, endpoint: tuple[str, str]) -> None:
    method, route = endpoint
    with KeyedClient(key=None) as client:
        response = client.http.request(method, route)
    assert response.status_code == 200


def test_owner_b_cannot_see_or_collide_with_owner_a(services: bootstrap.Services) -> None:
    a, b = KeyedClient(TENANT_A_KEY), KeyedClient(TENANT_B_KEY)
    created_a = post(a, SUMMER_BREEZE, key="same-key")
    assert created_a.status_code == 201
    created_b = post(b, SUMMER_BREEZE, key="same-key")
    assert created_b.status_code == 201, "same make-up for another owner is not a duplicate"
    assert json.loads(created_b.body)["id"] != json.loads(created_a.body)["id"]
    other_body = post(b, unique_formula(), key="a-only-key")
    assert other_body.status_code == 201
    assert post(a, unique_formula(), key="a-only-key").status_code == 201, "keys are per owner"
    a_id = json.loads(created_a.body)["id"]
    hidden = b.http.get(f"/formulas/{a_id}")
    assert hidden.status_code == 404 and error_code(hidden) == "not_found"
    listed_b = {f["id"] for f in json.loads(b.http.get("/formulas?limit=100").body)["formulas"]}
    assert a_id not in listed_b and len(listed_b) == 2
    assert post(a, SUMMER_BREEZE).status_code == 409, "the owner's own duplicate is still a 409"


def test_consumers_see_every_owner_and_messages_carry_the_owner(services: bootstrap.Services) -> None:
    post(KeyedClient(TENANT_A_KEY), unique_formula())
    post(KeyedClient(TENANT_B_KEY), unique_formula())
    with KeyedClient(ROLE_KEYS["consumer"]) as consumer:
        response = consumer.http.post(
            "/queue/receive", body=b'{"max_messages": 10}', headers={"Content-Type": "application/json"}
        )
    owners = sorted(m["body"]["owner"] for m in json.loads(response.body)["messages"])
    assert owners == ["tenant-a", "tenant-b"]


def test_rate_limit_429_then_recovery_after_refill(clock: FakeClock) -> None:
    services = make_services(clock, rate_limit_per_second=1.0, rate_limit_burst=3)
    old = bootstrap.use(services)
    try:
        with KeyedClient() as client:
            assert [client.http.get("/formulas").status_code for _ in range(3)] == [200, 200, 200]
            limited = client.http.get("/formulas")
            assert limited.status_code == 429 and error_code(limited) == "rate_limited"
            assert limited.headers["Retry-After"] == "1"
            with KeyedClient(TENANT_B_KEY) as other:
                assert other.http.get("/formulas").status_code == 200, "buckets are per principal"
            clock.advance(1)
            assert client.http.get("/formulas").status_code == 200
            assert client.http.get("/formulas").status_code == 429
            clock.advance(10)
            assert [client.http.get("/formulas").status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        bootstrap.use(old)


def test_oversized_headers_are_431(client: Client) -> None:
    response = client.http.get("/formulas", headers={"X-Padding": "x" * (17 * 1024)})
    assert response.status_code == 431 and error_code(response) == "headers_too_large"


def test_oversized_query_is_414(client: Client) -> None:
    response = client.http.get("/formulas?cursor=" + "c" * 3000)
    assert response.status_code == 414 and error_code(response) == "query_too_long"


def test_deep_json_is_400(client: Client) -> None:
    response = post(client, None, raw=b"[" * 5000 + b"]" * 5000)
    assert response.status_code == 400
    assert "deeper than 32" in json.loads(response.body)["error"]["details"][0]["message"]


def test_security_headers(client: Client) -> None:
    created = post(client, SUMMER_BREEZE)
    for response in (
        created,
        client.http.get(f"/formulas/{json.loads(created.body)['id']}"),
        client.http.get("/formulas"),
        post(client, SUMMER_BREEZE),
        client.http.post("/queue/receive", body=b"{}", headers={"Content-Type": "application/json"}),
    ):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert is_request_id(response.headers["X-Request-Id"])
    health = client.http.get("/health")
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    with KeyedClient(key=None) as anonymous:
        assert anonymous.http.get("/formulas").headers["X-Content-Type-Options"] == "nosniff"


def test_logs_are_json_lines_without_formula_content_or_keys(
    client: Client, services: bootstrap.Services, caplog: pytest.LogCaptureFixture
) -> None:
    secret = {
        "name": "Secret Accord Zeta",
        "materials": [{"name": "Hidden Orris Butter", "concentration": "12.3456789"}],
    }
    with caplog.at_level(logging.DEBUG):
        post(client, secret, key="log-test")
        post(client, secret)
        post(
            client,
            {
                "name": "Secret Accord Zeta",
                "materials": [{"name": "Hidden Orris Butter", "concentration": 0}],
            },
        )
        original = services.store.commit_submission

        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        services.store.commit_submission = explode  # type: ignore[method-assign]
        post(client, unique_formula("Secret Accord Zeta"))
        services.store.commit_submission = original  # type: ignore[method-assign]
        bootstrap.build_worker(services).run_once()
    text = "\n".join(r.getMessage() for r in caplog.records) + "\n".join(
        str(r.exc_info) for r in caplog.records if r.exc_info
    )
    for forbidden in ("Secret Accord", "Hidden Orris", "12.3456789", ALL_ROLES_KEY):
        assert forbidden not in text
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "formula_intake.access"]
    assert [a["status"] for a in access] == [201, 409, 400, 500]
    assert all(
        set(a) == {"event", "request_id", "principal", "method", "route", "status", "latency_ms"}
        for a in access
    )
    assert {a["principal"] for a in access} == {"default"}


def test_a_500_carries_the_request_id_of_the_log_line(
    client: Client, services: bootstrap.Services, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    services.store.commit_submission = explode  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO):
        response = post(client, SUMMER_BREEZE)
    body_id = json.loads(response.body)["error"]["request_id"]
    assert response.headers["X-Request-Id"] == body_id
    assert any(body_id in r.getMessage() for r in caplog.records if r.name == "formula_intake.access")


def test_key_configuration_is_validated() -> None:
    for bad in [
        "[]",
        "{",
        '{"abc": {"principal": "x", "roles": ["reader"]}}',
        json.dumps({hash_key("k"): {"principal": "x", "roles": ["root"]}}),
        json.dumps({hash_key("k"): {"principal": "bad name!", "roles": ["reader"]}}),
    ]:
        with pytest.raises(ApiKeyConfigError):
            ApiKeys.from_json(bad)
    keys = ApiKeys.from_json(json.dumps({hash_key("k1"): {"principal": "p", "roles": ["reader"]}}))
    assert keys.authenticate("k1") is not None and keys.authenticate("k2") is None
    assert keys.authenticate("") is None and keys.authenticate(None) is None


def test_each_of_many_keys_finds_its_own_principal() -> None:
    entries = {hash_key(f"key-{i}"): {"principal": f"p{i}", "roles": ["reader"]} for i in range(5000)}
    keys = ApiKeys.from_json(json.dumps(entries))
    assert len(keys) == 5000
    for i in (0, 1, 2500, 4999):
        principal = keys.authenticate(f"key-{i}")
        assert principal is not None and principal.name == f"p{i}"
    assert keys.authenticate("key-5000") is None
    assert keys.authenticate(hash_key("key-1")) is None, "a configured digest is not itself a key"
    assert keys.authenticate("x" * (apikeys.MAX_KEY_LENGTH + 1)) is None


def test_the_key_generator_prints_a_key_and_its_entry() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert apikeys.main(["--principal", "acme", "--roles", "submitter,reader"]) == 0
    key_line, entry_line = out.getvalue().splitlines()
    key = key_line.rsplit(" ", 1)[1]
    entry = json.loads(entry_line.split(": ", 1)[1])
    assert key.startswith("fi_") and len(key) > 40
    assert entry == {hash_key(key): {"principal": "acme", "roles": ["submitter", "reader"]}}
    with pytest.raises(SystemExit):
        apikeys.main(["--principal", "acme", "--roles", "root"])


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_a_credential_header_sent_twice_is_400_naming_it(services: bootstrap.Services, header: str) -> None:
    """API Gateway lists every copy in multiValueHeaders and passes the last in headers."""
    from app import app

    values = [f"Bearer {TENANT_A_KEY}", f"Bearer {ALL_ROLES_KEY}"]
    if header == "X-Api-Key":
        values = [TENANT_A_KEY, ALL_ROLES_KEY]
    event = {
        "requestContext": {
            "httpMethod": "GET",
            "resourcePath": "/formulas",
            "path": "/formulas",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "headers": {header: values[-1]},
        "multiValueHeaders": {header: values},
        "pathParameters": None,
        "multiValueQueryStringParameters": None,
        "stageVariables": None,
        "body": None,
    }
    response = app(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == {
        "code": "bad_request",
        "message": f"The {header.lower()} header appears more than once.",
        "header": header.lower(),
    }
    event["multiValueHeaders"] = {header: values[-1:]}
    assert app(event, None)["statusCode"] == 200
