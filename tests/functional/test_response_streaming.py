"""InvokeWithResponseStream through boto3 against a real ``flare serve``.

Flare's Python runtime streams what a handler's iterator yields (Flare's extension); a
``provided.al2023`` runtime streams through the Runtime API (chunked, error trailers).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create_function, python_function, zip_files
from tests.functional.conftest import python311

STREAMING = """
import time
def handler(event, context):
    def pieces():
        for piece in event.get("pieces", []):
            yield piece
            time.sleep(event.get("pause", 0))
        if event.get("fail"):
            raise RuntimeError("broke mid-stream")
        if event.get("sleep"):
            time.sleep(event["sleep"])
    if event.get("fail_first"):
        raise ValueError("broke before streaming")
    return pieces()
"""

BUFFERED = "def handler(event, context):\n    return {'buffered': event}\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stream(lam: Any, name: str, event: Any, **kwargs: Any) -> tuple[dict[str, Any], list[tuple[float, Any]]]:
    """The response (without its stream) and each event with the seconds since the call began."""
    began = time.monotonic()
    response = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    events = [(time.monotonic() - began, item) for item in response.pop("EventStream")]
    return response, events


def chunks(events: list[tuple[float, Any]]) -> list[bytes]:
    return [item["PayloadChunk"]["Payload"] for _, item in events if "PayloadChunk" in item]


def complete(events: list[tuple[float, Any]]) -> dict[str, Any]:
    last = events[-1][1]
    assert set(last) == {"InvokeComplete"}, events
    return dict(last["InvokeComplete"])


@pytest.fixture(scope="module")
def streaming(lam: Any) -> str:
    name = unique("stream")
    create_function(lam, name, python_function(STREAMING), Timeout=30)  # no timeout on a busy host
    return name


def test_the_first_chunk_reaches_the_client_before_the_handler_returns(lam: Any, streaming: str) -> None:
    response, events = stream(lam, streaming, {"pieces": ["first ", "second ", "third"], "pause": 0.6})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert chunks(events) == [b"first ", b"second ", b"third"]
    assert complete(events) == {}
    first_at, last_at = events[0][0], events[-1][0]
    # The handler pauses 0.6 s after each piece: the first arrives ~1.2 s before the end.
    assert last_at - first_at > 1.0, events


def test_a_buffered_handler_streams_its_payload_as_one_chunk(lam: Any) -> None:
    name = unique("buffered")
    create_function(lam, name, python_function(BUFFERED))
    _, events = stream(lam, name, {"a": 1})
    assert [json.loads(piece) for piece in chunks(events)] == [{"buffered": {"a": 1}}]
    assert complete(events) == {}


def test_an_error_mid_stream_ends_it_with_error_code_and_details(lam: Any, streaming: str) -> None:
    _, events = stream(lam, streaming, {"pieces": ["partial"], "fail": True})
    assert chunks(events) == [b"partial"]
    ended = complete(events)
    assert ended["ErrorCode"] == "RuntimeError"
    details = json.loads(ended["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("RuntimeError", "broke mid-stream")


def test_an_error_before_streaming_has_no_chunk(lam: Any, streaming: str) -> None:
    _, events = stream(lam, streaming, {"fail_first": True})
    assert chunks(events) == []
    ended = complete(events)
    assert ended["ErrorCode"] == "ValueError"
    assert json.loads(ended["ErrorDetails"])["errorMessage"] == "broke before streaming"


def test_a_timeout_mid_stream_ends_it_and_the_next_invoke_gets_a_fresh_environment(lam: Any) -> None:
    name = unique("timeout")
    create_function(lam, name, python_function(STREAMING), Timeout=1)
    _, events = stream(lam, name, {"pieces": ["before "], "sleep": 5})
    assert chunks(events) == [b"before "]
    ended = complete(events)
    assert ended["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in json.loads(ended["ErrorDetails"])["errorMessage"]
    _, again = stream(lam, name, {"pieces": ["after"]})
    assert chunks(again) == [b"after"] and complete(again) == {}


def test_log_type_tail_puts_the_log_in_invoke_complete(lam: Any, streaming: str) -> None:
    response, events = stream(lam, streaming, {"pieces": ["x"]}, LogType="Tail")
    log = base64.b64decode(complete(events)["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log
    assert f"REPORT RequestId: {request_id}" in log


def test_dry_run_and_errors_before_the_stream_are_plain_responses(lam: Any, streaming: str) -> None:
    dry = lam.invoke_with_response_stream(FunctionName=streaming, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    with pytest.raises(ClientError) as missing:
        lam.invoke_with_response_stream(FunctionName=unique("missing"))
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    throttled = unique("throttled")
    create_function(lam, throttled, python_function(BUFFERED))
    lam.put_function_concurrency(FunctionName=throttled, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as refused:
        lam.invoke_with_response_stream(FunctionName=throttled)
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_plain_invoke_of_a_streaming_handler_gets_the_whole_response(lam: Any, streaming: str) -> None:
    response = lam.invoke(FunctionName=streaming, Payload=json.dumps({"pieces": ["a", "b", "c"]}).encode())
    assert response["Payload"].read() == b"abc"
    assert "FunctionError" not in response


def test_an_alias_is_streamed_as_its_version(lam: Any) -> None:
    name = unique("aliased")
    create_function(lam, name, python_function(STREAMING))
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    response, events = stream(lam, name, {"pieces": ["v"]}, Qualifier="live")
    assert response["ExecutedVersion"] == version
    assert chunks(events) == [b"v"]


# ---- provided.al2023: the Runtime API's streaming response ----------------------------------

RUNTIME_PY = r'''
import base64, json, os, socket, time

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
API = "/2018-06-01/runtime/invocation"


def exchange(head, body_parts=(), pause=0.0, trailer=b""):
    """Send one request (chunked when body_parts is a list) and return (status, headers, body)."""
    with socket.create_connection((HOST, int(PORT))) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(pause)
        if isinstance(body_parts, list):
            sock.sendall(b"0\r\n" + trailer + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head_bytes, _, body = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            body += sock.recv(65536)
        return int(lines[0].split()[1]), headers, body


while True:
    _, headers, body = exchange(b"GET %s/next HTTP/1.1\r\nHost: api\r\n\r\n" % API.encode())
    request_id = headers["lambda-runtime-aws-request-id"]
    event = json.loads(body)
    trailer = b""
    if event.get("error"):
        details = base64.b64encode(json.dumps({"errorType": "Custom.Broken", "errorMessage": "mid"}).encode())
        trailer = b"Lambda-Runtime-Function-Error-Type: Custom.Broken\r\n"
        trailer += b"Lambda-Runtime-Function-Error-Body: " + details + b"\r\n"
    head = (
        b"POST %s/%s/response HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n"
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: text/plain\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    ) % (API.encode(), request_id.encode())
    status, _, answer = exchange(head, [p.encode() for p in event["pieces"]], event.get("pause", 0), trailer)
    print("runtime got", status, answer.decode())
'''


@pytest.fixture(scope="module")
def provided_streaming(lam: Any) -> str:
    interpreter = python311()
    if interpreter is None:
        pytest.skip("no python3.11 binary on this host for the streaming bootstrap")
    name = unique("provided-stream")
    files: dict[str, str | bytes] = {
        "bootstrap": f"#!/bin/sh\nexec {interpreter} -S -I /var/task/runtime.py\n",
        "runtime.py": RUNTIME_PY,
    }
    code = zip_files(files, {"bootstrap": 0o755})
    create_function(lam, name, code, handler="unused", runtime="provided.al2023", Timeout=30)
    return name


def test_a_runtime_api_stream_reaches_the_client_as_it_is_posted(lam: Any, provided_streaming: str) -> None:
    _, events = stream(lam, provided_streaming, {"pieces": ["one ", "two ", "three"], "pause": 0.5})
    assert b"".join(chunks(events)) == b"one two three"
    assert complete(events) == {}
    assert events[-1][0] - events[0][0] > 0.8, events


def test_error_trailers_end_a_runtime_api_stream_with_their_error(lam: Any, provided_streaming: str) -> None:
    _, events = stream(lam, provided_streaming, {"pieces": ["partial"], "error": True})
    assert chunks(events) == [b"partial"]
    ended = complete(events)
    assert ended["ErrorCode"] == "Custom.Broken"
    assert json.loads(ended["ErrorDetails"]) == {"errorType": "Custom.Broken", "errorMessage": "mid"}
    # The environment served the stream to its end, so it is still there for the next one.
    _, again = stream(lam, provided_streaming, {"pieces": ["next"]})
    assert chunks(again) == [b"next"]


def test_a_plain_invoke_of_a_runtime_api_stream_is_gathered(lam: Any, provided_streaming: str) -> None:
    response = lam.invoke(
        FunctionName=provided_streaming, Payload=json.dumps({"pieces": ["a", "b"]}).encode()
    )
    assert response["Payload"].read() == b"ab"
