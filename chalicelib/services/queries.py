"""Reading formulas: one by id, or a page in creation order (owner-scoped)."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import FieldError, NotFound, ValidationError
from chalicelib.ports.store import STATUSES, FormulaStore
from chalicelib.services import views

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def get_formula(store: FormulaStore, owner: str, formula_id: str) -> dict[str, Any]:
    record = store.get(owner, formula_id)
    if record is None:
        raise NotFound(f"No formula with id {formula_id!r}.")
    return views.formula_resource(record)


def parse_list_params(params: dict[str, str]) -> tuple[int, str | None, str | None]:
    """Validate ``limit``, ``cursor`` and ``status`` query parameters, listing every problem."""
    problems: list[FieldError] = []
    unknown = sorted(set(params) - {"limit", "cursor", "status"})
    problems.extend(FieldError(name, "unknown query parameter") for name in unknown)
    limit = DEFAULT_LIMIT
    raw_limit = params.get("limit")
    if raw_limit is not None:
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            problems.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
        else:
            limit = int(raw_limit)
    after = None
    if params.get("cursor") is not None:
        try:
            after = views.decode_cursor(params["cursor"])
        except ValidationError as exc:
            problems.extend(exc.details)
    status = params.get("status")
    if status is not None and status not in STATUSES:
        problems.append(FieldError("status", f"must be one of {', '.join(STATUSES)}"))
    if problems:
        raise ValidationError(problems, "The query parameters are invalid.")
    return limit, after, status


def list_formulas(
    store: FormulaStore, owner: str, *, limit: int, after: str | None, status: str | None
) -> dict[str, Any]:
    page = store.list(owner, limit=limit, after=after, status=status)
    return {
        "formulas": [views.formula_resource(r) for r in page.items],
        "next_cursor": None if page.next_after is None else views.encode_cursor(page.next_after),
    }
