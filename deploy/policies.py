"""Each function's execution policy: only the actions its own code calls (least privilege).

Chalice attaches ``.chalice/policy-prod-<function>.json`` to that function's role (the
``lambda_functions`` section of ``.chalice/config.json``; ``autogen_policy`` is off). Chalice
copies the files verbatim into the template, so their resources are CloudFormation intrinsics
naming the template's own table and queue. `tests/integration/test_function_policies.py` runs
each function on moto, records its AWS calls and compares them with its policy.

The deployed stage serves no ``/queue/*`` consumer API (``FI_CONSUMER_API=false``). Only the sweeper
touches the dead-letter queue, and only to peek (receive, then make visible again): it never
deletes a dead letter, so operators still redrive them from the console or CLI (docs/deploy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws import tables

TABLE = "FormulaTable"
QUEUE = "SubmittedQueue"
DEAD_LETTER_QUEUE = "SubmittedDeadLetterQueue"

STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
"""What Lambda's DynamoDB event source mapping does with the relay's role to read the stream."""

QUEUE_SOURCE_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
"""What Lambda's SQS event source mapping does with the consumer's role."""

LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")

TRACING_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
"""What Lambda's active tracing sends with the execution role (``"xray": true`` in the stage)."""


@dataclass(frozen=True, slots=True)
class Access:
    """The table and queue actions one function needs (batch calls authorise as single ones)."""

    table: tuple[str, ...]
    queue: tuple[str, ...]
    stream: bool = False
    status_index: bool = False
    """Queries the table's sparse status index (``GET /formulas?status=``)."""
    api_keys: bool = False
    """Reads the stage's API keys from its SSM parameter (``FI_API_KEYS_PARAMETER``)."""
    dead_letter_queue: tuple[str, ...] = ()


FUNCTION_ACCESS: dict[str, Access] = {
    # Submit (one transaction: Put, Update, ConditionCheck-free), replays, reads and listing;
    # then the inline relay: send, and delete the outbox item.
    "api_handler": Access(
        table=(
            "dynamodb:BatchGetItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ),
        queue=("sqs:SendMessage",),
        status_index=True,
        api_keys=True,
    ),
    # Read the formula, record its status; settle the message (ack, release with backoff).
    # The near-duplicate step: index the formula's postings, query them, read candidates.
    "consume_messages": Access(
        table=(
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ),
        queue=("sqs:ChangeMessageVisibility", *QUEUE_SOURCE_ACTIONS),
    ),
    # Read the outbox item named by a stream record, lease it, publish it, delete it.
    "relay_outbox": Access(
        table=("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"),
        queue=("sqs:SendMessage",),
        stream=True,
    ),
    # Query the pending outbox items (and measure the backlog), lease, publish and delete them;
    # peek at the dead letters (receive, make visible again), read their formulas, mark them failed.
    "sweep_outbox": Access(
        table=("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"),
        queue=("sqs:SendMessage",),
        dead_letter_queue=("sqs:ChangeMessageVisibility", "sqs:ReceiveMessage"),
    ),
}
"""Keyed by the function's Python name, as ``lambda_functions`` in ``.chalice/config.json`` is
(Chalice calls the REST API's function ``api_handler``)."""


def _arn(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def _statement(sid: str, actions: tuple[str, ...], resources: list[Any]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def function_policy(config: dict[str, Any], function: str) -> dict[str, Any]:
    """The execution policy of ``function``: its table, stream and queue actions, logs, tracing."""
    access = FUNCTION_ACCESS[function]
    log_actions: tuple[str, ...] = LOG_ACTIONS
    if not config.get("log_retention_in_days"):
        # Without template-made log groups, Lambda creates each group on first use.
        log_actions = ("logs:CreateLogGroup", *LOG_ACTIONS)
    statements = [_statement("FormulaTable", access.table, [_arn(TABLE)])]
    if access.status_index:
        index = {"Fn::Sub": f"${{{TABLE}.Arn}}/index/{tables.STATUS_INDEX}"}
        statements.append(_statement("FormulaStatusIndex", ("dynamodb:Query",), [index]))
    if access.stream:
        statements.append(_statement("OutboxStream", STREAM_ACTIONS, [_arn(TABLE, "StreamArn")]))
        statements.append(
            _statement(
                "ListOutboxStreams", ("dynamodb:ListStreams",), [{"Fn::Sub": f"${{{TABLE}.Arn}}/stream/*"}]
            )
        )
    statements.append(_statement("FormulaQueue", access.queue, [_arn(QUEUE)]))
    if access.dead_letter_queue:
        statements.append(_statement("DeadLetterQueue", access.dead_letter_queue, [_arn(DEAD_LETTER_QUEUE)]))
    parameter = config.get("environment_variables", {}).get("FI_API_KEYS_PARAMETER")
    if access.api_keys and parameter:
        # A SecureString under the AWS managed key aws/ssm: that key's policy lets every principal
        # of the account decrypt through SSM, so no kms:Decrypt is granted here (a customer
        # managed key would need it, on that key).
        arn = f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"
        statements.append(_statement("ApiKeysParameter", ("ssm:GetParameter",), [{"Fn::Sub": arn}]))
    if config.get("xray"):
        # X-Ray's write actions have no resource-level permissions.
        statements.append(_statement("Tracing", TRACING_ACTIONS, ["*"]))
    statements.append(
        _statement(
            "FunctionLogs",
            log_actions,
            # Functions get CloudFormation-made names: <stack name>-<logical id>-<suffix>.
            [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                    ":log-group:/aws/lambda/${AWS::StackName}-*:*"
                }
            ],
        )
    )
    return {"Version": "2012-10-17", "Statement": statements}
