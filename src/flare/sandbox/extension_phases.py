"""An environment's extensions and telemetry across its lifecycle: what ``Environment`` calls
at each of its steps when the function has extensions or a subscriber.

* INIT: ``launch_spec`` (the zygote's ``extensions`` header: the executables, their
  variables, the status and gate pipes), ``spawned`` (read the status pipe; open the gate when
  every extension has registered), ``ready`` (INIT ends when they all called next too).
* INVOKE: ``invoke_started`` hands the ``INVOKE`` event over; ``runtime_done`` starts the
  post-runtime phase, which ends when every extension called next again (``post_invoke``).
* SHUTDOWN: ``shut_down`` hands ``SHUTDOWN`` over and waits for the processes to end, within
  ``budget_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.observe import telemetry_events as events
from flare.sandbox.extensions import ExtensionHost, invoke_event
from flare.sandbox.inside_post import InsidePoster
from flare.sandbox.invocation import Invocation, Outcome
from flare.sandbox.logpipe import LogPipe
from flare.sandbox.telemetry import TelemetryHub

EXTENSIONS_DIR = "extensions"
SHUTDOWN_BUDGET_S = 2.0  # SHUTDOWN in all, with external extensions
RUNTIME_SHARE_S = 0.3  # the runtime's part of it; the extensions get the rest
# Variables of the runtime that extensions do not get (as Lambda leaves them out), besides
# every one starting with "_".
RUNTIME_ONLY = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_XRAY_CONTEXT_MISSING",
        "PYTHONPATH",
    }
)


def extension_names(version: FunctionVersion) -> list[str]:
    """The executables of the layers' ``extensions`` directory, in name order."""
    if version.opt_dir is None:
        return []
    directory = Path(version.opt_dir) / EXTENSIONS_DIR
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return []
    return [name for name in entries if (directory / name).is_file() and os.access(directory / name, os.X_OK)]


def extension_variables(variables: dict[str, str]) -> dict[str, str]:
    """What an extension's process gets of the runtime's variables. Pure."""
    return {
        key: value for key, value in variables.items() if key not in RUNTIME_ONLY and not key.startswith("_")
    }


class ExtensionPhases:
    def __init__(
        self,
        names: list[str],
        clock: Clock,
        on_failure: Callable[[str, str], None],
        on_output: Callable[[list[str]], None] = lambda lines: None,
    ) -> None:
        """``on_failure(error_type, message)``: an extension failed; ``on_output(lines)``: what
        the extensions printed, for the function's log."""
        self.host = ExtensionHost(names, on_failure)
        self._on_output = on_output
        self._output: LogPipe | None = None
        self.telemetry = TelemetryHub(clock)
        self._names = names
        self._clock = clock
        self._status_r = self._gate_w = -1
        self._status_buffer = b""
        self.post_invoke: asyncio.Future[None] | None = None
        self._version: FunctionVersion | None = None

    def launch_spec(
        self, opt_dir: str, variables: dict[str, str], child_fds: list[int]
    ) -> dict[str, Any] | None:
        """The zygote's ``extensions`` header (None without external extensions); appends the
        child's ends of the status and gate pipes to ``child_fds`` (which the spawn passes
        after the log's descriptor, and closes)."""
        if not self._names:
            return None
        self._status_r, status_w = os.pipe()
        gate_r, self._gate_w = os.pipe()
        self._output = LogPipe(self._extension_output)
        output_w, self._output.write_fd = self._output.write_fd, -1  # the spawn closes it
        spec = {
            "paths": [f"{opt_dir}/{EXTENSIONS_DIR}/{name}" for name in self._names],
            "env": extension_variables(variables),
            "status": len(child_fds) + 1,
            "gate": len(child_fds) + 2,
            "log": len(child_fds) + 3,
        }
        child_fds += [status_w, gate_r, output_w]
        return spec

    def _extension_output(self, lines: list[str]) -> None:
        """The extensions' output: the function's log, and the ``extension`` stream."""
        for line in lines:
            self.telemetry.emit("extension", "extension", line)
        self._on_output(lines)

    def spawned(self, inside_pid: int | None) -> None:
        """After the spawn: follow the status pipe, and open the gate once every extension
        has registered. ``inside_pid``: the runtime's, when the environment has a network of
        its own (telemetry is posted from inside it)."""
        if inside_pid is not None:
            self.telemetry.post_with(InsidePoster(inside_pid))
        if self._output is not None:
            self._output.child_started()
        if self._status_r < 0:
            return
        os.set_blocking(self._status_r, False)
        asyncio.get_running_loop().add_reader(self._status_r, self._read_status)
        self.host.registered().add_done_callback(lambda _: self._open_gate())

    def _open_gate(self) -> None:
        if self._gate_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._gate_w, b"1")
            os.close(self._gate_w)
            self._gate_w = -1

    def _read_status(self) -> None:
        try:
            data = os.read(self._status_r, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._status_r)
            return
        self._status_buffer += data
        *lines, self._status_buffer = self._status_buffer.split(b"\n")
        for line in lines:
            name, _, status = line.decode(errors="replace").rpartition(" ")
            if name and status.lstrip("-").isdigit():
                self.host.process_ended(name, int(status))

    def init_started(self, version: FunctionVersion, initialization_type: str) -> None:
        self._version = version
        self.telemetry.emit("platform", "platform.initStart", events.init_start(version, initialization_type))

    def init_over(self, initialization_type: str, init_ms: float, error_type: str | None) -> list[str]:
        """INIT ended (``error_type`` None: it succeeded): registration closes, the
        subscribers get its events; returns the extensions' ``EXTENSION`` log lines."""
        host, telemetry = self.host, self.telemetry
        host.close_registration()
        for extension in host.extensions():
            record = events.extension(
                extension.name, extension.state.value, extension.events, extension.error_type
            )
            telemetry.emit("platform", "platform.extension", record)
        kind = initialization_type
        telemetry.emit("platform", "platform.initRuntimeDone", events.init_runtime_done(kind, error_type))
        telemetry.emit("platform", "platform.initReport", events.init_report(kind, init_ms, error_type))
        telemetry.end_backlog()
        return host.log_lines() if host.active else []

    # ---- INVOKE -----------------------------------------------------------------------

    async def before_invoke(self) -> None:
        """Wait for the previous invoke's post-runtime phase to end."""
        if self.post_invoke is not None and not self.post_invoke.done():
            await asyncio.wait([self.post_invoke])

    def invoke_started(self, invocation: Invocation, version: str, deadline_ms: int) -> None:
        """``INVOKE`` to the extensions that asked for it; ``platform.start``."""
        request_id, trace_id = invocation.request_id, invocation.trace_id
        self.host.deliver("INVOKE", invoke_event(request_id, deadline_ms, invocation.invoked_arn, trace_id))
        self.telemetry.emit("platform", "platform.start", events.start(request_id, version, trace_id))

    def runtime_done(
        self, invocation: Invocation, outcome: Outcome, duration_ms: float
    ) -> asyncio.Future[None] | None:
        """The runtime answered: ``platform.runtimeDone`` (the Logs API's ``platform.end``);
        returns the post-runtime phase when an extension is still busy with the event."""
        request_id = invocation.request_id
        failed = not outcome.healthy
        record = events.runtime_done(
            request_id, outcome.error_type, failed, duration_ms, len(outcome.payload), invocation.trace_id
        )
        self.telemetry.emit("platform", "platform.runtimeDone", record)
        self.telemetry.emit("platform", "platform.end", {"requestId": request_id})
        quiet = self.host.quiet()
        self.post_invoke = None if quiet.done() or failed else quiet
        return self.post_invoke

    def reported(
        self,
        invocation: Invocation,
        outcome: Outcome,
        output: list[str],
        duration_ms: float,
        max_memory_mb: int,
        init_ms: float | None,
    ) -> None:
        """The invocation's log is being written: its output (``function``) and
        ``platform.report`` to the subscribers."""
        for line in output:
            self.telemetry.emit("function", "function", line)
        memory_mb = self._version.memory_mb if self._version is not None else 0
        record = events.invoke_report(
            invocation.request_id,
            outcome.error_type,
            not outcome.healthy,
            duration_ms,
            memory_mb,
            max_memory_mb,
            init_ms,
            invocation.trace_id,
        )
        self.telemetry.emit("platform", "platform.report", record)

    # ---- SHUTDOWN ---------------------------------------------------------------------

    async def shut_down(self, reason: str) -> None:
        """Hand ``SHUTDOWN`` over and wait, within the extensions' share of the budget, for
        every external extension's process to end."""
        budget = SHUTDOWN_BUDGET_S - RUNTIME_SHARE_S
        deadline_ms = int((self._clock.wall() + SHUTDOWN_BUDGET_S) * 1000)
        began = self._clock.now()
        await self.telemetry.drain(budget / 2)  # what is left reaches the extensions before SHUTDOWN
        budget -= self._clock.now() - began
        self.host.shut_down(reason, deadline_ms)
        ended = self.host.ended()
        if not ended.done():
            timer = self._clock.call_later(budget, lambda: _give_up(ended))
            with contextlib.suppress(asyncio.CancelledError):
                await ended
            timer.cancel()

    async def close(self) -> None:
        """The environment is gone: a post-runtime phase still open ends (its waiters go on),
        the pipes close, the subscriptions end."""
        if self.post_invoke is not None and not self.post_invoke.done():
            self.post_invoke.cancel()
        if self._output is not None:
            self._extension_output(self._output.drain(final=True))
            self._output.close()
            self._output = None
        if self._status_r >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._status_r)
            os.close(self._status_r)
            self._status_r = -1
        if self._gate_w >= 0:
            os.close(self._gate_w)
            self._gate_w = -1
        await self.telemetry.close()


def _give_up(waiting: asyncio.Future[None]) -> None:
    waiting.cancel()
