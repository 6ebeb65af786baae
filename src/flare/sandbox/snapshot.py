"""SnapStart: one template per published version, and restores forked from it.

A ``Snapshot`` is the engine's handle on a template process (see
``runtimes/lambda_python/template.py``): created when a SnapStart version is published, it runs
INIT and the before-snapshot hooks once, then forks a restored environment per cold start. Its
control socket speaks the zygote protocol, so ``Snapshot.channel`` is a ``Zygote`` attached to
it. ``Snapshots`` owns them all: creation on publish (the version is ``Pending`` until the
template is ready, then ``Active``, or ``Failed``), transparent re-creation when a template
died, and removal with the version.

A ``provided`` function's template is its own ``bootstrap`` (its runtime client must be
``awslambdaric``, see ``runtimes/lambda_python/snapstart_hook.py``). It gets a Runtime API
where, during INIT, only ``/init/error`` is in turn; the snapshot is taken when the client
calls ``restore/next``, which never reaches that API unless the hook is missing (the snapshot
then fails, saying so). The restores keep that address and are told apart by their uid
(``RuntimeApiTenant``).

Isolation of a restore: the template lives in a user namespace of its own (its root is an
unprivileged host uid), so it can give each restore its own pid and mount namespaces, /proc and
/tmp; the restore then drops to its environment's uid with no capabilities. The function's INIT
code therefore runs as root *of the template's own user namespace*, with no privilege on the
host; handlers and after-restore hooks run unprivileged, as on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flare.clock import Clock
from flare.control.model import FunctionVersion
from flare.errors import SnapStartException
from flare.observe.logs import LogStore
from flare.observe.platform import platform_log
from flare.runtimes.lambda_python.uids import SANDBOX_UID
from flare.sandbox.channel import error_type_of
from flare.sandbox.forkserver import TemplateInitError, Zygote, ZygoteDied
from flare.sandbox.isolation import Isolation
from flare.sandbox.launcher import (
    CredentialIssuer,
    LaunchPlan,
    SessionCredentials,
    bootstrap_path,
    entry_header,
    environment_variables,
)
from flare.sandbox.logpipe import LogPipe
from flare.sandbox.prepared import PreparedRestore, discard, prepare_restore
from flare.sandbox.process import SandboxProcess
from flare.sandbox.runtime_api import NextEvent, ResponseWriter, RuntimeApiError, RuntimeApiServer

log = logging.getLogger("flare.snapshot")

SNAPSHOT_INIT_MIN_S = 130.0
RESTORE_LIMIT_S = 10.0
STANDBY_RESTORES = 1
REFILL_DELAY_S = 0.05
"""Restores kept forked and sandboxed ahead of demand per snapshot (each costs only its own
pages, about a megabyte, plus a /tmp scratch): a cold start then pays the after-restore hooks."""
UNSUPPORTED_CLIENT = "Runtime.SnapStartNotSupported"


def snapshot_init_limit(timeout_s: int) -> float:
    """SnapStart's INIT limit: max(130 s, the function timeout), at most 15 minutes."""
    return min(max(SNAPSHOT_INIT_MIN_S, float(timeout_s)), 900.0)


class TemplateChannel(Zygote):
    """A zygote whose process the engine did not start: it cannot be restarted, only attached."""

    async def start(self) -> None:
        if not self.alive:
            raise ZygoteDied("the SnapStart template is gone")


@dataclass
class SnapshotFailure:
    error_type: str
    body: bytes

    @classmethod
    def of(cls, error_type: str, message: str) -> SnapshotFailure:
        return cls(error_type, json.dumps({"errorType": error_type, "errorMessage": message}).encode())


class _TemplateRuntimeSide:
    """The Runtime API an exec'd runtime's template sees during INIT: ``/init/error`` is the
    only call in turn; ``/next`` or an unhooked ``restore/next`` mean the runtime client cannot
    be snapshotted, which fails the snapshot (``on_failure``)."""

    def __init__(self, on_failure: Callable[[SnapshotFailure, bool], None]) -> None:
        self._on_failure = on_failure

    def _refuse(self, message: str) -> RuntimeApiError:
        self._on_failure(SnapshotFailure.of(UNSUPPORTED_CLIENT, message), True)
        return RuntimeApiError(403, "InvalidStateTransition", message)

    async def next_event(self) -> NextEvent:
        raise self._refuse(
            "The runtime asked for an invocation during the snapshot's INIT, without calling "
            "GET /runtime/restore/next first: its runtime client does not support SnapStart"
        )

    def runtime_held(self) -> None:
        """A template is never started held: nothing to note."""

    def restore_next(self) -> None:
        raise self._refuse(
            "Flare takes snapshots of provided runtimes whose runtime client is awslambdaric, "
            "run by a Python that loads its user site (no -s or -I); this runtime called "
            "restore/next without Flare's snapshot hook"
        )

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        self._on_failure(SnapshotFailure(error_type or error_type_of(body) or "Runtime.Unknown", body), False)

    def post_response(self, request_id: str, body: bytes) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "No invocation during the snapshot's INIT")

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self.post_response(request_id, body)

    def begin_stream(self, request_id: str, content_type: str) -> ResponseWriter:
        raise RuntimeApiError(403, "InvalidStateTransition", "No invocation during the snapshot's INIT")

    def post_restore_error(self, body: bytes, error_type: str | None) -> None:
        self.post_response("", body)


class Snapshot:
    """One version's template. ``ready`` after ``create``; ``failure`` says why not."""

    def __init__(
        self,
        version: FunctionVersion,
        plan: LaunchPlan,
        zygote: Zygote,
        isolation: Isolation,
        logs: LogStore,
        clock: Clock,
        endpoint_url: str,
        credentials: CredentialIssuer | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.version = version
        self.plan = plan
        self.channel = TemplateChannel(plan.interpreter)
        self.failure: SnapshotFailure | None = None
        self.ready = False
        self._zygote = zygote
        self.isolation = isolation
        self._logs = logs
        self.clock = clock
        self._standby: list[PreparedRestore] = []
        self._preparing: asyncio.Task[None] | None = None
        self._endpoint_url = endpoint_url
        self._issuer = credentials
        # one set for the template, inherited by every restore: revoked when the snapshot stops
        self._credentials: SessionCredentials | None = None
        # the template's host uids (``isolation.allocate_template_block``): its root, its restores
        self.uids = range(0)
        self.process: SandboxProcess | None = None
        today = datetime.datetime.fromtimestamp(clock.wall(), datetime.UTC)
        self.stream = f"{today:%Y/%m/%d}/[{version.version}]snapshot-{self.id}"
        self._logpipe: LogPipe | None = None
        self.runtime_api: RuntimeApiServer | None = None  # exec'd runtimes: template's and restores'
        self._reported: SnapshotFailure | None = None

    def __repr__(self) -> str:
        return f"<Snapshot {self.version.name}:{self.version.version} ready={self.ready}>"

    @property
    def alive(self) -> bool:
        return self.ready and self.channel.alive

    async def create(self) -> None:
        """Run INIT and the before-snapshot hooks in a new template; sets ``ready`` or ``failure``."""
        version = self.version
        layout = self.isolation.layout(version, self.plan.interpreter, None, SANDBOX_UID)
        if self.plan.mode == "exec":
            self.failure = self._refuse_exec(layout.plan)
            if self.failure is not None:
                return
        cgroup = self.isolation.cgroup_for(f"snap-{self.id}", version, init_burst=True)
        self.process = SandboxProcess(self._zygote, cgroup)
        self.uids = self.isolation.allocate_template_block()
        self._credentials = self._issuer.issue(version, self.uids) if self._issuer is not None else None
        variables = environment_variables(
            version, "", "", self._endpoint_url, "snap-start", layout, self._credentials
        )
        for unset in ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME"):
            variables.pop(unset, None)  # each restore gets its own; SnapStart sets no log stream
        header: dict[str, Any] = {
            "mode": "template",
            "env": variables,
            "cwd": layout.task_root,
            "sandbox": layout.plan,
            "uids": [self.uids.start, len(self.uids)],  # its root's host uid, then its restores'
        }
        if self.plan.mode == "exec":
            self.runtime_api = RuntimeApiServer(_TemplateRuntimeSide(self._on_reported), self.uids.start)
            variables["AWS_LAMBDA_RUNTIME_API"] = await self.runtime_api.start()
        header.update(entry_header(version, layout, self.plan.mode != "exec"))
        self._logpipe = LogPipe(lambda lines: self._logs.append(version.log_group, self.stream, lines))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        began = self.clock.now()
        platform = platform_log(version, self.clock)
        self._logs.append(version.log_group, self.stream, platform.init_start("snap-start"))
        try:
            await self.process.spawn(self.id, header, [self._logpipe.write_fd, theirs.fileno()])
        finally:
            theirs.close()
            self._logpipe.child_started()
        timer = self.clock.call_later(snapshot_init_limit(version.timeout_s), self.process.kill)
        try:
            await self.channel.attach(ours, "template")
            self.isolation.end_init_burst(cgroup, version)  # restores fork at the function's share
            self.ready = True
        except TemplateInitError as error:
            self.failure = SnapshotFailure(error.error_type, error.body)
        except ZygoteDied:
            self.failure = self._reported or SnapshotFailure.of(
                "Runtime.ExitError", "The runtime exited before the snapshot was taken"
            )
        finally:
            timer.cancel()
        init_ms = (self.clock.now() - began) * 1000
        status = "success" if self.ready else "error"
        lines = self._logpipe.drain()
        error_type = self.failure.error_type if self.failure else None
        lines += platform.init_report(init_ms, status, error_type, "snap-start")
        self._logs.append(version.log_group, self.stream, lines)
        if not self.ready:
            await self.stop()

    def _refuse_exec(self, plan: dict[str, Any]) -> SnapshotFailure | None:
        """Why an exec'd runtime cannot have a snapshot here, or None."""
        if bootstrap_path(self.version) is None:
            message = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
            return SnapshotFailure.of("Runtime.InvalidEntrypoint", message)
        if plan.get("isolated_network"):
            message = "Flare does not snapshot provided runtimes with an isolated network"
            return SnapshotFailure.of(UNSUPPORTED_CLIENT, message)
        return None

    def _on_reported(self, failure: SnapshotFailure, kill: bool) -> None:
        """The template's Runtime API heard of a failure: the first one is the snapshot's."""
        if self._reported is None:
            self._reported = failure
        if kill and self.process is not None:
            self.process.kill()

    async def take(self) -> PreparedRestore:
        """A prepared restore: one made ahead of demand when there is one, else one made now.
        Either way another is prepared in the background for the next cold start."""
        prepared = None
        while self._standby and prepared is None:
            candidate = self._standby.pop()
            if candidate.process.alive:
                prepared = candidate
            else:
                await discard(candidate, self)
        if prepared is None:
            prepared = await prepare_restore(self)
        # The next standby is forked once this restore is serving: making it costs a fork and
        # a cgroup move, which would compete with this cold start for the CPUs.
        self.clock.call_later(REFILL_DELAY_S, self._refill)
        return prepared

    def prepare_standby(self) -> None:
        """Start preparing a restore ahead of the first cold start."""
        self._refill()

    def _refill(self) -> None:
        if self._preparing is None and self.alive and len(self._standby) < STANDBY_RESTORES:
            self._preparing = asyncio.get_running_loop().create_task(self._prepare_standby())

    async def _prepare_standby(self) -> None:
        try:
            self._standby.append(await prepare_restore(self))
        except Exception as error:
            log.info("could not prepare a standby restore of %r: %s", self, error)
        finally:
            self._preparing = None
        if not self.alive:
            await self._drop_standby()

    async def _drop_standby(self) -> None:
        standby, self._standby = self._standby, []
        for prepared in standby:
            await discard(prepared, self)

    async def stop(self) -> None:
        """Kill the template (its restores die with its pid namespace) and release it all."""
        self.ready = False
        if self._preparing is not None:
            self._preparing.cancel()
        await self._drop_standby()
        if self.process is not None:
            self.process.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.process.exited)
            await self.process.release(self.clock)
        await self.channel.stop()
        if self.runtime_api is not None:
            await self.runtime_api.stop()
        if self._logpipe is not None:
            self._logs.append(self.version.log_group, self.stream, self._logpipe.drain(final=True))
            self._logpipe.close()
            self._logpipe = None
        if self._credentials is not None and self._issuer is not None:
            self._issuer.revoke(self._credentials.access_key_id)
            self._credentials = None
        if self.uids:
            self.isolation.release_template_block(self.uids)
            self.uids = range(0)


StateSetter = Callable[[str, str, str, str | None, str | None], None]


class Snapshots:
    """Every version's snapshot: ``# (name, version) => Snapshot``."""

    def __init__(self, make: Callable[[FunctionVersion], Snapshot], set_state: StateSetter) -> None:
        self._make = make
        self._set_state = set_state
        self._snapshots: dict[tuple[str, str], Snapshot] = {}
        self._creating: dict[tuple[str, str], asyncio.Task[Snapshot]] = {}

    def published(self, version: FunctionVersion) -> None:
        """A SnapStart version was published: make its snapshot in the background."""
        self._start(version)

    async def ready(self, version: FunctionVersion) -> Snapshot:
        """The version's live snapshot, re-created first if its template died."""
        key = (version.name, version.version)
        snapshot = self._snapshots.get(key)
        if snapshot is not None and snapshot.alive:
            return snapshot
        task = self._creating.get(key) or self._start(version)
        return await asyncio.shield(task)

    async def take(self, version: FunctionVersion) -> PreparedRestore:
        """A prepared restore of ``version``'s snapshot. Raises SnapStartException when the
        snapshot cannot be had."""
        snapshot = await self.ready(version)
        if not snapshot.ready:
            raise SnapStartException("The snapshot of this version could not be restored.")
        try:
            return await snapshot.take()
        except ZygoteDied:
            snapshot = await self.ready(version)  # the template died: make it again, once
            return await snapshot.take()

    def retire(self, name: str, version: str | None) -> None:
        """The version (or, with None, the function) is gone: stop its snapshots."""
        for key in [key for key in self._snapshots if key[0] == name and version in (None, key[1])]:
            snapshot = self._snapshots.pop(key)
            asyncio.get_running_loop().create_task(snapshot.stop())

    async def close(self) -> None:
        for task in self._creating.values():
            task.cancel()
        await asyncio.gather(*(s.stop() for s in self._snapshots.values()), return_exceptions=True)
        self._snapshots.clear()

    def _start(self, version: FunctionVersion) -> asyncio.Task[Snapshot]:
        key = (version.name, version.version)
        task = asyncio.get_running_loop().create_task(self._create(version))
        self._creating[key] = task
        task.add_done_callback(lambda _: self._creating.pop(key, None))
        return task

    async def _create(self, version: FunctionVersion) -> Snapshot:
        snapshot = self._make(version)
        try:
            await snapshot.create()
        except Exception as error:
            log.exception("snapshot of %s:%s failed", version.name, version.version)
            body = json.dumps({"errorType": "Runtime.Unknown", "errorMessage": str(error)}).encode()
            snapshot.failure = SnapshotFailure("Runtime.Unknown", body)
        key = (version.name, version.version)
        if snapshot.ready:
            self._snapshots[key] = snapshot
            self._set_state(version.name, version.version, "Active", None, None)
            snapshot.prepare_standby()
        else:
            failure = snapshot.failure or SnapshotFailure("Runtime.Unknown", b"")
            reason = _reason(failure)
            self._set_state(version.name, version.version, "Failed", "FunctionError", reason)
        return snapshot


def _reason(failure: SnapshotFailure) -> str:
    try:
        message = json.loads(failure.body).get("errorMessage", "")
    except ValueError:
        message = ""
    return f"{failure.error_type}: {message}".strip(": ")
