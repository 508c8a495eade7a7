"""The validator's fast paths change nothing: same formulas, same problems, same order.

`reference_validation` is the validator as it was, building `Material` and `Formula` through
their public checking constructors. The current one builds them through the private ``_checked``
constructors after checking every rule itself; these tests pin that it accepts exactly what the
reference accepts (with equal objects, fingerprints included) and refuses everything else with
identical details. The public constructors must still refuse invalid input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import Formula, Material, parse_document, parse_request_body
from chalicelib.errors import ValidationError
from tests.unit.domain.test_fuzz import documents, encode, valid_formulas
from tests.unit.perf import reference_validation as reference

EQUIVALENCE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(parse: Any, arg: Any) -> tuple[str, Any]:
    try:
        submission = parse(arg)
    except ValidationError as exc:
        return ("refused", [(d.field, d.message) for d in exc.details], exc.message)  # type: ignore[return-value]
    formulas = [
        (f.name, [(m.name, m.concentration.as_tuple(), m.key) for m in f.materials], f.fingerprint)
        for f in submission.formulas
    ]
    return ("accepted", (formulas, submission.is_batch))


@EQUIVALENCE
@given(documents(finite=False))
def test_documents_give_what_the_reference_gives(doc: Any) -> None:
    assert outcome(parse_document, doc) == outcome(reference.parse_document, doc)


@EQUIVALENCE
@given(documents(finite=True))
def test_request_bodies_give_what_the_reference_gives(doc: Any) -> None:
    raw = encode(doc)
    assert outcome(parse_request_body, raw) == outcome(reference.parse_request_body, raw)


@EQUIVALENCE
@given(st.lists(valid_formulas, min_size=1, max_size=3))
def test_accepted_formulas_equal_ones_built_through_the_public_constructors(docs: list[Any]) -> None:
    for formula in parse_document(docs).formulas:
        rebuilt = Formula.create(formula.name, [Material(m.name, m.concentration) for m in formula.materials])
        assert rebuilt == formula
        assert rebuilt.fingerprint == formula.fingerprint
        assert [m.key for m in rebuilt.materials] == [m.key for m in formula.materials]


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "x", "materials": [{"name": "a", "concentration": 1}, {"name": "A ", "concentration": 2}]},
        {
            "name": "x",
            "materials": [{"name": "a", "concentration": 60}, {"name": "b", "concentration": "41"}],
        },
        {"name": "x", "materials": [{"name": "a", "concentration": True, "extra": 1}, "not an object"]},
        {"name": " ", "materials": [], "colour": "red"},
        {"name": "x", "materials": [{"name": "a", "concentration": 60}, {"name": "a", "concentration": 0}]},
        [{"name": "x", "materials": [{"name": "a", "concentration": 1}]}, {"materials": None}],
        {"name": "x", "materials": [{"concentration": "1e2"}, {"name": "\u202e", "concentration": "1.0"}]},
        {1: "x", "name": "y", "materials": [{"name": "a", "concentration": Decimal("1E-39")}]},
    ],
    ids=repr,
)
def test_hand_picked_invalid_documents_give_the_reference_problems(doc: Any) -> None:
    assert outcome(parse_document, doc) == outcome(reference.parse_document, doc)
    assert outcome(parse_document, doc)[0] == "refused"


def test_the_public_constructors_still_refuse_invalid_input() -> None:
    with pytest.raises(ValidationError):
        Material(" padded", Decimal(1))
    with pytest.raises(ValidationError):
        Material("Rose", Decimal(0))
    with pytest.raises(ValidationError):
        Material("Rose", 15.5)  # type: ignore[arg-type]
    rose = Material("Rose", Decimal(60))
    with pytest.raises(ValidationError):
        Formula("Twice", (rose, Material("ROSE", Decimal(1))))
    with pytest.raises(ValidationError):
        Formula("Too much", (rose, Material("Oud", Decimal(41))))
    with pytest.raises(ValidationError):
        Formula("", (rose,))
    with pytest.raises(ValidationError):
        Formula("Empty", ())
    with pytest.raises(ValidationError):
        Formula.create("List", [rose, "not a material"])  # type: ignore[list-item]
