"""API keys: stored as SHA-256 hashes, mapped to a principal (the owner) and roles.

A stage configures its keys in ``FI_API_KEYS``, a JSON object whose keys are hex SHA-256 hashes
of API keys (never the keys themselves)::

    {"6012ca...75ab": {"principal": "developer", "roles": ["submitter", "reader"]}}

A presented key is hashed and its SHA-256 digest looked up in a dict of the configured digests:
one lookup whatever the number of keys (comparing with every configured hash in turn would cost a
stage with 10,000 keys 10,000 comparisons on every request). The lookup leaks nothing an attacker
can use: its timing depends only on the digest of the key they chose, and they cannot choose a key
whose digest shares a prefix with a configured one, which is why services that store hashed tokens
look them up this way. Generate a key and its configuration entry with::

    python -m chalicelib.security.apikeys --principal acme --roles submitter,reader
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

ROLES = ("submitter", "reader", "consumer", "admin")
"""submitter: POST formulas; reader: GET formulas; consumer: queue endpoints; admin: redrive, stats."""

KEY_PREFIX = "fi_"
MAX_KEY_LENGTH = 200
_HASH = re.compile(r"^[0-9a-f]{64}$")
_PRINCIPAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class ApiKeyConfigError(ValueError):
    """``FI_API_KEYS`` is malformed."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key belongs to, and what it may do."""

    name: str
    roles: frozenset[str]


class KeyRing(Protocol):
    """What authenticates a presented key: `ApiKeys`, or keys read from outside the deployment
    (`chalicelib.security.keysource`)."""

    def authenticate(self, key: str | None) -> Principal | None: ...


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """The configured keys of a stage."""

    def __init__(self, entries: dict[str, Principal]) -> None:
        self._entries = {bytes.fromhex(digest): principal for digest, principal in entries.items()}

    @classmethod
    def from_json(cls, text: str) -> ApiKeys:
        """Parse ``FI_API_KEYS``; raise `ApiKeyConfigError` naming the first bad entry."""
        if not text.strip():
            return cls({})
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ApiKeyConfigError(f"FI_API_KEYS is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ApiKeyConfigError("FI_API_KEYS must be a JSON object of sha256-hex -> entry")
        entries: dict[str, Principal] = {}
        for digest, entry in raw.items():
            if not _HASH.match(digest):
                raise ApiKeyConfigError(
                    f"FI_API_KEYS: {digest[:16]!r}... is not a lowercase sha256 hex digest"
                )
            if not isinstance(entry, dict) or set(entry) - {"principal", "roles", "comment"}:
                raise ApiKeyConfigError(f"FI_API_KEYS[{digest[:12]}...]: expected principal, roles, comment")
            name, roles = entry.get("principal"), entry.get("roles")
            if not isinstance(name, str) or not _PRINCIPAL.match(name):
                raise ApiKeyConfigError(f"FI_API_KEYS[{digest[:12]}...]: bad principal {name!r}")
            if not isinstance(roles, list) or not roles or not set(roles) <= set(ROLES):
                raise ApiKeyConfigError(
                    f"FI_API_KEYS[{digest[:12]}...]: roles must be a non-empty subset of {ROLES}"
                )
            entries[digest] = Principal(name, frozenset(roles))
        return cls(entries)

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal of ``key``, or None: one dict lookup of its digest (see the module docstring)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        return self._entries.get(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())

    def __len__(self) -> int:
        return len(self._entries)


def presented_key(authorization: str | None, api_key_header: str | None) -> str | None:
    """The key from ``Authorization: Bearer <key>``, else from ``X-Api-Key``."""
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        return credentials if credentials and scheme.lower() == "bearer" else None
    if api_key_header and api_key_header.strip():
        return api_key_header.strip()
    return None


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a new API key and its FI_API_KEYS entry.")
    parser.add_argument("--principal", required=True, help="the owner this key acts as")
    parser.add_argument(
        "--roles", default="submitter,reader", help=f"comma-separated, from {', '.join(ROLES)}"
    )
    args = parser.parse_args(argv)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    if not roles or not set(roles) <= set(ROLES) or not _PRINCIPAL.match(args.principal):
        parser.error(f"--roles must be from {', '.join(ROLES)}; --principal must match {_PRINCIPAL.pattern}")
    key = new_key()
    entry = {hash_key(key): {"principal": args.principal, "roles": roles}}
    print(f"API key (give it to the client once; it is not stored anywhere): {key}")
    print(f"FI_API_KEYS entry: {json.dumps(entry)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
