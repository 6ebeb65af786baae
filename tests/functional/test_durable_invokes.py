"""Durable functions (issue 17), how they are invoked: a synchronous invoke waits at most 15
minutes, or the function's or the execution's timeout if lower; an ``Event`` invoke goes through
the asynchronous invocation queue."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import FlareServer
from tests.durable_fixtures import advance, durable_function, suspended, until

A_DAY_WAIT = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    context.wait(Duration.from_days(1), name="a-day")
    return "waited"
"""


def test_a_synchronous_invoke_gives_up_after_the_functions_timeout_and_the_execution_runs_on(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "sync-cap", A_DAY_WAIT, timeout=2 * 86400)  # Timeout=30
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(lam.invoke, FunctionName=name, Payload=b"{}")
        listed = until(
            lambda: lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"],
            "the execution to start",
        )
        arn = listed[0]["DurableExecutionArn"]
        suspended(lam, arn)
        advance(timed, 20)  # the clock also runs in real time
        time.sleep(0.5)
        assert not answer.done()
        advance(timed, 11)
        timed_out: dict[str, Any] = answer.result(timeout=30)
    assert timed_out["FunctionError"] == "Unhandled"
    assert timed_out["DurableExecutionArn"] == arn
    error = json.loads(timed_out["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 30.00 seconds" in error["errorMessage"]
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    advance(timed, 86400)
    until(
        lambda: lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED",
        "the execution to end after its wait",
    )
