"""The records of the platform events the Telemetry API delivers (schema ``2022-12-13``).

Each function returns the ``record`` of one event; ``TelemetryHub.emit`` adds ``time`` and
``type``. Pure.
"""

from __future__ import annotations

from typing import Any

from flare.control.model import FunctionVersion
from flare.observe import report


def _status(error_type: str | None, failed: bool) -> str:
    if error_type is None:
        return "success"
    if error_type == "Sandbox.Timedout":
        return "timeout"
    return "failure" if failed else "error"


def init_start(version: FunctionVersion, initialization_type: str) -> dict[str, Any]:
    return {
        "initializationType": initialization_type,
        "phase": "init",
        "runtimeVersion": report.runtime_version(version.runtime),
        "runtimeVersionArn": report.runtime_version_arn(version.runtime, version.region),
        "functionName": version.name,
        "functionVersion": version.version,
    }


def init_runtime_done(initialization_type: str, error_type: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "initializationType": initialization_type,
        "phase": "init",
        "status": _status(error_type, True),
    }
    if error_type:
        record["errorType"] = error_type
    return record


def init_report(initialization_type: str, init_ms: float, error_type: str | None) -> dict[str, Any]:
    record = init_runtime_done(initialization_type, error_type)
    record["metrics"] = {"durationMs": round(init_ms, 3)}
    return record


def tracing(trace_id: str) -> dict[str, str]:
    return {"type": "X-Amzn-Trace-Id", "value": trace_id}


def start(request_id: str, version: str, trace_id: str) -> dict[str, Any]:
    return {"requestId": request_id, "version": version, "tracing": tracing(trace_id)}


def runtime_done(
    request_id: str,
    error_type: str | None,
    failed: bool,
    duration_ms: float,
    produced_bytes: int,
    trace_id: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {"requestId": request_id, "status": _status(error_type, failed)}
    if error_type:
        record["errorType"] = error_type
    record["metrics"] = {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes}
    record["tracing"] = tracing(trace_id)
    return record


def invoke_report(
    request_id: str,
    error_type: str | None,
    failed: bool,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None,
    trace_id: str,
) -> dict[str, Any]:
    """``platform.report``: ``durationMs`` is the whole invoke phase, the extensions' work after
    the runtime's answer included (as REPORT's Duration)."""
    metrics: dict[str, Any] = {
        "durationMs": round(duration_ms, 3),
        "billedDurationMs": report.billed_ms(duration_ms, init_ms),
        "memorySizeMB": memory_mb,
        "maxMemoryUsedMB": max_memory_mb,
    }
    if init_ms is not None:
        metrics["initDurationMs"] = round(init_ms, 3)
    record: dict[str, Any] = {"requestId": request_id, "status": _status(error_type, failed)}
    if error_type:
        record["errorType"] = error_type
    record["metrics"] = metrics
    record["tracing"] = tracing(trace_id)
    return record


def extension(name: str, state: str, events: tuple[str, ...], error_type: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name, "state": state, "events": list(events)}
    if error_type:
        record["errorType"] = error_type
    return record
