"""Objects built slot by slot (a new formula's record, its message, the 201 result) equal constructed ones."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import Material
from chalicelib.ports import (
    STATUS_QUEUED,
    FormulaRecord,
    MaterialRecord,
    OutboundMessage,
    outbound_message,
    queued_record,
)
from chalicelib.services import submission
from chalicelib.services.submission import SubmitResult

text = st.text(max_size=20)


@given(text, text, text, text, st.floats(allow_nan=False), text)
def test_queued_record_equals_the_constructed_record(
    formula_id: str, owner: str, name: str, fingerprint: str, created_at: float, message_id: str
) -> None:
    materials = (MaterialRecord("Rose", Decimal("1.50")),)
    built = queued_record(formula_id, owner, name, materials, fingerprint, created_at, message_id)
    expected = FormulaRecord(
        formula_id, owner, name, materials, fingerprint, STATUS_QUEUED, created_at, message_id
    )
    assert built == expected
    assert [getattr(built, f.name) for f in fields(FormulaRecord)] == [
        getattr(expected, f.name) for f in fields(FormulaRecord)
    ]


def test_a_record_may_hold_the_validated_materials_themselves() -> None:
    """`StoredMaterial`: the domain's immutable Material is a record's material as it is."""
    rose = Material("Rose", Decimal("15.50"))
    record = queued_record("01J", "acme", "F", (rose,), "v1:x", 0.0, "evt_01J")
    assert record.materials[0] is rose
    assert (record.materials[0].name, record.materials[0].concentration) == ("Rose", Decimal("15.50"))


@given(text, st.one_of(text, st.none(), st.integers()))
def test_outbound_message_equals_the_constructed_message(message_id: str, body: object) -> None:
    built = outbound_message(message_id, body)
    assert built == OutboundMessage(message_id, body)
    assert (type(built), built.message_id, built.body) == (OutboundMessage, message_id, body)


@given(text, st.one_of(text, st.none()))
def test_a_created_result_equals_the_constructed_result(body: str, location: str | None) -> None:
    built = submission._created(body, location)
    assert built == SubmitResult(201, body, location)
    assert [getattr(built, f.name) for f in fields(SubmitResult)] == [201, body, location, False]
