"""Durable executions (issue 17), what an operator does to them: Pause/ResumeDurableExecution
(with their ClientToken and the execution's timeout), DeleteDurableExecution, and what Flare keeps
across a restart (invocation errors in a row); and the checkpoint's ClientToken and size limits,
driven from a handler that calls CheckpointDurableExecution itself."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from tests.conftest import FlareServer, launch, start_process, wait_ready
from tests.durable_fixtures import STEP_WAIT_STEP, advance, durable_function, ended, history, suspended, until


def status(lam: Any, arn: str) -> str:
    return str(lam.get_durable_execution(DurableExecutionArn=arn)["Status"])


def test_a_paused_execution_is_not_invoked_when_its_wait_ends_and_resuming_invokes_it(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "paused", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="downstream is down")
    paused = lam.get_durable_execution(DurableExecutionArn=arn)
    assert paused["Status"] == "PAUSED"
    assert paused["PauseDetails"]["Reason"] == "downstream is down"
    assert paused["PauseDetails"]["ExecutionTimeoutPaused"] is True
    lifetime = paused["ExpectedExecutionTimeoutTimestamp"] - paused["StartTimestamp"]
    assert lifetime.total_seconds() == pytest.approx(366 * 86400, abs=5)
    invocations = history(lam, arn).count("InvocationCompleted")

    advance(timed, 31 * 86400)
    until(lambda: "WaitSucceeded" in history(lam, arn), "the wait to end while paused")
    time.sleep(1)
    assert status(lam, arn) == "PAUSED"
    assert history(lam, arn).count("InvocationCompleted") == invocations

    lam.resume_durable_execution(DurableExecutionArn=arn, Reason="it is back")
    done = ended(lam, arn)
    assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", ["asked", "answered"])
    kinds = history(lam, arn)
    assert kinds.index("ExecutionPaused") < kinds.index("WaitSucceeded") < kinds.index("ExecutionResumed")
    assert "PauseDetails" not in done


def test_a_pause_holds_the_executions_timeout_unless_asked_not_to(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "pause-timeout", STEP_WAIT_STEP, timeout=2 * 86400)
    held = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    running = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, held)
    suspended(lam, running)
    lam.pause_durable_execution(DurableExecutionArn=held)
    lam.pause_durable_execution(DurableExecutionArn=running, ExecutionTimeoutPaused=False)
    assert (
        lam.get_durable_execution(DurableExecutionArn=running)["PauseDetails"]["ExecutionTimeoutPaused"]
        is False
    )

    advance(timed, 3 * 86400)
    until(lambda: status(lam, running) == "TIMED_OUT", "the execution whose timeout ran on to time out")
    assert status(lam, held) == "PAUSED"
    lam.resume_durable_execution(DurableExecutionArn=held)
    resumed = lam.get_durable_execution(DurableExecutionArn=held)
    assert resumed["Status"] == "RUNNING"
    lifetime = resumed["ExpectedExecutionTimeoutTimestamp"] - resumed["StartTimestamp"]
    assert lifetime.total_seconds() == pytest.approx(5 * 86400, abs=60)  # 2 days + 3 paused


def test_pause_and_resume_refuse_an_execution_in_the_wrong_status_and_a_client_token_repeats_once(
    timed: FlareServer,
) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "pause-rules", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.resume_durable_execution(DurableExecutionArn=arn)
    lam.pause_durable_execution(DurableExecutionArn=arn, ClientToken="pause-1")
    lam.pause_durable_execution(DurableExecutionArn=arn, ClientToken="pause-1")  # a retry: no error
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.pause_durable_execution(DurableExecutionArn=arn)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.pause_durable_execution(DurableExecutionArn=arn, ClientToken="pause-1", Reason="another")
    assert history(lam, arn).count("ExecutionPaused") == 1
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_durable_execution(DurableExecutionArn=arn)

    lam.stop_durable_execution(DurableExecutionArn=arn)
    assert status(lam, arn) == "STOPPED"
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.pause_durable_execution(DurableExecutionArn=arn)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.pause_durable_execution(DurableExecutionArn=arn.rsplit("/", 1)[0] + "/no-such-invocation")


def test_an_ended_execution_is_deleted_with_its_history(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(timed, lam, "deleted", STEP_WAIT_STEP, timeout=40 * 86400)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    suspended(lam, arn)
    lam.stop_durable_execution(DurableExecutionArn=arn)
    deleted = lam.delete_durable_execution(DurableExecutionArn=arn)
    assert "DeletionRequestTimestamp" in deleted
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_durable_execution_history(DurableExecutionArn=arn)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_durable_execution(DurableExecutionArn=arn)
    assert lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"] == []


SLOW_FIRST_STEP = """
import time

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig, StepSemantics


def slow(_):
    time.sleep(3)
    return "slow"


@durable_execution
def handler(event, context: DurableContext):
    once = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)  # its START is sent first
    first = context.step(slow, name="slow", config=once)
    second = context.step(lambda _: "second", name="second")
    return [first, second]
"""


def test_a_pause_during_an_invocation_takes_effect_at_its_next_checkpoint(flare: FlareServer) -> None:
    lam = flare.client()
    name = durable_function(flare, lam, "pausing", SLOW_FIRST_STEP)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    until(lambda: "StepStarted" in history(lam, arn), "the slow step to start")
    lam.pause_durable_execution(DurableExecutionArn=arn)
    assert status(lam, arn) == "PAUSING"
    until(lambda: status(lam, arn) == "PAUSED", "the execution to pause at its next checkpoint")
    until(lambda: history(lam, arn)[-1] == "InvocationCompleted", "the invocation to end")
    time.sleep(0.5)
    kinds = history(lam, arn)
    assert kinds.count("StepSucceeded") == 1  # the slow step's result is kept; the second never ran
    assert status(lam, arn) == "PAUSED"
    lam.resume_durable_execution(DurableExecutionArn=arn)
    done = ended(lam, arn)
    assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", ["slow", "second"])
    assert history(lam, arn).count("StepSucceeded") == 2


ALWAYS_CRASHES = """
import os

from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    os._exit(1)
"""


def test_invocation_errors_in_a_row_are_counted_across_a_restart_of_the_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = launch(tmp_path_factory.mktemp("flare-durable-failures"), "--test-clock")
    try:
        lam = server.client()
        name = durable_function(server, lam, "crashes", ALWAYS_CRASHES)
        arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
        until(lambda: history(lam, arn).count("InvocationCompleted") == 1, "the first invocation error")
        advance(server, 5)
        until(lambda: history(lam, arn).count("InvocationCompleted") == 2, "the second invocation error")
        server.stop(signal.SIGKILL)
        server.process = start_process(server.args)
        wait_ready(server.process, server.url)
        lam = server.client()
        for _ in range(5):
            advance(server, 5)
            time.sleep(0.5)
        done = ended(lam, arn)
        assert done["Status"] == "FAILED"
        assert history(lam, arn).count("InvocationCompleted") == 5  # not 2 + 5
    finally:
        server.stop()


RAW_CHECKPOINTS = """
import json

import boto3
from botocore.config import Config

MB = 1048576


def handler(event, context):
    lam = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
    execution_id = arn.rsplit("/", 1)[-1]

    def checkpoint(updates, token, **more):
        return lam.checkpoint_durable_execution(
            DurableExecutionArn=arn, CheckpointToken=token, Updates=updates, **more
        )

    def outcome(updates, token):
        try:
            return checkpoint(updates, token)["CheckpointToken"]
        except lam.exceptions.InvalidParameterValueException as refused:
            return "refused: " + str(refused)

    seen = {}
    start = [{"Id": "one", "Type": "STEP", "Action": "START", "Name": "one"}]
    first = checkpoint(start, token, ClientToken="retry-1")
    again = checkpoint(start, token, ClientToken="retry-1")
    seen["replayed"] = first["CheckpointToken"] == again["CheckpointToken"]
    seen["spent"] = outcome(start, token).startswith("refused")
    token = first["CheckpointToken"]
    big_step = [{"Id": "one", "Type": "STEP", "Action": "SUCCEED", "Payload": json.dumps("x" * MB)}]
    seen["big_step"] = outcome(big_step, token)
    big_error = [{"Id": "one", "Type": "STEP", "Action": "FAIL", "Error": {"ErrorMessage": "e" * (MB + 1)}}]
    seen["big_error"] = outcome(big_error, token)
    small = [{"Id": "one", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"}]
    token = checkpoint(small, token)["CheckpointToken"]
    result = json.dumps({"seen": seen, "padding": "y" * (2 * MB)})
    ending = [{"Id": execution_id, "Type": "EXECUTION", "Action": "SUCCEED", "Payload": result}]
    seen["big_execution"] = outcome(ending, token)
    if seen["big_execution"].startswith("refused"):
        return {"Status": "SUCCEEDED", "Result": json.dumps({"seen": seen})}
    return {"Status": "SUCCEEDED", "Result": ""}
"""


def test_a_checkpoint_retried_with_its_client_token_is_answered_again_and_payloads_have_awss_limits(
    flare: FlareServer,
) -> None:
    lam = flare.client()
    name = durable_function(flare, lam, "raw-checkpoints", RAW_CHECKPOINTS)
    synchronous = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in synchronous
    result = json.loads(synchronous["Payload"].read())
    assert len(result["padding"]) == 2 * 1048576  # a synchronous execution's output may be 6 MB
    seen = result["seen"]
    assert (seen["replayed"], seen["spent"]) == (True, True)
    assert seen["big_step"].startswith("refused") and "1048576 bytes" in seen["big_step"]
    assert seen["big_error"].startswith("refused") and "Error object" in seen["big_error"]

    event = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]
    done = ended(lam, event)
    assert done["Status"] == "SUCCEEDED", done.get("Error")
    assert json.loads(done["Result"])["seen"]["big_execution"].startswith(
        "refused"
    )  # 1 MB from an Event invoke
