"""A debugged environment's debug port, forwarded from the host into its own network.

An environment with a network of its own (``--network isolated``, or the ``flare:network``
tag) has its debug server on the loopback of that network, which the host cannot reach. The
engine then listens on the host's ``127.0.0.1:<port>`` itself, and pipes each connection to
``127.0.0.1:<port>`` inside the environment's network (a socket made in its namespace by a
short-lived thread: ``inside_post.connect_inside``). While the debug server is not listening
yet (INIT is still starting it), the inside connection is retried for up to
``CONNECT_WITHIN_S`` of the engine's clock; then the editor's connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from flare.clock import Clock
from flare.sandbox.debug_ports import HOST
from flare.sandbox.inside_post import connect_inside

CONNECT_WITHIN_S = 10.0
RETRY_S = 0.05
CHUNK = 65536


class DebugForward:
    """The host listener of one environment's debug port: ``start`` it once the environment's
    process (``pid``) has its network, ``close`` it when the environment stops."""

    def __init__(self, port: int, pid: int, clock: Clock) -> None:
        self.port = port
        self._path = f"/proc/{pid}/ns/net"
        self._clock = clock
        self._netns = -1
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<DebugForward {HOST}:{self.port} -> {self._path}>"

    async def start(self) -> None:
        """Listen on the host's port; raises OSError when it cannot be bound or the
        environment's network cannot be opened."""
        self._netns = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        self._server = await asyncio.start_server(self._serve, HOST, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        if self._pipes:
            await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._netns >= 0:
            os.close(self._netns)
            self._netns = -1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            inner = await self._connect_inside()
            if inner is None:
                return
            inside_reader, inside_writer = inner
            try:
                await asyncio.gather(_pipe(reader, inside_writer), _pipe(inside_reader, writer))
            finally:
                inside_writer.close()
        finally:
            writer.close()
            self._pipes.discard(task)

    async def _connect_inside(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the debug server inside, retried while it does not listen yet."""
        give_up = self._clock.now() + CONNECT_WITHIN_S
        while self._netns >= 0:
            try:
                sock = await connect_inside(self._netns, HOST, self.port)
            except OSError:
                if self._clock.now() >= give_up:
                    return None
                await self._clock.sleep(RETRY_S)
                continue
            sock.setblocking(False)
            return await asyncio.open_connection(sock=sock)
        return None


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy ``source`` to ``sink`` until ``source`` ends; then end ``sink``'s writing side."""
    with contextlib.suppress(ConnectionError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
