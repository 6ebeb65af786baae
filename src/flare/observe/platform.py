"""The platform's log lines of one function version, in its ``LoggingConfig.LogFormat``.

``Text`` (the default) is Lambda's tab-separated START / END / REPORT, INIT_START, INIT_REPORT,
RESTORE_START, RESTORE_REPORT (``observe/report.py``). ``JSON`` turns each into the record Lambda
writes instead, ``{"time", "type": "platform.<event>", "record": {...}}`` (the Telemetry API's
event shapes), kept or dropped by ``SystemLogLevel`` with the level Lambda gives each event:
``start``, ``report``, ``initStart``, ``restoreStart``, ``restoreReport`` are INFO;
``runtimeDone`` and an on-demand ``initReport`` DEBUG; any of them that did not succeed WARN.
With ``JSON``, the function's own lines are also filtered by ``ApplicationLogLevel``: a line
that is a JSON object with a ``level`` has that level, any other line is INFO.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.observe import report

SYSTEM_LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30}
APPLICATION_LEVELS = {"TRACE": 0, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}


class TextPlatformLog:
    """Lambda's plain-text platform lines (the invoke path's format: kept as cheap as before)."""

    def __init__(self, version: FunctionVersion) -> None:
        self._version = version

    def init_start(self, initialization_type: str = "on-demand") -> list[str]:
        return [report.init_start_line(self._version.runtime, self._version.region)]

    def init_report(
        self,
        init_ms: float,
        status: str,
        error_type: str | None = None,
        initialization_type: str = "on-demand",
    ) -> list[str]:
        return [report.init_report_line(init_ms, "init", status, error_type)]

    def init_succeeded(self, init_ms: float, initialization_type: str = "on-demand") -> list[str]:
        """Nothing: the Text format reports INIT only when it fails or times out."""
        return []

    def restore_start(self) -> list[str]:
        return [report.restore_start_line(self._version.runtime, self._version.region)]

    def restore_report(self, restore_ms: float) -> list[str]:
        return [report.restore_report_line(restore_ms)]

    def invocation(
        self,
        request_id: str,
        output: list[str],
        duration_ms: float,
        max_memory_mb: int,
        init_ms: float | None = None,
        restore_ms: float | None = None,
        error_type: str | None = None,
        failed: bool = False,
    ) -> list[str]:
        """START, ``output``, END, REPORT; REPORT has a Status when the environment ``failed``."""
        version = self._version
        summary = report.report_line(
            request_id,
            duration_ms,
            version.memory_mb,
            max_memory_mb,
            init_ms,
            report.failure_status(error_type) if failed else None,
            error_type if failed else None,
            restore_ms,
        )
        return report.invocation_lines(request_id, version.version, output, summary)


class JsonPlatformLog:
    """Lambda's JSON platform records, filtered by the system and application log levels."""

    def __init__(self, version: FunctionVersion, clock: Clock) -> None:
        self._version = version
        self._clock = clock
        self._system = SYSTEM_LEVELS.get(version.system_log_level or "INFO", 20)
        self._application = APPLICATION_LEVELS.get(version.application_log_level or "INFO", 20)

    def _event(self, level: int, kind: str, record: dict[str, Any]) -> list[str]:
        """One record; an environment of a tenant-isolated function names its tenant in each
        (``record.tenantId``, as AWS documents for ``platform.start`` and ``platform.report``)."""
        if level < self._system:
            return []
        if self._version.tenant_id is not None:
            record = {**record, "tenantId": self._version.tenant_id}
        stamp = datetime.datetime.fromtimestamp(self._clock.wall(), datetime.UTC)
        time = f"{stamp:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
        return [
            json.dumps({"time": time, "type": f"platform.{kind}", "record": record}, separators=(",", ":"))
        ]

    def _runtime(self) -> dict[str, str]:
        return {
            "runtimeVersion": report.runtime_version(self._version.runtime),
            "runtimeVersionArn": report.runtime_version_arn(self._version.runtime, self._version.region),
        }

    def init_start(self, initialization_type: str = "on-demand") -> list[str]:
        record = {"initializationType": initialization_type, "phase": "init", **self._runtime()}
        return self._event(20, "initStart", record)

    def init_report(
        self,
        init_ms: float,
        status: str,
        error_type: str | None = None,
        initialization_type: str = "on-demand",
    ) -> list[str]:
        record: dict[str, Any] = {
            "initializationType": initialization_type,
            "phase": "init",
            "status": status,
        }
        if error_type:
            record["errorType"] = error_type
        record["metrics"] = {"durationMs": round(init_ms, 3)}
        level = 30 if status != "success" else 10 if initialization_type == "on-demand" else 20
        return self._event(level, "initReport", record)

    def init_succeeded(self, init_ms: float, initialization_type: str = "on-demand") -> list[str]:
        return self.init_report(init_ms, "success", None, initialization_type)

    def restore_start(self) -> list[str]:
        return self._event(20, "restoreStart", self._runtime())

    def restore_report(self, restore_ms: float) -> list[str]:
        return self._event(
            20, "restoreReport", {"status": "success", "metrics": {"durationMs": round(restore_ms, 3)}}
        )

    def invocation(
        self,
        request_id: str,
        output: list[str],
        duration_ms: float,
        max_memory_mb: int,
        init_ms: float | None = None,
        restore_ms: float | None = None,
        error_type: str | None = None,
        failed: bool = False,
    ) -> list[str]:
        """platform.start, the output kept by ApplicationLogLevel, platform.runtimeDone and
        platform.report."""
        status = report.failure_status(error_type) if failed else ("error" if error_type else "success")
        done: dict[str, Any] = {"requestId": request_id, "status": status}
        metrics: dict[str, Any] = {
            "durationMs": round(duration_ms, 3),
            "billedDurationMs": report.billed_ms(duration_ms, init_ms),
            "memorySizeMB": self._version.memory_mb,
            "maxMemoryUsedMB": max_memory_mb,
        }
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        if restore_ms is not None:
            metrics["restoreDurationMs"] = round(restore_ms, 3)
        summary: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status}
        if error_type:
            done["errorType"] = summary["errorType"] = error_type
        done["metrics"] = {"durationMs": round(duration_ms, 3), "producedBytes": 0}
        return [
            *self._event(20, "start", {"requestId": request_id, "version": self._version.version}),
            *[line for line in output if application_level(line) >= self._application],
            *self._event(10 if status == "success" else 30, "runtimeDone", done),
            *self._event(20, "report", summary),
        ]


def application_level(line: str) -> int:
    """A line's application log level: its JSON ``level`` if it is a JSON object with one,
    else INFO."""
    if not line.startswith("{"):
        return 20
    try:
        document = json.loads(line)
    except ValueError:
        return 20
    level = document.get("level") if isinstance(document, dict) else None
    if not isinstance(level, str):
        return 20
    name = level.upper()
    return APPLICATION_LEVELS.get(_ALIASES.get(name, name), 20)


def platform_log(version: FunctionVersion, clock: Clock) -> TextPlatformLog | JsonPlatformLog:
    """The platform log of ``version``'s ``LoggingConfig.LogFormat``."""
    return JsonPlatformLog(version, clock) if version.log_format == "JSON" else TextPlatformLog(version)
