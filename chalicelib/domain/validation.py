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
from chalicelib._slots import new_object, slot_setter
from chalicelib.domain.fingerprint import normalise_name
from chalicelib.domain.model import (
    CONCENTRATION_RANGE_MESSAGE,
    MAX_CONCENTRATION,
    MAX_FRACTION_DIGITS,
    MAX_MATERIALS,
    MAX_SIGNIFICANT_DIGITS,
    MAX_TOTAL_CONCENTRATION,
    NAME_MAX_CHARS,
    SUM_CONTEXT,
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
    """A plain decimal literal, as the OpenAPI pattern says: ``[0-9]+(\\.[0-9]+)?`` or ``\\.[0-9]+``.

    ASCII digits with at most one point, which is not last: written with `str` methods rather
    than a regular expression (the validator's fast path restates this line).
    """
    return text.isascii() and text.replace(".", "", 1).isdigit() and text[-1] != "."


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

    @classmethod
    def _checked(cls, formulas: tuple[Formula, ...], is_batch: bool) -> Submission:
        """A submission `parse_document` has already checked (see `Formula._checked`)."""
        submission = _new(cls)
        _set_formulas(submission, formulas)
        _set_is_batch(submission, is_batch)
        return submission


def parse_request_body(raw: bytes | str | None) -> Submission:
    """Parse and validate a request body; raises only `ValidationError`, whatever the input."""
    if raw.__class__ is not bytes:  # what a request gives: the checks below then hold at once
        if isinstance(raw, bytearray | memoryview):
            raw = bytes(raw)
        elif raw is not None and not isinstance(raw, bytes | str):
            raise ValidationError([FieldError("body", "must be JSON text")])
    if not raw:
        raise ValidationError([FieldError("body", f"is required: it {_BODY_SHAPE}")])
    try:
        doc, colons = jsonio.loads_counting_keys(raw)
    except (ValueError, ArithmeticError, RecursionError):
        doc, colons = None, -1  # refused: `loads` below says why, as it always has
    if colons >= 0:
        submission = _plain_submission(doc)
        # Each formula object holds 2 keys and each material object 2: when the text has no more
        # colons than that, no key was repeated (see `jsonio.loads_counting_keys`).
        if submission is not None and colons == sum([2 + 2 * len(f.materials) for f in submission.formulas]):
            return submission
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
    submission = _plain_submission(doc)
    if submission is not None:
        return submission
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
    # Every item was a valid formula (so there are 1-100 of them, exactly one if not a batch).
    return Submission._checked(tuple(formulas), is_batch)


def _plain_submission(doc: JsonValue) -> Submission | None:
    """The submission of a document of plain formulas only (see `_plain_formula`), else None."""
    if doc.__class__ is dict:
        formula = _plain_formula(doc)
        return None if formula is None else Submission._checked((formula,), False)
    if doc.__class__ is not list or not 1 <= len(doc) <= MAX_BATCH:
        return None
    formulas = []
    for item in doc:
        formula = _plain_formula(item)
        if formula is None:
            return None
        formulas.append(formula)
    return Submission._checked(tuple(formulas), True)


def _plain_formula(item: Any) -> Formula | None:
    """The formula ``item`` holds if it is a *plain* valid one, else None: the general path decides.

    The fast path for what nearly every request holds, in one loop with the rules inlined (the
    general path below checks one rule per call so that it can name every problem). Plain means:
    exactly the fields ``name`` and ``materials``, each material exactly ``name`` and
    ``concentration``; names that are `str.isprintable` once trimmed (so no check of
    `name_problem` beyond the length can fail); concentrations that are a finite `Decimal` or a
    plain-decimal string whose `str` has at most 38 characters and no exponent (so it has at most
    38 significant and 38 fractional digits); distinct keys; a total of at most 100. Anything else,
    valid or not, returns None, so this path accepts only what the general path accepts, and builds
    the same objects from the same values (``tests/unit/perf/test_validation_equivalence.py``).
    """
    if item.__class__ is not dict or len(item) != 2:
        return None
    name = item.get("name")
    entries = item.get("materials")
    if name.__class__ is not str or entries.__class__ is not list or not 0 < len(entries) <= MAX_MATERIALS:
        return None
    name = name.strip()
    if not 0 < len(name) <= NAME_MAX_CHARS or not name.isprintable():
        return None
    materials = []
    pairs = []
    keys = set()
    total = _ZERO
    add = SUM_CONTEXT.add
    new, set_name, set_concentration, set_key = _new, _set_name, _set_concentration, _set_key
    for entry in entries:
        if entry.__class__ is not dict or len(entry) != 2:
            return None
        material_name = entry.get("name")
        value = entry.get("concentration")
        if material_name.__class__ is not str:
            return None
        material_name = material_name.strip()
        if not 0 < len(material_name) <= NAME_MAX_CHARS or not material_name.isprintable():
            return None
        if value.__class__ is str:
            # is_plain_decimal(value), inlined:
            if not (value.isascii() and value.replace(".", "", 1).isdigit() and value[-1] != "."):
                return None
            value = Decimal(value)
        elif value.__class__ is not Decimal or not value.is_finite():
            return None
        if not _ZERO < value <= MAX_CONCENTRATION:
            return None
        text = str(value)  # positional, as format(value, "f") writes it, when it holds no exponent
        if len(text) > _PLAIN_DIGITS or "E" in text:
            return None
        # normalise_name(material_name), with its ASCII branch inlined. The name is printable and
        # trimmed, so an ASCII one holds no whitespace but single spaces unless "  " occurs in it:
        # lower-casing it is all the normalising it needs.
        if material_name.isascii():
            key = material_name.lower()
            if "  " in key:
                key = " ".join(key.split())
        else:
            key = normalise_name(material_name)
        keys.add(key)
        total = add(total, value)
        # canonical_decimal(value) and Material._checked(material_name, value, key), inlined:
        pairs.append((key, text.rstrip("0").rstrip(".") if "." in text else text))
        material = new(Material)
        set_name(material, material_name)
        set_concentration(material, value)
        set_key(material, key)
        materials.append(material)
    if len(keys) < len(materials) or total > MAX_TOTAL_CONCENTRATION:
        return None
    return Formula._checked(name, tuple(materials), pairs)


_PLAIN_DIGITS = min(MAX_SIGNIFICANT_DIGITS, MAX_FRACTION_DIGITS)
"""A concentration written in at most this many characters (no exponent) has few enough digits."""
_ZERO = Decimal(0)
_new = new_object
_set_name, _set_concentration, _set_key = (slot_setter(Material, n) for n in ("name", "concentration", "key"))
_set_formulas, _set_is_batch = (slot_setter(Submission, n) for n in ("formulas", "is_batch"))


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
    # No problem was found, so every rule `Formula` checks holds: the name passed `name_problem`,
    # the count is within limits, `_materials` found no duplicate and no excess total.
    return Formula._checked(name, materials)


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
    distinct_keys: set[str] = set()
    concentrations: list[Decimal] = []
    # Paths are formatted only for problems: most bodies have none.
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
        if name is not None:
            key = normalise_name(name)
            keys.append((index, key))
            distinct_keys.add(key)
            if concentration is not None:
                materials.append(Material._checked(name, concentration, key))
        if concentration is not None:
            concentrations.append(concentration)
    if len(distinct_keys) < len(keys):
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
