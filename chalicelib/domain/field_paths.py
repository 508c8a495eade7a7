"""Where a validation problem is: the field path a `FieldError` names.

``materials[2].concentration`` in a single formula, ``[3].materials[0].name`` in a batch; a key
that is not an identifier is quoted (``["odd key"]``), in ASCII and clipped, so a path is always
short, printable text whatever the body held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import FieldError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_KEY_IN_PATH = 64


def path_of(prefix: str, index: int | None, field: str) -> str:
    """``prefix[index].field``, ``prefix.field`` or ``field``: where a problem is."""
    return f"{prefix}[{index}].{field}" if index is not None else join(prefix, field)


def unknown_fields(
    obj: dict[Any, Any], allowed: frozenset[str], prefix: str, problems: list[FieldError]
) -> None:
    """Add an "unknown field" problem for each key of ``obj`` not ``allowed``."""
    for key in obj:
        if key not in allowed:
            problems.append(FieldError(field_path(prefix, key), "unknown field"))


def field_path(prefix: str, key: object) -> str:
    """``prefix.key`` for identifier-like keys, else ``prefix["key"]`` quoted, ASCII and clipped."""
    if isinstance(key, str) and len(key) <= _MAX_KEY_IN_PATH and _IDENTIFIER.fullmatch(key):
        return join(prefix, key)
    if not isinstance(key, str):
        return f"{prefix}[<a key that is not a string>]"
    clipped = key if len(key) <= _MAX_KEY_IN_PATH else key[:_MAX_KEY_IN_PATH] + "..."
    return f"{prefix}[{json.dumps(clipped, ensure_ascii=True)}]"


def join(prefix: str, name: str) -> str:
    """``prefix.name``, or ``name`` at the top."""
    return f"{prefix}.{name}" if prefix else name


def prefixed(prefix: str, problems: Iterable[FieldError]) -> list[FieldError]:
    """``problems`` (named from their object) named from the document, under ``prefix``."""
    if not prefix:
        return list(problems)
    return [FieldError(join(prefix, p.field), p.message) for p in problems]
