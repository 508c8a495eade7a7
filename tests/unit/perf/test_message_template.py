"""The `formula.submitted` message written from a template (`jsonio.RawJson`) is the dict's message.

`views.new_formula_json` writes a new formula's 201 body and its message body together; the
message is a `jsonio.RawJson` holding exactly ``jsonio.dumps(views.submitted_message(record))``.
Every adapter that takes a message body (the in-memory queue, SQS, the DynamoDB outbox) must
treat it exactly as it treats the dict: same text, same size checks, and a consumer receives a
value equal to, and of the same types as, the one the dict gives.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import jsonio
from chalicelib.adapters.aws.outbox import DynamoOutbox
from chalicelib.adapters.aws.sqs import _outgoing
from chalicelib.adapters.memory.queue import InMemoryQueue
from chalicelib.errors import PayloadTooLarge
from chalicelib.ports import FormulaRecord, MaterialRecord, OutboundMessage
from chalicelib.services import views
from tests.unit.perf.test_views_equivalence import outcome, records

tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\/\n\t\u2028\u00e9\u4e2d\U0001f338\ufffe\uffff'),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=30,
)
exact = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=22),
    st.integers(1, 10**25 - 1).map(lambda n: Decimal(n).scaleb(-22)),  # 25 significant digits
    st.sampled_from([Decimal("15.50"), Decimal("1E+1"), Decimal("100"), Decimal("0.001")]),
)
valid_records = st.builds(
    FormulaRecord,
    id=tricky_text,
    owner=tricky_text,
    name=tricky_text,
    materials=st.lists(st.builds(MaterialRecord, tricky_text, exact), min_size=1, max_size=4).map(tuple),
    fingerprint=tricky_text,
    status=st.just("queued"),
    created_at=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    message_id=tricky_text,
)


def same(a: Any, b: Any) -> bool:
    """Equal value for value and type for type (Decimal digits included), recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    return bool(a == b)


def general(record: FormulaRecord) -> tuple[str, Any]:
    return jsonio.dumps(views.formula_resource(record)), jsonio.dumps(views.submitted_message(record))


def templated(record: FormulaRecord) -> tuple[str, Any]:
    body, message = views.new_formula_json(record)
    return body, jsonio.dumps(message)


@settings(max_examples=500, deadline=None)
@given(records)
def test_the_template_writes_what_the_general_path_writes(record: FormulaRecord) -> None:
    assert outcome(templated, record) == outcome(general, record)


@settings(max_examples=200, deadline=None)
@given(valid_records)
def test_a_valid_record_gets_raw_json_that_every_adapter_treats_as_the_dict(record: FormulaRecord) -> None:
    body, message = views.new_formula_json(record)
    as_dict = views.submitted_message(record)
    assert type(message) is jsonio.RawJson
    assert message.text == jsonio.dumps(as_dict)
    assert body == jsonio.dumps(views.formula_resource(record))
    # The in-memory queue: send (staged and direct) and receive both; same values, same types.
    queue = InMemoryQueue()
    staged = queue.stage()
    staged.send(as_dict)
    staged.send(message)
    staged.commit()
    queue.send(as_dict)
    queue.send(message)
    received = [m.body for m in queue.receive(max_messages=10)]
    assert len(received) == 4
    assert all(same(received[0], other) for other in received[1:])
    assert same(received[0], jsonio.loads(jsonio.dumps(as_dict)))
    # SQS: the same SendMessage parameters (U+FFFE/U+FFFF escaped in both).
    assert _outgoing(message, 0, "d") == _outgoing(as_dict, 0, "d")
    # The DynamoDB outbox: the same item.
    outbox = DynamoOutbox(None, "t")
    assert outbox.put_action("o", [OutboundMessage("m", message)], created_at=1.0) == outbox.put_action(
        "o", [OutboundMessage("m", as_dict)], created_at=1.0
    )


def test_raw_json_is_written_verbatim_anywhere_and_is_immutable() -> None:
    raw = jsonio.RawJson('{"a":[1,2.50]}')
    assert jsonio.dumps(raw) == '{"a":[1,2.50]}'
    assert jsonio.dumps({"x": raw, "y": [raw]}) == '{"x":{"a":[1,2.50]},"y":[{"a":[1,2.50]}]}'
    assert raw == jsonio.RawJson('{"a":[1,2.50]}')
    with pytest.raises(AttributeError):
        raw.text = "1"  # type: ignore[misc]


def test_an_oversized_raw_body_is_refused_like_the_dict() -> None:
    big = {"name": "x" * 300_000}
    raw = jsonio.RawJson(jsonio.dumps(big))
    for body in (big, raw):
        with pytest.raises(PayloadTooLarge):
            InMemoryQueue().send(body)
        with pytest.raises(PayloadTooLarge):
            InMemoryQueue().stage().send(body)
        with pytest.raises(PayloadTooLarge):
            _outgoing(body, 0, None)
