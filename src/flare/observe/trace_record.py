"""Recording every invocation to a trace file (``flare serve --trace FILE``), off the invoke path.

The router hands each invocation to ``TraceRecorder.invoked`` (or ``throttled``) after its caller
has been answered and its environment released. That call appends a tuple of references to a
list, nothing more; the list is turned into JSON lines (``observe.trace_format``) and written
in one batch ``FLUSH_S`` seconds of the engine's clock after its first entry, or as soon as it
holds ``BATCH`` entries (on the loop's next turn, never inside the call), and at ``close``.

Bounded: once the file would pass ``max_bytes``, recording stops for the rest of the run
(a warning is logged once) and later invocations are only counted; the end line written by
``close`` says how many were recorded and how many were left out.

Contract: used from the event loop's thread; ``close`` once, when the engine stops.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import BinaryIO

from flare.clock import Clock, TimerHandle
from flare.control.model import FunctionVersion
from flare.observe import trace_format
from flare.observe.trace_format import Header
from flare.sandbox.invocation import Invocation, InvocationResult

log = logging.getLogger("flare.trace")

FLUSH_S = 1.0
BATCH = 1000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
VERSIONS_KEPT = 1024

# (arrival, version, invocation, result (None: throttled), start, latency ms, reserved,
#  provisioned, environment ended, throttle reason)
_Result = InvocationResult | None
_Entry = tuple[
    float, FunctionVersion, Invocation, _Result, str | None, float, int | None, int, bool, str | None
]


def _qualifier(invoked_arn: str) -> str | None:
    parts = invoked_arn.split(":")
    return parts[7] if len(parts) == 8 else None


class TraceRecorder:
    """Appends invocations to the trace at ``path`` (created, or truncated, with its header)."""

    def __init__(self, path: Path, clock: Clock, header: Header, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._clock = clock
        self._origin = header.clock
        self._max_bytes = max_bytes
        self._file: BinaryIO | None = path.open("wb")
        self._pending: list[_Entry] = []
        self._timer: TimerHandle | None = None
        self._soon: asyncio.Handle | None = None
        self.recorded = 0
        self.dropped = 0
        self._full = False
        # (function ARN, revision) => the fields of its lines that it fixes
        self._versions: dict[tuple[str, str], dict[str, object]] = {}
        self._written = self._write([header.to_json()])

    def __repr__(self) -> str:
        return f"<TraceRecorder recorded={self.recorded} pending={len(self._pending)} dropped={self.dropped}>"

    def invoked(
        self,
        began: float,
        version: FunctionVersion,
        invocation: Invocation,
        result: InvocationResult,
        start: str,
        latency_ms: float,
        reserved: int | None,
        provisioned: int,
        ended: bool = False,
    ) -> None:
        """``invocation`` (arrived at ``began`` on the engine's clock) was answered with
        ``result`` after ``latency_ms``, from a ``start`` environment (``trace_format.STARTS``);
        ``ended``: that environment does not serve again (it failed)."""
        entry = (began, version, invocation, result, start, latency_ms, reserved, provisioned, ended, None)
        self._add(entry)

    def throttled(
        self,
        began: float,
        version: FunctionVersion,
        invocation: Invocation,
        reason: str,
        reserved: int | None,
        provisioned: int,
    ) -> None:
        """``invocation`` was refused with 429 for ``reason`` (AWS's throttle Reason)."""
        latency_ms = (self._clock.now() - began) * 1000
        self._add((began, version, invocation, None, None, latency_ms, reserved, provisioned, False, reason))

    def _add(self, entry: _Entry) -> None:
        if self._full:
            self.dropped += 1
            return
        pending = self._pending
        pending.append(entry)
        if len(pending) == 1:
            self._timer = self._clock.call_later(FLUSH_S, self.flush)
        elif len(pending) >= BATCH and self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write what is pending, as one batch (stopping at the size bound)."""
        for handle in (self._timer, self._soon):
            if handle is not None:
                handle.cancel()
        self._timer = self._soon = None
        pending, self._pending = self._pending, []
        if self._file is None or not pending:
            return
        lines = [trace_format.dumps(self._line(entry)) for entry in pending]
        fit = 0
        for line in lines:
            if self._written + len(line) > self._max_bytes:
                break
            self._written += len(line)
            fit += 1
        self._file.write(b"".join(lines[:fit]))
        self._file.flush()
        self.recorded += fit
        if fit < len(lines):
            self.dropped += len(lines) - fit
            log.warning("the trace is full (%d bytes): invocations are no longer recorded", self._max_bytes)
            self._full = True

    def close(self) -> None:
        """Write what is pending and the end line; later invocations are only counted."""
        self.flush()
        self._full = True
        if self._file is None:
            return
        self._file.write(trace_format.dumps(trace_format.end_line(self.recorded, self.dropped)))
        self._file.close()
        self._file = None

    def _write(self, lines: list[dict[str, object]]) -> int:
        assert self._file is not None
        data = b"".join(trace_format.dumps(line) for line in lines)
        self._file.write(data)
        self._file.flush()
        return len(data)

    def _static(self, version: FunctionVersion) -> dict[str, object]:
        """The fields of a line that ``version`` (one revision of it) fixes, made once."""
        key = (version.function_arn, version.revision_id)
        static = self._versions.get(key)
        if static is None:
            if len(self._versions) >= VERSIONS_KEPT:
                self._versions.clear()
            static = self._versions[key] = {
                "kind": "invoke",
                "account": version.account_id,
                "region": version.region,
                "function": version.name,
                "version": version.version,
                "memory_mb": version.memory_mb,
                "architecture": version.architecture,
                "timeout_s": version.timeout_s,
                "snapstart": version.snap_start,
            }
        return static

    def _line(self, entry: _Entry) -> dict[str, object]:
        """``entry`` as its trace line: a ``trace_format.Record``'s fields (a dict: a Record
        costs three times as much to build)."""
        began, version, invocation, result, start, latency_ms, reserved, provisioned, ended, reason = entry
        line = dict(self._static(version))
        line["t"] = round(began - self._origin, 6)
        line["qualifier"] = _qualifier(invocation.invoked_arn)
        line["source"] = invocation.source
        line["reserved"] = reserved
        line["provisioned"] = provisioned
        line["outcome"] = "throttle"
        line["start"] = start
        line["latency_ms"] = _ms(latency_ms)
        line["ended"] = ended
        line["reason"] = reason
        if result is None:
            line["init_ms"] = line["restore_ms"] = line["duration_ms"] = line["error_type"] = None
        else:
            line["version"] = result.executed_version
            line["outcome"] = "ok" if result.function_error is None else "error"
            line["init_ms"] = _ms(result.init_ms)
            line["restore_ms"] = _ms(result.restore_ms)
            line["duration_ms"] = _ms(result.duration_ms)
            line["error_type"] = result.error_type
        return line


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
