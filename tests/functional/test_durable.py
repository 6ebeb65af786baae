"""Durable functions (issue 17): DurableConfig, executions started by invokes, the checkpoint
protocol driven by AWS's own SDK (``aws-durable-execution-sdk-python``, which Flare's Python
runtimes provide as Lambda's python3.13 and later do), and the API that reads executions."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import FlareServer, create_function, python_function

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
