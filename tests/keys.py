"""API keys used by the tests, and a `chalice.test.Client` that sends one by default."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.security.apikeys import ROLES, hash_key

ALL_ROLES_KEY = "fi_test_all_roles_default"
"""Principal ``default`` with every role: what most tests act as."""

ROLE_KEYS = {role: f"fi_test_only_{role}" for role in ROLES}
"""One key per role, principal ``role-<role>``."""

TENANT_A_KEY = "fi_test_tenant_a"
TENANT_B_KEY = "fi_test_tenant_b"

API_KEYS: dict[str, dict[str, Any]] = {
    hash_key(ALL_ROLES_KEY): {"principal": "default", "roles": list(ROLES)},
    hash_key(TENANT_A_KEY): {"principal": "tenant-a", "roles": ["submitter", "reader"]},
    hash_key(TENANT_B_KEY): {"principal": "tenant-b", "roles": ["submitter", "reader"]},
    **{hash_key(key): {"principal": f"role-{role}", "roles": [role]} for role, key in ROLE_KEYS.items()},
}
API_KEYS_JSON = json.dumps(API_KEYS)


def auth(key: str = ALL_ROLES_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class _KeyedHttp:
    def __init__(self, http: Any, key: str | None) -> None:
        self._http = http
        self._key = key

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Any:
        all_headers = dict(headers or {})
        if self._key is not None and not {"authorization", "x-api-key"} & {h.lower() for h in all_headers}:
            all_headers.update(auth(self._key))
        return self._http.request(method, path, headers=all_headers, body=body)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


class KeyedClient(Client):
    """`chalice.test.Client` whose HTTP requests carry ``key`` unless they set their own."""

    def __init__(self, key: str | None = ALL_ROLES_KEY) -> None:
        super().__init__(app)
        self._key = key

    @property
    def http(self) -> Any:  # type: ignore[override]
        return _KeyedHttp(super().http, self._key)
