"""Formulas as DynamoDB items: what `DynamoFormulaStore` writes, and how it reads them back.

Items (the layout of the whole table is in `chalicelib.adapters.aws.tables`)::

    OWNER#<owner> / FORMULA#<ulid>      kind "formula", id, owner, name, fingerprint, status,
                                        message_id, created_at N, processed_at N?, last_error S?,
                                        attempts N?, materials L of M {name S, concentration S},
                                        status_pk (the status index's key, changed with status)
                                        near_duplicates L of M {id S, similarity S}?
    FINGERPRINT#<fp> / OWNER#<owner>    kind "guard", formula_id

Concentrations are stored as their exact decimal TEXT and read back with `Decimal(text)`:
a DynamoDB number would trim trailing zeros ("12.50" -> "12.5") and the API returns exactly
what was submitted. No value ever passes through ``float``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.adapters.aws import tables
from chalicelib.ports.store import FormulaRecord, MaterialRecord, NearDuplicate

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def formula_item(record: FormulaRecord) -> dict[str, Any]:
    """The formula item of ``record`` (its near-duplicates are added later, by their own update)."""
    doc: dict[str, Any] = {
        "kind": "formula",
        "id": record.id,
        "owner": record.owner,
        "name": record.name,
        "materials": [{"name": m.name, "concentration": str(m.concentration)} for m in record.materials],
        "fingerprint": record.fingerprint,
        "status": record.status,
        "created_at": Decimal(repr(record.created_at)),
        "message_id": record.message_id,
    }
    if record.processed_at is not None:
        doc["processed_at"] = Decimal(repr(record.processed_at))
    if record.last_error is not None:
        doc["last_error"] = record.last_error
    if record.attempts:
        doc["attempts"] = record.attempts
    return {
        **tables.formula_key(record.owner, record.id),
        tables.STATUS_PK: {"S": tables.status_key(record.owner, record.status)},
        **{k: _serialize(v) for k, v in doc.items()},
    }


def guard_item(record: FormulaRecord) -> dict[str, Any]:
    """The make-up guard of ``record``: its fingerprint, held for its owner by its id."""
    return {
        **tables.guard_key(record.owner, record.fingerprint),
        "kind": {"S": "guard"},
        "formula_id": {"S": record.id},
    }


def record_of(item: dict[str, Any]) -> FormulaRecord:
    """The record a formula item holds (concentrations and similarities exact, from their text)."""
    doc = {name: _deserialize(value) for name, value in item.items()}
    processed_at = doc.get("processed_at")
    return FormulaRecord(
        id=doc["id"],
        owner=doc["owner"],
        name=doc["name"],
        materials=tuple(MaterialRecord(m["name"], Decimal(m["concentration"])) for m in doc["materials"]),
        fingerprint=doc["fingerprint"],
        status=doc["status"],
        created_at=float(doc["created_at"]),
        message_id=doc["message_id"],
        processed_at=None if processed_at is None else float(processed_at),
        last_error=doc.get("last_error"),
        attempts=int(doc.get("attempts", 0)),
        near_duplicates=tuple(
            NearDuplicate(n["id"], Decimal(n["similarity"])) for n in doc.get("near_duplicates", ())
        ),
    )


def near_duplicates_value(near: Sequence[NearDuplicate]) -> dict[str, Any]:
    """The ``near_duplicates`` attribute value: a list of ``{id, similarity}``, similarity as text."""
    value: dict[str, Any] = _serialize([{"id": n.id, "similarity": str(n.similarity)} for n in near])
    return value
