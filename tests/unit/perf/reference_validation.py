"""The request validator as it was before the fast paths (commit cef3f30), kept as a test oracle.

`test_validation_equivalence` checks that `chalicelib.domain.validation` gives exactly what this
gives (equal formulas, or the same problems in the same order) for any input. It builds
`Material` and `Formula` through their public, checking constructors, as the original did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib import jsonio
from chalicelib.domain.fingerprint import normalise_name
from chalicelib.domain.model import (
    CONCENTRATION_RANGE_MESSAGE,
    MAX_MATERIALS,
    Formula,
    Material,
    concentration_problem,
    duplicate_problems,
    name_problem,
    total_concentration,
    total_problem,
)
from chalicelib.errors import FieldError, ValidationError
from chalicelib.jsonio import JsonValue

MAX_BATCH = 100
MAX_DETAILS = 100
"""Most problems listed in one error; the last entry then says how many more there were."""

_FORMULA_FIELDS = frozenset({"name", "materials"})
_MATERIAL_FIELDS = frozenset({"name", "concentration"})
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_KEY_IN_PATH = 64
_MAX_PARSER_MESSAGE = 300

_BODY_SHAPE = f"must be a formula object or an array of 1-{MAX_BATCH} formula objects"
_STRING_CONCENTRATION = (
    f'{CONCENTRATION_RANGE_MESSAGE}; as a string it must be a plain decimal such as "15.5" '
    "(digits and at most one decimal point: no sign, exponent, spaces or underscores)"
)


@dataclass(frozen=True, slots=True)
class Submission:
    """The validated formulas of one request body, and whether it was a batch (an array)."""

    formulas: tuple[Formula, ...]
    is_batch: bool

    def __post_init__(self) -> None:
        formulas = self.formulas
        if not isinstance(formulas, tuple) or not all(isinstance(f, Formula) for f in formulas):
            raise ValidationError([FieldError("body", "a submission holds a tuple of Formula")])
        if not 1 <= len(formulas) <= MAX_BATCH:
            raise ValidationError([FieldError("body", f"{_BODY_SHAPE} (got {len(formulas)})")])
        if not self.is_batch and len(formulas) != 1:
            raise ValidationError([FieldError("body", "a submission that is not a batch holds one formula")])


def parse_request_body(raw: bytes | str | None) -> Submission:
    """Parse and validate a request body; raises only `ValidationError`, whatever the input."""
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if raw is None or (isinstance(raw, bytes | str) and not raw):
        raise ValidationError([FieldError("body", f"is required: it {_BODY_SHAPE}")])
    if not isinstance(raw, bytes | str):
        raise ValidationError([FieldError("body", "must be JSON text")])
    try:
        doc = jsonio.loads(raw)
    except jsonio.JsonError as exc:
        raise ValidationError([FieldError("body", _clip(str(exc)))]) from exc
    except (ValueError, ArithmeticError, RecursionError) as exc:
        # jsonio should turn these into JsonError; e.g. an exponent beyond the decimal
        # module's range (1e99999999999999999999) escapes it as decimal.InvalidOperation.
        raise ValidationError(
            [FieldError("body", "is not valid JSON (a number or value is out of range)")]
        ) from exc
    return parse_document(doc)


def parse_document(doc: JsonValue) -> Submission:
    """Validate a parsed JSON document: a formula object or an array of 1-100 of them."""
    if isinstance(doc, dict):
        items: list[Any] = [doc]
        is_batch = False
    elif isinstance(doc, list):
        if not 1 <= len(doc) <= MAX_BATCH:
            raise ValidationError([FieldError("body", f"{_BODY_SHAPE} (the array has {len(doc)})")])
        items = doc
        is_batch = True
    else:
        raise ValidationError([FieldError("body", f"{_BODY_SHAPE}, not {_kind(doc)}")])
    problems: list[FieldError] = []
    formulas: list[Formula] = []
    for index, item in enumerate(items):
        formula = _formula(item, f"[{index}]" if is_batch else "", problems)
        if formula is not None:
            formulas.append(formula)
    if problems:
        raise ValidationError(_capped(problems))
    return Submission(tuple(formulas), is_batch)


def _formula(item: Any, prefix: str, problems: list[FieldError]) -> Formula | None:
    if not isinstance(item, dict):
        problems.append(FieldError(prefix or "body", f"must be a formula object, not {_kind(item)}"))
        return None
    before = len(problems)
    _unknown_fields(item, _FORMULA_FIELDS, prefix, problems)
    name = _name(item, _join(prefix, "name"), problems)
    materials = _materials(item, prefix, problems)
    if len(problems) > before or name is None or materials is None:
        return None
    try:
        return Formula(name, materials)
    except ValidationError as exc:
        problems.extend(_prefixed(prefix, exc.details))
        return None


def _materials(
    formula: dict[str, Any], prefix: str, problems: list[FieldError]
) -> tuple[Material, ...] | None:
    path = _join(prefix, "materials")
    if "materials" not in formula:
        problems.append(FieldError(path, "is required"))
        return None
    entries = formula["materials"]
    if not isinstance(entries, list):
        problems.append(FieldError(path, f"must be an array of materials, not {_kind(entries)}"))
        return None
    if not 1 <= len(entries) <= MAX_MATERIALS:
        problems.append(FieldError(path, f"must list 1-{MAX_MATERIALS} materials (it lists {len(entries)})"))
        return None
    materials: list[Material] = []
    keys: list[tuple[int, str]] = []
    concentrations: list[Decimal] = []
    for index, entry in enumerate(entries):
        entry_path = f"{path}[{index}]"
        if not isinstance(entry, dict):
            problems.append(FieldError(entry_path, f"must be a material object, not {_kind(entry)}"))
            continue
        _unknown_fields(entry, _MATERIAL_FIELDS, entry_path, problems)
        name = _name(entry, f"{entry_path}.name", problems)
        concentration = _concentration(entry, f"{entry_path}.concentration", problems)
        if name is not None and concentration is not None:
            material = Material(name, concentration)
            materials.append(material)
            keys.append((index, material.key))
        elif name is not None:
            keys.append((index, normalise_name(name)))
        if concentration is not None:
            concentrations.append(concentration)
    problems.extend(_prefixed(prefix, duplicate_problems(keys)))
    complete = len(concentrations) == len(entries)
    if total := total_problem(total_concentration(concentrations), complete=complete):
        problems.extend(_prefixed(prefix, [total]))
    return tuple(materials) if len(materials) == len(entries) else None


def _name(obj: dict[str, Any], path: str, problems: list[FieldError]) -> str | None:
    if "name" not in obj:
        problems.append(FieldError(path, "is required"))
        return None
    value = obj["name"]
    if not isinstance(value, str):
        problems.append(FieldError(path, f"must be a string, not {_kind(value)}"))
        return None
    name = value.strip()
    if message := name_problem(name):
        problems.append(FieldError(path, message))
        return None
    return name


def _concentration(obj: dict[str, Any], path: str, problems: list[FieldError]) -> Decimal | None:
    if "concentration" not in obj:
        problems.append(FieldError(path, "is required"))
        return None
    value = obj["concentration"]
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            problems.append(FieldError(path, _STRING_CONCENTRATION))
            return None
        value = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= 100:
            problems.append(FieldError(path, CONCENTRATION_RANGE_MESSAGE))
            return None
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        problems.append(FieldError(path, f"{CONCENTRATION_RANGE_MESSAGE}, not {_kind(value)}"))
        return None
    if message := concentration_problem(value):
        problems.append(FieldError(path, message))
        return None
    return value


def _unknown_fields(
    obj: dict[Any, Any], allowed: frozenset[str], prefix: str, problems: list[FieldError]
) -> None:
    for key in obj:
        if key not in allowed:
            problems.append(FieldError(_field_path(prefix, key), "unknown field"))


def _field_path(prefix: str, key: object) -> str:
    """``prefix.key`` for identifier-like keys, else ``prefix["key"]`` quoted, ASCII and clipped."""
    if isinstance(key, str) and len(key) <= _MAX_KEY_IN_PATH and _IDENTIFIER.fullmatch(key):
        return _join(prefix, key)
    if not isinstance(key, str):
        return f"{prefix}[<{type(key).__name__} key>]"
    clipped = key if len(key) <= _MAX_KEY_IN_PATH else key[:_MAX_KEY_IN_PATH] + "..."
    return f"{prefix}[{json.dumps(clipped, ensure_ascii=True)}]"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _prefixed(prefix: str, problems: Iterable[FieldError]) -> list[FieldError]:
    if not prefix:
        return list(problems)
    return [FieldError(_join(prefix, p.field), p.message) for p in problems]


def _capped(problems: list[FieldError]) -> list[FieldError]:
    if len(problems) <= MAX_DETAILS:
        return problems
    hidden = len(problems) - (MAX_DETAILS - 1)
    return [*problems[: MAX_DETAILS - 1], FieldError("body", f"{hidden} more problems are not listed")]


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_PARSER_MESSAGE else message[:_MAX_PARSER_MESSAGE] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Decimal | int):
        return "a number"
    if isinstance(value, float):
        return "a binary float (use Decimal)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
