"""Durable functions (issue 17), how they are invoked: a synchronous invoke waits at most 15
minutes, or the function's or the execution's timeout if lower; an ``Event`` invoke goes through
the asynchronous invocation queue."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import FlareServer
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
