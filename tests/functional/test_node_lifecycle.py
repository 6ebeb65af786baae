"""Node.js environments live as Python's do: timeout, out of memory, SHUTDOWN, and response
streaming with ``awslambda.streamifyResponse`` through boto3 against ``flare serve``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import children_of, launch
from tests.functional.test_node_runtime import invoke, node_function, request_id
from tests.functional.test_response_streaming import chunks, complete, stream
from tests.functional.test_server_lifecycle import messages, wait_for


def test_a_handler_past_its_timeout_is_stopped_and_the_next_invoke_gets_a_new_environment(lam: Any) -> None:
    source = """
exports.handler = async (event, context) => {
  if (event.sleep) await new Promise((resolve) => setTimeout(resolve, 5000));
  return context.logStreamName;
};
"""
    name = node_function(lam, {"index.js": source}, Timeout=1)
    _, before, _ = invoke(lam, name)
    started = time.monotonic()
    response, body, log = invoke(lam, name, {"sleep": True})
    assert time.monotonic() - started < 3
    assert body["errorType"] == "Sandbox.Timedout"
    assert (
        body["errorMessage"] == f"RequestId: {request_id(response)} Error: Task timed out after 1.00 seconds"
    )
    assert "Task timed out after 1.00 seconds" in log
    _, after, _ = invoke(lam, name)
    assert after != before


def test_out_of_memory_kills_the_invocation_with_aws_error(lam: Any) -> None:
    source = """
const hoard = [];
exports.handler = async () => {
  for (;;) hoard.push(Buffer.alloc(16 * 1024 * 1024, 1));
};
"""
    name = node_function(lam, {"index.js": source}, MemorySize=128)
    response, body, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in body["errorMessage"]


SHUTDOWN_AWARE = """
process.on('SIGTERM', () => {
  console.log('SIGTERM received');
  process.exit(0);
});
exports.handler = async (event, context) => context.logStreamName;
"""


def test_an_idle_node_environment_is_shut_down_with_sigterm(tmp_path: Path) -> None:
    server = launch(tmp_path, "--idle-timeout", "1")
    try:
        lam = server.client()
        name = node_function(lam, {"index.js": SHUTDOWN_AWARE})
        _, first, _ = invoke(lam, name)
        environments = children_of(server.process.pid)
        assert wait_for(
            lambda: any(m.endswith("\tINFO\tSIGTERM received") for m in messages(server.url, name)), 15
        )
        # its processes end (a spare started after the cold start may be running beside them)
        assert wait_for(lambda: not set(environments) <= set(children_of(server.process.pid)))
        _, second, _ = invoke(lam, name)
        assert second != first
    finally:
        server.stop()


STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.http) {
    const prelude = { statusCode: 201, headers: { 'x-kind': 'node' } };
    responseStream = awslambda.HttpResponseStream.from(responseStream, prelude);
  }
  for (const piece of event.pieces) {
    responseStream.write(piece);
    await new Promise((resolve) => setTimeout(resolve, event.pause || 0));
  }
  if (event.fail) throw new RangeError('broke mid-stream');
  responseStream.end();
});
"""


def test_a_streaming_handler_streams_its_pieces_as_they_are_written(lam: Any) -> None:
    name = node_function(lam, {"index.js": STREAMING})
    response, events = stream(lam, name, {"pieces": ["first ", "second ", "third"], "pause": 500})
    assert response["StatusCode"] == 200
    assert b"".join(chunks(events)) == b"first second third"
    assert complete(events) == {}
    assert events[-1][0] - events[0][0] > 0.8, events  # the first piece came ~1 s before the end


def test_an_http_response_stream_starts_with_its_prelude_and_eight_nul_bytes(lam: Any) -> None:
    name = node_function(lam, {"index.js": STREAMING})
    _, events = stream(lam, name, {"pieces": ["body"], "http": True})
    data = b"".join(chunks(events))
    prelude, _, body = data.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-kind": "node"}}
    assert body == b"body"


def test_an_error_mid_stream_ends_it_with_the_errors_type_and_details(lam: Any) -> None:
    name = node_function(lam, {"index.js": STREAMING})
    _, events = stream(lam, name, {"pieces": ["partial"], "fail": True})
    assert b"".join(chunks(events)) == b"partial"
    ended = complete(events)
    assert ended["ErrorCode"] == "RangeError"
    details = json.loads(ended["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("RangeError", "broke mid-stream")


def test_a_cold_start_after_an_update_takes_the_environment_the_update_started_ahead(lam: Any) -> None:
    source = "exports.handler = async (event, context) => ({ uptime: process.uptime(), at: Date.now() });\n"
    name = node_function(lam, {"index.js": source}, MemorySize=128)
    invoke(lam, name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"BUMP": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    time.sleep(1.5)
    _, body, log = invoke(lam, name)
    assert "Init Duration" in log  # a cold start ...
    assert body["uptime"] >= 1.2  # ... by a node that was started when the update was made


def test_a_spare_is_not_taken_once_its_function_changed(lam: Any) -> None:
    source = "exports.handler = async () => process.env.COLOUR;\n"
    name = node_function(lam, {"index.js": source}, MemorySize=128)
    invoke(lam, name)
    for colour in ("red", "blue"):
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOUR": colour}})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        time.sleep(0.5)
    assert invoke(lam, name)[1] == "blue"


LATE_BOUND_PROBE = """
const fs = require('fs');
const { LambdaClient, GetFunctionConfigurationCommand } = require('@aws-sdk/client-lambda');
exports.handler = async (event, context) => {
  let write;
  try {
    fs.writeFileSync('/var/task/scribble', 'x');
    write = 'written';
  } catch (error) {
    write = error.code;
  }
  const lambda = new LambdaClient({});
  const caller = await lambda
    .send(new GetFunctionConfigurationCommand({ FunctionName: context.functionName }))
    .then(() => 'allowed', (error) => error.message); // the test role may not: who was refused?
  console.log('probe line');
  return {
    uptime: process.uptime(),
    cwd: process.cwd(),
    files: fs.readdirSync('.').sort(),
    colour: process.env.COLOUR,
    name: process.env.AWS_LAMBDA_FUNCTION_NAME,
    handler: process.env._HANDLER,
    stream: process.env.AWS_LAMBDA_LOG_STREAM_NAME === context.logStreamName,
    write,
    caller,
  };
};
"""


def test_a_new_function_takes_a_node_started_before_it_existed_and_runs_as_itself(lam: Any) -> None:
    # nodejs20.x at 160 MB: a key of its own among late-bound spares, which the first function's
    # creation starts; the second function, created later, takes that node
    node_function(lam, {"index.js": "exports.handler = async () => 1;\n"}, MemorySize=160)
    time.sleep(1.5)
    files = {"index.js": LATE_BOUND_PROBE, "data.txt": "d"}
    name = node_function(lam, files, MemorySize=160, Environment={"Variables": {"COLOUR": "teal"}})
    response, body, log = invoke(lam, name)
    assert "Init Duration" in log and "FunctionError" not in response, body
    assert body["uptime"] >= 1.2  # started before this function was created
    assert body["cwd"] == "/var/task" and body["files"] == ["data.txt", "index.js"]
    assert (body["colour"], body["name"], body["handler"]) == ("teal", name, "index.handler")
    assert body["stream"] and body["write"] == "EROFS"
    assert f"assumed-role/flare-test/{name} is not authorized" in body["caller"]  # its own credentials
    assert f"{request_id(response)}\tINFO\tprobe line" in log
