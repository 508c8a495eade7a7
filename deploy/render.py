"""Render the files `chalice package --stage prod` combines, from the definitions in code.

    python -m deploy.render            # rewrite deploy/resources.json and .chalice/policy-prod-*.json
    python -m deploy.render --check    # exit 1 if a committed file differs from a fresh render

Both files are generated and committed; a test fails when either drifts from a fresh render. Their
inputs are:

- the Chalice app (``app.py``): which functions exist, the consumer's queue name and the stream
  relay's placeholder ARN, read from the app's registered event sources;
- ``chalicelib/adapters/aws/tables.py``: the table's properties and the stream filter;
- ``chalicelib/adapters/aws/sqs_setup.py``: the queues' attributes and the RedrivePolicy;
- the ``prod`` stage in ``.chalice/config.json``: the consumer's timeout, tracing and whether the
  template creates the functions' log groups;
- ``deploy/policies.py``: each function's execution policy (``.chalice/policy-prod-<function>.json``).

``deploy/resources.json`` is deep-merged into the SAM template Chalice generates: dictionaries are
merged key by key, anything else (a string, a list) is replaced. It adds the table and the two
queues, points the stream relay's event source at the table's stream (Chalice only knows a
literal ARN) with the outbox filter, gives every function the queue URLs, runs the sweeper one at
a time without asynchronous retries, and configures API Gateway's stage throttling and its own
error answers.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.app import Chalice, DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from chalicelib.adapters.aws import sqs_setup, tables
from deploy import monitoring, policies

PROJECT_DIR = Path(__file__).resolve().parents[1]
STAGE = "prod"
MERGE_TEMPLATE = Path("deploy") / "resources.json"

TABLE = "FormulaTable"
QUEUE = "SubmittedQueue"
DEAD_LETTER_QUEUE = "SubmittedDeadLetterQueue"
REST_API = "RestAPI"
API_FUNCTION = "APIHandler"
"""Chalice names the REST API's function ``APIHandler`` in the template, whatever its handler."""

THROTTLE_RATE_LIMIT = 100
"""Requests per second for the whole stage. A one-formula submission writes four items in one
transaction (about 8 write units), so this keeps one owner's partition well under DynamoDB's
1,000 write units per second."""
THROTTLE_BURST_LIMIT = 200

STREAM_MAX_RETRY_ATTEMPTS = 5
"""Retries of a failing stream batch. Without a limit Lambda retries until the records expire
(24 hours) and the shard stalls; a batch given up on leaves its outbox items pending, and the
sweeper publishes them."""

QUEUE_NAME = {"Fn::Sub": f"${{AWS::StackName}}-{sqs_setup.QUEUE_SUFFIX}"}
"""The main queue's name, derived from the stack so stacks sit side by side. The dead-letter queue
must name it (its RedriveAllowPolicy cannot GetAtt a queue that depends on it). The dead-letter
queue and the table get CloudFormation-made names: both are retained when the stack goes, and a
generated name never blocks re-creating the stack."""
MANAGED_LAYER = "ManagedLayer"
"""Chalice's dependency layer (``automatic_layer``); Chalice names it after the app and stage."""

VISIBILITY_TIMEOUT_FACTOR = 6
"""AWS's guidance for an SQS event source: the queue's visibility timeout is at least six times
the consumer's function timeout, so a batch Lambda retries while throttled is not redelivered
to a second invocation while the first still holds it."""

CONSUMER_MAX_CONCURRENCY = 10
"""``ScalingConfig.MaximumConcurrency`` of the SQS event source: at most this many consumer
invocations at once, so a backlog cannot take the account's whole Lambda concurrency or
overrun the table; messages wait in the queue instead."""


SWEEPER_RESERVED_CONCURRENCY = 1
"""At most one sweep runs at a time: a slow sweep and the next minute's never work side by side."""
SWEEPER_INVOKE_CONFIG = "SweepOutboxInvokeConfig"
SWEEPER_MAX_EVENT_AGE_SECONDS = 60
"""A scheduled invocation not started within a minute (throttled by the reserved concurrency) is
dropped: the next minute's sweep does the same work. Lambda's minimum."""


@dataclass(frozen=True, slots=True)
class Handlers:
    """The functions of the app, as the template Chalice generates names them."""

    functions: tuple[str, ...]
    consumer: str
    consumer_function: str
    """The consumer's Python name, the key of its settings under ``lambda_functions``."""
    consumer_event: str
    queue_name: str
    relay: str
    relay_event: str
    sweeper: str


def _one(found: list[Any], kind: str) -> Any:
    if len(found) != 1:
        raise ValueError(f"the app must register exactly one {kind} handler, found {len(found)}")
    return found[0]


def app_handlers(app: Chalice) -> Handlers:
    """Find the SQS consumer, the stream relay and every other function of ``app``."""
    sources = app.event_sources
    consumer: SQSEventConfig = _one([s for s in sources if isinstance(s, SQSEventConfig)], "SQS")
    relay: DynamoDBEventConfig = _one(
        [s for s in sources if isinstance(s, DynamoDBEventConfig)], "DynamoDB stream"
    )
    sweeper: ScheduledEventConfig = _one(
        [s for s in sources if isinstance(s, ScheduledEventConfig)], "scheduled"
    )
    if consumer.queue is None:
        raise ValueError("the SQS handler must name its queue (queue=...), not only its ARN")
    names = [API_FUNCTION] if app.routes else []
    names += [to_cfn_resource_name(s.name) for s in sources]
    names += [to_cfn_resource_name(function.name) for function in app.pure_lambda_functions]
    return Handlers(
        functions=tuple(dict.fromkeys(names)),
        consumer=to_cfn_resource_name(consumer.name),
        consumer_function=consumer.name,
        consumer_event=to_cfn_resource_name(f"{consumer.name}-sqs-event-source"),
        queue_name=consumer.queue,
        relay=to_cfn_resource_name(relay.name),
        relay_event=to_cfn_resource_name(f"{relay.name}-dynamodb-event-source"),
        sweeper=to_cfn_resource_name(sweeper.name),
    )


def load_app(project_dir: Path = PROJECT_DIR) -> Chalice:
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    app: Chalice = importlib.import_module("app").app
    return app


def stage_config(project_dir: Path = PROJECT_DIR, stage: str = STAGE) -> dict[str, Any]:
    """The stage's settings from ``.chalice/config.json``, top-level settings underneath."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    scoped = config["stages"][stage]
    merged = {key: value for key, value in config.items() if key != "stages"}
    merged.update(scoped)
    merged["environment_variables"] = {
        **config.get("environment_variables", {}),
        **scoped.get("environment_variables", {}),
    }
    return merged


def policy_path(function: str) -> Path:
    """Where a function's execution policy lives, relative to the project."""
    return Path(".chalice") / f"policy-{STAGE}-{function.replace('_', '-')}.json"


def _arn(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def _queue_arn_by_name(name: dict[str, str]) -> dict[str, Any]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name['Fn::Sub']}"}


def _error_response(
    code: str, *, status: int | None = None, message: str = "$context.error.messageString", **extra: str
) -> dict[str, Any]:
    """A gateway response whose body is the service's error shape.

    API Gateway substitutes ``$context`` variables but runs no template logic here, so the code
    is fixed per response type. ``message`` and ``extra`` values are JSON text
    (``$context.error.messageString`` is already a quoted JSON string).
    """
    fields = {"code": f'"{code}"', "message": message, **extra}
    body = ", ".join(f'"{name}": {value}' for name, value in fields.items())
    response: dict[str, Any] = {
        "responseParameters": {"gatewayresponse.header.X-Content-Type-Options": "'nosniff'"},
        "responseTemplates": {"application/json": '{"error": {' + body + "}}"},
    }
    if status is not None:
        response["statusCode"] = str(status)
    return response


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own errors (no Lambda involved) in the service's one error shape."""
    throttled = _error_response("rate_limited", status=429)
    throttled["responseParameters"]["gatewayresponse.header.Retry-After"] = "'1'"
    return {
        # An unknown path, or a method a path does not have, is API Gateway's
        # 403 "Missing Authentication Token"; the service answers it as its 404.
        "MISSING_AUTHENTICATION_TOKEN": _error_response(
            "not_found", status=404, message='"No route matches the request."'
        ),
        "THROTTLED": throttled,
        "REQUEST_TOO_LARGE": _error_response("payload_too_large", status=413),
        "DEFAULT_4XX": _error_response("bad_request"),
        "DEFAULT_5XX": _error_response("internal_error", request_id='"$context.requestId"'),
    }


def function_timeout(config: dict[str, Any], function: str) -> int:
    """A function's timeout in seconds: its own ``lambda_timeout``, else the stage's (Chalice's
    default is 60)."""
    own = config.get("lambda_functions", {}).get(function, {})
    return int(own.get("lambda_timeout", config.get("lambda_timeout", 60)))


def queue_visibility_timeout(config: dict[str, Any], consumer: str) -> int:
    return VISIBILITY_TIMEOUT_FACTOR * function_timeout(config, consumer)


def render_resources(app: Chalice, config: dict[str, Any]) -> dict[str, Any]:
    """The template to merge into Chalice's: resources, event sources, environment, API settings."""
    handlers = app_handlers(app)
    table = tables.cloudformation_properties()
    table["DeletionProtectionEnabled"] = True
    queue_environment = {
        "Environment": {
            "Variables": {
                "FI_TABLE_NAME": {"Ref": TABLE},
                "FI_QUEUE_URL": {"Ref": QUEUE},
                "FI_DEAD_LETTER_QUEUE_URL": {"Ref": DEAD_LETTER_QUEUE},
                "FI_STACK_NAME": {"Ref": "AWS::StackName"},
            }
        }
    }
    resources: dict[str, Any] = {
        TABLE: {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": table,
        },
        DEAD_LETTER_QUEUE: {
            "Type": "AWS::SQS::Queue",
            # Dead letters outlive the stack: they are formulas that still need a look.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": sqs_setup.DLQ_RETENTION_SECONDS,
                "MaximumMessageSize": sqs_setup.MAXIMUM_MESSAGE_SIZE,
                # By name, not GetAtt: the main queue already depends on this one.
                "RedriveAllowPolicy": {
                    "redrivePermission": "byQueue",
                    "sourceQueueArns": [_queue_arn_by_name(QUEUE_NAME)],
                },
            },
        },
        QUEUE: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": QUEUE_NAME,
                "SqsManagedSseEnabled": True,
                "VisibilityTimeout": queue_visibility_timeout(config, handlers.consumer_function),
                "MessageRetentionPeriod": sqs_setup.RETENTION_SECONDS,
                "MaximumMessageSize": sqs_setup.MAXIMUM_MESSAGE_SIZE,
                "ReceiveMessageWaitTimeSeconds": sqs_setup.RECEIVE_WAIT_SECONDS,
                "RedrivePolicy": {
                    "deadLetterTargetArn": _arn(DEAD_LETTER_QUEUE),
                    "maxReceiveCount": sqs_setup.MAX_RECEIVE_COUNT,
                },
            },
        },
        REST_API: {
            "Properties": {
                "Name": monitoring.API_NAME,
                "TracingEnabled": True,
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "ThrottlingRateLimit": THROTTLE_RATE_LIMIT,
                        "ThrottlingBurstLimit": THROTTLE_BURST_LIMIT,
                    }
                ],
                "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()},
            }
        },
    }
    for function in handlers.functions:
        resources[function] = {"Properties": copy.deepcopy(queue_environment)}
    # Chalice only knows the placeholder ARN in app.py; the real stream exists once the table does.
    resources[handlers.relay]["Properties"]["Events"] = {
        handlers.relay_event: {
            "Properties": {
                "Stream": _arn(TABLE, "StreamArn"),
                "FilterCriteria": tables.stream_filter_criteria(),
                "MaximumRetryAttempts": STREAM_MAX_RETRY_ATTEMPTS,
            }
        }
    }
    # Partial batch responses: the consumer returns the messages that must come back.
    resources[handlers.consumer]["Properties"]["Events"] = {
        handlers.consumer_event: {
            "Properties": {
                # Chalice only knows the queue name fixed in app.py; this is the stack's queue
                # (an Fn::Sub replacing Chalice's Fn::Sub: the merge is key by key).
                "Queue": _queue_arn_by_name(QUEUE_NAME),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": CONSUMER_MAX_CONCURRENCY},
            }
        }
    }
    # The sweeper: one at a time, and no asynchronous retries (a failed item is retried by the next
    # minute's sweep; Lambda's two retries would run beside it).
    resources[handlers.sweeper]["Properties"]["ReservedConcurrentExecutions"] = SWEEPER_RESERVED_CONCURRENCY
    resources[SWEEPER_INVOKE_CONFIG] = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": handlers.sweeper},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": SWEEPER_MAX_EVENT_AGE_SECONDS,
        },
    }
    # Chalice's event source names the queue by ARN text; the function's FI_QUEUE_URL (a Ref)
    # already makes it wait for the queue (an explicit DependsOn is cfn-lint's W3005).
    if config.get("automatic_layer"):
        resources[MANAGED_LAYER] = {
            "Properties": {"LayerName": {"Fn::Sub": "${AWS::StackName}-managed-layer"}}
        }
    if config.get("log_retention_in_days") and API_FUNCTION in handlers.functions:
        # Chalice renames the API function to APIHandler but its log group still refers to
        # ${ApiHandler}, which does not exist (aws/chalice#2079).
        resources["ApiHandlerLogGroup"] = {
            "Properties": {"LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{API_FUNCTION}}}"}}
        }
    resources.update(
        monitoring.resources(
            monitoring.Names(
                queue=QUEUE,
                dead_letter_queue=DEAD_LETTER_QUEUE,
                consumer=handlers.consumer,
                relay=handlers.relay,
            )
        )
    )
    return {
        "Parameters": monitoring.parameters(),
        "Resources": resources,
        "Outputs": {
            "TableName": {"Value": {"Ref": TABLE}},
            "QueueUrl": {"Value": {"Ref": QUEUE}},
            "DeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTER_QUEUE}},
        },
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def render(project_dir: Path = PROJECT_DIR) -> dict[Path, str]:
    """Every generated file (path relative to the project) and its content."""
    config = stage_config(project_dir)
    app = load_app(project_dir)
    return {
        MERGE_TEMPLATE: dumps(render_resources(app, config)),
        **{
            policy_path(function): dumps(policies.function_policy(config, function))
            for function in policies.FUNCTION_ACCESS
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    stale = []
    for relative, content in render(args.project_dir).items():
        path = args.project_dir / relative
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        stale.append(str(relative))
        if not args.check:
            path.write_text(content)
    if args.check and stale:
        print(f"out of date (run python -m deploy.render): {', '.join(stale)}", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
