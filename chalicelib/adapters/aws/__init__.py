"""AWS adapters: DynamoDB (formulas, idempotency keys, outbox) and SQS, behind the same ports."""
