"""Provisioned concurrency spread over the cluster's nodes: each node starts its share.

A version's provisioned count N (what the control plane asked for) is split over the live
nodes ranked by their rendezvous weight for the version's route key (``cluster/routing.py``:
the home of invokes of that version number first): the first ``N mod k`` nodes get
``N // k + 1``, the others ``N // k``.
So one environment goes to the home (where its invokes are routed), N environments over k
nodes are at most one apart, and every node computes the same split from the same members.
When the members change, every node applies its new share (``ClusterProvisioner.rebalance``).

Each environment holds its lease in the shared ledger (``Ledger.hold``), so the cluster holds
N, not N per node. What the control plane reports (Allocated/Available, READY) is the cluster's:
every node writes its ready count per version into one hash at each change and heartbeat
(``flare:{scope}:provisioned:<name>:<version>``: node => count) and ``counts`` sums the live
nodes' entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from flare.cluster.link import ClusterLink
from flare.cluster.routing import route_key, weight
from flare.control.model import FunctionVersion, VersionKey
from flare.placement.ledger import Ledger
from flare.placement.pool import Pool
from flare.placement.prewarm import Provisioner
from flare.sandbox.environment import Environment
from flare.scope import Scope

log = logging.getLogger("flare.cluster.provisioned")


def share_of(count: int, members: Sequence[str], key: str, here: str) -> int:
    """How many of ``count`` environments of the version ``key`` node ``here`` runs."""
    if here not in members:
        return count
    ranked = sorted(members, key=lambda node: weight(node, key), reverse=True)
    rank = ranked.index(here)
    base, extra = divmod(count, len(ranked))
    return base + (1 if rank < extra else 0)


def version_label(version: FunctionVersion) -> str:
    """A version as every node names it: name and version (a revision id is a node's own
    until the registry is shared, and a new revision replaces the environments anyway)."""
    return f"{version.name}:{version.version}"


class ClusterProvisioner(Provisioner):
    """A ``Provisioner`` that runs this node's share of each target (module docstring)."""

    def __init__(
        self,
        pool: Pool,
        ledger: Ledger,
        link: ClusterLink,
        scope: Scope,
        on_target: Callable[[FunctionVersion, int], None] = lambda version, count: None,
    ) -> None:
        super().__init__(pool, ledger, on_target)
        self._link = link
        self._scope = scope
        self._totals: dict[VersionKey, tuple[FunctionVersion, int]] = {}
        link.members_listeners.append(self.rebalance)

    def set(self, version: FunctionVersion, count: int, *, retry: bool = False) -> None:
        """Run this node's share of ``count`` environments of ``version``."""
        if count == 0:
            self._totals.pop(version.key, None)
        else:
            self._totals[version.key] = (version, count)
        link, scope = self._link, self._scope
        key = route_key(scope.account, scope.region, version.name, version.version)
        super().set(version, share_of(count, link.members, key, link.node_name), retry=retry)
        self.publish(version)

    def rebalance(self) -> None:
        """The members changed: apply this node's new shares."""
        for version, count in list(self._totals.values()):
            self.set(version, count)

    def publish(self, version: FunctionVersion) -> None:
        """Write this node's ready count of ``version`` where every node reads it."""
        ready, _ = super().counts(version)
        try:
            self._link.sync.hset(self._key(version), self._link.node_name, ready)
        except Exception as error:  # Redis away: the counts catch up at the next change
            log.warning("could not publish provisioned counts: %s", error)

    def counts(self, version: FunctionVersion) -> tuple[int, int]:
        """``(allocated, available)`` over the live nodes (this node's own, counted now)."""
        self.publish(version)
        stored: dict[bytes, bytes] = self._link.sync.hgetall(self._key(version))  # type: ignore[assignment]
        members = {name.encode() for name in self._link.members}
        ready = sum(int(value) for node, value in stored.items() if node in members)
        return ready, ready

    def _key(self, version: FunctionVersion) -> str:
        return self._link.scoped(self._scope, "provisioned", version_label(version))

    async def _start(self, env: Environment) -> None:
        try:
            await super()._start(env)
        finally:
            self.publish(env.version)

    def _gone(self, env: Environment) -> None:
        super()._gone(env)
        self.publish(env.version)

    async def close(self) -> None:
        if self.rebalance in self._link.members_listeners:
            self._link.members_listeners.remove(self.rebalance)
        await super().close()
