"""Which roles may call which route. Every route not listed as public needs a key.

The table is the single source of truth; the OpenAPI document and the table-driven role tests
read it too.
"""

from __future__ import annotations

PUBLIC_ROUTES = frozenset({("GET", "/health"), ("GET", "/openapi.json")})

ROUTE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/formulas"): frozenset({"submitter"}),
    ("GET", "/formulas"): frozenset({"reader"}),
    ("GET", "/formulas/{formula_id}"): frozenset({"reader"}),
    ("GET", "/formulas/{formula_id}/similar"): frozenset({"reader"}),
    ("POST", "/formulas/similar"): frozenset({"reader", "submitter"}),
    ("POST", "/queue/receive"): frozenset({"consumer"}),
    ("POST", "/queue/ack"): frozenset({"consumer"}),
    ("POST", "/queue/nack"): frozenset({"consumer"}),
    ("GET", "/queue/formulas/{formula_id}/status"): frozenset({"consumer"}),
    ("PUT", "/queue/formulas/{formula_id}/status"): frozenset({"consumer"}),
    ("GET", "/queue/dead-letters"): frozenset({"consumer", "admin"}),
    ("GET", "/queue/stats"): frozenset({"admin"}),
    ("POST", "/queue/dead-letters/redrive"): frozenset({"admin"}),
}


_KNOWN_PATHS = frozenset(path for _, path in (*PUBLIC_ROUTES, *ROUTE_ROLES))


def roles_for(method: str, route: str) -> frozenset[str] | None:
    """The roles allowed on a route (any one suffices); None when no key is needed.

    No key is needed for public routes, nor for a method a known path does not have (the
    answer is a 405 that reveals nothing). A path missing from the tables is refused to
    everyone (fail closed).
    """
    if (method, route) in PUBLIC_ROUTES:
        return None
    allowed = ROUTE_ROLES.get((method, route))
    if allowed is None:
        return None if route in _KNOWN_PATHS else frozenset()
    return allowed
