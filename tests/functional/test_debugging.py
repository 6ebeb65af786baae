"""Debugging a Python function (``FLARE_DEBUG``): an editor's DAP client attaches to debugpy in
the environment, stops at a breakpoint in the handler, reads a local and continues; the
invocation then answers as usual. Functions without ``FLARE_DEBUG`` cannot even import debugpy."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flare.sandbox.debug_ports import debugpy_dir
from tests.cdp import locals_at_breakpoint
from tests.conftest import FLARE, FlareServer, create_function, free_port, launch, python_function, zip_files
from tests.dap import DapClient

pytestmark = pytest.mark.skipif(debugpy_dir() is None, reason="debugpy is not installed (make install)")

HANDLER = """\
import os
loaded_at_import = "module"
def handler(event, context):
    doubled = event["n"] * 2
    note = "after the breakpoint"
    return {"doubled": doubled, "remaining_ms": context.get_remaining_time_in_millis()}
"""
BREAK_LINE = 5  # ``note = ...``: ``doubled`` is set by then


@pytest.fixture(scope="module")
def flare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    server = launch(tmp_path_factory.mktemp("flare"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(flare: FlareServer) -> Any:
    return flare.client(read_timeout=120)


class Invocation(threading.Thread):
    """An invoke on a thread of its own: it waits while the debugger holds the handler."""

    def __init__(self, client: Any, name: str, event: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.client, self.name, self.event = client, name, event
        self.response: dict[str, Any] | None = None

    def run(self) -> None:
        self.response = self.client.invoke(FunctionName=self.name, Payload=json.dumps(self.event))

    def answer(self, within_s: float = 60) -> tuple[dict[str, Any], dict[str, Any]]:
        self.join(within_s)
        assert self.response is not None, "the invocation did not return"
        return self.response, json.loads(self.response["Payload"].read())


def debugged(lam: Any, name: str, port: int, timeout: int = 3, wait: str = "30") -> None:
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(port), "FLARE_DEBUG_WAIT": wait}
    create_function(
        lam, name, python_function(HANDLER), Timeout=timeout, Environment={"Variables": variables}
    )


def test_a_breakpoint_stops_the_handler_in_its_sandbox_and_shows_its_locals(lam: Any) -> None:
    port = free_port()
    debugged(lam, "debugged", port)
    invocation = Invocation(lam, "debugged", {"n": 21})
    invocation.start()
    dap = DapClient(port)
    try:
        dap.attach({"/var/task/app.py": [BREAK_LINE]})
        thread, frame, local = dap.locals_when_stopped()
        assert (frame["source"]["path"], frame["line"]) == ("/var/task/app.py", BREAK_LINE)
        assert local["doubled"] == "42"
        assert invocation.response is None  # held at the breakpoint
        dap.request("continue", threadId=thread)
        response, answer = invocation.answer()
    finally:
        dap.close()
    assert "FunctionError" not in response
    assert answer["doubled"] == 42


def test_an_editor_stays_attached_across_invocations_and_can_detach_and_attach_again(lam: Any) -> None:
    """A debugged environment is reused and never frozen: the same session stops in the next
    invocation too, and after a detach a new session attaches to the same environment."""
    port = free_port()
    debugged(lam, "reattached", port)
    first = Invocation(lam, "reattached", {"n": 1})
    first.start()
    dap = DapClient(port)
    seen = []
    try:
        dap.attach({"/var/task/app.py": [BREAK_LINE]})
        for n, session in ((1, "first"), (2, "first"), (3, "second")):
            invocation = first if n == 1 else Invocation(lam, "reattached", {"n": n})
            if n == 3:  # detach, then attach again before the invocation
                dap.request("disconnect", terminateDebuggee=False)
                dap.close()
                dap = DapClient(port)
                dap.attach({"/var/task/app.py": [BREAK_LINE]})
            if n > 1:
                invocation.start()
            thread, _, local = dap.locals_when_stopped()
            dap.request("continue", threadId=thread)
            seen.append((session, local["doubled"], invocation.answer()[1]["doubled"]))
    finally:
        dap.close()
    assert seen == [("first", "2", 2), ("first", "4", 4), ("second", "6", 6)]


def test_the_timeout_is_raised_while_debugging(lam: Any) -> None:
    """Held at a breakpoint past the function's 1 s timeout, the invocation still answers (and
    its context shows the debug timeout of 900 s, as AWS's remote debugging sets)."""
    port = free_port()
    debugged(lam, "held", port, timeout=1)
    invocation = Invocation(lam, "held", {"n": 1})
    invocation.start()
    dap = DapClient(port)
    try:
        dap.attach({"/var/task/app.py": [BREAK_LINE]})
        thread, _, _ = dap.locals_when_stopped()
        time.sleep(1.5)
        dap.request("continue", threadId=thread)
        response, answer = invocation.answer()
    finally:
        dap.close()
    assert "FunctionError" not in response, answer
    assert 800_000 < answer["remaining_ms"] <= 900_000


def test_init_waits_for_a_debugger_only_as_long_as_told(flare: FlareServer, lam: Any) -> None:
    debugged(lam, "unattended", free_port(), wait="1")
    began = time.monotonic()
    response = lam.invoke(FunctionName="unattended", Payload=b'{"n": 2}')
    took = time.monotonic() - began
    assert json.loads(response["Payload"].read())["doubled"] == 4
    assert 1.0 <= took < 10
    events = flare.client("logs").filter_log_events(logGroupName="/aws/lambda/unattended")["events"]
    lines = [event["message"] for event in events]
    assert any("flare: debugpy listening on 127.0.0.1:" in line for line in lines), lines
    assert any("no debugger attached" in line for line in lines), lines


IMPORTS_DEBUGPY = """\
import os
def handler(event, context):
    try:
        import debugpy
        return {"imported": debugpy.__file__}
    except ImportError as error:
        return {"error": str(error), "mounted": os.path.exists("/var/debug")}
"""


def test_a_function_without_flare_debug_cannot_import_debugpy(lam: Any) -> None:
    create_function(lam, "plain", python_function(IMPORTS_DEBUGPY))
    answer = json.loads(lam.invoke(FunctionName="plain")["Payload"].read())
    assert "imported" not in answer, answer
    if os.geteuid() == 0:
        assert answer["mounted"] is False


def test_a_debugged_function_can_import_debugpy(lam: Any) -> None:
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(free_port()), "FLARE_DEBUG_WAIT": "0"}
    create_function(lam, "can", python_function(IMPORTS_DEBUGPY), Environment={"Variables": variables})
    answer = json.loads(lam.invoke(FunctionName="can")["Payload"].read())
    assert "imported" in answer, answer


def test_a_bad_debug_port_is_refused_as_aws_refuses_bad_variables(lam: Any) -> None:
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": "80"}
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="FLARE_DEBUG_PORT"):
        create_function(lam, "badport", python_function(HANDLER), Environment={"Variables": variables})


def test_flare_invoke_debug_runs_one_invocation_under_the_debugger(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    """``flare invoke --debug``: turns FLARE_DEBUG on, writes the attach configuration (port,
    ``/var/task`` mapped to the local directory), stops at the breakpoint, answers, and puts
    the function's variables back as they were."""
    create_function(lam, "cli-debugged", python_function(HANDLER), Environment={"Variables": {"KEEP": "me"}})
    port, launch_json, code = free_port(), tmp_path / ".vscode" / "launch.json", tmp_path / "code"
    code.mkdir()
    command = [str(FLARE), "invoke", "cli-debugged", "--payload", '{"n": 5}', "--debug", "--port", str(port),
               "--local-root", str(code), "--launch-json", str(launch_json),
               "--endpoint-url", flare.url]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        dap = DapClient(port)
        dap.attach({"/var/task/app.py": [BREAK_LINE]})
        thread, _, local = dap.locals_when_stopped()
        assert local["doubled"] == "10"
        dap.request("continue", threadId=thread)
        out, err = process.communicate(timeout=60)
        dap.close()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert json.loads(out)["doubled"] == 10
    assert f"127.0.0.1:{port}" in err and f"/var/task -> {code}" in err
    config = json.loads(launch_json.read_text())["configurations"][0]
    assert config["connect"] == {"host": "127.0.0.1", "port": port}
    assert config["pathMappings"] == [{"localRoot": str(code), "remoteRoot": "/var/task"}]
    variables = lam.get_function_configuration(FunctionName="cli-debugged")["Environment"]["Variables"]
    assert variables == {"KEEP": "me"}


def test_a_breakpoint_stops_a_handler_in_an_isolated_network_through_the_forwarded_port(lam: Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("isolated networks need the sandbox (root)")
    port = free_port()
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(port)}
    create_function(
        lam, "isolated-debugged", python_function(HANDLER), Environment={"Variables": variables},
        Tags={"flare:network": "isolated"},
    )  # fmt: skip
    invocation = Invocation(lam, "isolated-debugged", {"n": 4})
    invocation.start()
    dap = DapClient(port)
    try:
        dap.attach({"/var/task/app.py": [BREAK_LINE]})
        thread, _, local = dap.locals_when_stopped()
        assert local["doubled"] == "8"
        dap.request("continue", threadId=thread)
        _, answer = invocation.answer()
    finally:
        dap.close()
    assert answer["doubled"] == 8


TURNS_DEBUGGING_ON = """\
import boto3, botocore
def handler(event, context):
    lam = boto3.client("lambda", config=botocore.config.Config(retries={"total_max_attempts": 1}))
    try:
        lam.update_function_configuration(
            FunctionName=event["target"], Environment={"Variables": {"FLARE_DEBUG": "1"}}
        )
        return {"ok": True}
    except botocore.exceptions.ClientError as error:
        fault = error.response["Error"]
        return {"ok": False, "code": fault["Code"], "message": fault["Message"]}
"""


def test_only_an_identity_allowed_update_function_configuration_turns_debugging_on(
    flare: FlareServer, lam: Any
) -> None:
    """FLARE_DEBUG is a configuration setting: IAM's UpdateFunctionConfiguration decides who
    sets it. A function's own calls (its role: the default policy) are refused it, until a
    policy of its role allows that action."""
    role = "arn:aws:iam::000000000000:role/debug-caller"
    create_function(lam, "debug-target", python_function(HANDLER))
    create_function(lam, "debug-caller", python_function(TURNS_DEBUGGING_ON), Role=role, Timeout=30)

    def turn_on() -> dict[str, Any]:
        answer = lam.invoke(FunctionName="debug-caller", Payload=json.dumps({"target": "debug-target"}))
        result: dict[str, Any] = json.loads(answer["Payload"].read())
        return result

    refused = turn_on()
    assert refused["code"] == "AccessDeniedException", refused
    assert "lambda:UpdateFunctionConfiguration" in refused["message"]
    assert "Environment" not in lam.get_function_configuration(FunctionName="debug-target")
    allowed = {
        "Statement": {"Effect": "Allow", "Action": "lambda:UpdateFunctionConfiguration", "Resource": "*"}
    }
    put = subprocess.run(
        [str(FLARE), "roles", "put", role, "-", "--endpoint-url", flare.url],
        input=json.dumps(allowed), capture_output=True, text=True, timeout=30,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert turn_on() == {"ok": True}
    variables = lam.get_function_configuration(FunctionName="debug-target")["Environment"]["Variables"]
    assert variables == {"FLARE_DEBUG": "1"}


def test_without_a_sandbox_an_editor_still_maps_its_directory_to_var_task(tmp_path: Path) -> None:
    """With ``--no-sandbox`` the code runs from its host path; breakpoints set on ``/var/task``
    (what the attach configuration maps) still stop there, and frames say ``/var/task``."""
    server = launch(tmp_path, "--no-sandbox")
    try:
        client = server.client(read_timeout=120)
        port = free_port()
        debugged(client, "unsandboxed", port)
        invocation = Invocation(client, "unsandboxed", {"n": 3})
        invocation.start()
        dap = DapClient(port)
        try:
            dap.attach({"/var/task/app.py": [BREAK_LINE]})
            thread, frame, local = dap.locals_when_stopped()
            assert (frame["source"]["path"], local["doubled"]) == ("/var/task/app.py", "6")
            dap.request("continue", threadId=thread)
            _, answer = invocation.answer()
        finally:
            dap.close()
        assert answer["doubled"] == 6
    finally:
        server.stop()


def test_flare_invoke_debug_refuses_a_function_it_cannot_debug(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    create_function(lam, "not-python", python_function(HANDLER), runtime="provided.al2023", handler="x")
    launch_json = tmp_path / "launch.json"
    done = subprocess.run(
        [str(FLARE), "invoke", "not-python", "--debug", "--launch-json", str(launch_json),
         "--endpoint-url", flare.url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        "only Python, Node.js and Java functions can be debugged yet, and not-python runs provided.al2023"
        in (done.stderr)
    )
    assert "Environment" not in lam.get_function_configuration(FunctionName="not-python")
    assert not launch_json.exists()


NODE_HANDLER = """\
exports.handler = async (event) => {
  const doubled = event.n * 2;
  const note = 'after the breakpoint';
  return { doubled };
};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on this host")
def test_a_breakpoint_stops_a_node_handler_through_its_inspector(lam: Any) -> None:
    port = free_port()
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(port)}
    create_function(
        lam, "node-debugged", zip_files({"index.js": NODE_HANDLER}), handler="index.handler",
        runtime="nodejs20.x", Timeout=1, Environment={"Variables": variables},
    )  # fmt: skip
    invocation = Invocation(lam, "node-debugged", {"n": 8})
    invocation.start()
    local = asyncio.run(locals_at_breakpoint(port, "file:///var/task/index.js", 3))
    response, answer = invocation.answer()
    assert local["doubled"] == 16
    assert "FunctionError" not in response, answer
    assert answer == {"doubled": 16}


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on this host")
def test_a_node_init_waits_for_a_debugger_only_as_long_as_told(flare: FlareServer, lam: Any) -> None:
    variables = {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": str(free_port()), "FLARE_DEBUG_WAIT": "1"}
    create_function(
        lam, "node-unattended", zip_files({"index.js": NODE_HANDLER}), handler="index.handler",
        runtime="nodejs20.x", Environment={"Variables": variables},
    )  # fmt: skip
    began = time.monotonic()
    response = lam.invoke(FunctionName="node-unattended", Payload=b'{"n": 2}')
    took = time.monotonic() - began
    assert json.loads(response["Payload"].read()) == {"doubled": 4}
    assert 1.0 <= took < 10
    events = flare.client("logs").filter_log_events(logGroupName="/aws/lambda/node-unattended")["events"]
    lines = [event["message"] for event in events]
    assert any("flare: Node.js inspector listening on 127.0.0.1:" in line for line in lines), lines
    assert any("no debugger attached" in line for line in lines), lines
