"""An environment's extensions: who registered, what each is doing, and the phases they gate.

External extensions are the executables of ``/opt/extensions`` (``extension_launch.py`` starts
them); any other name that registers is an internal one (a thread of the runtime's process,
``INVOKE`` only). Each extension's state moves only by ``ALLOWED``::

    LAUNCHED ─register─▶ REGISTERED ─next─▶ READY ⇄ RUNNING (an event handed over, until next)
        │                    │  └─init/error─▶ INIT_ERROR         └─exit/error─▶ EXIT_ERROR
        └────────────────────┴──────── (process ended) ──────────▶ EXITED

The phases, as Lambda runs them: the runtime starts once every external extension has
registered (``registered``); INIT ends when the runtime *and* every extension called next
(``ready``); an invoke's post-runtime phase ends when no extension is RUNNING (``quiet``);
SHUTDOWN hands its event to those that asked for it, then waits for every process to end
(``ended``). A failure (an error reported, a process that ended outside SHUTDOWN) goes to
``on_failure`` with Lambda's ``Extension.*`` error type. The HTTP side is ``extension_api.py``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flare.sandbox.runtime_api import RuntimeApiError

EVENTS = ("INVOKE", "SHUTDOWN")
MAX_EXTENSIONS = 10
LAUNCH_FAILED = 127  # extension_launch.LAUNCH_FAILED: the executable could not be started


class ExtState(enum.Enum):
    LAUNCHED = "Launched"
    REGISTERED = "Registered"
    READY = "Ready"
    RUNNING = "Running"
    INIT_ERROR = "InitError"
    EXIT_ERROR = "ExitError"
    EXITED = "Exited"

    __hash__ = object.__hash__


ALLOWED: dict[ExtState, frozenset[ExtState]] = {
    ExtState.LAUNCHED: frozenset({ExtState.REGISTERED, ExtState.EXITED}),
    ExtState.REGISTERED: frozenset({ExtState.READY, ExtState.INIT_ERROR, ExtState.EXITED}),
    ExtState.READY: frozenset({ExtState.RUNNING, ExtState.EXIT_ERROR, ExtState.EXITED}),
    ExtState.RUNNING: frozenset({ExtState.READY, ExtState.EXIT_ERROR, ExtState.EXITED}),
    ExtState.INIT_ERROR: frozenset({ExtState.EXITED}),
    ExtState.EXIT_ERROR: frozenset({ExtState.EXITED}),
    ExtState.EXITED: frozenset(),
}


def forbidden(error_type: str, message: str) -> RuntimeApiError:
    return RuntimeApiError(403, error_type, message)


@dataclass(eq=False)
class Extension:
    name: str
    external: bool
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    events: tuple[str, ...] = ()
    state: ExtState = ExtState.LAUNCHED
    error_type: str | None = None
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    waiter: asyncio.Future[dict[str, Any]] | None = None

    def move(self, to: ExtState) -> None:
        if to not in ALLOWED[self.state]:
            raise forbidden(
                "Extension.InvalidExtensionState",
                f"State transition from {self.state.value} to {to.value} failed for extension {self.name}",
            )
        self.state = to


def failure_type(extension: Extension, status: int) -> str:
    """Lambda's error type for an extension whose process ended (raw wait ``status``) outside
    SHUTDOWN. Pure."""
    if extension.state is ExtState.INIT_ERROR:
        return "Extension.InitError"
    if extension.state is ExtState.EXIT_ERROR:
        return "Extension.ExitError"
    launch_failed = os.WIFEXITED(status) and os.WEXITSTATUS(status) == LAUNCH_FAILED
    if extension.state is ExtState.LAUNCHED and launch_failed:
        return "Extension.LaunchError"
    return "Extension.Crash"


class ExtensionHost:
    """The extensions of one environment (see the module docstring)."""

    def __init__(self, names: list[str], on_failure: Callable[[str, str], None]) -> None:
        """``names``: the external extensions launched; ``on_failure(error_type, message)``."""
        self._by_id: dict[str, Extension] = {}
        self._by_name = {name: Extension(name, external=True) for name in names}
        self._on_failure = on_failure
        self._open = True  # registration, until INIT ends
        self._shutting_down = False
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    @property
    def active(self) -> bool:
        """Whether any extension exists (the invoke path skips everything else when not)."""
        return bool(self._by_name)

    def extensions(self) -> list[Extension]:
        return list(self._by_name.values())

    # ---- the Extensions API -----------------------------------------------------------

    def register(self, name: str, events: list[str]) -> Extension:
        """``POST /extension/register``, with AWS's 403s (``Extension.*``)."""
        for event in events:
            if event not in EVENTS:
                raise forbidden("Extension.InvalidEventType", f"{event}: ErrorInvalidEventType")
        extension = self._by_name.get(name)
        if extension is None:
            extension = self._internal(name, events)
        extension.move(ExtState.REGISTERED)
        extension.events = tuple(events)
        self._by_id[extension.id] = extension
        self._check()
        return extension

    def _internal(self, name: str, events: list[str]) -> Extension:
        if "SHUTDOWN" in events:
            raise forbidden(
                "Extension.InvalidEventType", "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"
            )
        if not self._open:
            raise forbidden("Extension.RegistrationClosed", "Extension registration closed already")
        if len(self._by_name) >= MAX_EXTENSIONS:
            raise forbidden("Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached")
        extension = self._by_name[name] = Extension(name, external=False)
        return extension

    def find(self, identifier: str | None) -> Extension:
        """The extension a ``Lambda-Extension-Identifier`` names, or AWS's 403."""
        if not identifier:
            raise forbidden(
                "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"
            )
        try:
            key = str(uuid.UUID(identifier))
        except ValueError:
            raise forbidden(
                "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            ) from None
        extension = self._by_id.get(key)
        if extension is None:
            raise forbidden("Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}")
        return extension

    async def next(self, extension: Extension) -> dict[str, Any]:
        """``GET /extension/event/next``: the extension is done with what it had; its next
        event when there is one."""
        extension.move(ExtState.READY)
        if extension.pending:
            extension.move(ExtState.RUNNING)
        else:
            extension.waiter = asyncio.get_running_loop().create_future()
        self._check()
        if extension.waiter is not None:
            try:
                await extension.waiter
            finally:
                extension.waiter = None
        return extension.pending.popleft()

    def report_error(self, extension: Extension, error_type: str, during_init: bool) -> None:
        """``/extension/init/error`` (``during_init``) or ``/extension/exit/error``."""
        extension.move(ExtState.INIT_ERROR if during_init else ExtState.EXIT_ERROR)
        extension.error_type = error_type
        kind = "Extension.InitError" if during_init else "Extension.ExitError"
        self._on_failure(kind, f"Extension {extension.name} reported {error_type}")

    # ---- the environment's side -------------------------------------------------------

    def close_registration(self) -> None:
        self._open = False

    def registered(self) -> asyncio.Future[None]:
        """Done when no external extension is still to register."""
        return self._watch(lambda: all(e.state is not ExtState.LAUNCHED for e in self._by_name.values()))

    def ready(self) -> asyncio.Future[None]:
        """Done when every extension that registered waits in next (INIT's end)."""
        return self._watch(self._all_waiting)

    def quiet(self) -> asyncio.Future[None]:
        """Done when no extension is handling an event (an invoke's post-runtime phase over)."""
        return self._watch(lambda: all(e.state is not ExtState.RUNNING for e in self._by_name.values()))

    def ended(self) -> asyncio.Future[None]:
        """Done when every extension's process has ended (external) or it was told (internal)."""
        return self._watch(
            lambda: all(e.state is ExtState.EXITED or not e.external for e in self._by_name.values())
        )

    def _all_waiting(self) -> bool:
        return all(e.state in (ExtState.READY, ExtState.EXITED) for e in self._by_name.values())

    def deliver(self, event_type: str, event: dict[str, Any]) -> None:
        """Hand ``event`` to every extension that registered for ``event_type``."""
        for extension in self._by_name.values():
            if event_type in extension.events and extension.state in (ExtState.READY, ExtState.REGISTERED):
                extension.pending.append(event)
                if extension.state is ExtState.READY:
                    extension.move(ExtState.RUNNING)
                if extension.waiter is not None and not extension.waiter.done():
                    extension.waiter.set_result(event)
        self._check()

    def shut_down(self, reason: str, deadline_ms: int) -> None:
        """SHUTDOWN: its event to those that asked for it; from now on an ending is expected."""
        self._shutting_down = True
        self._open = False
        self.deliver(
            "SHUTDOWN", {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms}
        )
        for extension in self._by_name.values():
            if not extension.external and extension.state is not ExtState.EXITED:
                extension.move(ExtState.EXITED)

    def process_ended(self, name: str, status: int) -> None:
        """The supervisor saw extension ``name`` end with raw wait ``status``."""
        extension = self._by_name.get(name)
        if extension is None or extension.state is ExtState.EXITED:
            return
        error_type = failure_type(extension, status)
        was = extension.state
        extension.move(ExtState.EXITED)
        if extension.waiter is not None and not extension.waiter.done():
            extension.waiter.cancel()
        self._check()
        if not self._shutting_down and was not in (ExtState.INIT_ERROR, ExtState.EXIT_ERROR):
            self._on_failure(error_type, f"Extension {name} exited: {_exit_text(status)}")

    def _watch(self, condition: Callable[[], bool]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if condition():
            future.set_result(None)
        else:
            self._watchers.append((condition, future))
        return future

    def _check(self) -> None:
        """Resolve every watcher whose condition now holds (and drop cancelled ones)."""
        kept = []
        for condition, future in self._watchers:
            if future.done():
                continue
            if condition():
                future.set_result(None)
            else:
                kept.append((condition, future))
        self._watchers = kept

    def log_lines(self) -> list[str]:
        """Lambda's ``EXTENSION`` lines, one per extension, as INIT reports them."""
        lines = []
        for extension in self._by_name.values():
            events = ",".join(extension.events)
            line = f"EXTENSION\tName: {extension.name}\tState: {extension.state.value}\tEvents: [{events}]"
            if extension.error_type:
                line += f"\tError Type: {extension.error_type}"
            lines.append(line)
        return lines


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal: {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status}"


def invoke_event(request_id: str, deadline_ms: int, arn: str, trace_id: str) -> dict[str, Any]:
    """The ``INVOKE`` event an extension gets (``tracing`` as Lambda gives it)."""
    return {
        "eventType": "INVOKE",
        "deadlineMs": deadline_ms,
        "requestId": request_id,
        "invokedFunctionArn": arn,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
