"""A streamed response relayed to one HTTP client while its invocation runs.

The environment writes the function's pieces into a ``ChunkQueue`` (its ``StreamSink``) from
the event loop, as they come; a relay task sends them to the client, one at a time, waiting for
the client's connection to drain. ``streamed_invoke`` runs the invocation and the relay
together::

    async with streamed_invoke(router, version, invocation, queue, send) as result:
        ...   # every piece was sent; write what ends the response

If the client goes away, the rest of the stream is dropped and the invocation runs to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from flare.control.model import FunctionVersion
from flare.placement.router import Router
from flare.sandbox.invocation import Invocation, InvocationResult
from flare.sandbox.streaming import Pressure

Send = Callable[[bytes], Awaitable[None]]


HIGH_WATER = 1024 * 1024
"""Bytes waiting for the client past which the runtime is asked to pause (resumed at half)."""


class ChunkQueue:
    """The pieces of one streamed response, between the environment and the relay.

    ``content_type`` is None until the function starts streaming (a function that answers at
    once never does: its payload is the invocation's result). Past ``HIGH_WATER`` bytes waiting
    the producer's pressure callback pauses it, and resumes it once half of them went out."""

    def __init__(self) -> None:
        self.content_type: str | None = None
        self._items: deque[bytes] = deque()
        self._closed = False
        self._dropping = False
        self._waiter: asyncio.Future[None] | None = None
        self._waiting = 0
        self._pressure: Pressure | None = None
        self._paused = False

    @property
    def began(self) -> bool:
        return self.content_type is not None

    def begin(self, content_type: str) -> None:
        self.content_type = content_type
        self._wake()

    def write(self, data: bytes) -> None:
        if not self._dropping:
            self._items.append(data)
            self._waiting += len(data)
            if self._waiting > HIGH_WATER:
                self._press(True)
            self._wake()

    def on_pressure(self, callback: Pressure) -> None:
        self._pressure = callback

    def close(self) -> None:
        """No more pieces will come."""
        self._closed = True
        self._wake()

    def drop(self) -> None:
        """The client is gone: forget what is queued and what comes."""
        self._dropping = True
        self._items.clear()
        self._waiting = 0
        self._press(False)

    async def take(self) -> bytes | None:
        """The next piece, when it comes; None once closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        data = self._items.popleft()
        self._waiting -= len(data)
        if self._waiting <= HIGH_WATER // 2:
            self._press(False)
        return data

    def _press(self, paused: bool) -> None:
        if paused != self._paused:
            self._paused = paused
            if self._pressure is not None:
                self._pressure(paused)

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def relay(queue: ChunkQueue, send: Send) -> None:
    """Send each piece of ``queue`` until it is closed. A send that fails (the client went
    away, or ``send`` refused what it got) drops the rest, then raises."""
    try:
        while (data := await queue.take()) is not None:
            await send(data)
    except Exception:
        queue.drop()
        raise


@contextlib.asynccontextmanager
async def streamed_invoke(
    router: Router, version: FunctionVersion, invocation: Invocation, queue: ChunkQueue, send: Send
) -> AsyncIterator[InvocationResult]:
    """Run ``invocation`` (whose sink is ``queue``) while relaying ``queue`` with ``send``; yields
    the result once every piece was sent. Raises what ``router.invoke`` raises (nothing was sent
    then) and what a failed ``send`` raised."""
    relaying = asyncio.ensure_future(relay(queue, send))
    try:
        async with router.invoke(version, invocation) as result:
            queue.close()
            await relaying
            yield result
    finally:
        if not relaying.done():
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
        elif not relaying.cancelled():
            relaying.exception()  # seen: raised above, or superseded by what the router raised
