"""Ports: the interfaces the core depends on, one module per port.

Each port is a `typing.Protocol`; adapters (in-memory by default, AWS on the scale-out path)
satisfy them structurally, and one contract suite per port runs against every adapter:

- `chalicelib.ports.queue`: `MessageQueue` and its `StagedPublish`;
- `chalicelib.ports.store`: `FormulaStore` (the unit of work of a submission) and
  `IdempotencyStore`, with the records they hold;
- `chalicelib.ports.similarity`: `SimilarityIndex`;
- `chalicelib.ports.outbox`: `Outbox` (AWS backend).
"""
