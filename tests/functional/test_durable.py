"""Durable functions (issue 17): DurableConfig, executions started by invokes, the checkpoint
protocol driven by AWS's own SDK (``aws-durable-execution-sdk-python``, which Flare's Python
runtimes provide as Lambda's python3.13 and later do), and the API that reads executions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import (
    FLARE,
    ROLE,
    FlareServer,
    create_function,
    launch,
    python_function,
    start_process,
    wait_ready,
)
from tests.durable_fixtures import (
    CHECKPOINTS,
    STEP_WAIT_STEP,
    advance,
    callback_of,
    durable_function,
    ended,
    history,
    suspended,
    unique,
    until,
)
from tests.roles import attach_policy

PLAIN = "def handler(event, context):\n    return event\n"


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
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
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
    with urllib.request.urlopen(f"{flare.url}/metrics") as reply:
        assert f'flare_durable_executions{{function="{name}",status="SUCCEEDED"}} 1' in reply.read().decode()


def test_a_wait_of_thirty_days_ends_when_the_engines_clock_passes_it(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "month", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]

    suspended(lam, arn)
    time.sleep(1)  # nothing wakes it for 30 days of the engine's clock
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    advance(timed, 29 * 86400)
    time.sleep(1)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    advance(timed, 86400)
    done = until(
        lambda: (
            (found := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] != "RUNNING" and found
        ),
        "the execution to end",
    )
    assert done["Status"] == "SUCCEEDED", (
        done.get("Error"),
        lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"],
    )
    assert json.loads(done["Result"]) == ["asked", "answered"]
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    kinds = [event["EventType"] for event in events]
    assert kinds.count("StepSucceeded") == 2 and "WaitSucceeded" in kinds
    assert (done["EndTimestamp"] - done["StartTimestamp"]).total_seconds() >= 30 * 86400


def test_a_waiting_execution_survives_a_kill_of_the_engine_and_ends_after_the_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = launch(tmp_path_factory.mktemp("flare-durable-kill"), "--test-clock")
    try:
        lam = server.client()
        name = durable_function(server, lam, "killed", STEP_WAIT_STEP, timeout=40 * 86400)
        arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
        suspended(lam, arn)
        server.stop(signal.SIGKILL)
        server.process = start_process(server.args)
        wait_ready(server.process, server.url)
        lam = server.client()
        assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
        advance(server, 31 * 86400)
        done = until(
            lambda: (
                (found := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] != "RUNNING" and found
            ),
            "the execution to end",
        )
        assert done["Status"] == "SUCCEEDED", done.get("Error")
        assert json.loads(done["Result"]) == ["asked", "answered"]
    finally:
        server.stop()


FLAKY_STEP = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.config import JitterStrategy

BACKOFF = RetryStrategyConfig(
    max_attempts=5, initial_delay=Duration.from_minutes(10), max_delay=Duration.from_minutes(60),
    backoff_rate=2, jitter_strategy=JitterStrategy.NONE,
)


def flaky(step_context):
    if step_context.attempt < 3:
        raise RuntimeError(f"attempt {step_context.attempt} fails")
    return step_context.attempt


@durable_execution
def handler(event, context: DurableContext):
    return context.step(flaky, name="flaky", config=StepConfig(retry_strategy=create_retry_strategy(BACKOFF)))
"""


def test_a_step_that_fails_twice_succeeds_on_its_third_attempt_after_the_sdks_backoff(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "flaky", FLAKY_STEP)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]

    def failures() -> list[dict[str, Any]]:
        events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        return [event for event in events if event["EventType"] == "StepFailed"]

    suspended(lam, arn, on="StepFailed")
    first = failures()
    assert first[0]["StepFailedDetails"]["RetryDetails"] == {
        "CurrentAttempt": 1,
        "NextAttemptDelaySeconds": 600,
    }
    time.sleep(1)
    assert len(failures()) == 1  # the next attempt waits for 10 minutes of the engine's clock
    advance(timed, 600)
    suspended(lam, arn, on="StepFailed", times=2)
    second = failures()
    assert second[1]["StepFailedDetails"]["RetryDetails"]["NextAttemptDelaySeconds"] == 1200
    advance(timed, 1200)
    done = until(
        lambda: (
            (found := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] != "RUNNING" and found
        ),
        "the execution to end",
    )
    assert (done["Status"], done.get("Result")) == ("SUCCEEDED", "3")
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    succeeded = [event for event in events if event["EventType"] == "StepSucceeded"]
    assert succeeded[0]["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 3}


def test_an_execution_named_twice_runs_once_and_another_payload_under_its_name_is_refused(
    flare: FlareServer, lam: Any
) -> None:
    name = durable_function(flare, lam, "named", TWO_STEPS)
    first = lam.invoke(FunctionName=name, DurableExecutionName="order-7", Payload=b'{"n": 1}')
    again = lam.invoke(FunctionName=name, DurableExecutionName="order-7", Payload=b'{"n": 1}')
    assert first["DurableExecutionArn"] == again["DurableExecutionArn"]
    assert "/durable-execution/order-7/" in first["DurableExecutionArn"]
    assert json.loads(again["Payload"].read()) == {"first": 2, "second": 20}
    assert len(lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"]) == 1
    with pytest.raises(lam.exceptions.DurableExecutionAlreadyStartedException) as refused:
        lam.invoke(FunctionName=name, DurableExecutionName="order-7", Payload=b'{"n": 2}')
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_a_stopped_execution_is_never_woken_and_a_deleted_function_takes_its_executions(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "stopped", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    lam.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorMessage": "no longer wanted"})
    advance(timed, 31 * 86400)
    time.sleep(1)
    stopped = lam.get_durable_execution(DurableExecutionArn=arn)
    assert (stopped["Status"], stopped["Error"]["ErrorMessage"]) == ("STOPPED", "no longer wanted")
    kinds = [
        event["EventType"] for event in lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    ]
    assert kinds[-1] == "ExecutionStopped" and "WaitSucceeded" not in kinds
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_durable_execution(DurableExecutionArn=arn)


MAP_AND_PARALLEL = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


def square(context, item, index, items):
    return context.step(lambda _: item * item, name=f"square-{index}")


@durable_execution
def handler(event, context: DurableContext):
    squares = context.map(list(range(event["n"])), square, name="squares").get_results()
    context.wait(Duration.from_hours(1), name="an-hour")
    pair = context.parallel(
        [lambda c: c.step(lambda _: "left", name="left"), lambda c: c.step(lambda _: "right", name="right")],
        name="pair",
    ).get_results()
    return {"sum": sum(squares), "pair": pair}
"""


def test_map_over_fifty_items_and_parallel_branches_around_a_wait_complete(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "map", MAP_AND_PARALLEL, timeout=86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 50}')["DurableExecutionArn"]
    suspended(lam, arn)
    advance(timed, 3600)
    done = until(
        lambda: (
            (found := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] != "RUNNING" and found
        ),
        "the execution to end",
    )
    assert done["Status"] == "SUCCEEDED", done.get("Error")
    assert json.loads(done["Result"]) == {"sum": sum(i * i for i in range(50)), "pair": ["left", "right"]}


CRASH_AFTER_A_STEP = """
import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution

ran = []


def first(_):
    ran.append("first")
    return "kept"


@durable_execution
def handler(event, context: DurableContext):
    kept = context.step(first, name="first")
    if ran:  # the step ran in this invocation (not replayed from its checkpoint): crash once
        os._exit(1)
    return kept
"""


def test_an_invocation_that_crashes_is_retried_and_the_execution_continues_from_its_checkpoints(
    flare: FlareServer, lam: Any
) -> None:
    name = durable_function(flare, lam, "crash", CRASH_AFTER_A_STEP)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == "kept"
    events = lam.get_durable_execution_history(DurableExecutionArn=answer["DurableExecutionArn"])["Events"]
    invocations = [
        event["InvocationCompletedDetails"] for event in events if event["EventType"] == "InvocationCompleted"
    ]
    assert len(invocations) == 2
    assert invocations[0]["Error"]["Payload"]["ErrorType"] == "Runtime.ExitError"
    assert "Error" not in invocations[1]
    assert [event["EventType"] for event in events].count("StepSucceeded") == 1


APPROVAL = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration
from aws_durable_execution_sdk_python.exceptions import CallbackTimeoutError


@durable_execution
def handler(event, context: DurableContext):
    asked = context.step(lambda _: "asked", name="ask")
    context.wait(Duration.from_days(30), name="a-month")
    callback = context.create_callback(
        name="approval",
        config=CallbackConfig(timeout=Duration.from_days(7), heartbeat_timeout=Duration.from_days(2)),
    )
    try:
        approval = callback.result()
    except CallbackTimeoutError as error:
        approval = f"timed out: {error}"
    done = context.step(lambda _: "done", name="finish")
    return [asked, approval, done]
"""


def test_two_steps_a_thirty_day_wait_and_a_callback_complete_when_the_callback_is_sent(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "approval", APPROVAL, timeout=60 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    advance(timed, 30 * 86400)
    suspended(lam, arn, on="CallbackStarted")
    callback = callback_of(lam, arn)
    advance(timed, 86400)  # a heartbeat is due within 2 days: one comes
    lam.send_durable_execution_callback_heartbeat(CallbackId=callback)
    advance(timed, 1.5 * 86400)
    time.sleep(0.5)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    lam.send_durable_execution_callback_success(CallbackId=callback, Result=b"approved")
    done = ended(lam, arn)
    assert done["Status"] == "SUCCEEDED", done.get("Error")
    assert json.loads(done["Result"]) == ["asked", "approved", "done"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.send_durable_execution_callback_success(CallbackId=callback, Result=b"again")


def test_a_callback_without_its_heartbeat_times_out_and_the_handler_sees_it(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "no-heartbeat", APPROVAL, timeout=60 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    advance(timed, 30 * 86400)
    suspended(lam, arn, on="CallbackStarted")
    advance(timed, 2 * 86400 + 1)
    done = ended(lam, arn)
    assert done["Status"] == "SUCCEEDED", done.get("Error")
    asked, approval, finished = json.loads(done["Result"])
    assert (asked, finished) == ("asked", "done") and approval.startswith("timed out")
    events = lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]
    timed_out = next(event for event in events if event["EventType"] == "CallbackTimedOut")
    assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"


NOTHING_BACK = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    return {"got": context.create_callback(name="nothing").result()}
"""


def test_a_callback_answered_without_a_result_gives_the_handler_none(flare: FlareServer, lam: Any) -> None:
    name = durable_function(flare, lam, "no-result", NOTHING_BACK)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn, on="CallbackStarted")
    lam.send_durable_execution_callback_success(CallbackId=callback_of(lam, arn))
    done = ended(lam, arn)
    assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", {"got": None})
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    answered = next(event for event in events if event["EventType"] == "CallbackSucceeded")
    assert "Payload" not in answered["CallbackSucceededDetails"]["Result"]


POLLING = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision


def keep_polling(state, attempts):
    if state < 3:
        return WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))
    return WaitForConditionDecision.stop_polling()


@durable_execution
def handler(event, context: DurableContext):
    config = WaitForConditionConfig(wait_strategy=keep_polling, initial_state=0)
    return context.wait_for_condition(lambda state, _: state + 1, config=config, name="poll")
"""


def test_wait_for_condition_polls_until_its_check_says_stop_each_poll_recorded_as_its_state(
    flare: FlareServer, lam: Any
) -> None:
    name = durable_function(flare, lam, "polling", POLLING)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == 3
    events = lam.get_durable_execution_history(DurableExecutionArn=answer["DurableExecutionArn"])["Events"]
    polls = [
        (event["EventType"], event["StepSucceededDetails"]["Result"]["Payload"])
        for event in events
        if event["EventType"].startswith("Step") and event["EventType"] != "StepStarted"
    ]
    assert polls == [("StepSucceeded", "1"), ("StepSucceeded", "2"), ("StepSucceeded", "3")]


SEES_WHAT_CHANGED = """
import json

import boto3


def handler(event, context):
    if not any(operation["Type"] == "WAIT" for operation in event["InitialExecutionState"]["Operations"]):
        boto3.client("lambda").checkpoint_durable_execution(
            DurableExecutionArn=event["DurableExecutionArn"], CheckpointToken=event["CheckpointToken"],
            Updates=[{"Id": "pause", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}}],
        )
        return {"Status": "PENDING"}
    return {"Status": "SUCCEEDED", "Result": json.dumps(event["UpdatedOperationIds"])}
"""


def test_an_invocation_is_told_which_operations_changed_while_its_execution_was_suspended(
    flare: FlareServer, lam: Any
) -> None:
    name = durable_function(flare, lam, "updated-ids", SEES_WHAT_CHANGED)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == ["pause"]


def flare_cli(server: FlareServer, *args: str) -> str:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [str(FLARE), "durable", *args, "--endpoint-url", server.url], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_flare_durable_lists_shows_tells_the_history_of_pauses_resumes_stops_and_deletes_an_execution(
    flare: FlareServer, lam: Any
) -> None:
    name = durable_function(flare, lam, "cli", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    header, row = flare_cli(flare, "ls", name).splitlines()
    assert header.split()[:2] == ["NAME", "STATUS"] and row.split()[1] == "RUNNING" and row.endswith(arn)
    lines = flare_cli(flare, "history", arn).splitlines()
    assert "ExecutionStarted" in lines[0] and any(
        "WaitStarted" in line and "a-month" in line for line in lines
    )
    assert flare_cli(flare, "pause", arn, "--reason", "look first").strip() == "PAUSED"
    assert flare_cli(flare, "ls", name, "--status", "PAUSED").splitlines()[1].endswith(arn)
    assert flare_cli(flare, "resume", arn).strip() == "RUNNING"
    assert flare_cli(flare, "stop", arn, "--message", "bye").startswith("stopped at ")
    shown = json.loads(flare_cli(flare, "show", arn))
    assert (shown["Status"], shown["Error"]["ErrorMessage"]) == ("STOPPED", "bye")
    assert flare_cli(flare, "ls", name, "--status", "RUNNING").splitlines()[1:] == []
    assert flare_cli(flare, "rm", arn).strip() == "deleted"
    assert flare_cli(flare, "ls", name).splitlines()[1:] == []


def test_the_sdks_own_cloud_test_runner_runs_a_durable_function_on_flare(
    flare: FlareServer, lam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS's testing package (aws-durable-execution-sdk-python-testing) drives a deployed
    function through the Lambda API and rebuilds its operations from the execution's history:
    Flare as its backend."""
    from aws_durable_execution_sdk_python.lambda_service import InvocationStatus
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionCloudTestRunner

    for variable, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(variable, value)
    name = durable_function(flare, lam, "cloud-runner", TWO_STEPS)
    runner = DurableFunctionCloudTestRunner(
        function_name=name, region="us-east-1", lambda_endpoint=flare.url, poll_interval=0.1
    )
    # the runner JSON-encodes input (its docstring passes a dict), though annotated str
    result = runner.run(input={"n": 6}, timeout=30)  # type: ignore[arg-type]
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == {"first": 7, "second": 70}
    assert (result.get_step("add").result, result.get_step("times").result) == ("7", "70")


def test_the_cloud_test_runner_finds_a_callback_and_sends_its_answer(
    timed: FlareServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionCloudTestRunner

    for variable, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(variable, value)
    lam = timed.client()
    name = durable_function(timed, lam, "cloud-callback", APPROVAL, timeout=60 * 86400)
    runner = DurableFunctionCloudTestRunner(
        function_name=name, region="us-east-1", lambda_endpoint=timed.url, poll_interval=0.1
    )
    arn = runner.run_async(input={}, timeout=30)  # type: ignore[arg-type]  # JSON-encoded, as above
    suspended(lam, arn)
    advance(timed, 30 * 86400)
    runner.send_callback_success(runner.wait_for_callback(arn, name="approval", timeout=30), b"ok")
    result = runner.wait_for_result(arn, timeout=30)
    assert json.loads(result.result or "null") == ["asked", "ok", "done"]
    assert result.get_callback("approval").result == "ok"
    assert result.get_wait("a-month").name == "a-month"


def test_durable_execution_cannot_be_enabled_on_an_existing_function(lam: Any) -> None:
    name = unique("not-durable")
    create_function(lam, name, python_function(PLAIN))
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    with pytest.raises(
        lam.exceptions.InvalidParameterValueException, match="only when a function is created"
    ):
        lam.update_function_configuration(FunctionName=name, DurableConfig={"ExecutionTimeout": 60})
    assert "DurableConfig" not in lam.get_function_configuration(FunctionName=name)


def test_an_execution_name_the_model_refuses_is_a_validation_error(flare: FlareServer, lam: Any) -> None:
    name = durable_function(flare, lam, "bad-name", TWO_STEPS)
    unchecked = boto3.client(
        "lambda",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    with pytest.raises(unchecked.exceptions.ClientError) as refused:
        unchecked.invoke(FunctionName=name, DurableExecutionName="no spaces/here", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"] == []


CALLER = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.exceptions import InvokeError


@durable_execution
def handler(event, context: DurableContext):
    plain = context.invoke(event["plain"], {"x": 21}, name="plain")
    child = context.invoke(event["child"], {"n": 2}, name="child")
    try:
        context.invoke(event["failing"], {}, name="failing")
        failed = None
    except InvokeError as error:
        failed = str(error)
    return {"plain": plain, "child": child, "failed": failed}
"""
DOUBLE = "def handler(event, context):\n    return {'got': event['x'] * 2}\n"
FAILING = "def handler(event, context):\n    raise ValueError('no such order')\n"


def children_arns(lam: Any, function: str) -> list[str]:
    listed = lam.list_durable_executions_by_function(FunctionName=function)["DurableExecutions"]
    return [str(found["DurableExecutionArn"]) for found in listed]


def test_a_chained_invoke_runs_a_plain_function_and_a_durable_one_as_its_own_execution(
    flare: FlareServer, lam: Any
) -> None:
    plain, failing = unique("double"), unique("failing")
    create_function(lam, plain, python_function(DOUBLE))
    create_function(lam, failing, python_function(FAILING))
    child = durable_function(flare, lam, "child", TWO_STEPS)
    caller = durable_function(flare, lam, "caller", CALLER)
    event = {"plain": plain, "child": child, "failing": failing}
    answer = lam.invoke(FunctionName=caller, Payload=json.dumps(event).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    result = json.loads(answer["Payload"].read())
    assert (result["plain"], result["child"]) == ({"got": 42}, {"first": 3, "second": 30})
    assert "no such order" in result["failed"]
    children = lam.list_durable_executions_by_function(FunctionName=child)["DurableExecutions"]
    assert [found["Status"] for found in children] == ["SUCCEEDED"]
    kinds = history(lam, answer["DurableExecutionArn"])
    assert kinds.count("ChainedInvokeStarted") == 3 and kinds.count("ChainedInvokeSucceeded") == 2
    events = lam.get_durable_execution_history(DurableExecutionArn=answer["DurableExecutionArn"])["Events"]
    started = {
        event["Name"]: event["ChainedInvokeStartedDetails"]
        for event in events
        if event["EventType"] == "ChainedInvokeStarted"
    }
    assert started["child"]["DurableExecutionArn"] == children_arns(lam, child)[0]  # named at its START
    assert started["child"]["ExecutedVersion"] == started["plain"]["ExecutedVersion"] == "$LATEST"
    assert "DurableExecutionArn" not in started["plain"]
    assert kinds.count("ChainedInvokeFailed") == 1


def test_an_ended_execution_is_deleted_after_its_retention_period(timed: FlareServer) -> None:
    lam = timed.client()
    attach_policy(timed.url, ROLE, CHECKPOINTS, name="durable")
    name = unique("retained")
    create_function(
        lam, name, python_function(TWO_STEPS), runtime="python3.13",
        DurableConfig={"ExecutionTimeout": 3600, "RetentionPeriodInDays": 3},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    arn = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["DurableExecutionArn"]
    advance(timed, 2 * 86400)
    time.sleep(0.5)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED"
    advance(timed, 86400 + 3600)
    until(
        lambda: lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"] == [],
        "the execution to be deleted",
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_durable_execution_history(DurableExecutionArn=arn)
