"""Stream shards' leases and checkpoints in the cluster's Redis (``ShardClaims``,
``events/pollers/shard_claims.py``): one node at a time polls a shard of a mapping, so the
shard's records reach the function in order across nodes.

Keys (one hash slot per scope, ``ClusterLink.scoped``)::

    flare:{<scope>}:kinesis:lease:<mapping uuid>:<shard id>   string  the holder's token, PX lease
    flare:{<scope>}:kinesis:checkpoints:<mapping uuid>        hash    shard id -> last sequence
                                                                      number fully processed

A node takes a lease with ``SET NX PX`` and renews it every third of ``lease_s`` while it polls;
checkpoints are written by a Lua script only while the writer's token still holds the lease, so
a node that stalled past its lease cannot move the checkpoint of the node that took over. A node
that dies stops renewing: its lease runs out and another node's poller takes the shard and goes
on from the checkpoint (records after it may be delivered again: at least once, as on Lambda).
Leases are wall-clock by nature: Redis expires them (``--cluster-ttl``), whatever the nodes'
injected clocks say; the waits between tries to take a shard are on the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import redis.exceptions

from flare.clock import Clock
from flare.cluster.cancel_guard import guarded
from flare.cluster.link import ClusterLink
from flare.scope import Scope

log = logging.getLogger("flare.cluster.shards")

# KEYS lease; ARGV token lease-ms -> 1 if renewed
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS lease checkpoints; ARGV token shard sequence -> 1 if saved
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS lease; ARGV token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


def checkpoints_key(scope: Scope, mapping: str) -> str:
    """The hash of ``mapping``'s checkpoints (shard id => sequence number)."""
    return ClusterLink.scoped(scope, "kinesis", "checkpoints", mapping)


class RedisShardLeases:
    """This node's leases on the shards of ``scope``'s stream mappings (module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, clock: Clock, lease_s: float, poll_s: float) -> None:
        self._redis = link.aio
        self._scope = scope
        self._clock = clock
        self._lease_ms = max(1, int(lease_s * 1000))
        self._poll_s = poll_s
        self._token = f"{link.node_name}:{uuid.uuid4().hex}"
        self._renew = link.aio.register_script(_RENEW)
        self._save = link.aio.register_script(_SAVE)
        self._release = link.aio.register_script(_RELEASE)
        # (mapping, shard id) => (set when lost, the task renewing it)
        self._held: dict[tuple[str, str], tuple[asyncio.Event, asyncio.Task[None]]] = {}

    def __repr__(self) -> str:
        return f"<RedisShardLeases {self._token} holding={len(self._held)}>"

    def _lease(self, mapping: str, shard_id: str) -> str:
        return ClusterLink.scoped(self._scope, "kinesis", "lease", mapping, shard_id)

    def _checkpoints(self, mapping: str) -> str:
        return checkpoints_key(self._scope, mapping)

    async def hold(self, mapping: str, shard_id: str) -> asyncio.Event:
        key = self._lease(mapping, shard_id)
        while True:
            try:
                if await guarded(self._redis.set(key, self._token, nx=True, px=self._lease_ms)):
                    break
            except redis.exceptions.RedisError as error:
                log.warning("shard %s of mapping %s: lease not taken (%s)", shard_id, mapping, error)
            await self._clock.sleep(self._poll_s)
        lost = asyncio.Event()
        renewal = asyncio.get_running_loop().create_task(self._keep(key, lost))
        self._held[(mapping, shard_id)] = (lost, renewal)
        return lost

    async def _keep(self, key: str, lost: asyncio.Event) -> None:
        while True:
            await self._clock.sleep(self._lease_ms / 3000)
            try:
                if not await guarded(self._renew(keys=[key], args=[self._token, self._lease_ms])):
                    log.warning("%s: the lease was lost to another node", key)
                    lost.set()
                    return
            except redis.exceptions.RedisError as error:
                log.warning("%s: lease not renewed (%s)", key, error)

    async def checkpoint(self, mapping: str, shard_id: str) -> str | None:
        found = await guarded(self._redis.hget(self._checkpoints(mapping), shard_id))
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    async def save(self, mapping: str, shard_id: str, sequence: str) -> bool:
        keys = [self._lease(mapping, shard_id), self._checkpoints(mapping)]
        try:
            saved = bool(await guarded(self._save(keys=keys, args=[self._token, shard_id, sequence])))
        except redis.exceptions.RedisError as error:
            log.warning("shard %s of mapping %s: checkpoint not saved (%s)", shard_id, mapping, error)
            saved = False
        if not saved and (held := self._held.get((mapping, shard_id))) is not None:
            held[0].set()
        return saved

    async def release(self, mapping: str, shard_id: str) -> None:
        held = self._held.pop((mapping, shard_id), None)
        if held is None:
            return
        held[1].cancel()
        try:
            await guarded(self._release(keys=[self._lease(mapping, shard_id)], args=[self._token]))
        except redis.exceptions.RedisError as error:
            log.warning(
                "shard %s of mapping %s: not released (%s); its lease runs out", shard_id, mapping, error
            )
