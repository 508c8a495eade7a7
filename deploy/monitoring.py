"""The alarms, their SNS topic and the dashboard of a deployed stack (merged by `deploy.render`).

Every alarm watches something that loses or delays data, and notifies one SNS topic whose email
subscription is the template parameter ``AlarmEmail``. `docs/operations.md` says what each alarm
means and what to do. Names are left to CloudFormation (or derived from the stack name), so two
stacks in one account never share one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib import observability

TOPIC = "AlarmTopic"
EMAIL_PARAMETER = "AlarmEmail"
DASHBOARD = "OperationsDashboard"
API_NAME = {"Fn::Sub": "${AWS::StackName}-api"}
"""The REST API's name, and so its ``ApiName`` metric dimension: one per stack."""

API_5XX_RATE = 0.05
"""Share of API requests answered 5xx over five minutes that raises the alarm."""
OUTBOX_AGE_SECONDS = 300
"""The sweeper publishes items pending for a minute; five minutes means it is not keeping up."""
ITERATOR_AGE_MILLISECONDS = 60_000
QUEUE_AGE_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Names:
    """Logical ids of the resources the alarms watch."""

    queue: str
    dead_letter_queue: str
    consumer: str
    relay: str


def _alarm(description: str, threshold: float, metric: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": threshold,
            "EvaluationPeriods": extra.pop("periods", 1),
            "TreatMissingData": extra.pop("missing", "notBreaching"),
            "AlarmActions": [{"Ref": TOPIC}],
            "OKActions": [{"Ref": TOPIC}],
            **metric,
            **extra,
        },
    }


def _metric(
    namespace: str, name: str, stat: str, dimensions: dict[str, Any], period: int = 60
) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Statistic": stat,
        "Period": period,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
    }


def _service_dimensions() -> dict[str, Any]:
    return {"service": observability.SERVICE, "stack": {"Ref": "AWS::StackName"}}


def alarms(names: Names) -> dict[str, Any]:
    """The six alarms, by logical id."""
    queue = {"QueueName": {"Fn::GetAtt": [names.queue, "QueueName"]}}
    dead_letters = {"QueueName": {"Fn::GetAtt": [names.dead_letter_queue, "QueueName"]}}
    return {
        "DeadLetterQueueNotEmptyAlarm": _alarm(
            "Messages reached the dead-letter queue: formulas that could not be processed.",
            0,
            _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", dead_letters),
        ),
        "ConsumerErrorsAlarm": _alarm(
            "The SQS consumer function crashed (errors, not failed messages).",
            0,
            _metric("AWS/Lambda", "Errors", "Sum", {"FunctionName": {"Ref": names.consumer}}, 300),
        ),
        "Api5xxRateAlarm": _alarm(
            f"More than {API_5XX_RATE:.0%} of API requests answered 5xx over five minutes.",
            API_5XX_RATE,
            _metric("AWS/ApiGateway", "5XXError", "Average", {"ApiName": API_NAME}, 300),
        ),
        "OutboxOldestPendingAgeAlarm": _alarm(
            "Committed formulas wait in the outbox: SQS or the sweeper is failing.",
            OUTBOX_AGE_SECONDS,
            _metric("FormulaIntake", observability.OUTBOX_OLDEST_AGE, "Maximum", _service_dimensions()),
            periods=3,
            missing="breaching",
        ),
        "StreamIteratorAgeAlarm": _alarm(
            "The outbox stream relay is behind the table's stream.",
            ITERATOR_AGE_MILLISECONDS,
            _metric("AWS/Lambda", "IteratorAge", "Maximum", {"FunctionName": {"Ref": names.relay}}),
            periods=5,
        ),
        "QueueOldestMessageAgeAlarm": _alarm(
            "Messages wait on the main queue: the consumer is not keeping up or keeps failing.",
            QUEUE_AGE_SECONDS,
            _metric("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", queue),
            periods=3,
        ),
    }


def _widget(title: str, metrics: list[list[Any]], x: int, y: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": "Sum",
            "period": 60,
            "metrics": metrics,
        },
    }


def dashboard_body(names: Names) -> str:
    """The dashboard's JSON, with ``${...}`` references for ``Fn::Sub``."""
    service = ["service", observability.SERVICE, "stack", "${AWS::StackName}"]
    ns = observability.NAMESPACE

    def ours(*metric_names: str, stat: str = "Sum") -> list[list[Any]]:
        return [[ns, name, *service, {"stat": stat}] for name in metric_names]

    widgets = [
        _widget(
            "Submissions",
            ours(
                observability.FORMULAS_ACCEPTED,
                observability.DUPLICATES_REJECTED,
                observability.IDEMPOTENT_REPLAYS,
                observability.VALIDATION_REJECTIONS,
            ),
            0,
            0,
        ),
        _widget(
            "API requests and 5xx",
            [
                ["AWS/ApiGateway", "Count", "ApiName", "${AWS::StackName}-api"],
                ["AWS/ApiGateway", "5XXError", "ApiName", "${AWS::StackName}-api"],
            ],
            12,
            0,
        ),
        _widget(
            "Messages",
            ours(
                observability.MESSAGES_PROCESSED,
                observability.MESSAGES_FAILED,
                observability.MESSAGES_DEAD_LETTERED,
            ),
            0,
            6,
        ),
        _widget("Submit to processed (s, p99)", ours(observability.SUBMIT_TO_PROCESSED, stat="p99"), 12, 6),
        _widget(
            "Outbox backlog and oldest age (s)",
            ours(observability.OUTBOX_PENDING, observability.OUTBOX_OLDEST_AGE, stat="Maximum"),
            0,
            12,
        ),
        _widget(
            "Queues",
            [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{names.queue}.QueueName}}",
                ],
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"${{{names.queue}.QueueName}}"],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{names.dead_letter_queue}.QueueName}}",
                ],
            ],
            12,
            12,
        ),
        _widget(
            "Functions",
            [
                ["AWS/Lambda", "Errors", "FunctionName", f"${{{names.consumer}}}"],
                ["AWS/Lambda", "IteratorAge", "FunctionName", f"${{{names.relay}}}", {"stat": "Maximum"}],
            ],
            0,
            18,
        ),
    ]
    return json.dumps({"widgets": widgets})


def resources(names: Names) -> dict[str, Any]:
    """The topic, its email subscription, the alarms and the dashboard."""
    return {
        TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}},
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": TOPIC},
                "Protocol": "email",
                "Endpoint": {"Ref": EMAIL_PARAMETER},
            },
        },
        **alarms(names),
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardBody": {"Fn::Sub": dashboard_body(names)}},
        },
    }


def parameters() -> dict[str, Any]:
    return {
        EMAIL_PARAMETER: {
            "Type": "String",
            "Description": "Where alarm notifications go (confirm the subscription email AWS sends).",
            "AllowedPattern": r"[^@\s]+@[^@\s]+",
        }
    }
