"""Which execution environment, if any, opened a connection to Flare's API.

A handler's calls to ``AWS_ENDPOINT_URL`` act as its function whatever key signs them
(``auth/authenticator.py``), so the API must know a connection from inside an environment from
one from outside, and it cannot take the request's word for it. Each sandboxed environment runs
as its own host uid (``runtimes/lambda_python/uids.py``); the kernel names the uid that owns
the client end of each connection (``sandbox/socket_owner.py``), asked once per connection,
when its first request is served (the front door's fast path and aiohttp's middleware share
the answer).

Only an engine whose environments have uids of their own asks (``Isolation.callers_named``):
without them (``--no-sandbox``, an engine that is not root) a handler runs as the engine's user,
with its files, and there is no boundary a uid could draw. A connection that arrived on an
isolated environment's own listener (``sandbox/api_door.py``) is remembered as that
environment's without asking.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from flare.errors import ServiceException

OwnerLookup = Callable[[tuple[str, int], tuple[str, int]], "int | None"]
"""The uid owning a connection's client end, given its two ends (``SocketOwners.owner_of``);
raises OSError when it cannot be asked."""

log = logging.getLogger("flare.api")

OUTSIDE = -1
"""Cached for a connection that no sandbox uid opened."""


class ConnectionOrigins:
    """The sandbox uid behind each connection (see the module docstring): ``owner_of`` asks the
    kernel, ``sandboxed`` says whether a uid is one of the sandbox's. Used from the event
    loop's thread only."""

    def __init__(self, owner_of: OwnerLookup | None, sandboxed: Callable[[int], bool]) -> None:
        """``owner_of`` None: the kernel is not asked (no socket diagnostics); only remembered
        connections have an origin."""
        self._owner_of = owner_of
        self._sandboxed = sandboxed
        self._known: weakref.WeakKeyDictionary[asyncio.BaseTransport, int] = weakref.WeakKeyDictionary()

    def of(self, transport: asyncio.BaseTransport | None) -> int | None:
        """The sandbox uid whose process opened ``transport``'s connection, or None (from
        outside every environment, or no local process: a remote client). Raises
        ServiceException (Lambda's 500, which SDKs retry) in the rare case the kernel could not
        be asked: a request is never served as from outside on a guess."""
        if transport is None:
            return None
        known = self._known.get(transport)
        if known is None and self._owner_of is not None:
            known = OUTSIDE
            peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
            if isinstance(peer, tuple) and isinstance(local, tuple):
                try:
                    uid = self._owner_of(peer[:2], local[:2])
                except OSError as error:  # not cached: asked again on the next request
                    log.warning("the origin of a connection from %s could not be asked: %s", peer, error)
                    raise ServiceException("An internal error occurred; retry the request.") from error
                if uid is not None and self._sandboxed(uid):
                    known = uid
            self._known[transport] = known
        return None if known is None or known == OUTSIDE else known

    def remember(self, transport: asyncio.BaseTransport, uid: int) -> None:
        """``transport``'s connection is the environment running as ``uid``'s: it arrived on a
        listener only that environment reaches (``sandbox/api_door.py``)."""
        self._known[transport] = uid
