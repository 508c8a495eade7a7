"""`views.formula_resource_json` writes exactly ``jsonio.dumps(views.formula_resource(record))``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.ports import FormulaRecord, MaterialRecord
from chalicelib.services import views


def outcome(write: Any, record: FormulaRecord) -> tuple[str, str]:
    try:
        return ("ok", write(record))
    except Exception as exc:  # the same error type and message, whichever path raised it
        return ("error", f"{type(exc).__name__}: {exc}")


texts = st.text(max_size=20)
odd_values: st.SearchStrategy[Any] = st.one_of(st.integers(), st.floats(), st.none(), st.booleans())
concentrations = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(),
    odd_values,
)
materials = st.builds(MaterialRecord, st.one_of(texts, texts, odd_values), concentrations)
records = st.builds(
    FormulaRecord,
    id=st.one_of(texts, texts, odd_values),
    owner=texts,
    name=st.one_of(texts, texts, odd_values),
    materials=st.lists(materials, max_size=4).map(tuple),
    fingerprint=texts,
    status=st.one_of(st.sampled_from(["queued", "processed", "failed"]), odd_values),
    created_at=st.one_of(
        st.floats(min_value=-1e10, max_value=1e11, allow_nan=False),
        st.floats(),
        st.integers(min_value=-(10**13), max_value=10**13),
    ),
    message_id=texts,
    processed_at=st.one_of(st.none(), st.none(), st.floats(min_value=0, max_value=2e9)),
    last_error=st.one_of(st.none(), st.none(), texts),
    attempts=st.one_of(st.just(0), st.just(0), st.integers(0, 9)),
)


@settings(max_examples=1000, deadline=None)
@given(records)
def test_the_direct_writer_matches_the_general_one(record: FormulaRecord) -> None:
    general = outcome(lambda r: jsonio.dumps(views.formula_resource(r)), record)
    assert outcome(views.formula_resource_json, record) == general


def test_a_new_formula_takes_the_direct_path() -> None:
    record = FormulaRecord(
        id="01KB4Y7V2G8X9Q1W3E5R7T9Y1U",
        owner="default",
        name='Summer "Breeze" \\ é',
        materials=(MaterialRecord("Bergamot Oil", Decimal("15.50")), MaterialRecord("Oud", Decimal("1E+1"))),
        fingerprint="v1:abc",
        status="queued",
        created_at=1_700_000_000.5,
        message_id="evt_01KB4Y7V2G8X9Q1W3E5R7T9Y1U",
    )
    assert views.formula_resource_json(record) == (
        '{"id":"01KB4Y7V2G8X9Q1W3E5R7T9Y1U","name":"Summer \\"Breeze\\" \\\\ é","materials":'
        '[{"name":"Bergamot Oil","concentration":15.50},{"name":"Oud","concentration":1E+1}],'
        '"fingerprint":"v1:abc","status":"queued","created_at":"2023-11-14T22:13:20.500Z",'
        '"message_id":"evt_01KB4Y7V2G8X9Q1W3E5R7T9Y1U"}'
    )
    assert views.formula_resource_json(record) == jsonio.dumps(views.formula_resource(record))


def test_the_token_helpers_write_what_dumps_writes() -> None:
    assert jsonio.string_token('a"\\\n\u2028é') == jsonio.dumps('a"\\\n\u2028é')
    assert jsonio.decimal_token(Decimal("1.50")) == jsonio.dumps(Decimal("1.50")) == "1.50"
