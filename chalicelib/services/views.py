"""Representations: the formula resource, the `formula.submitted` message, list cursors."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from chalicelib.clock import isoformat
from chalicelib.errors import FieldError, ValidationError
from chalicelib.ids import is_ulid
from chalicelib.ports.store import STATUS_PROCESSED, FormulaRecord

MESSAGE_TYPE = "formula.submitted"
MESSAGE_VERSION = 1


def materials_json(record: FormulaRecord) -> list[dict[str, Any]]:
    return [{"name": m.name, "concentration": m.concentration} for m in record.materials]


def formula_resource(record: FormulaRecord) -> dict[str, Any]:
    """The formula resource returned by the API (materials in submitted order, exact decimals)."""
    resource: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "materials": materials_json(record),
        "fingerprint": record.fingerprint,
        "status": record.status,
        "created_at": isoformat(record.created_at),
        "message_id": record.message_id,
    }
    if record.processed_at is not None:
        resource["processed_at"] = isoformat(record.processed_at)
    if record.last_error is not None:
        resource["last_error"] = record.last_error
    if record.attempts:
        resource["attempts"] = record.attempts
    if record.status == STATUS_PROCESSED:
        near = record.near_duplicates
        resource["near_duplicates"] = [{"id": n.id, "similarity": n.similarity} for n in near]
    return resource


def location(formula_id: str) -> str:
    return f"/formulas/{formula_id}"


def message_id_for(formula_id: str) -> str:
    """The stable message id of a formula's `formula.submitted` message (consumers dedup on it)."""
    return f"evt_{formula_id}"


def submitted_message(record: FormulaRecord) -> dict[str, Any]:
    """The versioned `formula.submitted` message body."""
    return {
        "type": MESSAGE_TYPE,
        "version": MESSAGE_VERSION,
        "message_id": record.message_id,
        "formula_id": record.id,
        "owner": record.owner,
        "fingerprint": record.fingerprint,
        "name": record.name,
        "materials": materials_json(record),
        "occurred_at": isoformat(record.created_at),
    }


_CURSOR_PREFIX = "c1."


def encode_cursor(after_id: str) -> str:
    """An opaque cursor that resumes a listing after ``after_id``."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(after_id.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a cursor resumes after; `ValidationError` on ``cursor`` if it is not one of ours."""
    invalid = ValidationError([FieldError("cursor", "is not a valid cursor")], "The cursor is invalid.")
    if not cursor.startswith(_CURSOR_PREFIX) or len(cursor) > 64:
        raise invalid
    payload = cursor[len(_CURSOR_PREFIX) :]
    try:
        after = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid from exc
    if not is_ulid(after):
        raise invalid
    return after
