"""External extensions from layers, the Extensions API and the Telemetry API, through boto3.

Each extension here is a real process from a layer's ``extensions/`` directory, speaking the
Extensions API over ``AWS_LAMBDA_RUNTIME_API`` as Lambda's own do; its output lands in the
function's log, which is what the tests read.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, FlareServer, create_function, python_function, zip_files
from tests.durable_fixtures import advance
from tests.functional.test_runtime_clients import read_logs

# A Python extension: registers for INVOKE and SHUTDOWN, subscribes to the Telemetry API's
# platform stream on a listener of its own, and prints every event it gets.
PY_EXTENSION = r"""#!/usr/bin/env python3
import http.server, json, os, sys, threading, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
NAME = os.path.basename(sys.argv[0])

def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(request)

class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for event in batch:
            record = event["record"] if isinstance(event["record"], dict) else {}
            print("TELEMETRY", event["type"], record.get("requestId", "-"), flush=True)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

reply = call("POST", "/2020-01-01/extension/register",
             json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
             {"Lambda-Extension-Name": NAME, "Lambda-Extension-Accept-Feature": "accountId"})
identifier = reply.headers["Lambda-Extension-Identifier"]
print("REGISTERED", json.dumps(json.load(reply), sort_keys=True), flush=True)
print("VARIABLES", "_HANDLER" in os.environ, "AWS_LAMBDA_FUNCTION_NAME" in os.environ, flush=True)
server = http.server.HTTPServer(("sandbox.localdomain", 0), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
listener = "http://sandbox.localdomain:%d" % server.server_port
subscription = {"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": listener}}
ME = {"Lambda-Extension-Identifier": identifier}
call("PUT", "/2022-07-01/telemetry", json.dumps(subscription).encode(), ME)
while True:
    event = json.load(call("GET", "/2020-01-01/extension/event/next", headers=ME))
    print("EVENT", event["eventType"], event.get("requestId") or event.get("shutdownReason"), flush=True)
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
"""

# A bash extension that registers and never calls next.
STUCK_EXTENSION = """#!/bin/bash
curl -sS -X POST -H 'Lambda-Extension-Name: stuck' -d '{"events": ["INVOKE"]}' \\
  "http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/register" > /dev/null
echo "stuck registered"
sleep 600
"""

# A bash extension that registers, waits for INVOKE events, and takes 300 ms after each.
SLOW_EXTENSION = """#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
id=$(curl -sS -D - -o /dev/null -X POST -H 'Lambda-Extension-Name: slow' -d '{"events": ["INVOKE"]}' \\
  "$api/register" | tr -d '\\r' | sed -n 's/^Lambda-Extension-Identifier: //Ip')
while true; do
  event=$(curl -sS -H "Lambda-Extension-Identifier: $id" "$api/event/next")
  echo "slow got $event" | head -c 60; echo
  sleep 0.3
done
"""

CRASHING_EXTENSION = """#!/bin/bash
echo "crasher starting"
exit 3
"""

APP = "def handler(event, context):\n    return {'ok': True}\n"


def publish(lam: Any, name: str, files: dict[str, str]) -> str:
    modes = {path: 0o755 for path in files}
    layer = lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files(files, modes)})
    return str(layer["LayerVersionArn"])


def lines_of(flare: FlareServer, name: str) -> list[str]:
    return [line for message in read_logs(flare, name) for line in message.splitlines()]


def wait_lines(flare: FlareServer, name: str, predicate: Any, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = lines_of(flare, name)
        if predicate(lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError("\n".join(lines))
        time.sleep(0.1)


def test_extension_gets_invoke_shutdown_and_a_report_per_invoke(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "probe-ext", {"extensions/probe": PY_EXTENSION})
    create_function(lam, "with-probe", python_function(APP), Layers=[arn])
    request_ids = []
    for _ in range(3):
        response = lam.invoke(FunctionName="with-probe", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"ok": True}
        assert "FunctionError" not in response
        request_ids.append(response["ResponseMetadata"]["RequestId"])
    # a new configuration retires the environment: SHUTDOWN
    lam.update_function_configuration(FunctionName="with-probe", Description="retire")
    lines = wait_lines(flare, "with-probe", lambda lines: any("EVENT SHUTDOWN" in line for line in lines))
    registered = next(line for line in lines if line.startswith("REGISTERED"))
    assert json.loads(registered.split(" ", 1)[1]) == {
        "accountId": "000000000000",
        "functionName": "with-probe",
        "functionVersion": "$LATEST",
        "handler": "app.handler",
    }
    assert "VARIABLES False True" in lines
    assert any(
        line.startswith("EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE,SHUTDOWN]") for line in lines
    )
    telemetry = [line for line in lines if line.startswith("TELEMETRY")]
    for request_id in request_ids:
        assert f"EVENT INVOKE {request_id}" in lines
        assert f"TELEMETRY platform.report {request_id}" in lines, telemetry
        assert f"TELEMETRY platform.start {request_id}" in lines
    assert "EVENT SHUTDOWN spindown" in lines
    assert any(line.startswith("TELEMETRY platform.initStart") for line in lines)


def test_extension_that_never_calls_next_fails_init(timed: FlareServer) -> None:
    """INIT's 10 s limit, then the INIT retried inside the invocation at the function's 2 s
    timeout: both on the engine's clock, which the test moves ahead instead of waiting."""
    lam = timed.client()
    arn = publish(lam, "stuck-ext", {"extensions/stuck": STUCK_EXTENSION})
    create_function(lam, "with-stuck", python_function(APP), Layers=[arn], Timeout=2)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        began = time.monotonic()  # the test clock runs on from real time, plus what is moved
        answer = pool.submit(lam.invoke, FunctionName="with-stuck", Payload=b"{}")
        moved = 0.0
        while not answer.done() and moved < 60:
            time.sleep(0.05)
            advance(timed, 0.5)
            moved += 0.5
        response = answer.result(timeout=10)
        elapsed = time.monotonic() - began
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert moved + elapsed >= 10, "answered before INIT's limit passed on the engine's clock"
    lines = wait_lines(timed, "with-stuck", lambda lines: any("INIT_REPORT" in line for line in lines))
    assert "EXTENSION\tName: stuck\tState: Registered\tEvents: [INVOKE]" in lines
    assert any("INIT_REPORT" in line and "Status: timeout" in line for line in lines)


def test_extension_that_crashes_fails_init_with_extension_crash(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "crash-ext", {"extensions/crasher": CRASHING_EXTENSION})
    create_function(lam, "with-crasher", python_function(APP), Layers=[arn])
    response = lam.invoke(FunctionName="with-crasher", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Extension.Crash"
    lines = lines_of(flare, "with-crasher")
    assert "crasher starting" in lines
    assert "EXTENSION\tName: crasher\tState: Exited\tEvents: []" in lines


def report_of(flare: FlareServer, name: str, request_id: str) -> str:
    needle = f"REPORT RequestId: {request_id}"
    lines = wait_lines(flare, name, lambda lines: any(needle in line for line in lines))
    return next(line for line in lines if needle in line)


def test_post_invoke_phase_counts_in_report_and_holds_the_environment(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "slow-ext", {"extensions/slow": SLOW_EXTENSION})
    create_function(lam, "with-slow", python_function(APP), Layers=[arn])
    began = time.monotonic()
    first = lam.invoke(FunctionName="with-slow", Payload=b"{}")
    assert json.loads(first["Payload"].read()) == {"ok": True}
    answered_s = time.monotonic() - began
    # the environment is the extension's for 300 ms more: an invoke now gets another one
    second = lam.invoke(FunctionName="with-slow", Payload=b"{}")
    time.sleep(0.5)
    third = lam.invoke(FunctionName="with-slow", Payload=b"{}")
    first_report = report_of(flare, "with-slow", first["ResponseMetadata"]["RequestId"])
    duration = float(first_report.split("\tDuration: ")[1].split(" ms")[0])
    assert duration >= 300, first_report
    assert answered_s < duration / 1000  # the caller had its answer before the extension was done
    assert "Init Duration" in report_of(flare, "with-slow", second["ResponseMetadata"]["RequestId"])
    assert "Init Duration" not in report_of(flare, "with-slow", third["ResponseMetadata"]["RequestId"])


# Registers for INVOKE, then never calls next again after its first event.
HANGING_EXTENSION = """#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
id=$(curl -sS -D - -o /dev/null -X POST -H 'Lambda-Extension-Name: hanging' -d '{"events": ["INVOKE"]}' \\
  "$api/register" | tr -d '\\r' | sed -n 's/^Lambda-Extension-Identifier: //Ip')
curl -sS -H "Lambda-Extension-Identifier: $id" "$api/event/next" > /dev/null
echo "hanging got its event"
sleep 600
"""


def test_an_extension_past_the_deadline_ends_the_environment(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "hanging-ext", {"extensions/hanging": HANGING_EXTENSION})
    create_function(lam, "with-hanging", python_function(APP), Layers=[arn], Timeout=1)
    first = lam.invoke(FunctionName="with-hanging", Payload=b"{}")
    assert json.loads(first["Payload"].read()) == {"ok": True}
    request_id = first["ResponseMetadata"]["RequestId"]
    report = report_of(flare, "with-hanging", request_id)
    assert float(report.split("\tDuration: ")[1].split(" ms")[0]) >= 1000
    lines = lines_of(flare, "with-hanging")
    assert any(f"{request_id} Task timed out after 1.00 seconds" in line for line in lines)
    second = lam.invoke(FunctionName="with-hanging", Payload=b"{}")
    assert json.loads(second["Payload"].read()) == {"ok": True}
    assert "Init Duration" in report_of(flare, "with-hanging", second["ResponseMetadata"]["RequestId"])


# An extension that tries the Extensions and Telemetry APIs' refusals before registering well.
ERRORS_EXTENSION = r"""#!/usr/bin/env python3
import json, os, urllib.error, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()

def show(label, answer):
    status, _, body = answer
    print("TRY", label, status, json.loads(body).get("errorType"), flush=True)

show("no-name", call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE"]}'))
show("bad-event", call("POST", "/2020-01-01/extension/register", b'{"events": ["LAUNCH"]}',
                       {"Lambda-Extension-Name": "errors"}))
show("bad-body", call("POST", "/2020-01-01/extension/register", b'[]', {"Lambda-Extension-Name": "errors"}))
show("no-id", call("GET", "/2020-01-01/extension/event/next"))
show("bad-id", call("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": "x"}))
unknown = {"Lambda-Extension-Identifier": "00000000-0000-4000-8000-000000000000"}
show("unknown-id", call("GET", "/2020-01-01/extension/event/next", headers=unknown))
status, headers, _ = call("POST", "/2020-01-01/extension/register", b'{"events": []}',
                          {"Lambda-Extension-Name": "errors"})
me = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
show("twice", call("POST", "/2020-01-01/extension/register", b'{"events": []}',
                   {"Lambda-Extension-Name": "errors"}))
subscription = {"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"maxItems": 10},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"}}
show("small-buffer", call("PUT", "/2022-07-01/telemetry", json.dumps(subscription).encode(), me))
subscription["buffering"] = {}
subscription["schemaVersion"] = "2020-01-01"
show("old-schema", call("PUT", "/2022-07-01/telemetry", json.dumps(subscription).encode(), me))
show("no-error-type", call("POST", "/2020-01-01/extension/exit/error", b"{}", me))
print("TRY", "registered", status, flush=True)
call("GET", "/2020-01-01/extension/event/next", headers=me)
"""


def test_extensions_api_refusals_have_aws_shapes(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "errors-ext", {"extensions/errors": ERRORS_EXTENSION})
    create_function(lam, "with-errors", python_function(APP), Layers=[arn])
    response = lam.invoke(FunctionName="with-errors", Payload=b"{}")
    assert json.loads(response["Payload"].read()) == {"ok": True}
    tries = [line for line in lines_of(flare, "with-errors") if line.startswith("TRY ")]
    assert tries == [
        "TRY no-name 403 Extension.InvalidExtensionName",
        "TRY bad-event 403 Extension.InvalidEventType",
        "TRY bad-body 403 InvalidRequestFormat",
        "TRY no-id 403 Extension.MissingExtensionIdentifier",
        "TRY bad-id 403 Extension.InvalidExtensionIdentifier",
        "TRY unknown-id 403 Extension.UnknownExtensionIdentifier",
        "TRY twice 403 Extension.InvalidExtensionState",
        "TRY small-buffer 400 ValidationError",
        "TRY old-schema 400 ValidationError",
        "TRY no-error-type 403 Extension.MissingHeader",
        "TRY registered 200",
    ]


# A function whose module registers an internal extension (a thread of the runtime's process).
INTERNAL_APP = """
import json, os, threading, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
SEEN = []

def call(path, body=None, headers=None):
    method = "POST" if body is not None else "GET"
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(request)

NAME = {"Lambda-Extension-Name": "in-process"}
reply = call("/register", json.dumps({"events": ["INVOKE"]}).encode(), NAME)
ME = {"Lambda-Extension-Identifier": reply.headers["Lambda-Extension-Identifier"]}

def loop():
    while True:
        SEEN.append(json.load(call("/event/next", headers=ME))["requestId"])

threading.Thread(target=loop, daemon=True).start()

def handler(event, context):
    return {"seen": list(SEEN), "me": context.aws_request_id}
"""


def test_internal_extension_registered_by_the_runtime_gets_invoke(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "internal-ext", python_function(INTERNAL_APP))
    first = json.loads(lam.invoke(FunctionName="internal-ext", Payload=b"{}")["Payload"].read())
    report_of(flare, "internal-ext", first["me"])  # the extension is done with it: the same environment next
    second = json.loads(lam.invoke(FunctionName="internal-ext", Payload=b"{}")["Payload"].read())
    assert first["me"] in second["seen"]
    lines = lines_of(flare, "internal-ext")
    assert "EXTENSION\tName: in-process\tState: Ready\tEvents: [INVOKE]" in lines


BOOTSTRAP = """#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "bootstrap starts after: $(cat /tmp/order 2>/dev/null)"
while true; do
  headers=$(mktemp)
  curl -sS -D "$headers" -o /dev/null "$api/invocation/next"
  id=$(tr -d '\r' < "$headers" | sed -n 's/^Lambda-Runtime-Aws-Request-Id: //Ip')
  curl -sS -X POST -d '"done"' "$api/invocation/$id/response" > /dev/null
done
"""

# Takes its time, leaves a mark, then registers: the runtime starts only after that.
ORDERED_EXTENSION = """#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
sleep 0.5
echo "ordered-registered" > /tmp/order
id=$(curl -sS -D - -o /dev/null -X POST -H 'Lambda-Extension-Name: ordered' -d '{"events": ["INVOKE"]}' \\
  "$api/register" | tr -d '\\r' | sed -n 's/^Lambda-Extension-Identifier: //Ip')
while true; do
  event=$(curl -sS -H "Lambda-Extension-Identifier: $id" "$api/event/next")
  echo "ordered got ${event:0:24}"
done
"""


def test_provided_runtime_starts_after_its_extensions_registered(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "ordered-ext", {"extensions/ordered": ORDERED_EXTENSION})
    code = zip_files({"bootstrap": BOOTSTRAP}, {"bootstrap": 0o755})
    create_function(lam, "bash-runtime", code, runtime="provided.al2023", handler="x", Layers=[arn])
    response = lam.invoke(FunctionName="bash-runtime", Payload=b"{}")
    assert json.loads(response["Payload"].read()) == "done"
    lines = wait_lines(flare, "bash-runtime", lambda lines: any("ordered got" in line for line in lines))
    assert "bootstrap starts after: ordered-registered" in lines
    assert any(line.startswith('ordered got {"eventType":"INVOKE"') for line in lines)


OTEL_PACKAGE, OTEL_VERSION = "@serverless/aws-lambda-otel-extension-dist", "0.1.11"
NPM_CACHE = ROOT / "tests" / "fixtures" / ".cache" / "npm"


@pytest.fixture(scope="session")
def otel_extension_zip() -> bytes:
    """The layer zip Serverless Inc. publishes on npm (a Node.js external extension using the
    Logs API), fetched once with npm into tests/fixtures/.cache/npm, used unchanged."""
    target = NPM_CACHE / f"otel-extension-{OTEL_VERSION}.zip"
    if not target.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        staging = Path(tempfile.mkdtemp())
        try:
            command = [
                npm,
                "pack",
                "--silent",
                f"{OTEL_PACKAGE}@{OTEL_VERSION}",
                "--pack-destination",
                str(staging),
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=180)
            if result.returncode != 0:
                pytest.skip(f"npm pack {OTEL_PACKAGE} failed: {result.stderr.strip()[-300:]}")
            with tarfile.open(next(staging.glob("*.tgz"))) as archive:
                member = archive.extractfile("package/extension.zip")
                assert member is not None
                NPM_CACHE.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.read())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target.read_bytes()


def test_a_published_extension_runs_unchanged(
    flare: FlareServer, lam: Any, otel_extension_zip: bytes
) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    layer = lam.publish_layer_version(LayerName="sls-otel", Content={"ZipFile": otel_extension_zip})
    variables = {"DEBUG_SLS_OTEL_LAYER": "1", "DO_NOT_WAIT": "1", "SLS_OTEL_REPORT_TYPE": "json"}
    create_function(
        lam,
        "with-otel",
        python_function(APP),
        Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": variables},
    )
    request_ids = []
    for _ in range(3):
        response = lam.invoke(FunctionName="with-otel", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"ok": True}
        request_ids.append(response["ResponseMetadata"]["RequestId"])
        # its post-runtime phase (a few file writes) over: the next invoke reuses this
        # environment, rather than a second one that could not have the extension's fixed
        # ports in the host's network
        wait_lines(
            flare, "with-otel", lambda lines: f"REPORT RequestId: {request_ids[-1]}" in "\n".join(lines)
        )
    lam.update_function_configuration(FunctionName="with-otel", Description="retire")

    def reported(lines: list[str]) -> bool:
        text = "\n".join(lines)
        shut_down = "Processing event:  SHUTDOWN" in text
        return shut_down and all(f'"requestId":"{request_id}"' in text for request_id in request_ids)

    lines = wait_lines(flare, "with-otel", reported)
    assert "otel-extension  launching extension" in lines
    assert "EXTENSION\tName: otel-extension\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in lines


# Exits as soon as it gets an INVOKE.
DYING_EXTENSION = """#!/bin/bash
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
id=$(curl -sS -D - -o /dev/null -X POST -H 'Lambda-Extension-Name: dying' -d '{"events": ["INVOKE"]}' \\
  "$api/register" | tr -d '\\r' | sed -n 's/^Lambda-Extension-Identifier: //Ip')
curl -sS -H "Lambda-Extension-Identifier: $id" "$api/event/next" > /dev/null
echo "dying now"
exit 2
"""

SLOW_APP = "import time\n\ndef handler(event, context):\n    time.sleep(0.5)\n    return {'ok': True}\n"


def test_an_extension_crashing_during_an_invoke_fails_it_with_extension_crash(
    flare: FlareServer, lam: Any
) -> None:
    arn = publish(lam, "dying-ext", {"extensions/dying": DYING_EXTENSION})
    create_function(lam, "with-dying", python_function(SLOW_APP), Layers=[arn])
    response = lam.invoke(FunctionName="with-dying", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Extension.Crash"
    assert "dying" in error["errorMessage"]
    again = lam.invoke(FunctionName="with-dying", Payload=b"{}")
    assert again["FunctionError"] == "Unhandled"  # a new environment, whose extension dies too
    assert "Init Duration" in report_of(flare, "with-dying", again["ResponseMetadata"]["RequestId"])


# Registers for SHUTDOWN, prints what it got, then ignores it.
STUBBORN_EXTENSION = r"""#!/usr/bin/env python3
import json, os, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
request = urllib.request.Request(API + "/register", data=b'{"events": ["SHUTDOWN"]}', method="POST",
                                 headers={"Lambda-Extension-Name": "stubborn"})
me = {"Lambda-Extension-Identifier": urllib.request.urlopen(request).headers["Lambda-Extension-Identifier"]}
event = json.load(urllib.request.urlopen(urllib.request.Request(API + "/event/next", headers=me)))
left_ms = event["deadlineMs"] - time.time() * 1000
print("STUBBORN", event["eventType"], event["shutdownReason"], 1500 < left_ms <= 2000, flush=True)
time.sleep(600)
"""

TERM_APP = """import signal, sys

def on_term(signum, frame):
    print("RUNTIME SIGTERM", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)

def handler(event, context):
    return {'ok': True}
"""


def test_shutdown_goes_to_extensions_then_the_runtime_within_two_seconds(
    flare: FlareServer, lam: Any
) -> None:
    arn = publish(lam, "stubborn-ext", {"extensions/stubborn": STUBBORN_EXTENSION})
    create_function(lam, "with-stubborn", python_function(TERM_APP), Layers=[arn])
    assert json.loads(lam.invoke(FunctionName="with-stubborn", Payload=b"{}")["Payload"].read()) == {
        "ok": True
    }
    began = time.monotonic()
    lam.update_function_configuration(FunctionName="with-stubborn", Description="retire")
    lines = wait_lines(flare, "with-stubborn", lambda lines: "RUNTIME SIGTERM" in lines)
    elapsed = time.monotonic() - began
    assert "STUBBORN SHUTDOWN spindown True" in lines
    assert lines.index("STUBBORN SHUTDOWN spindown True") < lines.index("RUNTIME SIGTERM")
    assert 1.5 < elapsed < 4.0  # the extensions' 1.7 s, then the runtime's turn


def test_telemetry_reaches_a_listener_inside_an_isolated_network(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "probe-ext-isolated", {"extensions/probe": PY_EXTENSION})
    tags = {"flare:network": "isolated"}
    create_function(lam, "isolated-probe", python_function(APP), Layers=[arn], Tags=tags)
    request_ids = []
    for _ in range(2):
        response = lam.invoke(FunctionName="isolated-probe", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"ok": True}
        request_ids.append(response["ResponseMetadata"]["RequestId"])
    lam.update_function_configuration(FunctionName="isolated-probe", Description="retire")
    lines = wait_lines(flare, "isolated-probe", lambda lines: "EVENT SHUTDOWN spindown" in lines)
    for request_id in request_ids:
        assert f"TELEMETRY platform.report {request_id}" in lines
    assert any(line.startswith("TELEMETRY platform.initStart") for line in lines)


# Subscribes to the function and extension streams and writes what it gets to /tmp/seen.
STREAMS_EXTENSION = r"""#!/usr/bin/env python3
import http.server, json, os, threading, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(request)

class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open("/tmp/seen", "a") as seen:
            for event in batch:
                seen.write("%s\t%s\n" % (event["type"], event["record"]))
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

NAME = {"Lambda-Extension-Name": "streams"}
reply = call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE"]}', NAME)
ME = {"Lambda-Extension-Identifier": reply.headers["Lambda-Extension-Identifier"]}
server = http.server.HTTPServer(("sandbox.localdomain", 0), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
listener = "http://sandbox.localdomain:%d" % server.server_port
subscription = {"schemaVersion": "2022-12-13", "types": ["function", "extension"],
                "buffering": {"timeoutMs": 25}, "destination": {"protocol": "HTTP", "URI": listener}}
call("PUT", "/2022-07-01/telemetry", json.dumps(subscription).encode(), ME)
while True:
    call("GET", "/2020-01-01/extension/event/next", headers=ME).read()
    print("extension says hello", flush=True)
"""

STREAMS_APP = """import os

def handler(event, context):
    print("function says hello")
    return open("/tmp/seen").read() if os.path.exists("/tmp/seen") else ""
"""


def test_the_function_and_extension_streams_carry_each_its_own_output(flare: FlareServer, lam: Any) -> None:
    arn = publish(lam, "streams-ext", {"extensions/streams": STREAMS_EXTENSION})
    create_function(lam, "with-streams", python_function(STREAMS_APP), Layers=[arn])
    seen = ""
    for _ in range(20):
        response = lam.invoke(FunctionName="with-streams", Payload=b"{}")
        seen = json.loads(response["Payload"].read())
        if "extension\textension says hello" in seen and "function\tfunction says hello" in seen:
            break
        time.sleep(0.1)
    records = seen.splitlines()
    assert "extension\textension says hello" in records
    assert "function\tfunction says hello" in records
    assert not any(line.startswith("function\textension") for line in records)
    assert not any(line.startswith("extension\tfunction") for line in records)
    lines = lines_of(flare, "with-streams")
    assert "extension says hello" in lines  # in the function's log too, as on Lambda


NODE_APP = "exports.handler = async () => ({ ok: true });\n"


def test_a_nodejs_function_started_ahead_runs_its_extensions(flare: FlareServer, lam: Any) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    arn = publish(lam, "probe-ext-node", {"extensions/probe": PY_EXTENSION})
    code = zip_files({"index.js": NODE_APP})
    create_function(lam, "node-probe", code, runtime="nodejs20.x", handler="index.handler", Layers=[arn])
    lam.get_waiter("function_active_v2").wait(FunctionName="node-probe")
    request_ids = []
    for _ in range(2):
        response = lam.invoke(FunctionName="node-probe", Payload=b"{}")
        assert json.loads(response["Payload"].read()) == {"ok": True}
        request_ids.append(response["ResponseMetadata"]["RequestId"])
    lam.update_function_configuration(FunctionName="node-probe", Description="retire")
    lines = wait_lines(flare, "node-probe", lambda lines: "EVENT SHUTDOWN spindown" in lines)
    for request_id in request_ids:
        assert f"EVENT INVOKE {request_id}" in lines
        assert f"TELEMETRY platform.report {request_id}" in lines
