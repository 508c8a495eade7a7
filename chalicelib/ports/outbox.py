"""The transactional outbox port (AWS backend): messages committed with their formulas in one
transaction, published after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.ports.store import OutboundMessage


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """The messages of one committed submission, waiting to be published."""

    outbox_id: str
    created_at: float
    messages: tuple[OutboundMessage, ...]


def outbox_id_for(messages: Sequence[OutboundMessage]) -> str:
    """The outbox id of a submission's messages: its first message id (unique, stable)."""
    return messages[0].message_id


class Outbox(Protocol):
    """Durable pending messages, written in the same transaction as their formulas."""

    def pending(self, *, limit: int, older_than: float) -> list[OutboxItem]:
        """Up to ``limit`` pending items created at or before ``older_than`` (epoch seconds)."""
        ...

    def get(self, outbox_id: str) -> OutboxItem | None:
        """The pending item, or None once it was marked sent (or never existed)."""
        ...

    def claim(self, outbox_id: str, token: str, *, now: float) -> bool:
        """Lease the item to ``token`` for a while; False if it is gone or leased to another."""
        ...

    def release(self, outbox_id: str, token: str) -> None:
        """End ``token``'s lease early (a no-op if it no longer holds it)."""
        ...

    def mark_sent(self, outbox_id: str) -> None:
        """Forget the item; idempotent."""
        ...
