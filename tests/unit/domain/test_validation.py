"""Request validation: every rule, its boundaries, and the paths problems are reported at."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.domain import Formula, Material, Submission, model, parse_document, parse_request_body
from chalicelib.domain.validation import MAX_DETAILS, is_plain_decimal
from chalicelib.errors import FieldError, ValidationError
from chalicelib.http.openapi_schemas import PLAIN_DECIMAL
from tests.unit.domain.test_fuzz import valid_formulas

SUMMER_BREEZE = (
    b'{"name": "Summer Breeze", "materials": ['
    b'{"name": "Bergamot Oil", "concentration": 15.5},'
    b'{"name": "Lavender Absolute", "concentration": 10.0},'
    b'{"name": "Sandalwood", "concentration": 5.2}]}'
)


def material(name: str = "Bergamot Oil", concentration: Any = Decimal("15.5")) -> dict[str, Any]:
    return {"name": name, "concentration": concentration}


def formula(name: Any = "Summer Breeze", materials: Any = None) -> dict[str, Any]:
    return {"name": name, "materials": [material()] if materials is None else materials}


def distinct(count: int, concentration: str = "0.01") -> list[dict[str, Any]]:
    return [material(f"Material {i}", Decimal(concentration)) for i in range(count)]


def problems(doc: Any) -> dict[str, str]:
    """The problems reported for ``doc`` as {field: message}; fails if it is accepted."""
    with pytest.raises(ValidationError) as info:
        parse_document(doc)
    details = info.value.details
    assert details and all(isinstance(d, FieldError) for d in details)
    return {d.field: d.message for d in details}


def body_problems(raw: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_request_body(raw)
    return {d.field: d.message for d in info.value.details}


def only(doc: Any) -> Formula:
    submission = parse_document(doc)
    assert len(submission.formulas) == 1
    return submission.formulas[0]


def concentration_of(value: Any) -> Decimal:
    return only(formula(materials=[material(concentration=value)])).materials[0].concentration


def concentration_problem(value: Any) -> str:
    return problems(formula(materials=[material(concentration=value)]))["materials[0].concentration"]


# --- the happy path --------------------------------------------------------------------------


def test_the_example_is_accepted_exactly_as_submitted() -> None:
    submission = parse_request_body(SUMMER_BREEZE)
    assert submission.is_batch is False
    [parsed] = submission.formulas
    assert parsed.name == "Summer Breeze"
    assert [(m.name, m.concentration) for m in parsed.materials] == [
        ("Bergamot Oil", Decimal("15.5")),
        ("Lavender Absolute", Decimal("10.0")),
        ("Sandalwood", Decimal("5.2")),
    ]
    assert str(parsed.materials[1].concentration) == "10.0"
    assert parsed.fingerprint.startswith("v2:")
    assert parsed.materials_as_json()[0] == {"name": "Bergamot Oil", "concentration": Decimal("15.5")}


def test_str_and_bytes_bodies_are_the_same() -> None:
    assert parse_request_body(SUMMER_BREEZE.decode()) == parse_request_body(SUMMER_BREEZE)


def test_an_array_is_a_batch_even_with_one_item() -> None:
    submission = parse_document([formula()])
    assert submission == Submission((only(formula()),), is_batch=True)


def test_a_batch_keeps_its_order() -> None:
    docs = [formula(name=f"F{i}", materials=[material(f"M{i}")]) for i in range(3)]
    assert [f.name for f in parse_document(docs).formulas] == ["F0", "F1", "F2"]


# --- the body as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, b"", "", b"  \n ", bytearray()])
def test_an_empty_body_is_reported_at_body(raw: Any) -> None:
    assert list(body_problems(raw)) == ["body"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{", "malformed JSON"),
        (b'{"name": "a", "name": "b"}', "duplicate object key"),
        (b'{"concentration": NaN}', "NaN"),
        (b"[Infinity]", "Infinity"),
        (b'"\xff"', "UTF-8"),
        (b"[" * 40 + b"]" * 40, "nesting"),
    ],
)
def test_the_parsers_message_is_reported_at_body(raw: bytes, fragment: str) -> None:
    assert fragment in body_problems(raw)["body"]


def test_an_exponent_beyond_the_decimal_range_is_reported_at_its_field() -> None:
    assert body_problems(b'{"name": 1e99999999999999999999, "materials": [1e-99999999999999999999]}') == {
        "name": "must be a string, not a number",
        "materials[0]": "must be a material object, not a number",
    }
    huge = b"-1e99999999999999999999"
    body = b'{"name": "x", "materials": [{"name": "y", "concentration": ' + huge + b"}]}"
    assert body_problems(body) == {
        "materials[0].concentration": (
            "must be a number greater than 0 and at most 100 (-1e99999999999999999999 is far out of range)"
        )
    }
    long = b"1" * 60 + b"e-99999999999999999999"
    message = body_problems(body.replace(huge, long))["materials[0].concentration"]
    assert message.endswith("(" + "1" * 40 + "... is far out of range)")


def test_an_unknown_field_of_a_non_string_key_is_named_without_a_type() -> None:
    assert problems({**formula(), 7: "x"}) == {"[<a key that is not a string>]": "unknown field"}


def test_a_bytearray_body_is_parsed() -> None:
    assert parse_request_body(bytearray(SUMMER_BREEZE)) == parse_request_body(SUMMER_BREEZE)


@pytest.mark.parametrize("raw", [12, 0, [], {}, object(), 1.5])
def test_a_body_that_is_not_text_is_a_validation_error(raw: Any) -> None:
    assert body_problems(raw) == {"body": "must be JSON text"}


@pytest.mark.parametrize("raw", [None, b"", "", bytearray(), memoryview(b"")])
def test_a_missing_or_empty_body_is_required(raw: Any) -> None:
    assert list(body_problems(raw)) == ["body"]
    assert body_problems(raw)["body"].startswith("is required")


@pytest.mark.parametrize(
    ("doc", "kind"),
    [(None, "null"), (Decimal(1), "a number"), ("x", "a string"), (True, "a boolean")],
)
def test_a_document_that_is_neither_object_nor_array_is_refused(doc: Any, kind: str) -> None:
    assert problems(doc) == {
        "body": f"must be a formula object or an array of 1-49 formula objects, not {kind}"
    }


def test_a_batch_holds_1_to_49_formulas() -> None:
    def batch(n: int) -> list[dict[str, Any]]:
        return [formula(name=f"F{i}", materials=[material(f"M{i}")]) for i in range(n)]

    assert len(parse_document(batch(49)).formulas) == 49
    assert "(the array has 50)" in problems(batch(50))["body"]
    assert "(the array has 0)" in problems([])["body"]


def test_a_batch_item_that_is_not_an_object_is_reported_at_its_index() -> None:
    assert problems([formula(), None, "x"]) == {
        "[1]": "must be a formula object, not null",
        "[2]": "must be a formula object, not a string",
    }


# --- every problem at once, with paths -------------------------------------------------------


def test_all_problems_are_listed_at_once() -> None:
    doc = {
        "name": "",
        "colour": "blue",
        "materials": [
            {"name": "Bergamot Oil", "concentration": Decimal(0)},
            {"name": 7, "concentration": "1e5", "note": None},
            {"concentration": Decimal(5)},
            {"name": "Musk"},
            "oops",
        ],
    }
    assert set(problems(doc)) == {
        "colour",
        "name",
        "materials[0].concentration",
        "materials[1].note",
        "materials[1].name",
        "materials[1].concentration",
        "materials[2].name",
        "materials[3].concentration",
        "materials[4]",
    }


def test_batch_problems_are_prefixed_with_the_item_index() -> None:
    bad = formula(materials=[material(name="   "), material(concentration=True)])
    found = problems([formula(), formula(), formula(), bad, {"materials": []}])
    assert set(found) == {
        "[3].materials[0].name",
        "[3].materials[1].concentration",
        "[4].name",
        "[4].materials",
    }


def test_formula_level_problems_are_prefixed_in_a_batch() -> None:
    twice = formula(materials=[material("Rose", Decimal(60)), material("rose", Decimal(50))])
    assert set(problems([formula(), twice])) == {"[1].materials[1].name", "[1].materials"}


def test_the_number_of_listed_problems_is_capped() -> None:
    doc = formula(materials=[material(name="", concentration=None)] * 1000)
    with pytest.raises(ValidationError) as info:
        parse_document(doc)
    details = info.value.details
    assert len(details) == MAX_DETAILS
    assert details[-1] == FieldError("body", f"{2000 - (MAX_DETAILS - 1)} more problems are not listed")


# --- unknown and missing fields --------------------------------------------------------------


def test_unknown_fields_are_named_by_path() -> None:
    doc = formula(materials=[{**material(), "colour": "green"}])
    doc["author"] = "me"
    assert problems(doc) == {"author": "unknown field", "materials[0].colour": "unknown field"}


def test_an_unknown_field_with_an_odd_name_is_quoted_ascii_and_clipped() -> None:
    doc = {**formula(), "a b\ud800": 1, "k" * 500: 2}
    found = problems(doc)
    assert found['["a b\\ud800"]'] == "unknown field"
    assert '["' + "k" * 64 + '..."]' in found


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"materials": [material()]}, "name"),
        ({"name": "x"}, "materials"),
        (formula(materials=[{"concentration": Decimal(1)}]), "materials[0].name"),
        (formula(materials=[{"name": "x"}]), "materials[0].concentration"),
    ],
)
def test_missing_fields_are_required(doc: dict[str, Any], path: str) -> None:
    assert problems(doc) == {path: "is required"}


def test_null_is_not_a_missing_field_but_a_wrong_type() -> None:
    assert problems(formula(name=None)) == {"name": "must be a string, not null"}


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["name", "materials[0].name"])
def test_names_are_1_to_200_characters_after_trimming(path: str) -> None:
    def doc(name: str) -> dict[str, Any]:
        if path == "name":
            return formula(name=name)
        return formula(materials=[material(name=name)])

    only(doc("x" * 200))
    only(doc("x"))
    only(doc(" \t" + "x" * 200 + "\n "))
    assert problems(doc("x" * 201)) == {path: "must be 1-200 characters after trimming (it has 201)"}
    assert problems(doc("")) == {path: "must be 1-200 characters after trimming (it has 0)"}
    assert problems(doc(" \t\n\u3000")) == {path: "must be 1-200 characters after trimming (it has 0)"}


def test_names_are_trimmed_and_keep_their_inner_spacing() -> None:
    parsed = only(formula(name="  Summer   Breeze\u00a0", materials=[material(name="\tBergamot  Oil ")]))
    assert parsed.name == "Summer   Breeze"
    assert parsed.materials[0].name == "Bergamot  Oil"
    assert parsed.materials[0].key == "bergamot oil"


@pytest.mark.parametrize(
    ("name", "code_point"),
    [
        ("Bergamot\tOil", "U+0009"),
        ("Bergamot\nOil", "U+000A"),
        ("Bergamot\x00Oil", "U+0000"),
        ("Bergamot\x7fOil", "U+007F"),
        ("Bergamot\x85Oil", "U+0085"),
        ("Bergamot\u2028Oil", "U+2028"),
        ("Bergamot\u202eOil", "U+202E"),
        ("Bergamot\u200bOil", "U+200B"),
        ("Bergamot\ufeffOil", "U+FEFF"),
        ("Bergamot\ud800Oil", "U+D800"),
        ("Bergamot\ue000Oil", "U+E000"),
        ("Bergamot\U000e0001Oil", "U+E0001"),
        ("Bergamot\U0010ffffOil", "U+10FFFF"),
    ],
)
def test_names_refuse_control_and_invisible_characters(name: str, code_point: str) -> None:
    assert problems(formula(materials=[material(name=name)])) == {
        "materials[0].name": (
            f"must not contain control or invisible characters (found {code_point} at character 9)"
        )
    }
    assert set(problems(formula(name=name))) == {"name"}


@pytest.mark.parametrize(
    "name",
    [
        "Bergamot\u00a0Oil",
        "Ylang\u3000Ylang",
        "Rose 🌹",
        "👩\u200d🔬 accord",
        "می\u200cخک",
        "Lavandin Grosso Ø",
    ],
)
def test_names_allow_unicode_spaces_joiners_and_symbols(name: str) -> None:
    assert only(formula(name=name, materials=[material(name=name)])).materials[0].name == name


@pytest.mark.parametrize("value", [Decimal(1), 5, ["x"], {"x": 1}, True])
def test_names_must_be_strings(value: Any) -> None:
    assert problems(formula(materials=[material(name=value)]))["materials[0].name"].startswith(
        "must be a string, not "
    )


# --- the materials list ----------------------------------------------------------------------


def test_a_formula_lists_1_to_1000_materials() -> None:
    assert len(only(formula(materials=distinct(1000))).materials) == 1000
    assert problems(formula(materials=distinct(1001))) == {
        "materials": "must list 1-1000 materials (it lists 1001)"
    }
    assert problems(formula(materials=[])) == {"materials": "must list 1-1000 materials (it lists 0)"}


@pytest.mark.parametrize(("value", "kind"), [({}, "an object"), ("x", "a string"), (None, "null")])
def test_materials_must_be_an_array(value: Any, kind: str) -> None:
    doc = {"name": "x", "materials": value}
    assert problems(doc) == {"materials": f"must be an array of materials, not {kind}"}


def test_each_material_must_be_an_object() -> None:
    assert problems(formula(materials=[material(), [1], Decimal(2)])) == {
        "materials[1]": "must be a material object, not an array",
        "materials[2]": "must be a material object, not a number",
    }


def test_materials_keep_their_submitted_order() -> None:
    names = ["Sandalwood", "Bergamot Oil", "Ambroxan"]
    parsed = only(formula(materials=[material(n, Decimal(1)) for n in names]))
    assert [m.name for m in parsed.materials] == names


# --- concentrations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("100"), "100"),
        (Decimal("1E+2"), "1E+2"),
        (Decimal("15.50"), "15.50"),
        (Decimal("1.55E+1"), "15.5"),
        (Decimal("0.0001"), "0.0001"),
        (50, "50"),
        ("15.5", "15.5"),
        ("15.50", "15.50"),
        ("100", "100"),
        (".5", "0.5"),
        ("007.5", "7.5"),
    ],
)
def test_valid_concentrations_keep_their_submitted_digits(value: Any, expected: str) -> None:
    parsed = concentration_of(value)
    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected


@pytest.mark.parametrize(
    "value",
    [
        Decimal("100.0000001"),
        Decimal("100.00000000000000000000000000000000001"),
        Decimal(0),
        Decimal("0.0"),
        Decimal("-0"),
        Decimal(-1),
        Decimal("1E+3"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("1E+999999999"),
        0,
        101,
        -5,
        pytest.param(10**5000, id="10**5000"),
    ],
)
def test_concentrations_are_greater_than_0_and_at_most_100(value: Any) -> None:
    assert concentration_problem(value) == "must be a number greater than 0 and at most 100"


@pytest.mark.parametrize("raw", [b"1e999999999", b"-1e999999999", b"1e-999999999", b"100.0000001", b"0"])
def test_concentrations_from_json_out_of_range_are_clean_400s(raw: bytes) -> None:
    body = b'{"name": "x", "materials": [{"name": "y", "concentration": ' + raw + b"}]}"
    assert list(body_problems(body)) == ["materials[0].concentration"]


@pytest.mark.parametrize(
    "value",
    ["1e5", "1E5", " 1", "1 ", "1\n", "1_0", "NaN", "Infinity", "-1", "+1", "", "15.", "1.2.3", "٣", "0x10"],
)
def test_string_concentrations_must_be_plain_decimals(value: str) -> None:
    message = concentration_problem(value)
    assert message.startswith("must be a number greater than 0 and at most 100; as a string")
    assert '"15.5"' in message


@pytest.mark.parametrize("value", ["0", "0.0", "100.1", "0000"])
def test_string_concentrations_obey_the_range(value: str) -> None:
    assert concentration_problem(value) == "must be a number greater than 0 and at most 100"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(True, "a boolean"), (False, "a boolean"), (None, "null"), ([1], "an array"), ({}, "an object")],
)
def test_concentrations_of_other_types_are_refused(value: Any, kind: str) -> None:
    assert concentration_problem(value) == f"must be a number greater than 0 and at most 100, not {kind}"


def test_a_binary_float_is_refused_rather_than_rounded() -> None:
    assert concentration_problem(15.5).endswith("not a binary floating-point number (give exact decimals)")


def test_a_25_significant_digit_concentration_is_preserved_exactly() -> None:
    digits = "12.34567890123456789012345"
    body = '{"name": "x", "materials": [{"name": "y", "concentration": ' + digits + "}]}"
    [parsed] = parse_request_body(body).formulas
    assert parsed.materials[0].concentration.as_tuple() == Decimal(digits).as_tuple()
    assert str(concentration_of(digits)) == digits


def test_at_most_38_significant_digits() -> None:
    assert str(concentration_of("1." + "2" * 37)) == "1." + "2" * 37
    assert concentration_problem("1." + "2" * 38) == (
        "must have at most 38 significant digits, trailing zeros included (it has 39)"
    )
    assert concentration_problem(Decimal("10." + "0" * 37)).endswith("(it has 39)")


def test_at_most_38_digits_after_the_decimal_point() -> None:
    assert str(concentration_of("0." + "0" * 37 + "1")) == "1E-38"
    assert concentration_problem("0." + "0" * 38 + "1") == (
        "must have at most 38 digits after the decimal point (it has 39)"
    )
    assert concentration_problem(Decimal("1E-999999999")) == (
        "must have at most 38 digits after the decimal point (it has 999999999)"
    )


# --- the total -------------------------------------------------------------------------------


def test_concentrations_may_sum_to_exactly_100() -> None:
    parts = ["33.3", "33.3", "33.4"]
    assert len(only(formula(materials=[material(f"M{i}", p) for i, p in enumerate(parts)])).materials) == 3
    tiny = "0." + "0" * 35 + "1"
    only(formula(materials=[material("A", tiny), material("B", "99." + "9" * 36)]))


def test_a_sum_just_over_100_is_refused_and_stated() -> None:
    tiny = "0." + "0" * 37 + "1"
    doc = formula(materials=[material("A", Decimal(60)), material("B", Decimal(40)), material("C", tiny)])
    assert problems(doc) == {
        "materials": "concentrations must sum to at most 100 (they sum to 100." + "0" * 37 + "1)"
    }


def test_the_sum_is_stated_in_plain_notation() -> None:
    doc = formula(materials=[material("A", Decimal("6E+1")), material("B", Decimal("5.00E+1"))])
    assert problems(doc) == {"materials": "concentrations must sum to at most 100 (they sum to 110)"}


def test_the_sum_is_exact_beyond_the_default_28_digit_context() -> None:
    doc = formula(materials=[material("A", "50." + "0" * 35 + "1"), material("B", "50")])
    assert "(they sum to 100." + "0" * 35 + "1)" in problems(doc)["materials"]


def test_the_sum_is_checked_even_when_some_concentrations_are_invalid() -> None:
    doc = formula(
        materials=[material("A", Decimal(70)), material("B", Decimal(40)), material("C", Decimal(-1))]
    )
    assert problems(doc)["materials"] == (
        "concentrations must sum to at most 100 (the valid ones already sum to 110)"
    )


# --- duplicate materials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Bergamot  OIL", "bergamot oil"),
        ("Bergamot Oil", "  BERGAMOT\u00a0\u3000oil "),
        ("Bergamot Oil", "Ｂｅｒｇａｍｏｔ Ｏｉｌ"),
        ("Strauß", "STRAUSS"),
        ("ﬁg leaf", "FIG LEAF"),
        ("Ⅸ accord", "ix ACCORD"),
        ("Café", "Cafe\u0301"),
    ],
)
def test_the_same_material_twice_is_refused_after_normalisation(first: str, second: str) -> None:
    doc = formula(
        materials=[material(first, Decimal(1)), material("Other", Decimal(1)), material(second, Decimal(2))]
    )
    assert problems(doc) == {
        "materials[2].name": (
            "duplicates materials[0] (names are compared ignoring case, width, spacing, "
            "invisible characters and the style of quotes and dashes)"
        )
    }


def test_every_later_duplicate_names_the_first() -> None:
    doc = formula(
        materials=[material("Rose", Decimal(1)), material("ROSE", Decimal(1)), material("rose", Decimal(1))]
    )
    found = problems(doc)
    assert found["materials[1].name"].startswith("duplicates materials[0]")
    assert found["materials[2].name"].startswith("duplicates materials[0]")


def test_duplicates_are_found_even_when_their_concentrations_are_invalid() -> None:
    doc = formula(materials=[material("Rose", "x"), material("rose", True)])
    assert set(problems(doc)) == {
        "materials[0].concentration",
        "materials[1].concentration",
        "materials[1].name",
    }


def test_different_formulas_of_a_batch_may_share_materials() -> None:
    assert len(parse_document([formula(name="A"), formula(name="B")]).formulas) == 2


# --- the value objects -----------------------------------------------------------------------


def test_value_objects_are_immutable() -> None:
    parsed = only(formula())
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.materials[0].concentration = Decimal(1)  # type: ignore[misc]


def test_a_submission_holds_1_to_49_formulas_and_one_unless_a_batch() -> None:
    one = only(formula())
    with pytest.raises(ValidationError):
        Submission((), is_batch=True)
    with pytest.raises(ValidationError):
        Submission((one,) * 50, is_batch=True)
    with pytest.raises(ValidationError):
        Submission((one, one), is_batch=False)
    with pytest.raises(ValidationError):
        Submission([one], is_batch=False)  # type: ignore[arg-type]


def test_an_invalid_material_cannot_be_constructed() -> None:
    with pytest.raises(ValidationError) as info:
        Material(" Rose", Decimal(0))
    assert [d.field for d in info.value.details] == ["name", "concentration"]
    with pytest.raises(ValidationError):
        Material("Rose", 15.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Material("Rose", Decimal("NaN"))


def test_an_invalid_formula_cannot_be_constructed() -> None:
    rose = Material("Rose", Decimal(60))
    with pytest.raises(ValidationError) as info:
        Formula.create("Name\n", [rose, Material("ROSE", Decimal(50))])
    assert {d.field for d in info.value.details} == {"name", "materials[1].name", "materials"}
    with pytest.raises(ValidationError):
        Formula.create("Name", [])
    with pytest.raises(ValidationError):
        Formula("Name", [rose])  # type: ignore[arg-type]


def test_the_fingerprint_is_derived_never_passed_in() -> None:
    rose = Material("Rose", Decimal(60))
    created = Formula.create("Name", [rose])
    assert created == only(formula(name="Name", materials=[material("Rose", Decimal(60))]))
    with pytest.raises(TypeError):
        Formula("Name", (rose,), fingerprint="v2:forged")  # type: ignore[call-arg]


def test_materials_as_json_round_trips_exactly() -> None:
    parsed = only(formula(materials=[material("Rose", "15.50"), material("Musk", Decimal("1.2345"))]))
    text = jsonio.dumps({"name": parsed.name, "materials": parsed.materials_as_json()})
    assert only(jsonio.loads(text)) == parsed
    assert '"concentration":15.50' in text


@settings(max_examples=1000)
@given(
    st.text(alphabet="0123456789..+-eE _\u0661\uff11\u00b2", max_size=8)
    | st.sampled_from(["", ".", "5.", ".5", "1.2.3", "007", "0.0", "1e5", "\u0661", "15.50"])
)
def test_a_plain_decimal_is_what_the_openapi_pattern_matches(text: str) -> None:
    assert is_plain_decimal(text) is (re.fullmatch(PLAIN_DECIMAL, text) is not None)
    assert is_plain_decimal(text) is (re.fullmatch(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", text) is not None)


@pytest.mark.parametrize(
    ("text", "fine"),
    [
        ("1." + "2" * 37, True),
        ("1." + "2" * 38, False),
        ("0." + "0" * 37 + "1", True),
        ("0." + "0" * 38 + "1", False),
        ("12." + "3" * 36, True),
        ("12." + "3" * 37, False),
        ("1E+2", True),
        ("100.0", True),
        ("100." + "0" * 35, True),
        ("100." + "0" * 36, False),
    ],
)
def test_the_digit_limits_at_their_edges(text: str, fine: bool) -> None:
    assert (model.concentration_problem(Decimal(text)) is None) is fine


def test_the_public_constructors_refuse_what_validation_refuses() -> None:
    with pytest.raises(ValidationError):
        Material(" padded", Decimal(1))
    rose = Material("Rose", Decimal(60))
    with pytest.raises(ValidationError):
        Formula("Too much", (rose, Material("Oud", Decimal(41))))
    with pytest.raises(ValidationError):
        Formula.create("List", [rose, "not a material"])  # type: ignore[list-item]


@settings(max_examples=200, deadline=None)
@given(st.lists(valid_formulas, min_size=1, max_size=3))
def test_accepted_formulas_equal_ones_built_through_the_constructors(docs: list[Any]) -> None:
    for formula in parse_document(docs).formulas:
        rebuilt = Formula.create(formula.name, [Material(m.name, m.concentration) for m in formula.materials])
        assert rebuilt == formula
        assert rebuilt.fingerprint == formula.fingerprint


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name":"F","materials":[{"name":"Rose","concentration":1}],"name":"G"}',
        b'{"name":"F","materials":[{"name":"Rose","concentration":1,"concentration":2}]}',
        b'[{"name":"F","materials":[{"name":"Rose","concentration":1}]},'
        b'{"name":"G","materials":[{"name":"Rose","concentration":1.0}],"name":"H"}]',
    ],
)
def test_a_repeated_key_at_any_level_is_refused(raw: bytes) -> None:
    assert body_problems(raw)["body"].startswith("duplicate object key")


def test_colons_inside_strings_are_just_text() -> None:
    raw = b'{"name":"Note: citrus","materials":[{"name":"Rose: absolute","concentration":1}]}'
    [parsed] = parse_request_body(raw).formulas
    assert parsed.name == "Note: citrus" and parsed.materials[0].name == "Rose: absolute"


def _one(body: str) -> Formula:
    return parse_request_body(body.encode()).formulas[0]


def test_a_material_listed_again_is_the_same_object_with_its_written_digits() -> None:
    first = _one('{"name": "A", "materials": [{"name": " Oud ", "concentration": "12.50"}]}')
    again = _one('{"name": "B", "materials": [{"name": "Oud", "concentration": 12.50}]}')
    other = _one('{"name": "C", "materials": [{"name": "Oud", "concentration": "12.5"}]}')
    assert again.materials[0] is first.materials[0]  # a string and a number with the same digits
    assert str(first.materials[0].concentration) == "12.50"
    assert other.materials[0] is not first.materials[0]
    assert str(other.materials[0].concentration) == "12.5"
    assert other.fingerprint == first.fingerprint  # equal by value all the same


def test_an_invalid_material_is_refused_every_time_it_is_sent() -> None:
    body = b'{"name": "A", "materials": [{"name": "Oud", "concentration": "100.5"}]}'
    for _ in range(2):
        with pytest.raises(ValidationError) as caught:
            parse_request_body(body)
        assert [d.field for d in caught.value.details] == ["materials[0].concentration"]
