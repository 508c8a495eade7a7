"""The deployable template: what `chalice package --stage prod --merge-template ...` produces.

The slow tests package a copy of the project once per module (no AWS call: fake credentials, a
fixed region) and read the SAM template. The fast tests keep the generated files honest: the
committed merge template and policy equal a fresh render, and the policy grants every call the
AWS adapters make.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import observability
from chalicelib.adapters.aws import sqs_setup, tables
from chalicelib.config import Settings
from deploy import monitoring, policies, render

PROJECT_DIR = render.PROJECT_DIR
CHALICE = Path(sys.executable).with_name("chalice")
PACKAGE_TIMEOUT_SECONDS = 180
"""The first run builds the dependency layer (pip); later runs reuse .chalice/deployments."""

PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::URLSuffix"}


# ---- fast: the generated files cannot drift -----------------------------------------------------


def test_committed_files_equal_a_fresh_render() -> None:
    for relative, content in render.render().items():
        committed = (PROJECT_DIR / relative).read_text()
        assert committed == content, f"{relative} is stale: run python -m deploy.render"


def _iam_action(service: str, operation: str) -> str:
    if service == "sqs":
        operation = operation.removesuffix("_batch")  # SendMessageBatch is authorised as SendMessage
    return f"{service}:" + "".join(part.title() for part in operation.split("_"))


def adapter_actions() -> set[str]:
    """The IAM actions behind every client call in the AWS adapters, read from their source."""
    aws = PROJECT_DIR / "chalicelib" / "adapters" / "aws"
    sources = {
        "dynamodb": ["dynamodb_store.py", "dynamodb_idempotency.py", "outbox.py"],
        "sqs": ["sqs.py", "sqs_wire.py"],
    }
    sources["ssm"] = ["parameters.py"]
    actions = set()
    for service, names in sources.items():
        for name in names:
            text = (aws / name).read_text()
            for operation in re.findall(r"(?:self\._client|\bclient)\.([a-z_]+)\(", text):
                if operation == "transact_write_items":
                    continue  # authorised per item: the kinds are collected below
                actions.add(_iam_action(service, operation))
            for kind in re.findall(r'"(Put|Update|Delete|ConditionCheck)": \{', text):
                actions.add(f"dynamodb:{kind}Item")
    return actions


def test_the_policies_grant_every_call_the_adapters_make() -> None:
    granted = {
        action
        for function in policies.FUNCTION_ACCESS
        for statement in policies.function_policy(render.stage_config(), function)["Statement"]
        for action in statement["Action"]
    }
    needed = adapter_actions()
    assert {"dynamodb:PutItem", "dynamodb:Query", "sqs:SendMessage", "sqs:ReceiveMessage"} <= needed
    assert "ssm:GetParameter" in needed
    assert needed <= granted, f"missing from the policy: {sorted(needed - granted)}"


def test_only_the_api_may_query_the_status_index_and_nothing_else_of_it() -> None:
    from deploy import policies

    for function in policies.FUNCTION_ACCESS:
        found = [
            s
            for s in policies.function_policy({}, function)["Statement"]
            if "/index/" in json.dumps(s["Resource"])
        ]
        if function != "api_handler":
            assert found == [], function
            continue
        (statement,) = found
        assert statement["Action"] == ["dynamodb:Query"]
        index = f"${{{policies.TABLE}.Arn}}/index/{tables.STATUS_INDEX}"
        assert statement["Resource"] == [{"Fn::Sub": index}]


def test_the_stage_settings_agree_with_the_queue_definition() -> None:
    variables = render.stage_config()["environment_variables"]
    assert variables["FI_BACKEND"] == "aws"
    assert int(variables["FI_QUEUE_MAX_RECEIVE_COUNT"]) == sqs_setup.MAX_RECEIVE_COUNT
    assert int(variables["FI_QUEUE_RETENTION_SECONDS"]) == sqs_setup.RETENTION_SECONDS
    for name in ("FI_QUEUE_URL", "FI_DEAD_LETTER_QUEUE_URL", "FI_AWS_ENDPOINT_URL", "AWS_REGION"):
        assert name not in variables  # the template (queue URLs) or Lambda (region) sets them


# ---- slow: package once, read the template ------------------------------------------------------


def _copy_project(destination: Path) -> Path:
    """The files `chalice package` reads, and its cache of built packages (never written back)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "venv")
    destination.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(PROJECT_DIR / name, destination / name)
    for name in ("chalicelib", ".chalice", "deploy"):
        shutil.copytree(PROJECT_DIR / name, destination / name, ignore=ignore)
    if (PROJECT_DIR / "vendor").is_dir():
        shutil.copytree(PROJECT_DIR / "vendor", destination / "vendor", ignore=ignore)
    return destination


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The packaged ``prod`` template's path."""
    base = tmp_path_factory.mktemp("package")
    project = _copy_project(base / "project")
    out = base / "out"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and not key.startswith("FI_")
    }
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [
        str(CHALICE),
        "package",
        "--stage",
        "prod",
        "--merge-template",
        str(render.MERGE_TEMPLATE),
        str(out),
    ]
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_SECONDS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield out / "sam.json"


@pytest.fixture(scope="module")
def template(packaged: Path) -> dict[str, Any]:
    return dict(json.loads(packaged.read_text()))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == kind}


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources(template, "AWS::Serverless::Function")


def _event(template: dict[str, Any], function: str) -> dict[str, Any]:
    (event,) = template["Resources"][function]["Properties"]["Events"].values()
    return dict(event)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


slow = pytest.mark.slow


@slow
def test_the_table_has_ttl_a_new_image_stream_and_recovery(template: dict[str, Any]) -> None:
    table = template["Resources"][render.TABLE]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    properties = table["Properties"]
    assert "TableName" not in properties, "a generated name never blocks re-creating the stack"
    assert properties["DeletionProtectionEnabled"] is True
    assert properties == {**tables.cloudformation_properties(), "DeletionProtectionEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": tables.TTL_ATTRIBUTE, "Enabled": True}
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@slow
def test_the_queue_sends_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"][render.QUEUE]["Properties"]
    dead_letters = template["Resources"][render.DEAD_LETTER_QUEUE]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [render.DEAD_LETTER_QUEUE, "Arn"]},
        "maxReceiveCount": sqs_setup.MAX_RECEIVE_COUNT,
    }
    assert queue["MessageRetentionPeriod"] == sqs_setup.RETENTION_SECONDS
    assert dead_letters["MessageRetentionPeriod"] == sqs_setup.DLQ_RETENTION_SECONDS
    assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    (source,) = dead_letters["RedriveAllowPolicy"]["sourceQueueArns"]
    assert source["Fn::Sub"].endswith(":" + queue["QueueName"]["Fn::Sub"])
    # The main queue is named after the stack as a local run names it after its prefix; the
    # dead-letter queue is retained with the stack's data, under a generated name.
    assert queue["QueueName"] == {"Fn::Sub": f"${{AWS::StackName}}-{sqs_setup.QUEUE_SUFFIX}"}
    assert "QueueName" not in dead_letters
    assert template["Resources"][render.DEAD_LETTER_QUEUE]["DeletionPolicy"] == "Retain"
    assert queue["SqsManagedSseEnabled"] is True and dead_letters["SqsManagedSseEnabled"] is True


@slow
def test_the_consumer_reads_that_queue_in_batches(template: dict[str, Any]) -> None:
    handlers = render.app_handlers(render.load_app())
    event = _event(template, handlers.consumer)
    queue = template["Resources"][render.QUEUE]
    assert event["Type"] == "SQS"
    assert event["Properties"]["BatchSize"] == 10
    assert event["Properties"]["Queue"]["Fn::Sub"].endswith(":" + queue["Properties"]["QueueName"]["Fn::Sub"])
    variables = template["Resources"][handlers.consumer]["Properties"]["Environment"]["Variables"]
    assert variables["FI_QUEUE_URL"] == {"Ref": render.QUEUE}  # so the event source waits for the queue
    # AWS's guidance for an SQS event source: visibility at least six times the function timeout.
    timeout = template["Resources"][handlers.consumer]["Properties"]["Timeout"]
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    # Partial batch responses, and a ceiling on concurrent consumers.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == render.CONSUMER_MAX_CONCURRENCY


@slow
def test_the_stream_relay_reads_the_tables_stream_filtered_to_unheld_outbox_items(
    template: dict[str, Any],
) -> None:
    handlers = render.app_handlers(render.load_app())
    event = _event(template, handlers.relay)
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": [render.TABLE, "StreamArn"]}
    (pattern,) = event["Properties"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == tables.STREAM_FILTER_PATTERN
    assert event["Properties"]["MaximumRetryAttempts"] == render.STREAM_MAX_RETRY_ATTEMPTS


@slow
def test_the_sweeper_runs_every_minute(template: dict[str, Any]) -> None:
    event = _event(template, "SweepOutbox")
    assert event == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}


@slow
def test_the_sweeper_runs_one_at_a_time_without_asynchronous_retries(template: dict[str, Any]) -> None:
    sweeper = render.app_handlers(render.load_app()).sweeper
    assert sweeper == "SweepOutbox"
    assert template["Resources"][sweeper]["Properties"]["ReservedConcurrentExecutions"] == 1
    configs = _resources(template, "AWS::Lambda::EventInvokeConfig")
    assert [config["Properties"] for config in configs.values()] == [
        {
            "FunctionName": {"Ref": sweeper},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": render.SWEEPER_MAX_EVENT_AGE_SECONDS,
        }
    ]
    for name in ("APIHandler", "ConsumeMessages", "RelayOutbox"):
        assert "ReservedConcurrentExecutions" not in template["Resources"][name]["Properties"], name


@slow
def test_every_function_gets_the_settings_of_the_aws_backend(template: dict[str, Any]) -> None:
    table_name = {"Ref": render.TABLE}
    functions = _functions(template)
    assert set(functions) == {"APIHandler", "ConsumeMessages", "RelayOutbox", "SweepOutbox"}
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FI_TABLE_NAME"] == table_name, name
        assert variables["FI_QUEUE_URL"] == {"Ref": render.QUEUE}, name
        assert variables["FI_DEAD_LETTER_QUEUE_URL"] == {"Ref": render.DEAD_LETTER_QUEUE}, name
        # Lambda sets AWS_REGION itself (a reserved name); production talks to AWS, not moto.
        assert "AWS_REGION" not in variables and "FI_AWS_ENDPOINT_URL" not in variables, name
        resolved = {
            k: v if isinstance(v, str) else f"https://sqs.example/{v['Ref']}" for k, v in variables.items()
        }
        assert variables["FI_STACK_NAME"] == {"Ref": "AWS::StackName"}, name
        settings = Settings.from_env({**resolved, "AWS_REGION": "eu-west-1"})
        assert settings.backend == "aws", name
        assert settings.queue_max_receive_count == sqs_setup.MAX_RECEIVE_COUNT, name
        assert settings.queue_url and settings.dead_letter_queue_url and settings.table_name, name


@slow
def test_every_role_holds_its_functions_policy_and_no_wildcard(template: dict[str, Any]) -> None:
    roles = _resources(template, "AWS::IAM::Role")
    python_names = {"APIHandler": "api_handler", "ConsumeMessages": "consume_messages"}
    python_names |= {"RelayOutbox": "relay_outbox", "SweepOutbox": "sweep_outbox"}
    for name, function in _functions(template).items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = [
            s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]
        ]
        assert statements == policies.function_policy(render.stage_config(), python_names[name])["Statement"]
        for statement in statements:
            assert not any("*" in action for action in statement["Action"]), name
            if set(statement["Action"]) == set(policies.TRACING_ACTIONS):
                continue  # X-Ray's write actions take no resource
            assert all(isinstance(resource, dict) for resource in statement["Resource"]), name
    assert len(roles) == len(_functions(template)), "one role per function"


@slow
def test_the_api_stage_is_throttled(template: dict[str, Any]) -> None:
    (setting,) = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == render.THROTTLE_RATE_LIMIT
    assert setting["ThrottlingBurstLimit"] == render.THROTTLE_BURST_LIMIT
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")


@slow
def test_api_gateways_own_errors_have_the_services_error_shape(template: dict[str, Any]) -> None:
    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert definition["paths"], "the merge must add to Chalice's routes, not replace them"
    responses = definition["x-amazon-apigateway-gateway-responses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"} <= set(responses)
    substitutions = {
        "$context.error.messageString": '"Forbidden"',
        "$context.requestId": "c0ffee",
    }
    for response_type, response in responses.items():
        body = response["responseTemplates"]["application/json"]
        for variable, value in substitutions.items():
            body = body.replace(variable, value)
        error = json.loads(body)["error"]
        assert re.fullmatch(r"[a-z_]+", error["code"]) and error["message"], response_type
    missing = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"])
    assert missing["error"]["code"] == "not_found"


@slow
def test_every_reference_in_the_template_resolves(template: dict[str, Any]) -> None:
    known = set(template["Resources"]) | set(template.get("Parameters", {})) | PSEUDO_PARAMETERS
    referenced = set()
    for node in _walk(template):
        if not isinstance(node, dict):
            continue
        if "Ref" in node:
            referenced.add(node["Ref"])
        if "Fn::GetAtt" in node:
            referenced.add(node["Fn::GetAtt"][0])
        if "Fn::Sub" in node:
            text, names = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            referenced |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(names)
    for resource in template["Resources"].values():
        depends = resource.get("DependsOn", [])
        referenced |= {depends} if isinstance(depends, str) else set(depends)
    assert referenced - known == set()
    for name, resource in template["Resources"].items():
        assert "Type" in resource, f"{name}: merged into a resource Chalice no longer generates"


@slow
def test_alarms_notify_one_topic_with_an_email_parameter(template: dict[str, Any]) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    watched = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert watched == {
        "ApproximateNumberOfMessagesVisible",  # the dead-letter queue
        "Errors",  # the consumer
        "5XXError",
        observability.OUTBOX_OLDEST_AGE,
        "IteratorAge",
        "ApproximateAgeOfOldestMessage",
    }
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": monitoring.TOPIC}]
    (subscription,) = _resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == {"Ref": monitoring.EMAIL_PARAMETER}
    assert monitoring.EMAIL_PARAMETER in template["Parameters"]


@slow
def test_one_dashboard_shows_every_metric_of_the_service(template: dict[str, Any]) -> None:
    (dashboard,) = _resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    shown = {row[1] for widget in body["widgets"] for row in widget["properties"]["metrics"]}
    assert set(observability.METRIC_NAMES) <= shown


@slow
def test_tracing_is_on_for_every_function_and_the_api_stage(template: dict[str, Any]) -> None:
    for name, function in _functions(template).items():
        assert function["Properties"]["Tracing"] == "Active", name
    assert template["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is True


CFN_LINT_ACCEPTED: dict[str, str] = {}
"""cfn-lint rules whose findings the template keeps, each with its reason (none today)."""


@slow
def test_cfn_lint_finds_nothing_in_the_packaged_template(packaged: Path) -> None:
    result = subprocess.run(
        [str(CHALICE.with_name("cfn-lint")), "--format", "parseable", str(packaged)],
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_SECONDS,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    unexplained = [line for line in findings if line.split(":")[5] not in CFN_LINT_ACCEPTED]
    assert unexplained == [], "\n".join(unexplained) + result.stderr


NAMING_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Serverless::Api": "Name",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}
"""The property that sets each resource type's physical name; without it CloudFormation makes a
name from the stack name, the logical id and a random suffix."""


def physical_names(template: dict[str, Any], stack: str) -> dict[str, str]:
    """Every named resource's physical name, as CloudFormation would resolve it in ``stack``."""
    resources = template["Resources"]

    def name_of(logical_id: str) -> str:
        resource = resources[logical_id]
        value = resource.get("Properties", {}).get(NAMING_PROPERTIES.get(resource["Type"], ""))
        return f"{stack}-{logical_id}-GENERATED" if value is None else resolve(value)

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return stack if value["Ref"] == "AWS::StackName" else name_of(value["Ref"])
        text = value["Fn::Sub"]
        text = text.replace("${AWS::StackName}", stack)
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda match: name_of(match.group(1)), text)

    return {
        logical_id: name_of(logical_id)
        for logical_id, r in resources.items()
        if r["Type"] in NAMING_PROPERTIES
    }


@slow
def test_two_stacks_in_one_account_share_no_physical_name(template: dict[str, Any]) -> None:
    staging, prod = (
        physical_names(template, "formula-intake-staging"),
        physical_names(template, "formula-intake"),
    )
    assert set(staging) >= {render.TABLE, render.QUEUE, render.DEAD_LETTER_QUEUE, "RestAPI", "APIHandler"}
    assert set(staging.values()).isdisjoint(prod.values())


@slow
def test_retained_data_survives_the_stack_and_log_groups_expire(template: dict[str, Any]) -> None:
    for logical_id in (render.TABLE, render.DEAD_LETTER_QUEUE):
        resource = template["Resources"][logical_id]
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", logical_id
        assert NAMING_PROPERTIES[resource["Type"]] not in resource["Properties"], logical_id
    groups = _resources(template, "AWS::Logs::LogGroup")
    assert len(groups) == len(_functions(template))
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == render.stage_config()["log_retention_in_days"], name
