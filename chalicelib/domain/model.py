"""The formula value objects and the invariants every one of them satisfies.

`Material` and `Formula` are immutable and check their own invariants on construction, so an
invalid one cannot exist: whatever builds them (request validation, a storage adapter reading a
record back, a test) gets a `ValidationError` instead. The rules are small functions here so that
`chalicelib.domain.validation` can apply the same rules to untrusted JSON while collecting every
problem with its path, rather than stopping at the first.

A concentration is a percentage by weight, kept as the exact `Decimal` that was submitted
(``15.50`` stays ``Decimal("15.50")``) and compared by value only. DynamoDB stores at most 38
significant digits, and the submitted digits are stored as they are, so the digit limits count
the digits as written, trailing zeros included.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded

from chalicelib import jsonio
from chalicelib.domain.canonical import canonical_decimal, normalise_name
from chalicelib.domain.fingerprint import fingerprint
from chalicelib.errors import FieldError, ValidationError

NAME_MAX_CHARS = 200
MAX_MATERIALS = 1000
MAX_CONCENTRATION = Decimal(100)
MAX_TOTAL_CONCENTRATION = Decimal(100)
MAX_FORMULA_BYTES = 120 * 1024
"""Most UTF-8 bytes a formula's name and materials take as JSON (``{"name": ..., "materials":
[...]}``, compact). Its message then fits an SQS message (256 KiB) with room for the envelope,
and its DynamoDB item fits an item (400 KB): see ``docs/api.md``, "Size limits"."""
MAX_SIGNIFICANT_DIGITS = 38
MAX_FRACTION_DIGITS = 38

CONCENTRATION_RANGE_MESSAGE = "must be a number greater than 0 and at most 100"

_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: format characters some scripts and emoji need."""

SUM_CONTEXT = Context(prec=200, traps=[Inexact, Rounded, Overflow, InvalidOperation])
"""Where concentrations are summed: ample for any sum of valid ones (at most 6 integer and 38
fractional digits), and any rounding would trap rather than pass unnoticed."""

_ZERO = Decimal(0)


def name_problem(name: str) -> str | None:
    """Why ``name`` (already trimmed) is not a valid formula or material name, or None.

    A name has 1-200 characters and no outer whitespace. It may not contain control characters
    (tab and newline included), surrogates, unassigned or private-use code points, line or
    paragraph separators, or invisible format characters such as bidi overrides and zero-width
    spaces; zero-width (non-)joiners and Unicode spaces are allowed. Unassigned code points are
    refused also because their normalisation, and so the fingerprint, could change once assigned.
    A name must keep a character once the canonical form drops invisible ones (`normalise_name`):
    a name of only Hangul fillers, U+2800 or joiners looks empty, so it is refused.
    """
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        return f"must be 1-{NAME_MAX_CHARS} characters after trimming (it has {len(name)})"
    if name[0].isspace() or name[-1].isspace():
        return "must not start or end with whitespace"
    if not name.isprintable():  # then find which character is not, and whether it is allowed
        for position, char in enumerate(name, start=1):
            if not (char.isprintable() or char in _JOINERS or unicodedata.category(char) == "Zs"):
                return (
                    "must not contain control or invisible characters "
                    f"(found U+{ord(char):04X} at character {position})"
                )
    if not normalise_name(name):
        return "must contain a visible character (it has only invisible ones, such as U+3164 or U+200D)"
    return None


def concentration_problem(value: Decimal) -> str | None:
    """Why ``value`` is not a valid concentration, or None: finite, 0 < value <= 100, <= 38 digits."""
    if not value.is_finite() or not _ZERO < value <= MAX_CONCENTRATION:
        return CONCENTRATION_RANGE_MESSAGE
    _, digits, exponent = value.as_tuple()
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        return (
            f"must have at most {MAX_SIGNIFICANT_DIGITS} significant digits, trailing zeros included "
            f"(it has {len(digits)})"
        )
    if isinstance(exponent, int) and -exponent > MAX_FRACTION_DIGITS:
        return f"must have at most {MAX_FRACTION_DIGITS} digits after the decimal point (it has {-exponent})"
    return None


def duplicate_problems(keys: Iterable[tuple[int, str]]) -> Iterator[FieldError]:
    """A problem at ``materials[i].name`` for each material whose key an earlier one already has."""
    first: dict[str, int] = {}
    for index, key in keys:
        earlier = first.setdefault(key, index)
        if earlier != index:
            yield FieldError(
                f"materials[{index}].name",
                f"duplicates materials[{earlier}] (names are compared ignoring case, width, spacing, "
                "invisible characters and the style of quotes and dashes)",
            )


def total_concentration(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of valid concentrations (no rounding: a `Context` trap fires otherwise)."""
    total = Decimal(0)
    for value in values:
        total = SUM_CONTEXT.add(total, value)
    return total


def total_problem(total: Decimal, *, complete: bool = True) -> FieldError | None:
    """A problem at ``materials`` if ``total`` exceeds 100; ``complete=False`` if some were invalid."""
    if total <= MAX_TOTAL_CONCENTRATION:
        return None
    text = canonical_decimal(total)
    if complete:
        return FieldError("materials", f"concentrations must sum to at most 100 (they sum to {text})")
    return FieldError(
        "materials", f"concentrations must sum to at most 100 (the valid ones already sum to {text})"
    )


def _name_problems(name: object) -> list[FieldError]:
    """The problems of a value object's ``name`` field (its public constructor's check)."""
    if not isinstance(name, str):
        return [FieldError("name", "must be a string")]
    message = name_problem(name)
    return [] if message is None else [FieldError("name", message)]


@dataclass(frozen=True, slots=True)
class Material:
    """One material of a formula: its display name as submitted (trimmed) and its concentration.

    ``key`` is the normalised name (`normalise_name`) that duplicate detection and the
    fingerprint compare.
    """

    name: str
    concentration: Decimal
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _name_problems(self.name)
        if not isinstance(self.concentration, Decimal):
            problems.append(FieldError("concentration", "must be an exact decimal number"))
        elif message := concentration_problem(self.concentration):
            problems.append(FieldError("concentration", message))
        if problems:
            raise ValidationError(problems, "The material is invalid.")
        object.__setattr__(self, "key", normalise_name(self.name))

    def as_json(self) -> dict[str, str | Decimal]:
        """``{"name": ..., "concentration": Decimal}`` for responses and messages."""
        return {"name": self.name, "concentration": self.concentration}


@dataclass(frozen=True, slots=True)
class Formula:
    """A named, validated list of materials (in submitted order) and its fingerprint.

    Construct it with `Formula.create` (or ``Formula(name, materials)``): the invariants are
    checked and the fingerprint is derived, never passed in, so it always matches the materials.
    """

    name: str
    materials: tuple[Material, ...]
    fingerprint: str = field(init=False)
    size: int = field(init=False, repr=False, compare=False)
    """UTF-8 bytes of the formula's name and materials as compact JSON (`MAX_FORMULA_BYTES`)."""

    @classmethod
    def create(cls, name: str, materials: Iterable[Material]) -> Formula:
        """Validate and build a formula; raises `ValidationError` listing every problem."""
        return cls(name, tuple(materials))

    def __post_init__(self) -> None:
        problems = _name_problems(self.name)
        materials = self.materials
        if not isinstance(materials, tuple) or not all(isinstance(m, Material) for m in materials):
            problems.append(FieldError("materials", "must be a tuple of materials"))
        elif not 1 <= len(materials) <= MAX_MATERIALS:
            problems.append(
                FieldError("materials", f"must list 1-{MAX_MATERIALS} materials (it lists {len(materials)})")
            )
        else:
            problems.extend(duplicate_problems((i, m.key) for i, m in enumerate(materials)))
            if total := total_problem(total_concentration(m.concentration for m in materials)):
                problems.append(total)
        if problems:
            raise ValidationError(problems, "The formula is invalid.")
        size = len(jsonio.dumps({"name": self.name, "materials": self.materials_as_json()}).encode("utf-8"))
        if size > MAX_FORMULA_BYTES:
            raise ValidationError(
                [
                    FieldError(
                        "materials",
                        f"a formula's name and materials may take at most {MAX_FORMULA_BYTES} bytes as "
                        f"JSON (this one takes {size}): split it, or shorten the names",
                    )
                ],
                "The formula is too large.",
            )
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "fingerprint", fingerprint(materials))

    def materials_as_json(self) -> list[dict[str, str | Decimal]]:
        """The materials as ``[{"name": str, "concentration": Decimal}, ...]`` in submitted order."""
        return [m.as_json() for m in self.materials]
