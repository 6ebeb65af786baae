"""A hostile handler cannot make the engine hold what it sends: a frame it writes straight to
its runtime channel, claiming hundreds of megabytes, costs the engine at most one response's
6 MB, and the invocation fails as Lambda fails a response that is too large."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import FlareServer, create_function, python_function, zip_files

FLOOD_MB = 200
FLOODER = f"""
import os, socket, stat, struct, json

def channel():
    for fd in range(3, 256):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        if sock.family == socket.AF_UNIX:
            return sock
        sock.close()

def handler(event, context):
    sock = channel()
    head = json.dumps({{"id": context.aws_request_id}}).encode()
    size = {FLOOD_MB} * 1024 * 1024
    sock.sendall(struct.pack("!IBI", 5 + len(head) + size, 4, len(head)) + head)
    piece = bytes(1024 * 1024)
    for _ in range({FLOOD_MB}):
        sock.sendall(piece)
    return "sent"
"""


def memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field}")


def reset_peak(pid: int) -> None:
    """Start the process's peak resident size (VmHWM) over from now (Linux's clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def test_a_flood_on_the_runtime_channel_costs_the_engine_one_response(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "flooder", python_function(FLOODER), Timeout=60, MemorySize=512)
    engine = flare.process.pid
    reset_peak(engine)
    before = memory_kb(engine, "VmRSS")
    reply = lam.invoke(FunctionName="flooder", Payload=b"{}")
    grown_mb = (memory_kb(engine, "VmHWM") - before) / 1024  # the peak while it ran
    body = json.loads(reply["Payload"].read())
    assert reply.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert grown_mb < 48, f"the engine grew by {grown_mb:.0f} MB for a {FLOOD_MB} MB flood"
    assert lam.invoke(FunctionName="flooder", Payload=b"{}")["StatusCode"] == 200  # still serving


CURL_FLOOD = f"""#!/bin/bash
API="http://${{AWS_LAMBDA_RUNTIME_API}}/2018-06-01/runtime"
while true; do
  ID="$(curl -sS -D - -o /dev/null "$API/invocation/next" | tr -d '\\r' \\
    | grep -i '^lambda-runtime-aws-request-id:' | cut -d: -f2- | tr -d ' ')"
  STATUS="$(head -c {FLOOD_MB}M /dev/zero | curl -sS -o /dev/null -w '%{{http_code}}' \\
    -H 'Transfer-Encoding: chunked' --data-binary @- "$API/invocation/$ID/response")"
  echo "posted: $STATUS"
done
"""


def test_a_flood_on_the_runtime_api_costs_the_engine_one_response(flare: FlareServer, lam: Any) -> None:
    code = zip_files({"bootstrap": CURL_FLOOD}, {"bootstrap": 0o755})
    create_function(lam, "curl-flooder", code, handler="unused", runtime="provided.al2023", Timeout=60)
    engine = flare.process.pid
    reset_peak(engine)
    before = memory_kb(engine, "VmRSS")
    reply = lam.invoke(FunctionName="curl-flooder", Payload=b"{}", LogType="Tail")
    grown_mb = (memory_kb(engine, "VmHWM") - before) / 1024
    body = json.loads(reply["Payload"].read())
    assert reply.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert grown_mb < 48, f"the engine grew by {grown_mb:.0f} MB for a {FLOOD_MB} MB flood"


PRINTER = f"""
import sys
def handler(event, context):
    line = "p" * (64 * 1024) + "\\n"
    for _ in range({FLOOD_MB} * 16):
        sys.stdout.write(line)
    print("the last line")
    return "printed"
"""


def test_output_of_one_invocation_is_not_held_in_the_engines_memory(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "printer", python_function(PRINTER), Timeout=60, MemorySize=512)
    engine = flare.process.pid
    reset_peak(engine)
    before = memory_kb(engine, "VmRSS")
    reply = lam.invoke(FunctionName="printer", Payload=b"{}")
    grown_mb = (memory_kb(engine, "VmHWM") - before) / 1024
    assert json.loads(reply["Payload"].read()) == "printed"
    assert grown_mb < 64, f"the engine grew by {grown_mb:.0f} MB for {FLOOD_MB} MB of output"
    logs = flare.client("logs")
    stream = logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"][0]["logStreamName"]
    last = logs.get_log_events(logGroupName="/aws/lambda/printer", logStreamName=stream, limit=4)["events"]
    assert any(event["message"].startswith("the last line") for event in last)
    assert any(event["message"].startswith("REPORT RequestId") for event in last)
