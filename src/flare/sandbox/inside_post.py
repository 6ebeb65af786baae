"""Telemetry posts to a listener inside an environment's own network (``--network isolated``).

Its ``sandbox.localdomain`` is that namespace's loopback, which the engine's network cannot
reach. A network namespace belongs to a thread, not to a process: each post's socket is made
and connected by a short-lived thread that first joined the environment's namespace
(``setns`` on ``/proc/<runtime pid>/ns/net``; the engine is root whenever environments have
namespaces), and the loop then speaks HTTP/1.1 on it (one request, ``Connection: close``).
The thread is never an executor's: its namespace ends with it and reaches nothing else.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT_S = 5.0  # the connecting thread's own bound (the hub gives a post up on its clock)
_libc = ctypes.CDLL(None, use_errno=True)


def _connect_in(netns_fd: int, host: str, port: int) -> socket.socket:
    """In the calling thread: join the namespace ``netns_fd``, then connect to ``host:port``."""
    if _libc.setns(netns_fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")
    return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)


async def connect_inside(netns_fd: int, host: str, port: int) -> socket.socket:
    """A socket connected to ``host:port`` in the network namespace open as ``netns_fd``."""
    loop = asyncio.get_running_loop()
    connected: asyncio.Future[socket.socket] = loop.create_future()

    def work() -> None:
        try:
            sock = _connect_in(netns_fd, host, port)
        except OSError as error:
            loop.call_soon_threadsafe(_settle, connected, None, error)
        else:
            loop.call_soon_threadsafe(_settle, connected, sock, None)

    threading.Thread(target=work, name="flare-telemetry-connect", daemon=True).start()
    return await connected


def _settle(future: asyncio.Future[socket.socket], sock: socket.socket | None, error: OSError | None) -> None:
    if future.done():  # given up on meanwhile
        if sock is not None:
            sock.close()
    elif sock is not None:
        future.set_result(sock)
    else:
        future.set_exception(error or OSError("no socket"))


class InsidePoster:
    """``post(url, body)`` for ``TelemetryHub``: to ``url`` as the environment's network sees
    it (the process ``pid``'s). The namespace is opened at the first post (made during INIT,
    when the process has its network already) and kept until ``close``: a later process with
    the same pid is never asked."""

    def __init__(self, pid: int) -> None:
        self._path = f"/proc/{pid}/ns/net"
        self._fd = -1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def __call__(self, url: str, body: bytes) -> None:
        """POST ``body`` to ``url``; the hub gives it up after its time (``TelemetryHub``)."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        if host in ("sandbox.localdomain", "sandbox", "localhost"):
            host = "127.0.0.1"
        if self._fd < 0:
            self._fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        sock = await connect_inside(self._fd, host, parts.port or 80)
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            head = (
                f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.split()
            if len(fields) < 2 or not fields[1].isdigit() or int(fields[1]) >= 300:
                raise OSError(f"listener answered {status_line[:60]!r}")
        finally:
            writer.close()
