"""From an untrusted request body to validated formulas, reporting every problem at once.

A body is one formula object, or an array of 1-100 of them (a batch)::

    {"name": "Summer Breeze",
     "materials": [{"name": "Bergamot Oil", "concentration": 15.5}, ...]}

`parse_request_body` never raises anything but `ValidationError`, whose ``details`` name each
problem by path: ``materials[2].concentration`` in a single formula, ``[3].materials[0].name``
in a batch, ``body`` for the document as a whole. The rules themselves live with the value
objects in `chalicelib.domain.model`; this module checks the JSON shape and types around them.

The work is linear in the size of the document and never recursive: only the known structure
is walked, and values of unknown fields are never looked at. A list that is over its limit (a
batch of more than 100, more than 1000 materials) is reported as such without checking its items,
and at most `MAX_DETAILS` problems are listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib import jsonio
from chalicelib.domain.canonical import normalise_name
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


def is_plain_decimal(text: str) -> bool:
    """A plain decimal literal, as the OpenAPI pattern says: ``[0-9]+(\\.[0-9]+)?`` or ``\\.[0-9]+``."""
    return _PLAIN_DECIMAL.fullmatch(text) is not None


_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_KEY_IN_PATH = 64
_MAX_PARSER_MESSAGE = 300

_BODY_SHAPE = f"must be a formula object or an array of 1-{MAX_BATCH} formula objects"
_STRING_CONCENTRATION = (
    f'{CONCENTRATION_RANGE_MESSAGE}; as a string it must be a plain decimal such as "15.5" '
    "(digits and at most one decimal point: no sign, exponent, spaces or underscores)"
)


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """A JSON number whose exponent is beyond what `Decimal` holds, kept as its text so that the
    problem is reported at the field that holds it."""

    text: str


@dataclass(frozen=True, slots=True)
class Submission:
    """The validated formulas of one request body, and whether it was a batch (an array)."""

    formulas: tuple[Formula, ...]
    is_batch: bool

    def __post_init__(self) -> None:
        formulas = self.formulas
        if not isinstance(formulas, tuple) or not all(isinstance(f, Formula) for f in formulas):
            raise ValidationError([FieldError("body", "a submission holds a tuple of formulas")])
        if not 1 <= len(formulas) <= MAX_BATCH:
            raise ValidationError([FieldError("body", f"{_BODY_SHAPE} (got {len(formulas)})")])
        if not self.is_batch and len(formulas) != 1:
            raise ValidationError([FieldError("body", "a submission that is not a batch holds one formula")])


def parse_request_body(raw: bytes | str | None) -> Submission:
    """Parse and validate a request body; raises only `ValidationError`, whatever the input."""
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    elif raw is not None and not isinstance(raw, bytes | str):
        raise ValidationError([FieldError("body", "must be JSON text")])
    if not raw:
        raise ValidationError([FieldError("body", f"is required: it {_BODY_SHAPE}")])
    try:
        doc = jsonio.loads(raw, out_of_range=OutOfRange)
    except jsonio.JsonError as exc:
        raise ValidationError([FieldError("body", _clip(str(exc)))]) from exc
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
    if not item.keys() <= _FORMULA_FIELDS:
        _unknown_fields(item, _FORMULA_FIELDS, prefix, problems)
    name, why = _name(item)
    if why is not None:
        problems.append(FieldError(_join(prefix, "name"), why))
    materials = _materials(item, prefix, problems)
    if len(problems) > before or name is None or materials is None:
        return None
    return Formula(name, materials)


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
        if not isinstance(entry, dict):
            problems.append(FieldError(f"{path}[{index}]", f"must be a material object, not {_kind(entry)}"))
            continue
        if not entry.keys() <= _MATERIAL_FIELDS:
            _unknown_fields(entry, _MATERIAL_FIELDS, f"{path}[{index}]", problems)
        name, why = _name(entry)
        if why is not None:
            problems.append(FieldError(f"{path}[{index}].name", why))
        concentration, why = _concentration(entry)
        if why is not None:
            problems.append(FieldError(f"{path}[{index}].concentration", why))
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


def _name(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(name, None)`` with the trimmed, valid name in ``obj``, or ``(None, why it is not)``."""
    if "name" not in obj:
        return None, "is required"
    value = obj["name"]
    if not isinstance(value, str):
        return None, f"must be a string, not {_kind(value)}"
    name = value.strip()
    if message := name_problem(name):
        return None, message
    return name, None


def _concentration(obj: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    """``(value, None)`` with the valid concentration in ``obj``, or ``(None, why it is not)``."""
    if "concentration" not in obj:
        return None, "is required"
    value = obj["concentration"]
    if isinstance(value, str):
        if not is_plain_decimal(value):
            return None, _STRING_CONCENTRATION
        value = Decimal(value)
    elif isinstance(value, OutOfRange):
        return None, f"{CONCENTRATION_RANGE_MESSAGE} ({_clip(value.text, 40)} is far out of range)"
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= 100:
            return None, CONCENTRATION_RANGE_MESSAGE
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        return None, f"{CONCENTRATION_RANGE_MESSAGE}, not {_kind(value)}"
    if message := concentration_problem(value):
        return None, message
    return value, None


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
        return f"{prefix}[<a key that is not a string>]"
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


def _clip(message: str, limit: int = _MAX_PARSER_MESSAGE) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Decimal | int | OutOfRange):
        return "a number"
    if isinstance(value, float):
        return "a binary floating-point number (give exact decimals)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a value that is not JSON"
