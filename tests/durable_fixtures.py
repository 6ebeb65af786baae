"""What the durable-function tests share: a durable function whose role may checkpoint, a
server's clock moved ahead (the ``timed`` fixture, in conftest), and waits on an execution's history."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ROLE, FlareServer, create_function, python_function, zip_files
from tests.roles import attach_policy
from tests.signing import signed_urlopen

LIVE = ("RUNNING", "PAUSING", "PAUSED")


# Two steps around a 30-day wait: the shape most durable tests drive.
STEP_WAIT_STEP = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    before = context.step(lambda _: "asked", name="ask")
    context.wait(Duration.from_days(30), name="a-month")
    after = context.step(lambda _: "answered", name="answer")
    return [before, after]
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


CHECKPOINTS = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
        "Resource": "*",
    },
}


def durable_function(
    flare: FlareServer, lam: Any, prefix: str, source: str, timeout: int = 3600, runtime: str = "python3.13"
) -> str:
    """A durable function of ``source`` (Python's ``app.py``, or Node.js's ``index.js`` for a
    ``nodejs*`` runtime; its runtime provides the SDK, as Lambda's python3.13 and nodejs22.x do)
    whose role may checkpoint, as AWS's AWSLambdaBasicDurableExecutionRolePolicy allows. Its
    ended executions are kept 90 days: tests move the clock by weeks after one ends."""
    attach_policy(flare.url, ROLE, CHECKPOINTS, name="durable")
    name = unique(prefix)
    node = runtime.startswith("nodejs")
    code = zip_files({"index.js": source}) if node else python_function(source)
    create_function(
        lam, name, code, handler="index.handler" if node else "app.handler", runtime=runtime, Timeout=30,
        DurableConfig={"ExecutionTimeout": timeout, "RetentionPeriodInDays": 90},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def advance(server: FlareServer, seconds: float) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}/flare/v1/clock",
        data=json.dumps({"AdvanceSeconds": seconds}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with signed_urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"waited {timeout} s for {what}")


def history(lam: Any, arn: str) -> list[str]:
    """The kinds of ``arn``'s events, in order."""
    events = lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]
    return [event["EventType"] for event in events]


def suspended(lam: Any, arn: str, on: str = "WaitStarted", times: int = 1) -> None:
    """Wait until ``arn`` has ``times`` events ``on`` and its last invocation has ended (so an
    advance of the clock cannot cut an invocation in flight short)."""

    def settled() -> bool:
        kinds = history(lam, arn)
        return kinds.count(on) >= times and kinds[-1] == "InvocationCompleted"

    until(settled, f"{arn} to suspend on {on}")


def callback_of(lam: Any, arn: str) -> str:
    events = lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]
    started = [event for event in events if event["EventType"] == "CallbackStarted"]
    return str(started[-1]["CallbackStartedDetails"]["CallbackId"])


def ended(lam: Any, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = until(
        lambda: (
            (execution := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] not in LIVE
            and execution
        ),
        "the execution to end",
    )
    return found
