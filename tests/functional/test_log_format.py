"""``LoggingConfig``: JSON records from the Python runtime and the platform, log levels, custom groups."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, python_function

HANDLER = """
import json, logging
logger = logging.getLogger("app")
def handler(event, context):
    logger.debug("debug detail")
    logger.info("hello %s", "json", extra={"orderId": 7})
    logger.warning("careful")
    print("plain print")
    print(json.dumps({"level": "ERROR", "msg": "raw json"}))
    if event.get("fail"):
        raise ValueError("bad input")
    return context.aws_request_id
"""


@pytest.fixture(scope="module")
def logs(flare: FlareServer) -> Any:
    return flare.client("logs")


def invoke_and_read(
    lam: Any, logs: Any, logging_config: dict[str, str], event: Any = None
) -> tuple[str, list[str]]:
    name = f"fmt-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, python_function(HANDLER), LoggingConfig=logging_config)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    request_id = answer["ResponseMetadata"]["RequestId"]
    group = logging_config.get("LogGroup", f"/aws/lambda/{name}")
    deadline = time.monotonic() + 10
    while True:
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        if (
            any('"platform.report"' in m or m.startswith("REPORT") for m in messages)
            or time.monotonic() > deadline
        ):
            return request_id, messages


def records(messages: list[str]) -> list[Any]:
    return [json.loads(m) if m.startswith("{") else m for m in messages]


def test_json_format_writes_lambdas_records_at_info(lam: Any, logs: Any) -> None:
    group = f"/custom/{uuid.uuid4().hex[:8]}"
    request_id, messages = invoke_and_read(lam, logs, {"LogFormat": "JSON", "LogGroup": group})
    found = records(messages)
    kinds = [r["type"] if isinstance(r, dict) and "type" in r else r for r in found]
    assert kinds[0] == "platform.initStart"
    start = next(r for r in found if isinstance(r, dict) and r.get("type") == "platform.start")
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start["time"])
    app = [r for r in found if isinstance(r, dict) and "logger" in r]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "hello json"), ("WARNING", "careful")]
    assert app[0]["logger"] == "app" and app[0]["requestId"] == request_id and app[0]["orderId"] == 7
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", app[0]["timestamp"])
    assert "plain print" in found
    assert {"level": "ERROR", "msg": "raw json"} in found
    report = next(r for r in found if isinstance(r, dict) and r.get("type") == "platform.report")["record"]
    assert report["requestId"] == request_id and report["status"] == "success"
    assert set(report["metrics"]) >= {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }
    assert not any(isinstance(r, dict) and r.get("type") == "platform.runtimeDone" for r in found)
    assert not any(isinstance(m, str) and m.startswith(("START", "END", "REPORT")) for m in found)


def test_application_log_level_filters_the_runtimes_records_and_plain_output(lam: Any, logs: Any) -> None:
    _, messages = invoke_and_read(lam, logs, {"LogFormat": "JSON", "ApplicationLogLevel": "ERROR"})
    found = records(messages)
    assert not any(isinstance(r, dict) and "logger" in r for r in found), "INFO and WARNING records dropped"
    assert "plain print" not in found, "a line without a level counts as INFO"
    assert {"level": "ERROR", "msg": "raw json"} in found


def test_application_debug_level_keeps_debug_records(lam: Any, logs: Any) -> None:
    _, messages = invoke_and_read(lam, logs, {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    levels = [r["level"] for r in records(messages) if isinstance(r, dict) and "logger" in r]
    assert levels == ["DEBUG", "INFO", "WARNING"]


def test_system_log_level_debug_adds_runtime_done_and_warn_drops_start_and_report(
    lam: Any, logs: Any
) -> None:
    _, debug = invoke_and_read(lam, logs, {"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})
    types = [r.get("type") for r in records(debug) if isinstance(r, dict)]
    assert "platform.runtimeDone" in types and "platform.initReport" in types
    name = f"fmt-{uuid.uuid4().hex[:8]}"
    create_function(
        lam, name, python_function(HANDLER), LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"}
    )
    lam.invoke(FunctionName=name, Payload=b"{}")
    time.sleep(0.5)
    quiet = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    assert quiet and not any('"platform.' in m for m in quiet)


def test_json_format_logs_an_unhandled_error_as_one_record(lam: Any, logs: Any) -> None:
    request_id, messages = invoke_and_read(lam, logs, {"LogFormat": "JSON"}, {"fail": True})
    error = next(r for r in records(messages) if isinstance(r, dict) and r.get("errorType") == "ValueError")
    assert error["level"] == "ERROR" and error["errorMessage"] == "bad input"
    assert error["requestId"] == request_id and isinstance(error["stackTrace"], list)
    report = next(r for r in records(messages) if isinstance(r, dict) and r.get("type") == "platform.report")
    assert report["record"]["status"] == "error" and report["record"]["errorType"] == "ValueError"


def test_text_format_logging_has_lambdas_prefix(lam: Any, logs: Any) -> None:
    request_id, messages = invoke_and_read(lam, logs, {"LogFormat": "Text"})
    warning = [m for m in messages if m.startswith("[WARNING]")]
    assert len(warning) == 1
    assert re.fullmatch(
        rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tcareful", warning[0]
    )
    assert not any("hello json" in m for m in messages), "the root logger stays at WARNING in Text mode"
    assert "plain print" in messages
