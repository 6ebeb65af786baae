"""Flare's own API inside an isolated network: the one address an isolated environment reaches.

An environment with ``--network isolated`` (or the ``flare:network`` tag) has a network
namespace with only its loopback, so its ``AWS_ENDPOINT_URL`` (``http://127.0.0.1:<port>``)
would lead nowhere. Its sandbox therefore makes a listening socket on that address inside the
namespace and hands it to the engine with the Runtime API's; the engine serves its API on it
(``ApiDoors.serve``). Nothing outside the namespace can reach that socket, so every connection
on it is the environment's by construction: the kernel ties it, and the API takes the
environment's uid as the connection's origin (``auth/connection_origin.py``) without asking.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

ApiDoor = Callable[[socket.socket, int], Awaitable[asyncio.AbstractServer]]
"""Serve Flare's API on a listening socket whose every connection comes from the environment
running as the given uid (``FrontDoorServer.serve_environment``)."""


class ApiDoors:
    """Where isolated environments' API listeners are served. The server attaches its door
    once it runs; before that (an engine without an HTTP server, as in some tests) a listener is
    closed and the function's connections are refused, as with no network."""

    def __init__(self) -> None:
        self._door: ApiDoor | None = None

    def attach(self, door: ApiDoor) -> None:
        self._door = door

    async def serve(self, listener: socket.socket, origin: int) -> asyncio.AbstractServer | None:
        """Serve the API on ``listener`` for the environment running as ``origin``; None (and
        ``listener`` closed) when no door is attached."""
        if self._door is None:
            listener.close()
            return None
        return await self._door(listener, origin)
