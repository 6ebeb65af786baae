"""One execution environment: a process tree forked from a zygote, and its lifecycle.

The environment owns its state machine (``lifecycle.py``) and is the only place that moves it.
Two channels drive the same machine: Flare's frames (Python runtime) and the HTTP Runtime API
(any other runtime client); the Runtime API listener exists in every environment.

Contract, as the pool uses it:

* ``await start(init_limit_s)`` runs INIT. If INIT fails (the runtime reported an init error or
  exited) or times out, ``init_failure`` is set (and ``init_timed_out``), the environment is
  FAILED, and ``fail_invocation()`` answers the invocation that started it; stop it after.
* ``await invoke(invocation)`` needs IDLE; it thaws, delivers, waits for the answer or the
  deadline, and returns the result with its log. Afterwards the state is IDLE (reusable) or
  FAILED (timed out, crashed: stop it). The result's log is built when first read.
* ``settle()`` after the caller has its response: records that log (START … REPORT) then.
* ``freeze()`` after that; ``await stop()`` from any state.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flare.clock import Clock
from flare.control.debug_settings import DEBUG_TIMEOUT_S, DebugSettings, debug_settings
from flare.control.model import FunctionVersion
from flare.errors import FlareError
from flare.observe import report
from flare.observe.live_feed import LiveFeed
from flare.observe.logs import LogStore
from flare.observe.platform import platform_log
from flare.runtimes.lambda_python import frames, sandbox
from flare.sandbox.api_door import ApiDoors
from flare.sandbox.channel import (
    FrameProtocol,
    InitError,
    InitTimeout,
    error_type_of,
    fail_future,
    invoke_frame,
    next_event,
)
from flare.sandbox.deadline import DeadlineTimer
from flare.sandbox.debug_forward import DebugForward
from flare.sandbox.debug_ports import NODE_DEBUG_VARIABLE, DebugPorts, jdwp_option, runtime_spec
from flare.sandbox.extension_api import ExtensionRoutes
from flare.sandbox.extension_phases import RUNTIME_SHARE_S, ExtensionPhases, extension_names
from flare.sandbox.extensions import ExtensionHost
from flare.sandbox.forkserver import Zygote, ZygoteDied, close_quietly, receive_sockets
from flare.sandbox.inflight import InFlight
from flare.sandbox.invocation import Invocation, InvocationLog, InvocationResult, Outcome
from flare.sandbox.isolation import ISOLATED_RUNTIME_API, Isolation, Layout
from flare.sandbox.java_runtime import wanted_major as java_major
from flare.sandbox.late_binding import boot_variables
from flare.sandbox.launcher import (
    CredentialIssuer,
    LaunchPlan,
    SessionCredentials,
    bootstrap_path,
    entry_header,
    environment_variables,
)
from flare.sandbox.lifecycle import EnvState, Lifecycle
from flare.sandbox.logpipe import LogPipe
from flare.sandbox.node_runtime import wanted_major
from flare.sandbox.phase import seen
from flare.sandbox.process import SandboxProcess
from flare.sandbox.runtime_api import (
    NextEvent,
    ResponseWriter,
    RuntimeApiError,
    RuntimeApiServer,
    RuntimeApiTenant,
)
from flare.sandbox.streaming import DEFAULT_CONTENT_TYPE
from flare.sandbox.telemetry import TelemetryHub
from flare.sandbox.tmp_pool import Scratch

log = logging.getLogger("flare.environment")
HELD_WITHIN_S = 10.0  # a late-bound spare's runtime boots within this, or the spare is given up
HOLD_VARIABLE = "_FLARE_HOLD"  # tells Flare's Node.js runtime to wait on its stdin (removed at once)


Billing = Callable[[FunctionVersion, float, "float | None", bool], None]
"""(version, duration ms, INIT ms or None, served by a provisioned environment)"""


@dataclass(frozen=True)
class EnvSettings:
    """What every environment of the engine shares: where Flare is, SHUTDOWN's grace, and who
    issues each environment's credentials (None: environments get none)."""

    endpoint_url: str
    shutdown_grace_s: float = 2.0
    credentials: CredentialIssuer | None = None
    api_doors: ApiDoors | None = None
    """Where an isolated environment's endpoint listener is served (``api_door.py``)."""
    debug_ports: DebugPorts = field(default_factory=DebugPorts)
    """The host ports debugged environments' debug servers hold (``debug_ports.py``)."""
    feed: LiveFeed | None = None
    """Where each environment's phase changes are published (``observe/live_feed.py``)."""
    on_billed: Billing | None = None
    """Told each invocation's billed figures as its REPORT line is written: the version, its
    duration and INIT (ms, None when not a cold start) and whether a provisioned environment
    served it (``observe/bill.py``'s ``Bill.charge``)."""


def log_stream_name(version: FunctionVersion, env_id: str, clock: Clock) -> str:
    """The log stream of environment ``env_id`` of ``version``, dated today, as Lambda names it."""
    today = datetime.datetime.fromtimestamp(clock.wall(), datetime.UTC)
    return f"{today:%Y/%m/%d}/[{version.version}]{env_id}"


class Environment:
    RESTORES = False
    """Whether its INIT is a SnapStart restore (``restored.py``)."""

    def __init__(
        self,
        version: FunctionVersion,
        plan: LaunchPlan,
        zygote: Zygote,
        clock: Clock,
        logs: LogStore,
        settings: EnvSettings,
        isolation: Isolation,
        on_exit: Callable[[Environment], None] = lambda env: None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.version = version
        self.plan = plan
        self.lifecycle = Lifecycle(self._publish, settings.feed)
        self.pid: int | None = None
        self.init_ms: float | None = None
        self.invocations = 0
        self._zygote = zygote
        self._isolation = isolation
        self.process: SandboxProcess | None = None
        self._scratch: Scratch | None = None
        self.uid: int | None = None
        self._clock = clock
        self._logs = logs
        self._settings = settings
        self._on_exit = on_exit
        self.stream = log_stream_name(version, self.id, clock)
        self._platform = platform_log(version, clock)
        self._runtime_api: RuntimeApiServer | RuntimeApiTenant = RuntimeApiServer(
            self, more=ExtensionRoutes()
        )
        self._phases = ExtensionPhases([], clock, self._extension_failed)
        self._channel: asyncio.Transport | None = None
        self._logpipe: LogPipe | None = None
        self._ready: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start
        self._inflight = InFlight()
        self._deadline = DeadlineTimer(clock, self._on_deadline)  # the invocation's timeout
        self._uses_frames = plan.mode == "python"
        self._pending_restore_ms: float | None = None
        self.restore_error: FlareError | None = None  # set by a failed SnapStart restore
        self._pending_init_ms: float | None = None
        self._initialization_type = "on-demand"
        self._burst_ends_on_delivery = False  # INIT's burst CPU still on until the next delivery
        self._unrecorded: InvocationLog | None = None  # the last invocation's, until ``settle``
        self.init_failure: Outcome | None = None
        self.init_timed_out = False
        self._credentials: SessionCredentials | None = None  # revoked at stop
        self._api_door: asyncio.AbstractServer | None = None  # isolated networks: Flare's API
        self._hold_fd: int | None = None  # a prestarted runtime waits for a write on this pipe
        self._late_bound = False  # started for no function yet (late_binding.py): ``adopt`` gives one
        self._release_message = b"go"  # what releases a prestarted runtime (``start``)
        self._spawned_with: tuple[Layout, str] | None = None  # its layout and Runtime API address
        self._held: asyncio.Future[None] | None = None  # a late-bound runtime's POST /flare/held
        self._debug: DebugSettings | None = None  # a debugged environment's (set by _spawn)
        self.debug_port: int | None = None  # the host port of its debug server
        self._debug_forward: DebugForward | None = None  # that port, into an isolated network

    def __repr__(self) -> str:
        return f"<Environment {self.version.name}:{self.version.version} {self.id[:8]} {self.state.value}>"

    @property
    def state(self) -> EnvState:
        return self.lifecycle.state

    @property
    def initialization_type(self) -> str:
        """``on-demand``, ``provisioned-concurrency`` or ``snap-start``."""
        return "snap-start" if self.RESTORES else self._initialization_type

    def _publish(self, state: EnvState | None = None) -> None:
        """Tell the live feed this environment's phase, when someone is reading it."""
        feed = self._settings.feed
        if feed is not None and feed.active:
            feed.publish(seen(self, self._clock.wall()))

    # ---- start / INIT ---------------------------------------------------------------------

    async def start(
        self, init_limit_s: float, initialization_type: str = "on-demand", cpu_burst: bool = True
    ) -> None:
        """INIT (see the module docstring); with INIT's burst CPU unless ``cpu_burst`` is False
        (a suppressed INIT, retried inside an invocation). An environment ``prestart``ed is
        released rather than spawned (its INIT begins now)."""
        if self._hold_fd is None:
            if not self._uses_frames and self._entrypoint_missing():
                self._no_entrypoint()
                return
            began = await self._spawn(initialization_type, cpu_burst, hold=False)
        else:
            began = self._clock.now()
            self._log_init_start()
            hold, self._hold_fd = self._hold_fd, None
            with contextlib.suppress(OSError):  # a runtime that died held fails INIT as it exits
                os.write(hold, self._release_message)
            os.close(hold)
        self.lifecycle.move(EnvState.INITIALISING)
        # a debugged INIT may first wait for a debugger to attach
        await self._await_init(began, init_limit_s + (self._debug.wait_s if self._debug else 0.0))

    async def prestart(self, late_bound: bool = False) -> None:
        """Spawn the runtime of an on-demand environment ahead of its INIT, held before it loads
        the function (Flare's Node.js runtime reads the hold on its stdin; see
        ``placement/spares.py``); ``start`` releases it. With ``late_bound``, for no function
        yet (``late_binding.py``): its /var/task is empty, its variables only the shared ones,
        and it has no credentials, until ``adopt``. Raises what spawning raises."""
        staging = self._isolation.code_staging
        self._late_bound = late_bound and staging is not None
        if not self._late_bound:
            await self._spawn("on-demand", cpu_burst=True, hold=True)
            return
        # Ready once its runtime says it is held: its sandbox is built by then, so the code
        # mounted on its staging point reaches its /var/task (a sandbox still being built
        # holds a detached copy of the staging point, which mounts do not propagate to).
        self._held = asyncio.get_running_loop().create_future()
        await self._spawn("on-demand", cpu_burst=True, hold=True)
        late = OSError(f"the runtime did not boot within {HELD_WITHIN_S:g} s")
        timer = self._clock.call_later(HELD_WITHIN_S, lambda: fail_future(self._held, late))
        try:
            await self._held
        finally:
            timer.cancel()

    def adopt(self, version: FunctionVersion) -> None:
        """Give a late-bound environment, still held, its function: ``version`` (whose
        ``late_key`` is the one it was started for) becomes its version, its code is mounted
        at its /var/task, its credentials issued, and every variable of ``version`` is what
        ``start`` releases it with. Raises OSError when the code cannot be mounted."""
        staging = self._isolation.code_staging
        assert self._late_bound and staging is not None and self.uid is not None and self._spawned_with
        staging.attach(version.code_dir, self.uid)
        self.version = version
        self._late_bound = False
        self.stream = log_stream_name(version, self.id, self._clock)
        self._platform = platform_log(version, self._clock)
        layout, address = self._spawned_with
        self._credentials = self._issue_credentials()
        variables = environment_variables(
            version, address, self.stream, self._settings.endpoint_url, "on-demand", layout, self._credentials
        )
        self._release_message = json.dumps(variables).encode()

    def _log_init_start(self) -> None:
        self._log(self._platform.init_start(self._initialization_type))
        self._phases.init_started(self.version, self._initialization_type)
        if self.plan.note:
            self._log([self.plan.note])

    async def _spawn(self, initialization_type: str, cpu_burst: bool, hold: bool) -> float:
        """Make the sandbox and spawn the runtime in it; returns when INIT began (the spawn;
        with ``hold``, the runtime waits on its stdin for ``start``)."""
        self._initialization_type = initialization_type
        self._loop = asyncio.get_running_loop()
        self._ready = self._loop.create_future()
        cgroup = await self._isolation.take_cgroup_soon(self.id, self.version, init_burst=cpu_burst)
        if self.state is not EnvState.STARTING:  # stopped while its cgroup was being made
            if cgroup is not None:
                cgroup.remove()
            raise OSError("the environment was stopped as it started")
        self.process = SandboxProcess(self._zygote, cgroup)
        self._debug = self._debug_settings()
        layout = await self._prepare_layout()
        isolated = bool(layout.plan.get("isolated_network"))
        address = ISOLATED_RUNTIME_API if isolated else await self._runtime_api.start()
        self._spawned_with = (layout, address)
        self._credentials = None if self._late_bound else self._issue_credentials()
        variables = environment_variables(
            self.version,
            address,
            self.stream,
            self._settings.endpoint_url,
            initialization_type,
            layout,
            self._credentials,
        )
        if self._late_bound:
            variables = boot_variables(variables)
        self._logpipe = LogPipe(self._on_log_lines)
        header: dict[str, Any] = {"env": variables, "cwd": layout.task_root, "mode": self.plan.mode}
        if layout.plan:
            header["sandbox"] = layout.plan
        channel = handoff = None
        child_fds: list[int] = []
        interpreter = self._isolation.interpreter_seen(self.plan.language)
        header.update(
            entry_header(self.version, layout, self._uses_frames, interpreter, self.plan.node_major)
        )
        if self._debug is not None:
            self._add_debug_server(self._debug, header, layout)
        if hold:
            held, self._hold_fd = os.pipe()
            child_fds.append(held)
            header["hold"] = True
            variables[HOLD_VARIABLE] = "1"
        if self._uses_frames:
            channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            child_fds.append(theirs.detach())
        names = extension_names(self.version)
        self._phases = ExtensionPhases(names, self._clock, self._extension_failed, self._log)
        launch = self._phases.launch_spec(layout.opt_dir or "/opt", variables, child_fds)
        if launch is not None:
            header["extensions"] = launch
        _send_tmp_tree(layout.plan, child_fds)
        if isolated:
            handoff, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            child_fds.append(theirs.detach())
            header["handoff"] = True
        began = self._clock.now()
        if not hold:
            self._log_init_start()
        try:
            self.pid = await self.process.spawn(self.id, header, [self._logpipe.write_fd, *child_fds])
        finally:
            close_quietly(*child_fds)
            self._logpipe.child_started()
        self.process.exited.add_done_callback(self._on_process_exit)
        self._phases.spawned(self.pid if isolated else None)
        if handoff is not None:
            await self._take_listeners(handoff, layout)
            if self.debug_port is not None:
                self._debug_forward = DebugForward(self.debug_port, self.pid, self._clock)
                await self._debug_forward.start()
        if channel is not None:
            loop = asyncio.get_running_loop()
            self._channel, _ = await loop.create_unix_connection(lambda: FrameProtocol(self), sock=channel)
        return began

    def _issue_credentials(self) -> SessionCredentials | None:
        """The environment's own credentials, for its version's role (None without an issuer)."""
        issuer = self._settings.credentials
        uids = (self.uid,) if self.uid is not None else ()
        return issuer.issue(self.version, uids) if issuer is not None else None

    async def _take_listeners(self, handoff: socket.socket, layout: Layout) -> None:
        """An isolated network's listeners, made inside it: the Runtime API's, then (when the
        plan has one) Flare's endpoint's, served for this environment (``api_door.py``)."""
        endpoint = bool(layout.plan.get("endpoint_port"))
        listeners = await receive_sockets(handoff, 2 if endpoint else 1)
        await self._runtime_api.start(listeners[0])
        if endpoint:
            doors = self._settings.api_doors
            assert self.uid is not None, "an isolated network comes with a uid of its own"
            if doors is None:
                listeners[1].close()
            else:
                self._api_door = await doors.serve(listeners[1], self.uid)

    async def _prepare_layout(self) -> Layout:
        """The environment's /tmp scratch, uid and sandbox plan."""
        scratch = self._isolation.scratch
        if scratch is not None:
            self._scratch = await scratch.acquire(self.version.ephemeral_mb)
        tmp_dir = self._scratch.path if self._scratch is not None else None
        debug = self._debug is not None and self._uses_frames  # debugpy: Python's only
        if not self._isolation.namespaces:
            return self._isolation.layout(self.version, self.plan.language, tmp_dir, debug=debug)
        self.uid = self._isolation.allocate_uid()
        staging = self._isolation.code_staging
        late_task = staging.point(self.uid) if self._late_bound and staging is not None else None
        layout = self._isolation.layout(self.version, self.plan.language, tmp_dir, self.uid, debug, late_task)
        if not layout.plan.get("isolated_network"):
            self._runtime_api.allowed_uid = self.uid  # its own netns needs no uid guard
        return layout

    def _debug_settings(self) -> DebugSettings | None:
        """A debugged environment's settings (``FLARE_DEBUG``): Flare's Python, Node.js and Java
        runtimes only."""
        runtime = self.version.runtime
        if not self._uses_frames and wanted_major(runtime) is None and java_major(runtime) is None:
            return None
        try:
            return debug_settings(self.version.environment)
        except ValueError:  # refused when set (control/validation.py)
            return None

    def _add_debug_server(self, debug: DebugSettings, header: dict[str, Any], layout: Layout) -> None:
        """Take the debug server's port and tell the runtime (``debug_ports.py``). Raises
        OSError when no port is free."""
        self.debug_port = self._settings.debug_ports.take(debug.port)
        spec = runtime_spec(debug, self.debug_port, layout.debug_dir)
        if self._uses_frames:
            header["debug"] = spec
        elif java_major(self.version.runtime) is not None and "argv" in header:
            java = 1 if header.get("wrapped") else 0  # after AWS_LAMBDA_EXEC_WRAPPER, if any
            header["argv"].insert(java + 1, jdwp_option(debug, self.debug_port))
        else:
            header["env"][NODE_DEBUG_VARIABLE] = json.dumps(spec)

    @property
    def timeout_s(self) -> float:
        """An invocation's timeout: the function's, or ``DEBUG_TIMEOUT_S`` in a debugged
        environment (as AWS's remote debugging raises it), so a breakpoint can hold it."""
        return DEBUG_TIMEOUT_S if self._debug is not None else self.version.timeout_s

    def _entrypoint_missing(self) -> bool:
        """An exec'd runtime with nothing to exec: no ``bootstrap``, or no ``node`` or ``java``
        on the host."""
        if wanted_major(self.version.runtime) is not None:
            return self.plan.node is None
        if java_major(self.version.runtime) is not None:
            return self.plan.java is None
        return bootstrap_path(self.version) is None

    def _no_entrypoint(self) -> None:
        message = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
        if wanted_major(self.version.runtime) is not None:
            message = "flare: no node binary on this host to run " + self.version.runtime
        if java_major(self.version.runtime) is not None:
            message = "flare: no java binary on this host to run " + self.version.runtime
        body = json.dumps({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message})
        self.init_failure = Outcome(body.encode(), "Runtime.InvalidEntrypoint", healthy=False)
        self.init_ms = 0.0
        self._fail()
        self._log([message, *self._platform.init_report(0.0, "error", "Runtime.InvalidEntrypoint")])

    async def _await_init(self, began: float, limit_s: float) -> None:
        assert self._ready is not None
        timer = self._clock.call_later(limit_s, lambda: fail_future(self._ready, InitTimeout()))
        try:
            await self._ready
        except InitTimeout:
            self._init_ended(began, "timeout", None)
            self.init_timed_out = True
            body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": "INIT phase timed out"})
            self.init_failure = Outcome(body.encode(), "Sandbox.Timedout", healthy=False)
            self._kill()
            return
        except InitError as error:
            self._init_ended(began, "error", error.outcome.error_type)
            self.init_failure = error.outcome
            return
        finally:
            timer.cancel()
        self.init_ms = (self._clock.now() - began) * 1000
        assert self.process is not None
        if self._initialization_type == "on-demand":
            # Its invocation is next: INIT's burst CPU ends just after that invocation is
            # handed to the runtime (see ``invoke``), not before, so the quota write (a walk
            # over every CPU cgroup of the host: ~0.2 ms beside 1,000 environments) overlaps
            # the handler instead of delaying it. The handler may so run unthrottled for that
            # long, well inside the 100 ms period over which its share is counted.
            self._burst_ends_on_delivery = True
        else:
            self._isolation.end_init_burst(self.process.cgroup, self.version)
        # Only an on-demand INIT is a cold start its first invocation reports; a provisioned
        # environment initialised before anyone asked for it.
        self._pending_init_ms = self.init_ms if self._initialization_type == "on-demand" else None
        self._log(self._platform.init_succeeded(self.init_ms, self._initialization_type))
        self._init_told(None)
        self.lifecycle.move(EnvState.IDLE)

    def _end_init_burst(self) -> None:
        if self.process is not None and self.process.alive:
            with contextlib.suppress(OSError):  # removed meanwhile: nothing left to limit
                self._isolation.end_init_burst(self.process.cgroup, self.version)

    def _init_told(self, error_type: str | None) -> None:
        """INIT is over: the extensions' lines (their events go to the subscribers)."""
        self._log(self._phases.init_over(self._initialization_type, self.init_ms or 0.0, error_type))

    def _init_ended(self, began: float, status: str, error_type: str | None) -> None:
        self.init_ms = (self._clock.now() - began) * 1000
        self._fail()
        lines = self._logpipe.drain() if self._logpipe else []
        self._log(lines)
        self._init_told(error_type or "Sandbox.Timedout")
        self._log(self._platform.init_report(self.init_ms, status, error_type, self._initialization_type))

    def fail_invocation(self, invocation: Invocation) -> InvocationResult:
        """Answer ``invocation`` with this environment's init failure (as Lambda does when INIT
        fails during the invocation that started it)."""
        assert self.init_failure is not None
        outcome, output = self.init_failure, []
        if self.init_timed_out:
            message = report.timeout_message(invocation.request_id, self.version.timeout_s)
            body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
            outcome, output = Outcome(body, "Sandbox.Timedout", healthy=False), [message]
        request_id = invocation.request_id
        self._billed(self.init_ms or 0.0, None)
        lines = self._platform.invocation(
            request_id,
            output,
            self.init_ms or 0.0,
            self._max_memory_mb(0),
            error_type=outcome.error_type,
            failed=True,
        )
        self._log(lines)
        log = InvocationLog.of(lines)
        version = self.version.version
        return InvocationResult(
            outcome.payload, "Unhandled", version, log, outcome.error_type, init_ms=self.init_ms
        )

    def _runtime_ready(self) -> None:
        """The runtime called next in INIT: INIT ends once every extension has too."""
        ready = self._ready
        if ready is None or ready.done():
            return
        host = self._phases.host
        host.close_registration()
        host.ready().add_done_callback(lambda _: self._runtime_and_extensions_ready(ready))

    @staticmethod
    def _runtime_and_extensions_ready(ready: asyncio.Future[None]) -> None:
        if not ready.done():
            ready.set_result(None)

    def _extension_failed(self, error_type: str, message: str) -> None:
        """An extension reported an error or its process ended (``ExtensionHost``): INIT fails,
        or the invocation in flight does; the environment is not used again."""
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        outcome = Outcome(body, error_type, healthy=False)
        self._log([message])
        if self.state in (EnvState.STARTING, EnvState.INITIALISING):
            fail_future(self._ready, InitError(outcome))
            return
        if self._inflight.unanswered:
            self._inflight.fail(outcome)
        if self.lifecycle.live:
            self._kill()

    def _init_error(self, body: bytes, error_type: str | None) -> None:
        error_type = error_type or error_type_of(body) or "Runtime.Unknown"
        fail_future(self._ready, InitError(Outcome(body, error_type, healthy=False)))

    # ---- invoke ---------------------------------------------------------------------------

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        self.lifecycle.move(EnvState.BUSY)
        self.invocations += 1
        version = self.version
        assert self._loop is not None, "invoke needs a started environment"
        phases = self._phases
        if phases.post_invoke is not None:
            await phases.before_invoke()
        answered = self._inflight.begin(invocation, self._loop)
        began = self._clock.now()
        deadline_ms = int((self._clock.wall() + self.timeout_s) * 1000)
        self._deadline.start(began + self.timeout_s)
        self.thaw()
        if phases.host.active or phases.telemetry.active:
            phases.invoke_started(invocation, version.version, deadline_ms)
        self._deliver(invocation, deadline_ms)
        if self._burst_ends_on_delivery:
            self._burst_ends_on_delivery = False
            self._loop.call_soon(self._end_init_burst)  # after the delivery's own callbacks
        try:
            outcome = await answered
        finally:
            self._deadline.stop()
            self._inflight.end()
        if outcome.undelivered:  # it never began here: no log, no telemetry
            self._fail()
            log, error_type = InvocationLog(list), outcome.error_type
            return InvocationResult(outcome.payload, "Unhandled", version.version, log, error_type, True)
        duration_ms = [(self._clock.now() - began) * 1000]  # with the post-runtime phase, once over
        init_ms, self._pending_init_ms = self._pending_init_ms, None
        restore_ms, self._pending_restore_ms = self._pending_restore_ms, None
        self._unrecorded = log = InvocationLog(
            lambda: self._invocation_lines(invocation, outcome, duration_ms[0], init_ms, restore_ms)
        )
        if phases.host.active or phases.telemetry.active:
            self._runtime_done(invocation, outcome, duration_ms, began)
        if outcome.healthy and self.state is EnvState.BUSY:
            self.lifecycle.move(EnvState.IDLE)
        else:
            self._fail()
        return InvocationResult(
            payload=outcome.payload,
            function_error="Unhandled" if outcome.error_type else None,
            executed_version=version.version,
            log=log,
            error_type=outcome.error_type,
            duration_ms=duration_ms[0],
            init_ms=init_ms,
            restore_ms=restore_ms,
        )

    def _runtime_done(
        self, invocation: Invocation, outcome: Outcome, duration_ms: list[float], began: float
    ) -> None:
        """The runtime answered: the post-runtime phase (the extensions handling INVOKE call
        next), whose end makes ``duration_ms[0]`` the whole invoke's; past the function's
        deadline it ends the environment."""
        post = self._phases.runtime_done(invocation, outcome, duration_ms[0])
        if post is None:
            return
        left_s = max(0.0, self.timeout_s - duration_ms[0] / 1000)
        timer = self._clock.call_later(left_s, lambda: self._post_invoke_timed_out(invocation, post))

        def over(done: asyncio.Future[None]) -> None:
            timer.cancel()
            spent = (self._clock.now() - began) * 1000
            # ended at the deadline: it lasted the whole timeout (a loop may run a timer up to
            # its clock's resolution early)
            duration_ms[0] = max(spent, self.timeout_s * 1000) if done.cancelled() else spent

        post.add_done_callback(over)

    def _post_invoke_timed_out(self, invocation: Invocation, post: asyncio.Future[None]) -> None:
        """The extensions were still busy with ``invocation`` at its deadline: the environment
        ends (failed first, so that whoever waits on ``post`` does not reuse it)."""
        if post.done():
            return
        self._log([report.timed_out_line(self._clock.wall(), invocation.request_id, self.timeout_s)])
        self._fail()
        post.cancel()
        self._kill()

    def post_invoke_pending(self) -> asyncio.Future[None] | None:
        """The last invocation's post-runtime phase, while the extensions are still in it."""
        post = self._phases.post_invoke
        return post if post is not None and not post.done() else None

    def settle(self, final: bool = False) -> None:
        """Record the last invocation's log, now that its caller has the answer (the pool calls
        this on release), or once the extensions' post-runtime phase is over (unless
        ``final``). Output that came after the answer follows it in the log."""
        post = self._phases.post_invoke
        if post is not None and not post.done() and not final and self._unrecorded is not None:
            post.add_done_callback(lambda _: self.settle())
            return
        log, self._unrecorded = self._unrecorded, None
        if log is not None:
            self._log(log.lines())
            if self._logpipe is not None:
                self._log(self._logpipe.take_held())

    def _invocation_lines(
        self,
        invocation: Invocation,
        outcome: Outcome,
        duration_ms: float,
        init_ms: float | None,
        restore_ms: float | None,
    ) -> list[str]:
        """START, the function's output, END and REPORT, as Lambda prints them."""
        # After the runtime's answer was handled the pipe is read already; a timeout or a crash
        # came from elsewhere (a timer, the zygote), so then read what may be left.
        output = self._logpipe.drain(read=not outcome.healthy) if self._logpipe else []
        max_memory_mb = self._max_memory_mb(outcome.max_rss_kb)
        self._billed(duration_ms, init_ms)
        if self._phases.telemetry.active:
            self._phases.reported(invocation, outcome, output, duration_ms, max_memory_mb, init_ms)
        return self._platform.invocation(
            invocation.request_id,
            output + outcome.log_lines,
            duration_ms,
            max_memory_mb,
            init_ms,
            restore_ms,
            outcome.error_type,
            not outcome.healthy,
        )

    def _deliver(self, invocation: Invocation, deadline_ms: int) -> None:
        if self._uses_frames:
            assert self._channel is not None
            self._channel.write(invoke_frame(invocation, deadline_ms))
            return
        self._inflight.offer(next_event(invocation, deadline_ms))

    def _finish(self, request_id: str | None, outcome: Outcome) -> None:
        """Record the runtime's answer to the invocation in flight (see ``InFlight.answer``)."""
        self._inflight.answer(request_id, outcome, self.state.value)

    def _on_deadline(self) -> None:
        current = self._inflight.current
        if current is None or not self._inflight.unanswered:  # answered just in time
            return
        message = report.timeout_message(current.request_id, self.timeout_s)
        body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        line = report.timed_out_line(self._clock.wall(), current.request_id, self.timeout_s)
        self._inflight.fail(Outcome(body, "Sandbox.Timedout", healthy=False, log_lines=[line]))
        self._kill()

    # ---- Runtime API side (RuntimeSide) --------------------------------------------------

    async def next_event(self) -> NextEvent:
        if self.state is EnvState.INITIALISING:
            self._runtime_ready()
        if self._uses_frames:
            await asyncio.get_running_loop().create_future()  # the frames channel owns delivery
        return await self._inflight.next_event()

    def post_response(self, request_id: str, body: bytes) -> None:
        self._finish(request_id, Outcome(body, None, True, 0))

    def begin_stream(self, request_id: str, content_type: str) -> ResponseWriter:
        return self._inflight.begin_stream(request_id, content_type, self.state.value)

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._finish(request_id, Outcome(body, error_type or error_type_of(body) or "Runtime.Unknown"))

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        if self.state is not EnvState.INITIALISING:
            raise RuntimeApiError(
                403, "InvalidStateTransition", f"State transition is not allowed: {self.state.value}"
            )
        self._init_error(body, error_type)

    def extension_host(self) -> ExtensionHost:
        return self._phases.host

    def telemetry_hub(self) -> TelemetryHub:
        return self._phases.telemetry

    def registration_info(self, with_account: bool) -> dict[str, str]:
        version = self.version
        info = {"functionName": version.name, "functionVersion": version.version, "handler": version.handler}
        if with_account:
            info["accountId"] = version.account_id
        return info

    def restore_next(self) -> None:
        raise RuntimeApiError(
            403, "InvalidStateTransition", "This environment was not restored from a snapshot"
        )

    def runtime_held(self) -> None:
        if self._held is not None and not self._held.done():
            self._held.set_result(None)

    def post_restore_error(self, body: bytes, error_type: str | None) -> None:
        self.restore_next()

    # ---- frames channel ----------------------------------------------------------------

    def on_frame(self, kind: int, header: dict[str, Any], body: bytes) -> None:
        try:
            if kind == frames.RESPONSE:
                self._finish(header.get("id"), Outcome(body, None, True, header.get("rss", 0)))
            elif kind == frames.ERROR:
                self._finish(
                    header.get("id"),
                    Outcome(body, error_type_of(body) or "Runtime.Unknown", True, header.get("rss", 0)),
                )
            elif kind == frames.READY:
                self._runtime_ready()
            elif kind == frames.STREAM_CHUNK:
                self._inflight.stream(body)
            elif kind == frames.STREAM_START:
                content_type = header.get("ct") or DEFAULT_CONTENT_TYPE
                self._inflight.begin_stream(header.get("id"), content_type, self.state.value, self._pressure)
            elif kind == frames.STREAM_END:
                self._inflight.end_stream(header.get("type"), body, header.get("rss", 0))
            elif kind in (frames.INIT_ERROR, frames.RESTORE_ERROR):
                self._init_error(body, header.get("type"))
        except RuntimeApiError as error:
            log.warning("%r: runtime frame rejected: %s", self, error.message)

    # ---- freeze / stop ----------------------------------------------------------------

    def freeze(self) -> None:
        """No CPU between invocations: freeze the process tree (cgroup freezer, else SIGSTOP),
        once nothing inside is still due to finish (``_freeze_waits_for``); if the environment
        serves again meanwhile, that freeze is dropped. A debugged environment is never frozen:
        its debug server must keep answering the editor attached to it (or attaching)."""
        if self.process is None or self.state is not EnvState.IDLE or self._debug is not None:
            return  # a debugged one never: its debug server answers the editor between invocations
        waiting = self._freeze_waits_for()
        if waiting is not None:
            served = self.invocations

            def again(done: asyncio.Future[None]) -> None:
                if not done.cancelled() and self.invocations == served:
                    self.freeze()

            waiting.add_done_callback(again)
            return
        self._phases.telemetry.pause()
        self.process.freeze()
        self._publish()

    def _freeze_waits_for(self) -> asyncio.Future[None] | None:
        """What must end before a freeze: the extensions' post-runtime phase, a telemetry post
        to a listener inside, and a Runtime API client's next ``/next`` (Lambda freezes once
        the runtime asks for work; one that exits after its answer is then never frozen on the
        way out, and the next invocation starts elsewhere)."""
        post = self._phases.post_invoke
        if post is not None and not post.done():
            return post
        posting = self._phases.telemetry.posting()
        if posting:
            return posting[0]
        return None if self._uses_frames else self._inflight.asked_for_next()

    def thaw(self) -> None:
        if self.process is not None:
            self.process.thaw()
            self._phases.telemetry.resume()

    async def stop(self) -> None:
        """SHUTDOWN: SIGTERM, up to the grace period, then SIGKILL; release everything."""
        if self.lifecycle.can_move(EnvState.STOPPING):
            reason = "failure" if self.state is EnvState.FAILED else "spindown"
            self.lifecycle.move(EnvState.STOPPING)
            process = self.process
            grace_s = self._settings.shutdown_grace_s
            if process is not None and process.alive and self._phases.host.active:
                # SHUTDOWN to the extensions first: the runtime's end ends the sandbox's pid
                # namespace, and them with it
                self.thaw()
                await self._phases.shut_down(reason)
                grace_s = min(grace_s, RUNTIME_SHARE_S)
            if process is not None and process.alive:
                process.terminate()
                timer = self._clock.call_later(grace_s, process.kill)
                try:
                    await asyncio.shield(process.exited)
                finally:
                    timer.cancel()
            await self._release_resources()
            self.lifecycle.move(EnvState.STOPPED)
        elif self.state is EnvState.STOPPING and self.process is not None:
            await asyncio.shield(self.process.exited)

    async def _release_resources(self) -> None:
        self.settle(final=True)
        await self._phases.close()
        if self._hold_fd is not None:
            os.close(self._hold_fd)
            self._hold_fd = None
        if self._credentials is not None and self._settings.credentials is not None:
            self._settings.credentials.revoke(self._credentials.access_key_id)
            self._credentials = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._logpipe is not None:
            self._log(self._logpipe.drain(final=True))
            self._logpipe.close()
            self._logpipe = None
        self._inflight.close()
        self._deadline.close()
        await self._runtime_api.stop()
        if self._api_door is not None:
            self._api_door.close()
            self._api_door = None
        if self.process is not None:
            await self.process.release(self._clock)
        if self.uid is not None:
            if self._isolation.code_staging is not None:
                self._isolation.code_staging.detach(self.uid)  # before another takes its uid
            self._isolation.release_uid(self.uid)
            self.uid = None
        if self._debug_forward is not None:
            await self._debug_forward.close()
            self._debug_forward = None
        if self.debug_port is not None:
            self._settings.debug_ports.release(self.debug_port)
            self.debug_port = None
        if self._scratch is not None and self._isolation.scratch is not None:
            self._isolation.scratch.release(self._scratch)
            self._scratch = None

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def _fail(self) -> None:
        if self.lifecycle.can_move(EnvState.FAILED):
            self.lifecycle.move(EnvState.FAILED)

    def _on_process_exit(self, future: asyncio.Future[int]) -> None:
        held_pending = self._held is not None and not self._held.done()
        if held_pending or self.state is EnvState.INITIALISING or self._inflight.unanswered:
            self._tell_how_it_ended()
        if self.lifecycle.live:
            self._fail()
            self._on_exit(self)

    def _tell_how_it_ended(self) -> None:
        """Fail what waited on the runtime with how it ended. Only then is the exit described:
        that reads the cgroup's OOM count, a file read per environment that SHUTDOWN (1,000 at
        once when the engine stops) does not need."""
        assert self.process is not None
        error_type, error = self.process.describe_exit()
        fail_future(self._held, OSError(f"the runtime exited before it was held: {error}"))
        if self.state is EnvState.INITIALISING:
            init_body = json.dumps({"errorType": error_type, "errorMessage": f"Error: {error}"})
            fail_future(self._ready, InitError(Outcome(init_body.encode(), error_type, healthy=False)))
        elif self._inflight.unanswered:
            assert self._inflight.current is not None
            message = f"RequestId: {self._inflight.current.request_id} Error: {error}"
            body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
            undelivered = not self._uses_frames and not self._inflight.taken
            self._inflight.fail(Outcome(body, error_type, healthy=False, undelivered=undelivered))

    def _billed(self, duration_ms: float, init_ms: float | None) -> None:
        if self._settings.on_billed is not None:
            provisioned = self._initialization_type == "provisioned-concurrency"
            self._settings.on_billed(self.version, duration_ms, init_ms, provisioned)

    def _max_memory_mb(self, reported_rss_kb: int) -> int:
        kb = self.process.max_memory_kb(reported_rss_kb) if self.process else reported_rss_kb
        return max(1, -(-kb // 1024))

    def channel_lost(self) -> None:
        self._channel = None

    def _pressure(self, paused: bool) -> None:
        """A streamed response's client is behind (or caught up): stop (or go on) reading."""
        if self._channel is not None and not self._channel.is_closing():
            (self._channel.pause_reading if paused else self._channel.resume_reading)()

    # ---- logs -----------------------------------------------------------------------------

    def _on_log_lines(self, lines: list[str]) -> None:
        """Output that arrives outside an invocation (and its log) goes straight to the log."""
        if self._inflight.current is None and self._unrecorded is None:
            self._log(lines)
        elif self._logpipe is not None:
            self._logpipe.hold(lines)
            if self._logpipe.over_held:  # bounded memory: the rest goes to the log as it comes
                self._log(self._logpipe.take_held())

    def _log(self, lines: list[str]) -> None:
        self._logs.append(self.version.log_group, self.stream, lines)


__all__ = ["EnvSettings", "Environment", "ZygoteDied"]


def _send_tmp_tree(plan: dict[str, Any], child_fds: list[int]) -> None:
    """Append a detached copy (``open_tree``) of the plan's scratch (``tmp_tree``) to the
    spawn's descriptors and name its place (``tmp_fd``): the sandbox attaches it at /tmp, from
    a zygote whose mount namespace holds no scratch (``forkserver.Zygote``). Raises OSError."""
    tmp_tree = plan.get("tmp_tree")
    if tmp_tree is None:
        return
    plan["tmp_fd"] = len(child_fds) + 1  # the spawn's descriptors: the log's, then child_fds
    child_fds.append(sandbox.clone_tree(tmp_tree, False))
