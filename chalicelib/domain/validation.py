"""From an untrusted request body to validated formulas, reporting every problem at once.

A body is one formula object, or an array of 1-`MAX_BATCH` (49) of them (a batch)::

    {"name": "Summer Breeze",
     "materials": [{"name": "Bergamot Oil", "concentration": 15.5}, ...]}

`parse_request_body` never raises anything but `ValidationError`, whose ``details`` name each
problem by path: ``materials[2].concentration`` in a single formula, ``[3].materials[0].name``
in a batch, ``body`` for the document as a whole. The rules themselves live with the value
objects in `chalicelib.domain.model`; this module checks the JSON shape and types around them.

The work is linear in the size of the document and never recursive: only the known structure
is walked, and values of unknown fields are never looked at. A list that is over its limit (a
batch of more than 49, more than 1000 materials) is reported as such without checking its items,
and at most `MAX_DETAILS` problems are listed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib import jsonio
from chalicelib.domain.canonical import normalise_name
from chalicelib.domain.field_paths import join, path_of, prefixed, unknown_fields
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

MAX_BATCH = 49
"""Most formulas in one batch, on every backend: on the AWS backend a submission is one DynamoDB
transaction, which holds at most 100 actions (see ``docs/api.md``, "Batches")."""
MAX_BATCH_BYTES = 320 * 1024
"""Most UTF-8 bytes the formulas of one batch take together (each counted as `Formula.size`),
so that the batch's messages fit the one DynamoDB outbox item (400 KB) that carries them on the
AWS backend: see ``docs/api.md``, "Size limits"."""
MAX_DETAILS = 100
"""Most problems listed in one error; the last entry then says how many more there were."""

_FORMULA_FIELDS = frozenset({"name", "materials"})
_MATERIAL_FIELDS = frozenset({"name", "concentration"})


def is_plain_decimal(text: str) -> bool:
    """A plain decimal literal, as the OpenAPI pattern says: ``[0-9]+(\\.[0-9]+)?`` or ``\\.[0-9]+``."""
    return _PLAIN_DECIMAL.fullmatch(text) is not None


_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)
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
    """Validate a parsed JSON document: a formula object or an array of 1-`MAX_BATCH` of them."""
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
    if (size := sum(formula.size for formula in formulas)) > MAX_BATCH_BYTES:
        raise ValidationError(
            [
                FieldError(
                    "body",
                    f"the formulas of a batch may take at most {MAX_BATCH_BYTES} bytes as JSON "
                    f"together (these take {size}): send them in smaller batches",
                )
            ]
        )
    return Submission(tuple(formulas), is_batch)


def _formula(item: Any, prefix: str, problems: list[FieldError]) -> Formula | None:
    """The formula in ``item``, or None with its problems added to ``problems``.

    When the JSON has the right shape, the model's constructors check every rule once and their
    errors get this formula's path. Otherwise the model's rule functions are applied to whatever
    has the right shape, so that every problem is still listed.
    """
    if not isinstance(item, dict):
        problems.append(FieldError(prefix or "body", f"must be a formula object, not {_kind(item)}"))
        return None
    before = len(problems)
    if not item.keys() <= _FORMULA_FIELDS:
        unknown_fields(item, _FORMULA_FIELDS, prefix, problems)
    name_at = len(problems)
    name = _string(item, "name", prefix, None, problems)
    parts = _materials(item, prefix, problems)
    if len(problems) == before and name is not None and parts is not None and parts.complete:
        try:
            return Formula(name, tuple(parts.materials))
        except ValidationError as exc:
            problems.extend(prefixed(prefix, exc.details))
            return None
    if name is not None and (why := name_problem(name)):
        problems.insert(name_at, FieldError(join(prefix, "name"), why))
    if parts is not None:
        problems.extend(prefixed(prefix, duplicate_problems(parts.keys)))
        total = total_problem(total_concentration(parts.concentrations), complete=parts.complete)
        if total:
            problems.extend(prefixed(prefix, [total]))
    return None


@dataclass(slots=True)
class _Materials:
    """What a formula's ``materials`` array held: the valid materials, and for the cross-material
    rules the keys of the valid names and the valid concentrations."""

    materials: list[Material]
    keys: list[tuple[int, str]]
    concentrations: list[Decimal]
    complete: bool = True


def _materials(formula: dict[str, Any], prefix: str, problems: list[FieldError]) -> _Materials | None:
    path = join(prefix, "materials")
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
    parts = _Materials([], [], [])
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(FieldError(f"{path}[{index}]", f"must be a material object, not {_kind(entry)}"))
            parts.complete = False
            continue
        before = len(problems)
        if not entry.keys() <= _MATERIAL_FIELDS:
            unknown_fields(entry, _MATERIAL_FIELDS, f"{path}[{index}]", problems)
        name_at = len(problems)
        name = _string(entry, "name", path, index, problems)
        concentration = _concentration(entry, path, index, problems)
        if name is not None and concentration is not None and len(problems) == before:
            try:
                material = known_material(name, str(concentration))
            except ValidationError as exc:
                problems.extend(prefixed(f"{path}[{index}]", exc.details))
                refused = {detail.field for detail in exc.details}
            else:
                parts.materials.append(material)
                parts.keys.append((index, material.key))
                parts.concentrations.append(concentration)
                continue
        else:
            refused = set()
            if name is not None and (why := name_problem(name)):
                problems.insert(name_at, FieldError(f"{path}[{index}].name", why))
                refused.add("name")
            if concentration is not None and (why := concentration_problem(concentration)):
                problems.append(FieldError(f"{path}[{index}].concentration", why))
                refused.add("concentration")
        parts.complete = False
        if name is not None and "name" not in refused:
            parts.keys.append((index, normalise_name(name)))
        if concentration is not None and "concentration" not in refused:
            parts.concentrations.append(concentration)
    return parts


@functools.lru_cache(maxsize=16_384)
def known_material(name: str, concentration: str) -> Material:
    """The `Material` named ``name`` (trimmed) at the exact decimal ``concentration`` (its text).

    Formulas draw their materials from a small vocabulary at a few concentrations, so each
    recent pair is built, and its rules checked, once: every formula that lists it shares one
    immutable object (which a store can then hold once for all of them). The text keeps the
    written digits, so ``12.50`` and ``12.5`` are two materials. An invalid pair raises
    `ValidationError` every time.
    """
    return Material(name, Decimal(concentration))


def _string(
    obj: dict[str, Any], field: str, prefix: str, index: int | None, problems: list[FieldError]
) -> str | None:
    """The trimmed string in ``obj[field]``, or None with a problem if it is missing or no string.

    ``obj`` is at ``prefix`` (``prefix[index]`` when ``index`` is given); the path of a problem
    is only written when there is one.
    """
    value = obj.get(field, _MISSING)
    if isinstance(value, str):
        return value.strip()
    problem = "is required" if value is _MISSING else f"must be a string, not {_kind(value)}"
    problems.append(FieldError(path_of(prefix, index, field), problem))
    return None


def _concentration(
    obj: dict[str, Any], prefix: str, index: int, problems: list[FieldError]
) -> Decimal | None:
    """The concentration in ``obj`` (at ``prefix[index]``) as a `Decimal`, or None with a problem
    if it is not a number (a plain decimal string counts); whether the number is valid is the
    model's rule."""
    value = obj.get("concentration", _MISSING)
    if isinstance(value, str):
        if is_plain_decimal(value):
            return Decimal(value)
        problem = _STRING_CONCENTRATION
    elif isinstance(value, Decimal):
        return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    elif value is _MISSING:
        problem = "is required"
    elif isinstance(value, OutOfRange):
        problem = f"{CONCENTRATION_RANGE_MESSAGE} ({_clip(value.text, 40)} is far out of range)"
    else:
        problem = f"{CONCENTRATION_RANGE_MESSAGE}, not {_kind(value)}"
    problems.append(FieldError(path_of(prefix, index, "concentration"), problem))
    return None


_MISSING: Any = object()
"""What `dict.get` answers for a field the object does not have (``null`` is a value: None)."""


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
