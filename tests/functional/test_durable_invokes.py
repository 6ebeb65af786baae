"""Durable functions (issue 17), how they are invoked: a synchronous invoke waits at most 15
minutes, or the function's or the execution's timeout if lower; an ``Event`` invoke goes through
the asynchronous invocation queue."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import FlareServer, create_function, python_function
from tests.durable_fixtures import advance, durable_function, ended, history, suspended, until
from tests.signing import signed_urlopen

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


def test_an_event_invoke_of_a_durable_function_throttled_to_zero_fails_its_execution_to_on_failure(
    flare: FlareServer,
) -> None:
    lam, sqs = flare.client(), flare.client("sqs")
    url = sqs.create_queue(QueueName=f"durable-failures-{time.time_ns()}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = durable_function(flare, lam, "zero", A_DAY_WAIT)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 7}')
    assert answer["StatusCode"] == 202
    done = ended(lam, answer["DurableExecutionArn"])
    assert (done["Status"], done["Error"]["ErrorType"]) == ("FAILED", "RetriesExhausted")
    assert "InvocationCompleted" not in history(lam, answer["DurableExecutionArn"])
    messages = until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), "the failure record"
    )
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7}


SLOW_STEP = """
import time

from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    return context.step(lambda _: time.sleep(event["sleep"]) or "slept", name="slow")
"""


def async_stats(server: FlareServer, name: str) -> dict[str, Any]:
    with signed_urlopen(f"{server.url}/flare/v1/event-sources") as response:
        stats: dict[str, Any] = json.loads(response.read())["AsyncQueues"].get(name, {})
    return stats


def test_a_throttled_first_invocation_is_tried_again_by_the_async_queues_backoff(flare: FlareServer) -> None:
    lam = flare.client()
    name = durable_function(flare, lam, "one-at-a-time", SLOW_STEP)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    busy = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 4}')
    until(lambda: "StepStarted" in history(lam, busy["DurableExecutionArn"]), "the slow step to start")
    waiting = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 0}')
    until(lambda: async_stats(flare, name).get("retried", 0) >= 1, "the async queue to retry the throttle")
    assert (
        lam.get_durable_execution(DurableExecutionArn=waiting["DurableExecutionArn"])["Status"] == "RUNNING"
    )
    for arn in (busy["DurableExecutionArn"], waiting["DurableExecutionArn"]):
        done = ended(lam, arn)
        assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", "slept")
    assert async_stats(flare, name)["succeeded"] == 2


INVOKER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.exceptions import InvokeError


@durable_execution
def handler(event, context: DurableContext):
    outcomes = {}
    for key in ("slow", "stopped"):
        try:
            context.invoke(event[key], {}, name=key)
            outcomes[key] = "returned"
        except InvokeError as error:
            outcomes[key] = str(error)
    return outcomes
"""


def test_a_chained_invoke_of_a_durable_target_that_times_out_or_is_stopped_ends_as_its_target(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    slow = durable_function(timed, lam, "slow-child", A_DAY_WAIT, timeout=60)
    stopped = durable_function(timed, lam, "stopped-child", A_DAY_WAIT, timeout=2 * 86400)
    caller = durable_function(timed, lam, "invoker", INVOKER, timeout=3 * 86400)
    event = json.dumps({"slow": slow, "stopped": stopped}).encode()
    arn = lam.invoke(FunctionName=caller, InvocationType="Event", Payload=event)["DurableExecutionArn"]

    def child_of(function: str) -> str:
        listed = until(
            lambda: lam.list_durable_executions_by_function(FunctionName=function)["DurableExecutions"],
            f"{function}'s execution to start",
        )
        child = str(listed[0]["DurableExecutionArn"])
        suspended(lam, child)
        return child

    child_of(slow)
    advance(timed, 61)
    stopped_child = child_of(stopped)
    lam.stop_durable_execution(DurableExecutionArn=stopped_child, Error={"ErrorMessage": "operator said no"})
    done = ended(lam, arn)
    assert done["Status"] == "SUCCEEDED", done.get("Error")
    outcomes = json.loads(done["Result"])
    assert "timed out after 60 seconds" in outcomes["slow"] and "operator said no" in outcomes["stopped"]
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    timed_out = next(event for event in events if event["EventType"] == "ChainedInvokeTimedOut")
    assert (
        timed_out["ChainedInvokeTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "ChainedInvoke.Timeout"
    )
    stop = next(event for event in events if event["EventType"] == "ChainedInvokeStopped")
    assert stop["ChainedInvokeStoppedDetails"]["Error"]["Payload"]["ErrorMessage"] == "operator said no"


TENANT_CALLER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import InvokeConfig


@durable_execution
def handler(event, context: DurableContext):
    return context.invoke(event["target"], {}, name="tenant", config=InvokeConfig(tenant_id="blue"))
"""
TENANT_TARGET = "def handler(event, context):\n    return {'tenant': context.tenant_id}\n"


def test_a_chained_invoke_runs_its_target_for_the_tenant_it_names(flare: FlareServer) -> None:
    lam = flare.client()
    target = f"tenant-target-{time.time_ns()}"
    create_function(
        lam, target, python_function(TENANT_TARGET), TenancyConfig={"TenantIsolationMode": "PER_TENANT"}
    )
    caller = durable_function(flare, lam, "tenant-caller", TENANT_CALLER)
    answer = lam.invoke(FunctionName=caller, Payload=json.dumps({"target": target}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"tenant": "blue"}
