"""``AWS_LAMBDA_EXEC_WRAPPER``: a script that starts a Python function's runtime, as on Lambda.

The wrapper gets the runtime's command line as its arguments (the interpreter, then the runtime's
entry script last), may change the environment and the interpreter's options, and ``exec``s it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, launch, zip_files

WRAPPER = """#!/bin/bash
export WRAPPER_ARGS="$*"
export WRAPPED_BY=flare-test
interpreter="$1"
shift
exec "$interpreter" -X wrapped=yes "$@"
"""

APP = """
import os, sys

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    return {
        "args": os.environ.get("WRAPPER_ARGS"),
        "by": os.environ.get("WRAPPED_BY"),
        "xoption": sys._xoptions.get("wrapped"),
        "leaked": sorted(key for key in os.environ if key.startswith("_FLARE")),
        "task_root_on_path": "/var/task" in sys.path or os.environ["LAMBDA_TASK_ROOT"] in sys.path,
        "count": COUNT,
        "request_id": context.aws_request_id,
    }
"""


def invoke(lam: Any, name: str) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    return response, json.loads(response["Payload"].read())


def wrapped(wrapper_mode: int = 0o755) -> bytes:
    return zip_files({"app.py": APP, "wrapper.sh": WRAPPER}, {"app.py": 0o644, "wrapper.sh": wrapper_mode})


def check_wrapped_runtime(server: FlareServer, interpreter_prefix: str) -> None:
    lam = server.client()
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}
    if interpreter_prefix != "/var/lang/bin/":  # no sandbox: the task root is a host directory
        variables["AWS_LAMBDA_EXEC_WRAPPER"] = "./wrapper.sh"
    create_function(lam, "wrapped", wrapped(), Environment={"Variables": variables})
    response, first = invoke(lam, "wrapped")
    assert "FunctionError" not in response, first
    interpreter, entry = first["args"].split()
    assert interpreter.startswith(interpreter_prefix) and interpreter.endswith("python3.11")
    assert entry.endswith("/bootstrap.py")
    assert first["by"] == "flare-test" and first["xoption"] == "yes"
    assert first["leaked"] == [] and first["task_root_on_path"]
    _, second = invoke(lam, "wrapped")
    assert second["count"] == 2 and second["request_id"] != first["request_id"]

    create_function(lam, "unwrapped", wrapped())
    _, plain = invoke(lam, "unwrapped")
    assert plain["by"] is None and plain["xoption"] is None


def test_wrapper_starts_the_runtime_in_the_sandbox(flare: FlareServer) -> None:
    check_wrapped_runtime(flare, "/var/lang/bin/")


def test_wrapper_starts_the_runtime_without_a_sandbox(tmp_path: Path) -> None:
    server = launch(tmp_path, "--no-sandbox")
    try:
        check_wrapped_runtime(server, "/")
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("name", "path", "mode", "status", "message"),
    [
        ("missing", "/opt/nowhere.sh", 0o755, 127, "/opt/nowhere.sh: does not exist"),
        ("not-executable", "/var/task/wrapper.sh", 0o644, 126, "/var/task/wrapper.sh: is not an executable"),
    ],
)
def test_a_wrapper_that_cannot_run_fails_init_as_lambdas_bootstrap_does(
    flare: FlareServer, name: str, path: str, mode: int, status: int, message: str
) -> None:
    lam = flare.client()
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": path}
    create_function(lam, name, wrapped(mode), Environment={"Variables": variables})
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert f"exit status {status}" in body["errorMessage"]
    events = flare.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert message in [event["message"].rstrip("\n") for event in events]
