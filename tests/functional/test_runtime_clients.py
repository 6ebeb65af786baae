"""Real Runtime API clients against a real ``flare serve``: bash + curl bootstraps and awslambdaric.

``provided.al2023`` functions exec the zip's ``bootstrap`` with ``AWS_LAMBDA_RUNTIME_API`` set;
whatever speaks ``/2018-06-01/runtime/...`` over HTTP must work, so these tests use the two
clients people actually ship: a shell loop around curl, and AWS's own ``awslambdaric``
(vendored into the zip from PyPI, as a custom-runtime user would).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import FlareServer, create_function, zip_files
from tests.functional.conftest import ric_zip
from tests.signing import signed_urlopen

RUNTIME = "provided.al2023"

# Shared by every bash bootstrap: where the Runtime API is, and `next` which long-polls for an
# event and leaves its headers, body and request id in $WORK/headers, $WORK/event and $ID.
BASH_PRELUDE = r"""#!/bin/bash
set -uo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 0' TERM
next() {
  curl -sS -D "$WORK/headers" -o "$WORK/event" "$API/invocation/next" || exit 1
  ID="$(tr -d '\r' < "$WORK/headers" | grep -i '^lambda-runtime-aws-request-id:' | cut -d: -f2- | tr -d ' ')"
}
respond() {  # respond <json body>
  curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "$1" \
    "$API/invocation/$ID/response" || exit 1
}
"""

ECHO_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
COUNT=0
while true; do
  next
  COUNT=$((COUNT + 1))
  echo "bash-runtime handled $ID as call $COUNT"
  HERE=false
  [ -x ./bootstrap ] && HERE=true
  respond "{\"echo\":$(cat "$WORK/event"),\"count\":$COUNT,\"cwd_is_code_dir\":$HERE}"
done
"""
)

ERROR_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
while true; do
  next
  echo "about to fail $ID"
  curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Custom.Boom' \
    --data-binary '{"errorMessage":"boom","errorType":"Custom.Boom"}' "$API/invocation/$ID/error" || exit 1
done
"""
)

HEADERS_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
while true; do
  next
  respond "{\"headers\":\"$(base64 -w0 < "$WORK/headers")\",\"event\":\"$(base64 -w0 < "$WORK/event")\"}"
done
"""
)

# For {"probe": true}: post to a wrong request id (its status and body go into the real
# response), then post the real response and a second one for the same id, and log both replies.
# Flare freezes the whole environment (its cgroup) soon after the caller has the response, as
# Lambda does, so the log line may only be written once the next invoke thaws it.
PROBE_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
while true; do
  next
  if ! grep -Eq '"probe": *true' "$WORK/event"; then
    respond '{"plain":true}'
    continue
  fi
  WRONG_STATUS="$(curl -sS -o "$WORK/wrong" -w '%{http_code}' -X POST --data-binary '{}' \
    "$API/invocation/not-$ID/response")"
  export API ID WORK BODY="{\"wrong_status\":$WRONG_STATUS,\"wrong_body\":$(cat "$WORK/wrong")}"
  setsid bash -c '
    FIRST="$(curl -sS -o "$WORK/first" -w "%{http_code}" -X POST --data-binary "$BODY" \
      "$API/invocation/$ID/response")"
    SECOND="$(curl -sS -o "$WORK/second" -w "%{http_code}" -X POST --data-binary "{\"second\":true}" \
      "$API/invocation/$ID/response")"
    echo "PROBE-RESULT $ID first=$FIRST $(cat "$WORK/first") second=$SECOND $(cat "$WORK/second")"
  ' &
  wait $!
done
"""
)

INIT_ERROR_BOOTSTRAP = r"""#!/bin/bash
echo "init is failing on purpose"
curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.Custom' \
  --data-binary '{"errorMessage":"bad init","errorType":"Runtime.Custom"}' \
  "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error"
exit 1
"""

EXIT_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
COUNT=0
TOKEN="$RANDOM$RANDOM$RANDOM"
while true; do
  next
  COUNT=$((COUNT + 1))
  if grep -q '"exit"' "$WORK/event"; then
    echo "exiting with 3 during $ID"
    exit 3
  fi
  respond "{\"count\":$COUNT,\"pid\":\"$TOKEN\"}"
done
"""
)


def bootstrap_zip(script: str, extra: dict[str, str | bytes] | None = None) -> bytes:
    return zip_files({"bootstrap": script, **(extra or {})}, {"bootstrap": 0o755})


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Invoke with the log tail; adds ``payload`` (parsed JSON) and ``log`` (decoded tail)."""
    payload = b"" if event is None else json.dumps(event).encode()
    response: dict[str, Any] = lam.invoke(FunctionName=name, Payload=payload, LogType="Tail", **kwargs)
    response["payload"] = json.loads(response["Payload"].read())
    response["log"] = base64.b64decode(response["LogResult"]).decode()
    return response


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])


def parse_headers(raw: bytes) -> dict[str, str]:
    """An HTTP response head (status line + headers) as ``{lower-case name: value}``."""
    lines = raw.decode().replace("\r\n", "\n").strip().split("\n")
    assert lines[0].startswith("HTTP/1.1 200"), lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def read_logs(flare: FlareServer, name: str) -> list[str]:
    with signed_urlopen(f"{flare.url}/flare/v1/functions/{name}/logs", timeout=10) as reply:
        return [event["message"] for event in json.load(reply)["events"]]


def wait_for_log(flare: FlareServer, name: str, needle: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        for message in read_logs(flare, name):
            for line in message.splitlines():
                if needle in line:
                    return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line containing {needle!r}: {read_logs(flare, name)}")
        time.sleep(0.05)


def test_bash_bootstrap_speaks_runtime_api_with_curl(lam: Any) -> None:
    create_function(lam, "bash-echo", bootstrap_zip(ECHO_BOOTSTRAP), handler="unused", runtime=RUNTIME)

    first = invoke(lam, "bash-echo", {"hello": "world", "n": [1, 2]})
    second = invoke(lam, "bash-echo", {"again": True})

    assert first["StatusCode"] == 200
    assert "FunctionError" not in first
    assert first["ExecutedVersion"] == "$LATEST"
    assert first["payload"] == {"echo": {"hello": "world", "n": [1, 2]}, "count": 1, "cwd_is_code_dir": True}
    assert second["StatusCode"] == 200
    assert second["ExecutedVersion"] == "$LATEST"
    # count 2: the same bootstrap process answered both, so the environment was reused.
    assert second["payload"] == {"echo": {"again": True}, "count": 2, "cwd_is_code_dir": True}

    for response, call in ((first, 1), (second, 2)):
        rid = request_id(response)
        log = response["log"]
        assert f"START RequestId: {rid} Version: $LATEST" in log
        assert f"bash-runtime handled {rid} as call {call}" in log
        assert f"END RequestId: {rid}" in log
        assert f"REPORT RequestId: {rid}\tDuration: " in log
        assert log.index("START") < log.index("bash-runtime handled") < log.index("END") < log.index("REPORT")
    assert "Init Duration: " in first["log"]
    assert "Init Duration" not in second["log"]


def test_bash_bootstrap_error_and_headers(lam: Any) -> None:
    create_function(lam, "bash-error", bootstrap_zip(ERROR_BOOTSTRAP), handler="unused", runtime=RUNTIME)
    failed = invoke(lam, "bash-error", {"x": 1})
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    assert failed["payload"] == {"errorMessage": "boom", "errorType": "Custom.Boom"}
    assert f"about to fail {request_id(failed)}" in failed["log"]
    # A function error posted to /error is not a crash: the environment serves again, warm.
    again = invoke(lam, "bash-error", {"x": 2})
    assert again["FunctionError"] == "Unhandled"
    assert again["payload"]["errorType"] == "Custom.Boom"
    assert "Init Duration" not in again["log"]

    timeout_s = 9
    arn = create_function(
        lam,
        "bash-headers",
        bootstrap_zip(HEADERS_BOOTSTRAP),
        handler="unused",
        runtime=RUNTIME,
        Timeout=timeout_s,
    )["FunctionArn"]

    before_ms = time.time() * 1000
    plain = invoke(lam, "bash-headers", {"k": "v"})
    after_ms = time.time() * 1000
    assert "FunctionError" not in plain
    headers = parse_headers(base64.b64decode(plain["payload"]["headers"]))
    assert json.loads(base64.b64decode(plain["payload"]["event"])) == {"k": "v"}
    assert headers["lambda-runtime-aws-request-id"] == request_id(plain)
    deadline_ms = int(headers["lambda-runtime-deadline-ms"])
    assert before_ms + timeout_s * 1000 - 1000 <= deadline_ms <= after_ms + timeout_s * 1000 + 1000
    assert headers["lambda-runtime-invoked-function-arn"] == arn
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
    assert headers["content-type"] == "application/json"
    assert "lambda-runtime-client-context" not in headers  # no value, no header

    context = {"custom": {"tenant": "t-1", "quote": 'say "hi"'}, "env": {"locale": "en"}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    with_context = invoke(lam, "bash-headers", {}, ClientContext=encoded, Qualifier="$LATEST")
    assert "headers" in with_context["payload"], (with_context["payload"], with_context["log"])
    headers = parse_headers(base64.b64decode(with_context["payload"]["headers"]))
    assert json.loads(headers["lambda-runtime-client-context"]) == context
    assert headers["lambda-runtime-invoked-function-arn"] == f"{arn}:$LATEST"
    assert headers["lambda-runtime-aws-request-id"] == request_id(with_context)
    assert headers["content-type"] == "application/json"


def test_runtime_api_rejects_wrong_request_id_and_double_post(lam: Any, flare: FlareServer) -> None:
    create_function(
        lam, "bash-probe", bootstrap_zip(PROBE_BOOTSTRAP), handler="unused", runtime=RUNTIME, Timeout=2
    )

    probed = invoke(lam, "bash-probe", {"probe": True})
    rid = request_id(probed)
    assert "FunctionError" not in probed
    # The wrong id was refused (400 InvalidRequestID) and did not end the invocation: the real
    # response that followed is what the caller got.
    assert probed["payload"]["wrong_status"] == 400
    assert probed["payload"]["wrong_body"]["errorType"] == "InvalidRequestID"
    assert "errorMessage" in probed["payload"]["wrong_body"]

    # The environment is still healthy and serves the next event.
    follow = invoke(lam, "bash-probe", {"probe": False})
    assert follow["payload"] == {"plain": True}
    assert "FunctionError" not in follow

    # A second response for an invocation already answered is an invalid state transition.
    line = wait_for_log(flare, "bash-probe", f"PROBE-RESULT {rid}")
    replies = line.split(f"PROBE-RESULT {rid}", 1)[1]
    assert "first=202 " in replies, line
    assert "second=403 " in replies, line
    assert '"InvalidStateTransition"' in replies, line
    assert replies.replace(" ", "").count('{"status":"OK"}') == 1, line


def test_bootstrap_init_error_is_reported(lam: Any) -> None:
    create_function(
        lam, "bash-init-error", bootstrap_zip(INIT_ERROR_BOOTSTRAP), handler="unused", runtime=RUNTIME
    )

    response = invoke(lam, "bash-init-error", {})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["payload"]["errorType"] == "Runtime.Custom"
    assert response["payload"]["errorMessage"] == "bad init"
    rid = request_id(response)
    assert f"START RequestId: {rid}" in response["log"]
    assert f"REPORT RequestId: {rid}" in response["log"]

    # Every invoke tries INIT again and fails the same way.
    again = invoke(lam, "bash-init-error", {})
    assert again["FunctionError"] == "Unhandled"
    assert again["payload"]["errorType"] == "Runtime.Custom"


def test_bootstrap_that_exits_gives_runtime_exit_error(lam: Any) -> None:
    create_function(lam, "bash-exit", bootstrap_zip(EXIT_BOOTSTRAP), handler="unused", runtime=RUNTIME)

    warm = invoke(lam, "bash-exit", {"ok": 1})
    assert warm["payload"]["count"] == 1
    old_pid = warm["payload"]["pid"]

    crashed = invoke(lam, "bash-exit", {"exit": True})
    rid = request_id(crashed)
    assert crashed["StatusCode"] == 200
    assert crashed["FunctionError"] == "Unhandled"
    assert crashed["payload"]["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in crashed["payload"]["errorMessage"]
    assert (
        crashed["payload"]["errorMessage"]
        == f"RequestId: {rid} Error: Runtime exited with error: exit status 3"
    )
    assert f"exiting with 3 during {rid}" in crashed["log"]
    assert f"REPORT RequestId: {rid}" in crashed["log"]

    # The next invoke gets a fresh environment: new process, count restarts, a cold start.
    fresh = invoke(lam, "bash-exit", {"ok": 2})
    assert "FunctionError" not in fresh
    assert fresh["payload"]["count"] == 1
    assert fresh["payload"]["pid"] != old_pid
    assert "Init Duration: " in fresh["log"]


# A runtime that does a little work after posting its response (flushing telemetry, say) before
# it long-polls /next again. Flare freezes the environment as soon as the caller has the
# response, so the GET /next only arrives after the next invoke thawed it and queued its event.
# (Regression: next_event used to answer that late /next with 403 InvalidStateTransition.)
SLOW_NEXT_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
COUNT=0
while true; do
  next
  COUNT=$((COUNT + 1))
  respond "{\"count\":$COUNT}"
  sleep 0.3
done
"""
)

CR_LOG_BOOTSTRAP = (
    BASH_PRELUDE
    + r"""
while true; do
  next
  printf 'progress 50%%\rprogress 100%%\n'
  echo "status line: $(head -1 "$WORK/headers")"
  respond '{"logged":true}'
done
"""
)


def test_bootstrap_slow_to_ask_for_next_still_gets_the_event(lam: Any) -> None:
    create_function(
        lam,
        "bash-slow-next",
        bootstrap_zip(SLOW_NEXT_BOOTSTRAP),
        handler="unused",
        runtime=RUNTIME,
        Timeout=2,
    )
    for count in (1, 2, 3):
        response = invoke(lam, "bash-slow-next", {})
        assert "FunctionError" not in response, response["payload"]
        assert response["payload"] == {"count": count}


def test_log_lines_with_carriage_returns_stay_readable(lam: Any, flare: FlareServer) -> None:
    create_function(lam, "bash-cr-log", bootstrap_zip(CR_LOG_BOOTSTRAP), handler="unused", runtime=RUNTIME)
    response = invoke(lam, "bash-cr-log", {})
    assert response["payload"] == {"logged": True}
    assert "progress 50%\rprogress 100%" in response["log"]
    messages = "\n".join(read_logs(flare, "bash-cr-log"))
    assert "progress 50%\rprogress 100%" in messages
    assert "status line: HTTP/1.1 200 OK" in messages


# ---- awslambdaric ----------------------------------------------------------------------------

RIC_APP = """\
def handler(event, context):
    if isinstance(event, dict) and event.get("raise"):
        raise ValueError("nope")
    print("ric handler saw", context.aws_request_id)
    return {
        "ric": True,
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ok": context.get_remaining_time_in_millis() > 0,
    }
"""


def test_awslambdaric_runs_a_python_handler(lam: Any, ric_tree: Path, ric_interpreter: Path) -> None:
    arn = create_function(
        lam, "ric-app", ric_zip(ric_tree, ric_interpreter, RIC_APP), handler="app.handler", runtime=RUNTIME
    )["FunctionArn"]

    first = invoke(lam, "ric-app", {"a": 1, "nested": {"b": [True, None]}})
    assert first["StatusCode"] == 200
    assert "FunctionError" not in first, first["payload"]
    assert first["ExecutedVersion"] == "$LATEST"
    # A dict, not a string of bytes: the /next reply's Content-Type was exactly application/json.
    assert first["payload"] == {
        "ric": True,
        "event": {"a": 1, "nested": {"b": [True, None]}},
        "request_id": request_id(first),
        "arn": arn,
        "remaining_ok": True,
    }
    assert f"ric handler saw {request_id(first)}" in first["log"]
    assert "Init Duration: " in first["log"]

    second = invoke(lam, "ric-app", [1, "two"])
    assert second["payload"]["event"] == [1, "two"]
    assert second["payload"]["request_id"] == request_id(second) != request_id(first)
    assert "Init Duration" not in second["log"]

    failed = invoke(lam, "ric-app", {"raise": True})
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    assert failed["payload"]["errorType"] == "ValueError"
    assert failed["payload"]["errorMessage"] == "nope"
    assert failed["payload"]["requestId"] == request_id(failed)
    assert any("app.py" in frame for frame in failed["payload"]["stackTrace"])

    # Still the same warm environment after a handled exception.
    after = invoke(lam, "ric-app", {"z": 0})
    assert after["payload"]["event"] == {"z": 0}
    assert "Init Duration" not in after["log"]

    broken = "import does_not_exist\n\ndef handler(event, context):\n    return 1\n"
    create_function(lam, "ric-broken", ric_zip(ric_tree, ric_interpreter, broken), runtime=RUNTIME)
    init_failed = invoke(lam, "ric-broken", {})
    assert init_failed["StatusCode"] == 200
    assert init_failed["FunctionError"] == "Unhandled"
    assert init_failed["payload"]["errorType"] == "Runtime.ImportModuleError"
    assert "does_not_exist" in init_failed["payload"]["errorMessage"]
    assert init_failed["payload"]["errorMessage"].startswith("Unable to import module 'app'")
