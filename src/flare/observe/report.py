"""Lambda's platform log lines, to the character (tab-separated Text format).

``START RequestId: <id> Version: <v>``, ``END RequestId: <id>``, and
``REPORT RequestId: <id>\\tDuration: 1.23 ms\\tBilled Duration: 2 ms\\tMemory Size: 128 MB\\t``
``Max Memory Used: 40 MB\\t`` + ``Init Duration: 12.34 ms\\t`` on a cold start (after Max Memory
Used, as AWS prints it; the emulator prints it first). Billed Duration is the duration rounded up
to 1 ms; since August 2025 Lambda also bills INIT for on-demand functions, so a cold start's
billed duration includes the init duration.
"""

from __future__ import annotations

import datetime
import math


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def runtime_version(runtime: str) -> str:
    """Flare's runtime version name for ``runtime`` (``python:3.12.flare``)."""
    return f"{runtime.replace('python', 'python:')}.flare"


def runtime_version_arn(runtime: str, region: str) -> str:
    return f"arn:aws:lambda:{region}::runtime:flare-{runtime}"


def init_start_line(runtime: str, region: str) -> str:
    return (
        f"INIT_START Runtime Version: {runtime_version(runtime)}\t"
        f"Runtime Version ARN: {runtime_version_arn(runtime, region)}"
    )


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    return f"{line}\tError Type: {error_type}" if error_type else line


def restore_start_line(runtime: str, region: str) -> str:
    return init_start_line(runtime, region).replace("INIT_START", "RESTORE_START", 1)


def restore_report_line(restore_ms: float) -> str:
    return f"RESTORE_REPORT Restore Duration: {restore_ms:.2f} ms"


def billed_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed milliseconds: ceil of duration (plus init, billed since Aug 2025), at least 1."""
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
    restore_ms: float | None = None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if restore_ms is not None:
        line += (
            f"Restore Duration: {restore_ms:.2f} ms\tBilled Restore Duration: {math.ceil(restore_ms)} ms\t"
        )
    if status is not None:
        line += f"Status: {status}\t"
        if error_type:
            line += f"Error Type: {error_type}\t"
    return line


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


def invocation_lines(request_id: str, version: str, output: list[str], report: str) -> list[str]:
    """One invocation's log: START, ``output``, END and the ``report_line``."""
    return [start_line(request_id, version), *output, end_line(request_id), report]


def failure_status(error_type: str | None) -> str:
    """REPORT's ``Status`` for an invocation that failed the environment (timeout or crash)."""
    return "timeout" if error_type == "Sandbox.Timedout" else "error"


def timed_out_line(wall: float, request_id: str, timeout_s: float) -> str:
    """The line Lambda logs when the deadline passes, stamped ``wall`` (epoch seconds):
    ``2026-11-30T10:00:00.123Z <id> Task timed out after 3.00 seconds``."""
    stamp = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return (
        f"{stamp:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + f"Z {request_id} Task timed out after {timeout_s:.2f} seconds"
    )
