"""Operations answered for completeness of the API: InvokeAsync, and durable executions'
operations on executions and callbacks that do not exist."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, python_function

ECHO = "def handler(event, context):\n    print('async-args', event)\n    return event\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_invoke_async_queues_an_event_and_answers_status_202(flare: FlareServer, lam: Any) -> None:
    name = unique("async")
    create_function(lam, name, python_function(ECHO))
    answer = lam.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"marker": name}).encode())
    assert (answer["Status"], answer["ResponseMetadata"]["HTTPStatusCode"]) == (202, 202)
    logs = flare.client("logs")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern='"async-args"')
        except logs.exceptions.ResourceNotFoundException:  # no log group before the first line
            found = {"events": []}
        if found["events"]:
            assert name in found["events"][0]["message"]
            return
        time.sleep(0.2)
    pytest.fail("the async event never ran")


def test_invoke_async_of_a_missing_function_is_404(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_async(FunctionName=unique("nope"), InvokeArgs=b"{}")


def test_no_durable_execution_exists_of_a_function_never_durable(lam: Any) -> None:
    name = unique("durable")
    create_function(lam, name, python_function(ECHO))
    assert lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"] == []
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST/durable-execution/run/abc"
    with pytest.raises(ClientError) as missing:
        lam.get_durable_execution(DurableExecutionArn=arn)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.send_durable_execution_callback_success(CallbackId="Y2ItMQ==", Result=b"{}")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_durable_executions_by_function(FunctionName=unique("nope"))
