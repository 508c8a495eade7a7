"""The edge middleware takes its services from the callable it is given, not from bootstrap."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from chalice.app import Chalice, Response
from chalice.test import Client

from chalicelib.clock import FakeClock
from chalicelib.http.middleware import make_edge
from chalicelib.security.apikeys import ApiKeys
from chalicelib.security.ratelimit import RateLimiter
from tests.keys import ALL_ROLES_KEY, API_KEYS_JSON


@dataclass
class _Services:
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys.from_json(API_KEYS_JSON))
    rate_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(FakeClock(), rate=1, burst=1))


def _app(services: _Services, calls: list[int]) -> Chalice:
    app = Chalice(app_name="edge-test")

    def current() -> _Services:
        calls.append(1)
        return services

    app.register_middleware(make_edge(current), "http")

    @app.route("/formulas", methods=["GET"])
    def listing() -> Response:
        return Response(body={"ok": True}, status_code=200)

    return app


def test_the_edge_authenticates_and_limits_with_the_services_it_is_given() -> None:
    calls: list[int] = []
    with Client(_app(_Services(), calls)) as client:
        assert client.http.get("/formulas").status_code == 401
        ok = client.http.get("/formulas", headers={"x-API-key": ALL_ROLES_KEY})
        assert ok.status_code == 200 and ok.headers["X-Content-Type-Options"] == "nosniff"
        limited = client.http.get("/formulas", headers={"Authorization": f"Bearer {ALL_ROLES_KEY}"})
        assert limited.status_code == 429, "the given rate limiter (burst 1) was used"
        assert json.loads(limited.body)["error"]["code"] == "rate_limited"
    assert len(calls) == 3, "services are looked up on each request to a protected route"


def test_the_http_layer_imports_nothing_from_the_composition_root() -> None:
    http_dir = Path(__file__).resolve().parents[3] / "chalicelib" / "http"
    for path in http_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            imported = [*names, *(f"{n}.{a.name}" for n in names for a in getattr(node, "names", []))]
            assert "chalicelib.bootstrap" not in imported, path.name
