"""A restore prepared ahead of demand: forked from a version's snapshot, sandboxed, in its
cgroup, stopped before its after-restore hooks (see ``runtimes/lambda_python/template.py``,
step 3). ``Snapshot.take`` hands one to the ``RestoredEnvironment`` that adopts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import struct
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flare.sandbox.forkserver import ZygoteDied, close_quietly, recvmsg_when_readable
from flare.sandbox.logpipe import LogPipe
from flare.sandbox.process import SandboxProcess
from flare.sandbox.runtime_api import (
    NextEvent,
    ResponseWriter,
    RuntimeApiError,
    RuntimeApiServer,
    RuntimeApiTenant,
)
from flare.sandbox.tmp_pool import Scratch

if TYPE_CHECKING:
    from flare.sandbox.snapshot import Snapshot

SYS_OPEN_TREE = 428
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
AT_RECURSIVE = 0x8000
AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def open_tree(path: str) -> int:
    """A detached copy of the mount at ``path``, as an fd another mount namespace can attach."""
    fd = int(
        _libc.syscall(
            SYS_OPEN_TREE, AT_FDCWD, path.encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE
        )
    )
    if fd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"open_tree {path}: {os.strerror(errno)}")
    return fd


async def receive_credentials(channel: socket.socket) -> tuple[int, int, int]:
    """The (pid, uid, gid) the peer sent with SCM_CREDENTIALS, pid as this namespace sees it."""
    size = struct.calcsize("iII")
    ancillary = await recvmsg_when_readable(channel, 64, socket.CMSG_SPACE(size))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack("iII", data[:size])
            return pid, uid, gid
    raise ZygoteDied("the restored environment did not say who it is")


class _NotYetBound:
    """The Runtime API side of a prepared restore before an environment adopts it."""

    async def next_event(self) -> NextEvent:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def post_response(self, request_id: str, body: bytes) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def begin_stream(self, request_id: str, content_type: str) -> ResponseWriter:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def restore_next(self) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def post_restore_error(self, body: bytes, error_type: str | None) -> None:
        raise RuntimeApiError(403, "InvalidStateTransition", "This environment has not been restored yet")

    def runtime_held(self) -> None:
        """A restore is never started held: nothing to note."""


@dataclass
class PreparedRestore:
    """A restore forked, sandboxed and in its cgroup, stopped before its after-restore hooks:
    what an environment adopts on a SnapStart cold start. ``held`` is its output so far."""

    id: str
    process: SandboxProcess
    channel: socket.socket
    scratch: Scratch
    uid: int
    runtime_api: RuntimeApiServer | RuntimeApiTenant
    logpipe: LogPipe
    held: list[str]


async def prepare_restore(snapshot: Snapshot) -> PreparedRestore:
    """Fork a restore from ``snapshot`` and take it up to its HELLO (see template.py, step 3).

    Raises ZygoteDied (the template is gone) or OSError; cleans up after itself either way.
    """
    isolation, version = snapshot.isolation, snapshot.version
    assert isolation.scratch is not None, "restores exist only with the sandbox"
    restore_id = uuid.uuid4().hex
    process = SandboxProcess(snapshot.channel, isolation.take_cgroup(restore_id, version))
    scratch = await isolation.scratch.acquire(version.ephemeral_mb)
    uid = isolation.allocate_uid(snapshot.uids[1:])  # the template's own restore uids
    held: list[str] = []
    channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    shared = snapshot.runtime_api
    api = RuntimeApiTenant(shared, uid, _NotYetBound()) if shared else RuntimeApiServer(_NotYetBound(), uid)
    prepared = PreparedRestore(
        restore_id,
        process,
        channel,
        scratch,
        uid,
        api,
        LogPipe(held.extend),
        held,
    )
    try:
        await _fork_restore(prepared, theirs)
    except BaseException:
        await discard(prepared, snapshot)
        raise
    return prepared


async def _fork_restore(prepared: PreparedRestore, theirs: socket.socket) -> None:
    address = await prepared.runtime_api.start()
    tree = open_tree(str(prepared.scratch.path))
    cgroup = prepared.process.cgroup
    joins = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in cgroup.procs_files] if cgroup else []
    header = {"mode": "restore", "uid": prepared.uid, "env": {"AWS_LAMBDA_RUNTIME_API": address}}
    try:
        fds = [prepared.logpipe.write_fd, theirs.fileno(), tree, *joins]
        await prepared.process.spawn(prepared.id, header, fds)
    finally:
        close_quietly(tree, *joins)
        theirs.close()
        prepared.logpipe.child_started()
    hello = asyncio.ensure_future(receive_credentials(prepared.channel))
    exited: asyncio.Future[Any] = prepared.process.exited
    done, _ = await asyncio.wait([hello, exited], return_when=asyncio.FIRST_COMPLETED)
    if hello not in done:
        hello.cancel()
        raise ZygoteDied("the restore exited before it was ready")
    host_pid, _, _ = hello.result()
    prepared.process.host_pgid = os.getpgid(host_pid)


async def discard(prepared: PreparedRestore, snapshot: Snapshot) -> None:
    """Kill a prepared restore nobody adopted and release everything it held."""
    prepared.process.kill()
    if prepared.process.pid is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(prepared.process.exited)
    await prepared.process.release(snapshot.clock)
    prepared.channel.close()
    prepared.logpipe.close()
    await prepared.runtime_api.stop()
    snapshot.isolation.release_uid(prepared.uid)
    if snapshot.isolation.scratch is not None:
        snapshot.isolation.scratch.release(prepared.scratch)
