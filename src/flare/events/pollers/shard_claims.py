"""How a stream poller shares a stream's shards with the pollers of the same mapping on other
nodes: one node at a time holds a shard, and its checkpoint is where the next holder goes on.

A poller given ``ShardClaims`` (a node of a cluster: ``cluster/redis_shard_leases.py``) polls
a shard only while it holds it: ``hold`` waits until it does, ``checkpoint`` says where the
last holder stopped, ``save`` records progress only while the hold lasts (False, and the
``lost`` event set, once another node may have the shard), ``release`` lets go. A poller
without one (a single node) owns every shard and keeps checkpoints in ``EventStore``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class ShardLost(Exception):
    """The shard's hold ran out while this node polled it: stop, and queue for it again."""


class ShardClaims(Protocol):
    async def hold(self, mapping: str, shard_id: str) -> asyncio.Event:
        """Wait until this node holds ``shard_id`` for ``mapping``; the event is set if the hold is lost."""

    async def checkpoint(self, mapping: str, shard_id: str) -> str | None:
        """The last sequence number fully processed, by whichever node held the shard."""

    async def save(self, mapping: str, shard_id: str, sequence: str) -> bool:
        """Record progress if this node still holds the shard; False (nothing saved) if not."""

    async def release(self, mapping: str, shard_id: str) -> None:
        """Let go of the shard (another node may take it at once)."""
