"""This node's connection to its cluster's Redis, and how the cluster's keys are named.

One ``ClusterLink`` per node (``Machine.cluster``; None without ``--cluster``). ``sync`` is a
redis-py client for code that runs off the event loop or at start-up; ``aio`` is the asyncio
client for the event loop (an invoke's round trip must not block it). Both keep a pool of
connections to the one URL.

Key names (Redis Cluster-compatible): every key starts with ``flare:``. A key that belongs to
one account and region carries that scope in a hash tag, ``flare:{123456789012:us-east-1}:...``
(``scoped``), so a Lua script or ``MULTI`` over several keys of one scope touches one slot; keys
of the whole cluster (its nodes, its token) are ``flare:cluster:...`` (``cluster_key``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flare.scope import Scope

if TYPE_CHECKING:
    import redis
    import redis.asyncio

PREFIX = "flare"
SOCKET_TIMEOUT_S = 5.0
REDIS_PORT = 6379


def redis_addresses(url: str) -> tuple[tuple[str, int], ...]:
    """The ``(address, port)`` pairs a ``redis://`` or ``rediss://`` ``url``'s host resolves to
    now (none for a ``unix://`` socket or a host that does not resolve), sorted. What the
    sandbox keeps handlers from (``sandbox/link_local_block.py``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return ()
    port = parts.port or REDIS_PORT
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError:
        return ()
    return tuple(sorted({(str(info[4][0]), port) for info in found}))


class ClusterLink:
    """The node ``node_name``'s clients of the Redis at ``url`` (made at once; no round trip)."""

    def __init__(self, url: str, node_name: str) -> None:
        import redis
        import redis.asyncio

        self.url = url
        self.node_name = node_name
        self.sync: redis.Redis = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S)
        self.aio: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S)
        # the live nodes' names as of this node's last heartbeat (cluster/membership.py), and
        # who wants to hear when they change (provisioned environments' spread)
        self.members: tuple[str, ...] = (node_name,)
        self.members_listeners: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"<ClusterLink {self.node_name} on {self.url}>"

    def set_members(self, names: tuple[str, ...]) -> None:
        """The live nodes changed (a heartbeat saw it): tell the listeners."""
        if names != self.members:
            self.members = names
            for listener in list(self.members_listeners):
                listener()

    @staticmethod
    def scoped(scope: Scope, *parts: str) -> str:
        """The key ``parts`` of ``scope``: ``flare:{<account>:<region>}:<part>:<part>...``."""
        return ":".join((PREFIX, "{" + scope.key + "}", *parts))

    @staticmethod
    def cluster_key(*parts: str) -> str:
        """A key of the whole cluster: ``flare:cluster:<part>:<part>...``."""
        return ":".join((PREFIX, "cluster", *parts))

    async def close(self) -> None:
        """Close both clients' connections (after everything that uses them has stopped)."""
        await self.aio.aclose()
        self.sync.close()
