"""Platform lines in Text and JSON, and the application level of output lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.control.model import FunctionVersion
from flare.observe.platform import application_level, platform_log

VERSION = FunctionVersion(
    name="f",
    version="$LATEST",
    function_arn="arn:aws:lambda:r:1:function:f",
    runtime="python3.12",
    handler="app.handler",
    memory_mb=256,
    timeout_s=3,
    ephemeral_mb=512,
    environment={},
    code_sha256="",
    code_dir=Path("/nonexistent"),
    revision_id="r",
    region="r",
    account_id="1",
)


def json_log(system: str = "INFO", application: str = "INFO") -> list[str]:
    version = dataclasses.replace(
        VERSION, log_format="JSON", system_log_level=system, application_log_level=application
    )
    return platform_log(version, ManualClock()).invocation(
        "id-1", ["plain", '{"level":"debug"}'], 1.5, 40, 12.0
    )


def test_text_invocation_is_start_output_end_report() -> None:
    lines = platform_log(VERSION, ManualClock()).invocation("id-1", ["out"], 1.5, 40, 12.0)
    assert lines[:3] == ["START RequestId: id-1 Version: $LATEST", "out", "END RequestId: id-1"]
    assert lines[3].startswith("REPORT RequestId: id-1\tDuration: 1.50 ms\tBilled Duration: 14 ms")


def test_json_invocation_records() -> None:
    start, plain, report = json_log()
    assert json.loads(start)["type"] == "platform.start"
    assert json.loads(start)["record"] == {"requestId": "id-1", "version": "$LATEST"}
    assert plain == "plain"
    record = json.loads(report)
    assert record["type"] == "platform.report" and record["time"] == "2026-01-01T00:00:00.000Z"
    assert record["record"] == {
        "requestId": "id-1",
        "metrics": {
            "durationMs": 1.5,
            "billedDurationMs": 14,
            "memorySizeMB": 256,
            "maxMemoryUsedMB": 40,
            "initDurationMs": 12.0,
        },
        "status": "success",
    }


def test_system_debug_adds_runtime_done_and_warn_keeps_only_failures() -> None:
    lines = json_log(system="DEBUG", application="DEBUG")
    types = [json.loads(line).get("type") if line.startswith("{") else None for line in lines]
    assert types == ["platform.start", None, None, "platform.runtimeDone", "platform.report"]
    assert json_log(system="WARN") == ["plain"]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("plain text", 20),
        ('{"level": "debug"}', 10),
        ('{"level": "WARNING"}', 30),
        ('{"level": "CRITICAL"}', 50),
        ('{"level": 5}', 20),
        ("{not json", 20),
        ('{"msg": "no level"}', 20),
    ],
)
def test_application_level_of_a_line(line: str, level: int) -> None:
    assert application_level(line) == level
