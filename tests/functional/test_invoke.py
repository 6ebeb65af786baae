"""Invoke through boto3 against a real ``flare serve``: Flare's Python runtime, end to end."""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, python_function
from tests.roles import attach_policy
from tests.signing import signed_headers, signed_raw, signed_urlopen

HELLO = """
import os
def handler(event, context):
    print("got", event)
    return {"event": event, "env": context.log_stream_name}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def invoke(lam: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    body = json.dumps(payload if payload is not None else {}).encode()
    response = lam.invoke(FunctionName=name, Payload=body, **kwargs)
    raw = response["Payload"].read()
    return response, json.loads(raw) if raw else None


def log_of(response: dict[str, Any]) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def test_invoke_returns_handler_result_with_aws_headers(lam: Any) -> None:
    name = unique("hello")
    create_function(lam, name, python_function(HELLO))
    response, body = invoke(lam, name, {"n": 1}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"n": 1}
    log = log_of(response)
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert "got {'n': 1}" in log
    assert f"END RequestId: {request_id}" in log
    assert f"REPORT RequestId: {request_id}\tDuration: " in log
    assert "Init Duration: " in log


def test_warm_invoke_reuses_environment_without_init(lam: Any) -> None:
    name = unique("warm")
    create_function(lam, name, python_function(HELLO))
    _, first = invoke(lam, name)
    response, second = invoke(lam, name, LogType="Tail")
    assert first["env"] == second["env"]
    assert "Init Duration" not in log_of(response)


def test_eight_concurrent_invokes_get_eight_environments(lam: Any) -> None:
    name = unique("eight")
    source = (
        "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return context.log_stream_name\n"
    )
    create_function(lam, name, python_function(source))
    with ThreadPoolExecutor(8) as pool:
        streams = list(pool.map(lambda _: invoke(lam, name)[1], range(8)))
    assert len(set(streams)) == 8


def test_handler_exception_is_unhandled_function_error(lam: Any) -> None:
    name = unique("boom")
    create_function(
        lam, name, python_function("def handler(event, context):\n    raise ValueError('boom')\n")
    )
    response, body = invoke(lam, name, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert any("raise ValueError('boom')" in line for line in body["stackTrace"])
    assert "[ERROR] ValueError: boom" in log_of(response)


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "import not_a_module\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_a_module'",
        ),
        (
            {"app.py": "def handler(:\n"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app'",
        ),
        (
            {"app.py": "x = 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        ({"app.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
        ({"app.py": "raise RuntimeError('init failed')\n"}, "app.handler", "RuntimeError", "init failed"),
    ],
)
def test_init_and_handler_errors_use_aws_error_types(
    lam: Any, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    from tests.conftest import zip_files

    name = unique("initerr")
    create_function(lam, name, zip_files(dict(files)), handler=handler)
    response, body = invoke(lam, name, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert message in body["errorMessage"]
    # The engine survives and answers again the same way.
    _, again = invoke(lam, name)
    assert again["errorType"] == error_type


def test_timeout_gives_sandbox_timedout_and_fresh_environment(lam: Any) -> None:
    name = unique("slow")
    source = (
        "import os, time\n"
        "def handler(event, context):\n"
        "    if event.get('sleep'):\n"
        "        time.sleep(5)\n"
        "    return context.log_stream_name\n"
    )
    create_function(lam, name, python_function(source), Timeout=1)
    _, env_before = invoke(lam, name)
    started = time.monotonic()
    response, body = invoke(lam, name, {"sleep": True}, LogType="Tail")
    assert time.monotonic() - started < 3
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    request_id = response["ResponseMetadata"]["RequestId"]
    assert body["errorMessage"] == f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"
    assert "Task timed out after 1.00 seconds" in log_of(response)
    _, env_after = invoke(lam, name)
    assert env_after != env_before


def test_warm_invocation_times_out_a_full_timeout_after_its_own_start(lam: Any) -> None:
    """The environment's deadline timer serves its invocations one after the other: the second
    one, started while the first one's timer is still pending, still gets its whole second."""
    name = unique("rearm")
    source = (
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(event['sleep'])\n"
        "    return context.log_stream_name\n"
    )
    create_function(lam, name, python_function(source), Timeout=1)
    _, env_first = invoke(lam, name, {"sleep": 0.6})
    started = time.monotonic()
    response, body = invoke(lam, name, {"sleep": 3}, LogType="Tail")
    elapsed = time.monotonic() - started
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in log_of(response)
    assert 0.95 <= elapsed < 2.5
    _, env_after = invoke(lam, name, {"sleep": 0})
    assert env_after != env_first


def test_runtime_crash_gives_exit_error_and_engine_survives(lam: Any) -> None:
    name = unique("crash")
    source = "import os\ndef handler(event, context):\n    return os._exit(7) if event.get('die') else 1\n"
    create_function(lam, name, python_function(source))
    response, body = invoke(lam, name, {"die": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 7" in body["errorMessage"]
    _, ok = invoke(lam, name)
    assert ok == 1


def test_killed_runtime_reports_signal(lam: Any) -> None:
    name = unique("sigkill")
    source = "import os, signal\ndef handler(event, context):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    create_function(lam, name, python_function(source))
    _, body = invoke(lam, name)
    assert body["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in body["errorMessage"]


def test_context_object_and_reserved_environment(lam: Any) -> None:
    name = unique("ctx")
    source = """
import os
def handler(event, context):
    keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "_HANDLER",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "TZ", "AWS_EXECUTION_ENV", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "_X_AMZN_TRACE_ID", "MY_VAR"]
    cc = context.client_context
    return {
        "env": {k: os.environ.get(k) for k in keys},
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "custom": cc.custom if cc else None,
        "client_app": cc.client.app_title if cc and cc.client else None,
    }
"""
    create_function(
        lam,
        name,
        python_function(source),
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"MY_VAR": "v"}},
    )
    context = {"custom": {"k": "v"}, "client": {"app_title": "flare-test"}, "env": {}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    response, body = invoke(lam, name, ClientContext=encoded)
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["TZ"] == ":UTC"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["MY_VAR"] == "v"
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert (body["name"], body["version"], body["memory"]) == (name, "$LATEST", "256")
    assert body["group"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in body["stream"]
    assert 5000 < body["remaining"] <= 7000
    assert body["custom"] == {"k": "v"}
    assert body["client_app"] == "flare-test"


def test_handler_uses_boto3_against_flare_itself(flare: FlareServer, lam: Any) -> None:
    name = unique("sdk")
    role = f"arn:aws:iam::000000000000:role/{name}"
    read = {"Statement": {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}}
    attach_policy(flare.url, role, read)  # a role with no policy has no control-plane action
    source = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    client = boto3.client('lambda')\n"
        "    reply = client.get_function(FunctionName=context.function_name)\n"
        "    return reply['Configuration']['FunctionName']\n"
    )
    create_function(lam, name, python_function(source), Role=role, Timeout=30)
    response, body = invoke(lam, name)
    assert "FunctionError" not in response, body
    assert body == name


@pytest.mark.parametrize("minor", ["3.9", "3.10", "3.12", "3.13"])
def test_python_runtime_runs_on_matching_interpreter(lam: Any, minor: str) -> None:
    from flare.sandbox.launcher import find_interpreter

    if find_interpreter(minor) is None:
        pytest.skip(f"python{minor} is not installed on this host")
    name = unique("py" + minor.replace(".", ""))
    source = "import sys\ndef handler(event, context):\n    return '%d.%d' % sys.version_info[:2]\n"
    create_function(lam, name, python_function(source), runtime=f"python{minor}")
    _, body = invoke(lam, name)
    assert body == minor


def test_request_errors_have_aws_shape(lam: Any) -> None:
    name = unique("bad")
    create_function(lam, name, python_function(HELLO))
    with pytest.raises(ClientError) as invalid:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert invalid.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert invalid.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as too_large:
        lam.invoke(FunctionName=name, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert too_large.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as missing:
        lam.invoke(FunctionName="does-not-exist", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert missing.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:does-not-exist"
    )
    with pytest.raises(ClientError) as event:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
    assert event.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_any_json_payload_reaches_the_function(lam: Any) -> None:
    """JSON that the fast codec refuses (a lone surrogate escape: valid JSON grammar, which
    Lambda accepts) is still delivered; the standard library has the last word."""
    name = unique("anyjson")
    source = "def handler(event, context):\n    return [len(event['s']), hex(ord(event['s']))]\n"
    create_function(lam, name, python_function(source))
    response = lam.invoke(FunctionName=name, Payload=b'{"s": "\\ud800"}')
    assert json.loads(response["Payload"].read()) == [1, "0xd800"]


def test_dry_run_returns_204_without_running(lam: Any) -> None:
    name = unique("dry")
    create_function(lam, name, python_function("def handler(e, c):\n    raise SystemExit('must not run')\n"))
    response = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_response_over_6mb_is_function_error(lam: Any) -> None:
    name = unique("big")
    create_function(lam, name, python_function("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n"))
    response, body = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_update_code_starts_new_environment(lam: Any) -> None:
    name = unique("update")
    create_function(lam, name, python_function("def handler(e, c):\n    return 1\n"))
    assert invoke(lam, name)[1] == 1
    lam.update_function_code(FunctionName=name, ZipFile=python_function("def handler(e, c):\n    return 2\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert invoke(lam, name)[1] == 2


def test_logs_endpoint_returns_function_log(flare: FlareServer, lam: Any) -> None:

    name = unique("logs")
    create_function(
        lam, name, python_function("print('at init')\ndef handler(e, c):\n    print('in handler')\n")
    )
    invoke(lam, name)
    with signed_urlopen(f"{flare.url}/flare/v1/functions/{name}/logs") as reply:
        events = json.load(reply)["events"]
    messages = [event["message"] for event in events]
    assert messages[0].startswith("INIT_START")
    assert "at init" in messages
    assert "in handler" in messages
    assert messages.index("at init") < messages.index("in handler")
    assert messages[-1].startswith("REPORT RequestId:")
    assert all(event["logStream"].endswith(event["logStream"][-32:]) for event in events)


def test_each_invocations_output_sits_between_its_start_and_end(flare: FlareServer, lam: Any) -> None:
    """Python prints, a raw write to fd 1 and an unterminated last line, invoke after invoke:
    every line lands inside its own invocation's START … END, in the tail and in the log."""

    name = unique("order")
    source = (
        "import os, sys\n"
        "def handler(event, context):\n"
        "    print('printed', event['i'])\n"
        "    os.write(1, b'raw %d\\n' % event['i'])\n"
        "    sys.stderr.write('partial %d' % event['i'])\n"
        "    return event['i']\n"
    )
    create_function(lam, name, python_function(source))
    for i in range(60):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"i": i}).encode(), LogType="Tail")
        tail = base64.b64decode(response["LogResult"]).decode().splitlines()
        start = next(n for n, line in enumerate(tail) if line.startswith("START RequestId:"))
        end = next(n for n, line in enumerate(tail) if line.startswith("END RequestId:"))
        assert {f"printed {i}", f"raw {i}", f"partial {i}"} <= set(tail[start + 1 : end]), tail
    with signed_urlopen(f"{flare.url}/flare/v1/functions/{name}/logs") as reply:
        messages = [event["message"] for event in json.load(reply)["events"]]
    starts = [n for n, message in enumerate(messages) if message.startswith("START RequestId:")]
    for i, start in enumerate(starts):
        end = messages.index(next(m for m in messages[start:] if m.startswith("END RequestId:")), start)
        assert {f"printed {i}", f"raw {i}", f"partial {i}"} <= set(messages[start + 1 : end]), i


def test_environment_gets_no_cpu_between_invocations(lam: Any) -> None:
    name = unique("frozen")
    source = """
import threading, time
ticks = [0]
def count():
    while True:
        ticks[0] += 1
        time.sleep(0.01)
threading.Thread(target=count, daemon=True).start()
def handler(event, context):
    return ticks[0]
"""
    create_function(lam, name, python_function(source))
    first = invoke(lam, name)[1]
    time.sleep(0.5)
    second = invoke(lam, name)[1]
    # Frozen between invocations: the thread only ran during the invocations themselves.
    assert second - first < 10, (first, second)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs the engine and the runtime on two CPUs")
def test_runtime_sleeps_once_per_invocation(flare: FlareServer, lam: Any) -> None:
    """Invocations served back to back (pipelined on one connection): between two of them
    the runtime sleeps once, for the next event, and is not also woken each time the engine
    reads its answer (see ``bootstrap.serve_loaded``). The engine and the runtime run on two
    different CPUs: on one, the engine woken by the answer may run its whole turn before the
    runtime gets back to waiting, which then finds the next event there and never sleeps."""
    name = unique("sleeps")
    source = """
import os
def handler(event, context):
    os.sched_setaffinity(0, {1})
    status = open("/proc/self/status").read()
    return int(status.split("\\nvoluntary_ctxt_switches:")[1].split()[0])
"""
    create_function(lam, name, python_function(source), MemorySize=1769)
    engine_cpus = os.sched_getaffinity(flare.process.pid)
    os.sched_setaffinity(flare.process.pid, {0})
    try:
        invoke(lam, name)
        host, port = flare.url.removeprefix("http://").split(":")
        request = signed_raw("POST", flare.url, f"/2015-03-31/functions/{name}/invocations", b"{}")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(request * 101)
            buffer = bytearray()
            counts = [int(read_response(sock, buffer)[2]) for _ in range(101)]
    finally:
        os.sched_setaffinity(flare.process.pid, engine_cpus)
    sleeps = sorted(later - earlier for earlier, later in itertools.pairwise(counts))
    assert sleeps[len(sleeps) // 2] == 1, sleeps


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (Content-Length framed) off ``sock``; leftovers stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    lines = buffer[:end].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(buffer) < end + 4 + length:
        buffer += sock.recv(65536)
    body = bytes(buffer[end + 4 : end + 4 + length])
    del buffer[: end + 4 + length]
    return int(lines[0].split(" ")[1]), headers, body


def test_one_connection_mixes_pipelined_invokes_and_other_routes(flare: FlareServer, lam: Any) -> None:
    """The front door's fast path and aiohttp share a keep-alive connection, in order."""
    name = unique("wire")
    create_function(lam, name, python_function(HELLO))
    host, port = flare.url.removeprefix("http://").split(":")

    def invoke_request(body: bytes, extra: dict[str, str] | None = None) -> bytes:
        return signed_raw("POST", flare.url, f"/2015-03-31/functions/{name}/invocations", body, extra)

    with socket.create_connection((host, int(port))) as sock:
        buffer = bytearray()
        sock.sendall(invoke_request(b'{"n": 1}') + invoke_request(b'{"n": 2}', {"X-Amz-Log-Type": "Tail"}))
        status, headers, body = read_response(sock, buffer)
        assert status == 200 and json.loads(body)["event"] == {"n": 1}
        assert headers["x-amz-executed-version"] == "$LATEST" and headers["x-amzn-requestid"]
        assert headers["content-type"] == "application/json"
        status, headers, body = read_response(sock, buffer)
        assert status == 200 and json.loads(body)["event"] == {"n": 2}
        assert "REPORT RequestId" in base64.b64decode(headers["x-amz-log-result"]).decode()

        sock.sendall(invoke_request(b"{nope"))  # errors keep AWS's shape on the fast path
        status, headers, body = read_response(sock, buffer)
        assert (status, headers["x-amzn-errortype"]) == (400, "InvalidRequestContentException")
        assert json.loads(body)["Type"] == "User"

        # Another route on the same connection: aiohttp takes over from here.
        sock.sendall(signed_raw("GET", flare.url, f"/2015-03-31/functions/{name}"))
        status, _, body = read_response(sock, buffer)
        assert status == 200 and json.loads(body)["Configuration"]["FunctionName"] == name
        sock.sendall(invoke_request(b'{"n": 3}'))
        status, _, body = read_response(sock, buffer)
        assert status == 200 and json.loads(body)["event"] == {"n": 3}

    with socket.create_connection((host, int(port))) as sock:
        # Requests answered without waiting (errors, DryRun) are served in a loop: thousands
        # pipelined on one connection all get their answers, in order.
        buffer = bytearray()
        sock.sendall(invoke_request(b"{nope") * 3000 + invoke_request(b'{"n": 5}'))
        statuses = [read_response(sock, buffer)[0] for _ in range(3000)]
        assert statuses == [400] * 3000
        status, _, body = read_response(sock, buffer)
        assert status == 200 and json.loads(body)["event"] == {"n": 5}

    with socket.create_connection((host, int(port))) as sock:  # chunked: aiohttp's route
        path = f"/2015-03-31/functions/{name}/invocations"
        head = "".join(
            f"{key}: {value}\r\n"
            for key, value in signed_headers("POST", flare.url + path, b'{"n": 4}').items()
        )
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}"
            'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n{"n": 4}\r\n0\r\n\r\n'.encode()
        )
        status, _, body = read_response(sock, bytearray())
        assert status == 200 and json.loads(body)["event"] == {"n": 4}
