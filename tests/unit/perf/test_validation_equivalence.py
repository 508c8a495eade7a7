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


def _formula(*materials: tuple[str, Any], name: str = "F") -> dict[str, Any]:
    return {"name": name, "materials": [{"name": n, "concentration": c} for n, c in materials]}


# Documents at the edges of the plain fast path (`validation._plain_formula`): each one is either
# just inside it or just outside it, where the general path must decide exactly as the reference.
EDGES = [
    _formula(("Rose", Decimal("15.50"))),
    _formula(("Rose", "15.50"), ("Oud", Decimal("84.5"))),
    _formula(("Rose", Decimal("1.55E+1"))),  # str() has no exponent: plain
    _formula(("Rose", Decimal("1E+1"))),  # str() has an exponent: general path, accepted
    _formula(("Rose", Decimal("1E-7"))),  # exponent again, 7 fraction digits: accepted
    _formula(("Rose", Decimal("1E-39"))),  # 39 fraction digits: refused
    _formula(("Rose", Decimal("0." + "0" * 35 + "1"))),  # 37 fraction digits, 38 characters: plain
    _formula(("Rose", Decimal("0." + "0" * 36 + "1"))),  # 38 fraction digits, 39 characters: accepted
    _formula(("Rose", Decimal("1." + "0" * 37))),  # 38 digits, 39 characters: accepted
    _formula(("Rose", Decimal("1." + "0" * 38))),  # 39 digits: refused
    _formula(("Rose", "1." + "0" * 38)),
    # Strings: a plain decimal literal (digits, at most one point, not last) or refused.
    *(
        _formula(("Rose", text))
        for text in [
            "5.",
            ".5",
            ".",
            "",
            "1.2",
            "1.2.3",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e1",
            "00.50",
            "\u0665",
            "\uff11",
        ]
    ),
    _formula(("Rose", 7)),  # an int (only a caller of parse_document can hand one in)
    _formula(("Rose", True)),
    _formula(("Rose", Decimal("NaN"))),
    _formula(("Rose", Decimal("100")), ("Oud", Decimal("1E-38"))),  # total just over 100
    _formula(("Rose", Decimal("60")), ("Oud", "40")),  # total exactly 100
    _formula(("Rose", 1), ("rose", 2)),
    _formula(("Ro\u00a0se", Decimal(1))),  # no-break space: not isprintable, valid: general path
    _formula(("Ro\u200dse", Decimal(1))),  # zero-width joiner: the same
    _formula(("Ro\u200bse", Decimal(1))),  # zero-width space: refused
    _formula(("\uff32\uff4f\uff53\uff45", Decimal(1)), ("rose", Decimal(2))),  # full-width Rose: duplicate
    _formula(("  Rose  ", Decimal(1)), name="  Spaced  "),
    _formula(("Rose   Absolute", Decimal(1))),  # inner runs of spaces collapse in the key
    _formula(("Rose  Oil", Decimal(1)), ("rose oil", Decimal(2))),  # ... so these two are one material
    _formula(("ROSE Oil", Decimal(1)), ("Rose  Oud  X", Decimal(2))),
    _formula(("R" * 200, Decimal(1)), name="N" * 200),
    _formula(("R" * 201, Decimal(1))),
    _formula(("Rose", Decimal(1)), name="\t"),
    {"name": "F", "materials": [{"name": "Rose", "concentration": Decimal(1), "extra": 1}]},
    {"name": "F", "materials": [{"name": "Rose"}, {"concentration": Decimal(1), "x": 2}]},
    {"name": "F", "materials": []},
    {"name": "F", "materials": [[]]},
    {"name": "F"},
    [_formula(("Rose", Decimal(1))), _formula(("Oud", Decimal(2)), name="G")],
    [_formula(("Rose", Decimal(1))), {"name": "G"}],
    [],
    [_formula(("Rose", Decimal(1)))] * 101,
]


@pytest.mark.parametrize("doc", EDGES, ids=lambda doc: repr(doc)[:80])
def test_documents_at_the_edges_of_the_plain_path_give_what_the_reference_gives(doc: Any) -> None:
    assert outcome(parse_document, doc) == outcome(reference.parse_document, doc)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name":"F","materials":[{"name":"Rose","concentration":1}],"name":"G"}',
        b'{"name":"F","materials":[{"name":"Rose","concentration":1,"concentration":2}]}',
        b'{"name":"F","materials":[{"name":"Rose","concentration":1,"name":"Oud"}]}',
        b'{"name":"Note: citrus","materials":[{"name":"Rose: absolute","concentration":1}]}',
        b'{"name":"F","materials":[{"name":"a:b:c","concentration":"2"}]} ',
        b'[{"name":"F","materials":[{"name":"Rose","concentration":1}]},'
        b'{"name":"G","materials":[{"name":"Rose","concentration":1.0}],"name":"H"}]',
        b'{"name":"F","materials":[{"name":"Rose","concentration":1}]',
    ],
)
def test_bodies_with_repeated_keys_or_colons_in_strings_give_what_the_reference_gives(raw: bytes) -> None:
    """The fast path trusts a body only when its colons match its keys; otherwise `loads` decides."""
    assert outcome(parse_request_body, raw) == outcome(reference.parse_request_body, raw)


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
