"""Engine side of a zygote: start it, ask it to fork environments, hear when they exit.

One ``Zygote`` per interpreter. ``spawn()`` sends a SPAWN frame with the environment's file
descriptors attached (SCM_RIGHTS) and returns the new pid; ``exit_status(pid)`` is a future of the
raw wait status, resolved when the zygote reaps that child. If the zygote dies, every pending
future fails with ``ZygoteDied`` and the next ``spawn()`` starts a new one.

SPAWN frames go one at a time (``_send``): while the zygote's socket is full, one spawn waits
for it to drain (``add_writer``) and the others wait their turn, so a burst of a thousand
spawns costs the event loop nothing while it waits.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flare.runtimes.lambda_python import frames
from flare.sandbox import open_files

log = logging.getLogger("flare.zygote")

RUNTIMES_DIR = Path(__file__).resolve().parent.parent / "runtimes"

_BOOT = (
    "import sys; sys.path.insert(0, {dir!r}); from lambda_python.zygote import main; "
    "main({fd}, {private!r}, {open_files!r})"
)
ZYGOTE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
"""All a zygote starts with. Not the engine's variables: an environment forked from it sets its
own, but ``/proc/self/environ`` shows what the zygote was started with to every handler."""


class TemplateInitError(Exception):
    """A SnapStart template's INIT failed; ``body`` is AWS's error payload."""

    def __init__(self, body: bytes, error_type: str) -> None:
        super().__init__(error_type)
        self.body = body
        self.error_type = error_type


class ZygoteDied(Exception):
    """The zygote process is gone; environments it had forked were killed with it."""


class Zygote:
    """A pre-started ``interpreter`` that forks environments. Use from the event loop only.

    With ``private_mounts`` (the engine's scratch root), the zygote moves to a mount namespace
    of its own without the mounts below those paths (``sandbox.leave_mounts``): each
    environment's sandbox copies the zygote's mount table, which then does not grow with the
    live environments; an environment's /tmp reaches it as a detached tree instead."""

    def __init__(self, interpreter: Path, private_mounts: Sequence[Path] = ()) -> None:
        self.interpreter = interpreter
        self.private_mounts = [str(path) for path in private_mounts]
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader = frames.FrameReader()
        self._spawns: dict[str, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._drained: asyncio.Future[None] | None = None  # the socket has room again

    def __repr__(self) -> str:
        pid = self._process.pid if self._process else None
        return f"<Zygote {self.interpreter} pid={pid}>"

    @property
    def alive(self) -> bool:
        return self._sock is not None

    async def start(self) -> None:
        """Start the interpreter (once) and wait until it has loaded the runtime."""
        async with self._lock:
            if self._sock is None:
                await self._launch()

    async def _launch(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = subprocess.Popen(
                [
                    str(self.interpreter),
                    "-I",
                    "-S",
                    "-c",
                    _BOOT.format(
                        dir=str(RUNTIMES_DIR),
                        fd=theirs.fileno(),
                        private=self.private_mounts,
                        open_files=open_files.for_zygotes(),
                    ),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=ZYGOTE_ENVIRONMENT,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        hello: asyncio.Future[int] = loop.create_future()
        self._spawns["zygote"] = hello
        loop.add_reader(ours.fileno(), self._on_readable)
        await hello

    async def attach(self, sock: socket.socket, hello_id: str) -> int:
        """Speak the zygote protocol over ``sock`` with a process someone else started (a
        SnapStart template); waits for its hello and returns the pid it reports."""
        sock.setblocking(False)
        self._sock = sock
        hello: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawns[hello_id] = hello
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        return await hello

    async def spawn(self, spawn_id: str, header: dict[str, Any], fds: Sequence[int]) -> int:
        """Fork one environment; ``fds`` are sent to it (and stay open here: close them after)."""
        await self.start()
        assert self._sock is not None
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawns[spawn_id] = future
        message = frames.encode(frames.SPAWN, dict(header, id=spawn_id))
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        await self._send(message, ancillary)
        pid = await future
        self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        return pid

    def exit_status(self, pid: int) -> asyncio.Future[int]:
        """Future of the raw wait status of a child this zygote forked."""
        future = self._exits.get(pid)
        if future is None:
            future = self._exits[pid] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, pid: int) -> None:
        """Drop the record of an exited child."""
        self._exits.pop(pid, None)

    async def _send(self, message: bytes, ancillary: list[tuple[int, int, bytes]]) -> None:
        """Send one frame whole (its file descriptors with its first byte); frames never
        interleave. Raises ZygoteDied if the zygote goes meanwhile."""
        async with self._send_lock:
            sent = 0
            while sent < len(message):
                sock = self._sock
                if sock is None:
                    raise ZygoteDied(f"zygote {self.interpreter} exited")
                try:
                    sent += sock.sendmsg([message[sent:]], ancillary if sent == 0 else [])
                except BlockingIOError:
                    await self._writable(sock)

    async def _writable(self, sock: socket.socket) -> None:
        """Wait until ``sock`` has room (or the zygote dies: ZygoteDied)."""
        loop = asyncio.get_running_loop()
        drained = self._drained = loop.create_future()

        def room() -> None:
            if not drained.done():
                drained.set_result(None)

        loop.add_writer(sock.fileno(), room)
        try:
            await drained
        finally:
            self._drained = None
            if self._sock is sock:
                loop.remove_writer(sock.fileno())

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._died()
            return
        for kind, header, body in self._reader.feed(data):
            if kind == frames.INIT_ERROR:
                # A template's INIT (or before-snapshot hook) failed before its hello.
                failure = TemplateInitError(body, header.get("type") or "Runtime.Unknown")
                for pending in self._spawns.values():
                    if not pending.done():
                        pending.set_exception(failure)
                        pending.exception()
            elif kind == frames.SPAWNED:
                spawned = self._spawns.pop(header["id"], None)
                if spawned is not None and not spawned.done():
                    spawned.set_result(header["pid"])
            elif kind == frames.EXITED:
                exited = self.exit_status(header["pid"])
                if not exited.done():
                    exited.set_result(header["status"])

    def _died(self) -> None:
        log.warning("zygote %s exited", self.interpreter)
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            asyncio.get_running_loop().remove_writer(sock.fileno())
            sock.close()
        self._reader = frames.FrameReader()
        error = ZygoteDied(f"zygote {self.interpreter} exited")
        pending: list[asyncio.Future[Any]] = [*self._spawns.values(), *self._exits.values()]
        if self._drained is not None:
            pending.append(self._drained)
        for future in pending:
            if not future.done():
                future.set_exception(error)
                future.exception()
        self._spawns.clear()
        self._exits.clear()
        if self._process is not None:
            self._process.poll()

    async def stop(self) -> None:
        """Close the control socket: the zygote kills its children and exits."""
        process = self._process
        if self._sock is not None:
            self._died()
        if process is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(None, process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self._process = None


def close_quietly(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


async def recvmsg_when_readable(
    channel: socket.socket, size: int, ancillary_size: int
) -> list[tuple[int, int, bytes]]:
    """Wait (on the event loop) until ``channel`` is readable, then one ``recvmsg``; returns its
    ancillary data (SCM_RIGHTS, SCM_CREDENTIALS)."""
    channel.setblocking(False)
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not arrived.done():
            arrived.set_result(None)

    loop.add_reader(channel.fileno(), readable)
    try:
        await arrived
        _data, ancillary, _flags, _addr = channel.recvmsg(size, ancillary_size)
    finally:
        loop.remove_reader(channel.fileno())
    return ancillary


async def receive_sockets(channel: socket.socket, count: int) -> list[socket.socket]:
    """The ``count`` sockets a child sends over ``channel`` in one message (SCM_RIGHTS), in
    its order; closes ``channel``. Raises ZygoteDied when fewer arrive (those are closed)."""
    fds = array.array("i")
    try:
        ancillary = await recvmsg_when_readable(channel, 1, socket.CMSG_LEN(count * fds.itemsize))
    finally:
        channel.close()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if len(fds) != count:
        close_quietly(*fds)
        raise ZygoteDied("the environment did not hand over its listening sockets")
    return [socket.socket(fileno=fd) for fd in fds]
