"""Fuzzing the parsers: the only outcomes are a valid `Submission` or a non-empty `ValidationError`
whose messages are written for people (no Python type, exception name or traceback in them).

`HOSTILE` holds the inputs of issue 12's hostile run and their relatives; the generators mix them
into arbitrary documents and bytes."""

from __future__ import annotations

import json
import re
import string
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.domain import Submission, fingerprint, normalise_name, parse_document, parse_request_body
from chalicelib.domain.validation import MAX_DETAILS
from chalicelib.errors import ValidationError

PYTHON_TEXT = re.compile(
    r"<class |Traceback|\b[A-Za-z_][\w.]*(?:Error|Exception|Warning|Syntax|Operation|Overflow):"
    r"|\b(?:decimal|builtins)\.|\bDecimal\(|<[\w.]+ object at 0x"
)
"""What only Python writes: a class or object repr, an exception's ``Name:`` prefix, a traceback."""


def assert_for_people(message: str) -> None:
    assert message and PYTHON_TEXT.search(message) is None, message


HUGE_EXPONENTS = [
    b"1e99999999999999999999",
    b"-1e99999999999999999999",
    b"1e-99999999999999999999",
    b"9.99e9999999999999999999999999",
    b"1E+999999999999999999",
    b"1e999999999",
    b"0e99999999999999999999",
]
HOSTILE_SCALARS = [
    *HUGE_EXPONENTS,
    b"NaN",
    b"-Infinity",
    b"Infinity",
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"Rose\\u034f"',
    b'"Rose\\ufe0f"',
    b'"\\u3164"',
    b'"Rose\\u2800"',
    b'"Ro\\u200dse"',
    b'"Jasmin d\\u2019Inde"',
    b'"C\\u201312"',
    b'"C\\u201112"',
    '"\u3164\u2800\u200d"'.encode(),
    b'"1e99999999999999999999"',
    b"1" + b"0" * 5000,
]
HOSTILE: list[bytes] = [
    *(b'{"name":"F","materials":[{"name":"Rose","concentration":' + v + b"}]}" for v in HOSTILE_SCALARS),
    *(
        b'{"name":' + v + b',"materials":[{"name":' + v + b',"concentration":' + v + b"}]}"
        for v in HOSTILE_SCALARS
    ),
    *(b"[" + v + b"]" for v in HOSTILE_SCALARS),
    b"[" * 33 + b"]" * 33,
    b"[" * 100_000,
    b'{"a":' * 40 + b"1" + b"}" * 40,
    b"\xff\xfe{}",
    b'{"name":"\xc3\x28","materials":[]}',
    b'{"name":"\xed\xa0\x80"}',
    b"\xef\xbb\xbf\xef\xbb\xbf{}",
    b"\xef\xbb\xbf",
    "\ufeff[1]".encode("utf-16"),
    b'{"name":"F","name":"G","materials":[]}',
    b'{"name":"F","materials":[{"name":"a","concentration":1,"concentration":2}]}',
    b'{"\\ud800":1,"\\ud800":2}',
    b'{"name":"F","materials":[{"name":"Rose","concentration":1}],"\\ud800":1}',
    b"{oops",
    b"",
    b"\x00",
]

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

plausible_names = st.one_of(
    st.text(alphabet=string.ascii_letters + "  -'", min_size=1, max_size=16).filter(str.strip),
    st.sampled_from(
        ["Bergamot Oil", "bergamot  OIL", "Ｂｅｒｇａｍｏｔ Ｏｉｌ", " Rose ", "Strauß", "STRAUSS", "沈香"]
    ),
)
hostile_names = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a\tb", "\u202eevil", "x\u200by", "x" * 200, "x" * 201, "", "   ", "\ud800"]),
)
names = st.one_of(plausible_names, plausible_names, plausible_names, hostile_names)

plausible_concentrations = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(40), places=3)
special_concentrations = [
    Decimal("1E+999999999"),
    Decimal("-1E+999999999"),
    Decimal("1E-999999999"),
    Decimal("-0"),
    Decimal("100"),
    Decimal("100.0000001"),
    Decimal("1." + "2" * 38),
    Decimal("0." + "0" * 38 + "1"),
    "NaN",
    "1_0",
    " 1",
    "",
]


def concentrations(finite: bool) -> st.SearchStrategy[Any]:
    return st.one_of(
        plausible_concentrations,
        plausible_concentrations,
        plausible_concentrations.map(str),
        st.decimals(allow_nan=not finite, allow_infinity=not finite),
        st.integers(min_value=-5, max_value=150),
        st.text(alphabet="0123456789.eE+-_ x", max_size=8),
        st.sampled_from(special_concentrations),
        st.booleans(),
        st.none(),
    )


valid_materials = st.lists(
    st.tuples(
        st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=30).filter(str.strip),
        st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10), places=4),
    ),
    min_size=1,
    max_size=10,
    unique_by=lambda pair: normalise_name(pair[0]),
)


valid_formulas = valid_materials.map(
    lambda pairs: {"name": "F", "materials": [{"name": n, "concentration": c} for n, c in pairs]}
)


def json_values(finite: bool) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=10),
        st.decimals(allow_nan=not finite, allow_infinity=not finite),
        st.integers().map(Decimal),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(max_size=6), inner, max_size=4),
        ),
        max_leaves=12,
    )


def documents(finite: bool) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, mostly shaped like formulas, some valid, some with wrong, missing or extra fields."""
    values = json_values(finite)
    clean_material = st.fixed_dictionaries({"name": names, "concentration": concentrations(finite)})
    messy_material = st.fixed_dictionaries(
        {},
        optional={
            "name": names,
            "concentration": concentrations(finite),
            "colour": values,
            "materials": values,
        },
    )
    material = st.one_of(clean_material, clean_material, clean_material, messy_material, values)
    formula_like = st.fixed_dictionaries({"name": names, "materials": st.lists(material, max_size=5)})
    field_names = st.sampled_from(["name", "materials", "concentration", "colour", "Name", ""])
    messy_formula = st.dictionaries(field_names, st.one_of(values, names, st.lists(material, max_size=3)))
    return st.one_of(
        valid_formulas,
        st.lists(valid_formulas, min_size=1, max_size=3),
        formula_like,
        st.lists(formula_like, min_size=1, max_size=3),
        messy_formula,
        st.lists(st.one_of(formula_like, values), max_size=4),
        values,
    )


def check_outcome(parse: Any, arg: Any, *, in_hypothesis: bool = True) -> None:
    """``parse(arg)`` returns a Submission of valid formulas or raises a non-empty ValidationError."""
    try:
        submission = parse(arg)
    except ValidationError as exc:
        assert 1 <= len(exc.details) <= MAX_DETAILS
        assert all(d.field and d.message for d in exc.details)
        assert_for_people(exc.message)
        for detail in exc.details:
            assert_for_people(detail.message)
            assert_for_people(detail.field)
        if in_hypothesis:
            event("refused")
        return
    if in_hypothesis:
        event("accepted")
    assert isinstance(submission, Submission)
    assert 1 <= len(submission.formulas) <= 100
    for formula in submission.formulas:
        assert formula.name == formula.name.strip() and 1 <= len(formula.name) <= 200
        assert 1 <= len(formula.materials) <= 1000
        keys = [m.key for m in formula.materials]
        assert len(set(keys)) == len(keys)
        assert keys == [normalise_name(m.name) for m in formula.materials]
        assert all(key and normalise_name(key) == key for key in keys)
        total = Fraction(0)
        for material in formula.materials:
            assert type(material.concentration) is Decimal
            assert 0 < material.concentration <= 100
            total += Fraction(material.concentration)
        assert total <= 100
        assert formula.fingerprint.startswith("v2:")
        assert formula.fingerprint == fingerprint(reversed(formula.materials))


def encode(doc: Any) -> bytes:
    """The document as a body; one holding a lone surrogate (which no encoder writes as UTF-8)
    goes out with it escaped, ``\\ud800``, and its numbers as strings."""
    try:
        return jsonio.dumps(doc).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(doc, default=str).encode("ascii")


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    check_outcome(parse_request_body, raw)


@FUZZ
@given(st.text(alphabet=string.printable + '{}[]":,0123456789.eE-', max_size=200))
def test_arbitrary_json_like_text(raw: str) -> None:
    check_outcome(parse_request_body, raw)


@FUZZ
@given(documents(finite=True))
def test_arbitrary_documents_as_request_bodies(doc: Any) -> None:
    check_outcome(parse_request_body, encode(doc))


@FUZZ
@given(documents(finite=False))
def test_arbitrary_documents_parsed_directly(doc: Any) -> None:
    check_outcome(parse_document, doc)


@FUZZ
@given(valid_materials, st.randoms(use_true_random=False))
def test_valid_documents_are_accepted_exactly_and_the_order_does_not_matter(
    pairs: list[tuple[str, Decimal]], rnd: Any
) -> None:
    doc = {"name": "F", "materials": [{"name": n, "concentration": c} for n, c in pairs]}
    [formula] = parse_request_body(encode(doc)).formulas
    assert [(m.name, str(m.concentration)) for m in formula.materials] == [
        (n.strip(), str(c)) for n, c in pairs
    ]
    rnd.shuffle(doc["materials"])
    [shuffled] = parse_document(doc).formulas
    assert shuffled.fingerprint == formula.fingerprint


@pytest.mark.parametrize("raw", HOSTILE, ids=lambda raw: repr(raw[:60]))
def test_hostile_inputs_get_a_submission_or_messages_for_people(raw: bytes) -> None:
    check_outcome(parse_request_body, raw, in_hypothesis=False)
    try:
        jsonio.loads(raw)
    except jsonio.JsonError as exc:
        assert_for_people(str(exc))


@FUZZ
@given(
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.binary(max_size=20)), min_size=1, max_size=4).map(
        b"".join
    )
)
def test_hostile_fragments_spliced_together(raw: bytes) -> None:
    check_outcome(parse_request_body, raw)


@FUZZ
@given(
    st.recursive(
        st.sampled_from(HOSTILE_SCALARS).map(lambda v: v.decode("utf-8", "replace")),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
            st.lists(
                st.tuples(st.sampled_from(["name", "materials", "concentration", "x"]), inner), max_size=3
            ).map(lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"),
        ),
        max_leaves=8,
    )
)
def test_hostile_values_anywhere_in_a_document(raw: str) -> None:
    check_outcome(parse_request_body, raw.encode("utf-8", "surrogatepass"))


def test_the_pattern_catches_what_python_writes() -> None:
    for leak in [
        "malformed JSON: [<class 'decimal.InvalidOperation'>]",
        "Traceback (most recent call last):",
        "ValueError: bad",
        "decimal.InvalidOperation",
        "got Decimal('1E+99')",
        "<object object at 0x7f>",
    ]:
        assert PYTHON_TEXT.search(leak), leak
