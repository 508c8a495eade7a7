"""What a request id looks like, wherever the service runs: API Gateway's form, a dashed UUID."""

from __future__ import annotations

import uuid


def is_request_id(value: str) -> bool:
    """True for a UUID in its dashed, lower-case form (``X-Request-Id`` and ``request_id``)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
