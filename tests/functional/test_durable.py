"""Durable functions (issue 17): DurableConfig, executions started by invokes, the checkpoint
protocol driven by AWS's own SDK (``aws-durable-execution-sdk-python``, which Flare's Python
runtimes provide as Lambda's python3.13 and later do), and the API that reads executions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ROLE, FlareServer, create_function, python_function
from tests.roles import attach_policy

PLAIN = "def handler(event, context):\n    return event\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_durable_config_is_kept_with_lambdas_default_retention_and_shown_in_every_configuration(
    lam: Any,
) -> None:
    name = unique("durable-config")
    created = create_function(lam, name, python_function(PLAIN), DurableConfig={"ExecutionTimeout": 3600})
    assert created["DurableConfig"] == {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 14}
    assert lam.get_function_configuration(FunctionName=name)["DurableConfig"]["ExecutionTimeout"] == 3600
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    updated = lam.update_function_configuration(
        FunctionName=name, DurableConfig={"ExecutionTimeout": 60, "RetentionPeriodInDays": 3}
    )
    assert updated["DurableConfig"] == {"ExecutionTimeout": 60, "RetentionPeriodInDays": 3}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    published = lam.publish_version(FunctionName=name)
    assert published["DurableConfig"] == {"ExecutionTimeout": 60, "RetentionPeriodInDays": 3}
    assert lam.get_function(FunctionName=name)["Configuration"]["DurableConfig"]["RetentionPeriodInDays"] == 3


@pytest.mark.parametrize(
    "config",
    [
        {"RetentionPeriodInDays": 7},
        {"ExecutionTimeout": 0},
        {"ExecutionTimeout": 31622401},
        {"ExecutionTimeout": 60, "RetentionPeriodInDays": 91},
    ],
)
def test_a_durable_config_out_of_awss_bounds_is_refused(flare: FlareServer, config: dict[str, int]) -> None:
    unchecked = boto3.client(
        "lambda",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    with pytest.raises(unchecked.exceptions.ClientError) as refused:
        create_function(unchecked, unique("durable-bad"), python_function(PLAIN), DurableConfig=config)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "xecutionTimeout" in str(refused.value) or "etentionPeriodInDays" in str(refused.value)


TWO_STEPS = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    first = context.step(lambda _: event["n"] + 1, name="add")
    second = context.step(lambda _: first * 10, name="times")
    return {"first": first, "second": second}
"""

CHECKPOINTS = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
        "Resource": "*",
    },
}


def durable_function(flare: FlareServer, lam: Any, prefix: str, source: str, timeout: int = 3600) -> str:
    """A python3.13 durable function (its runtime provides the SDK, as Lambda's does) whose
    role may checkpoint, as AWS's AWSLambdaBasicDurableExecutionRolePolicy allows."""
    attach_policy(flare.url, ROLE, CHECKPOINTS, name="durable")
    name = unique(prefix)
    create_function(
        lam, name, python_function(source), runtime="python3.13", Timeout=30,
        DurableConfig={"ExecutionTimeout": timeout},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def test_a_handler_of_two_steps_runs_to_succeeded_with_its_result(flare: FlareServer, lam: Any) -> None:
    name = durable_function(flare, lam, "two-steps", TWO_STEPS)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 4}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"first": 5, "second": 50}
    arn = answer["DurableExecutionArn"]
    assert f":function:{name}:$LATEST/durable-execution/" in arn
    execution = lam.get_durable_execution(DurableExecutionArn=arn)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"]) == {"first": 5, "second": 50}
    assert json.loads(execution["InputPayload"]) == {"n": 4}
    listed = lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"]
    assert [(found["DurableExecutionArn"], found["Status"]) for found in listed] == [(arn, "SUCCEEDED")]
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    steps = [
        (event["EventType"], event.get("Name")) for event in events if event["EventType"].startswith("Step")
    ]
    assert steps == [
        ("StepStarted", "add"),
        ("StepSucceeded", "add"),
        ("StepStarted", "times"),
        ("StepSucceeded", "times"),
    ]
    assert events[-1]["EventType"] == "ExecutionSucceeded"
