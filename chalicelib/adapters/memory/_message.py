"""One message held by the in-memory queue, and the states it moves through (`QueueState`)."""

from __future__ import annotations

READY, IN_FLIGHT, DELAYED, DEAD, GONE = range(5)


class Message:
    """One message.

    ``leases`` counts its deliveries; ``handle`` is the receipt handle of the last one while that
    handle works, else ``""`` (never delivered, or dead-lettered since). A handle of an earlier
    delivery than the last is superseded; any other that is not current is unknown.
    ``first_received_at`` is set by the first delivery and ``dead_lettered_at`` by dead-lettering;
    neither is read before.
    """

    __slots__ = (
        "key",
        "id",
        "body",
        "sent_at",
        "state",
        "ticket",
        "kept_until",
        "receive_count",
        "leases",
        "handle",
        "first_received_at",
        "dead_lettered_at",
    )
    key: int
    id: str
    body: str
    sent_at: float
    state: int
    ticket: int
    kept_until: float
    receive_count: int
    leases: int
    handle: str
    first_received_at: float
    dead_lettered_at: float

    def __init__(self, key: int, message_id: str, body: str, now: float, kept_until: float) -> None:
        self.key = self.ticket = key
        self.id = message_id
        self.body = body
        self.sent_at = now
        self.kept_until = kept_until
        self.state = self.receive_count = self.leases = 0  # READY
        self.handle = ""
