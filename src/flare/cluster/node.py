"""This node's part in its cluster: its heartbeat and what it reports, its forwarder of invokes
to other nodes (``cluster/forwarding.py``), how it asks the others their logs
(``cluster/log_peers.py``), and the cluster's view that ``flare cluster status``
shows (``api/cluster.py``).

``ClusterNode`` is made by the ``Engine`` only with ``--cluster``; it asks the engine (through
``describe_load``) how many environments it has and how many are busy, at every beat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flare.clock import Clock
from flare.cluster.forwarding import Forwarder
from flare.cluster.link import ClusterLink
from flare.cluster.log_peers import LogPeers
from flare.cluster.log_retention import LogRetention
from flare.cluster.membership import LiveNode, Membership, NodeInfo, memory_mb
from flare.config import ServerConfig

SMALLEST_FUNCTION_MB = 128
"""A node's capacity in environments: its memory over Lambda's smallest memory size."""


class ClusterNode:
    """Membership of the node ``link.node_name``; ``describe_load()`` is (environments, busy)."""

    def __init__(
        self,
        link: ClusterLink,
        config: ServerConfig,
        clock: Clock,
        describe_load: Callable[[], tuple[int, int]],
        secret_of: Callable[[str], str | None],
    ) -> None:
        """``secret_of(access key id)``: the key's secret, to sign forwarded invokes as their
        caller (None: not stored)."""
        self.link = link
        self._config = config
        self._describe_load = describe_load
        self._memory_mb = memory_mb()
        self.membership = Membership(link, clock, self.describe, config.cluster_ttl_s)
        self.forwarder = Forwarder(link.node_name, lambda: self.membership.token, secret_of)
        self.log_peers = LogPeers(link.node_name, self.membership)  # logs calls span the nodes
        self.log_retention = LogRetention(link, clock)  # the engine starts and stops it (its regions)

    def __repr__(self) -> str:
        return f"<ClusterNode {self.link.node_name}>"

    def describe(self) -> NodeInfo:
        """What this node reports at a beat."""
        environments, busy = self._describe_load()
        nodes = max(1, len(self.membership.live))
        return NodeInfo(
            self.link.node_name,
            self._config.advertise_url or self._config.endpoint_url,
            self._config.account_concurrency // nodes,
            self._memory_mb,
            self._memory_mb // SMALLEST_FUNCTION_MB,
            environments,
            busy,
        )

    async def start(self) -> None:
        await self.membership.start()

    async def stop(self) -> None:
        await self.membership.stop()
        await self.forwarder.close()
        await self.log_peers.close()

    async def status(self) -> dict[str, Any]:
        """The cluster as ``GET /flare/v1/cluster`` answers it: every live node, read now, and
        the nodes this one routes among (``Sees``: as of its last beat)."""
        nodes = await self.membership.live_nodes()
        return {
            "Node": self.link.node_name,
            "TtlSeconds": self.membership.ttl_s,
            "Sees": [node.info.name for node in self.membership.live],
            "Nodes": [status_of(node) for node in nodes],
        }


def status_of(node: LiveNode) -> dict[str, Any]:
    info = node.info
    return {
        "Name": info.name,
        "Url": info.url,
        "AccountShare": info.account_share,
        "MemoryMB": info.memory_mb,
        "MaxEnvironments": info.max_environments,
        "Environments": info.environments,
        "Busy": info.busy,
        "LastBeatSecondsAgo": round(node.beat_age_s, 3),
    }
