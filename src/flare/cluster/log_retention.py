"""The retention each log group was given in the cluster, kept in Redis, and taken by every
node for the groups it holds.

A log group is held by every node that wrote to it (``cluster/cluster_logs.py``), and
PutRetentionPolicy reaches the nodes that hold it then. A node that first writes to the group
later (a function that scales to it) makes its own row of the group, with no retention, and
would keep its events past the policy. So the policy is also recorded here, one hash per
account and region::

    flare:{<account>:<region>}:logs:retention    hash: group name => days ("" once a
                                                 DeleteRetentionPolicy cleared it)

and each node, every ``SWEEP_INTERVAL_S`` of its clock (the period of its log sweep), reads the
hash of each account and region it serves (one ``HGETALL``, off the invoke path, on the asyncio
client) and sets it on the groups it holds whose retention differs (``apply``): within one
period a new holder expires events as the others do. DeleteLogGroup drops the group's entry. A
cleared retention is kept as "" rather than dropped so a node that missed the
DeleteRetentionPolicy (it was away) clears its own too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from redis.exceptions import RedisError

from flare.clock import Clock, TimerHandle
from flare.cluster.cancel_guard import guarded
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.services.logs import SWEEP_INTERVAL_S
from flare.store.log_index import LogIndex

log = logging.getLogger("flare.cluster.log_retention")

Set = dict[str, int | None]
"""Group name => the retention the cluster gave it (None: cleared)."""
Indexes = Callable[[], list[tuple[Scope, LogIndex]]]
"""This node's log indexes, by account and region, now."""


def key(scope: Scope) -> str:
    return ClusterLink.scoped(scope, "logs", "retention")


def parse(raw: Mapping[bytes | str, bytes | str]) -> Set:
    """An ``HGETALL`` of the hash as group => days (what does not parse is left out)."""
    found: Set = {}
    for name, value in raw.items():
        text = value.decode() if isinstance(value, bytes) else value
        group = name.decode() if isinstance(name, bytes) else name
        if text == "":
            found[group] = None
        elif text.isdigit():
            found[group] = int(text)
    return found


def apply(index: LogIndex, given: Set) -> list[str]:
    """Set each group's retention in ``given`` on ``index`` where this node holds the group and
    has another; the groups changed."""
    changed = []
    for group, days in sorted(given.items()):
        row = index.group(group)
        if row is not None and row.retention_days != days:
            index.set_retention(group, days)
            changed.append(group)
    return changed


class LogRetention:
    """The cluster's record of log groups' retention (module docstring), and this node's
    follower of it (``start``/``stop``)."""

    def __init__(self, link: ClusterLink, clock: Clock) -> None:
        self._link = link
        self._clock = clock
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    async def record(self, scope: Scope, group: str, days: int | None) -> None:
        """The cluster gave ``group`` this retention (None: cleared it). With Redis away, only
        logged: the nodes that hold the group have it already."""
        try:
            await self._link.aio.hset(key(scope), group, "" if days is None else str(days))
        except (RedisError, OSError) as error:
            log.warning("could not record %s's retention in the cluster: %s", group, error)

    async def forget(self, scope: Scope, group: str) -> None:
        """``group`` was deleted (with Redis away, only logged)."""
        try:
            await self._link.aio.hdel(key(scope), group)
        except (RedisError, OSError) as error:
            log.warning("could not forget %s's retention in the cluster: %s", group, error)

    async def given(self, scope: Scope) -> Set:
        """What the cluster recorded for ``scope``'s groups; nothing (logged) with Redis away."""
        try:
            return parse(await self._link.aio.hgetall(key(scope)))
        except (RedisError, OSError) as error:
            log.warning("could not read the cluster's log retention: %s", error)
            return {}

    def start(self, indexes: Indexes) -> None:
        """Take the cluster's retention for ``indexes()`` now and every ``SWEEP_INTERVAL_S``."""
        self._indexes = indexes
        self._tick()

    def _tick(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        for scope, index in self._indexes():
            changed = apply(index, await guarded(self.given(scope)))  # Redis away: none, next period
            if changed:
                log.info("took the cluster's retention for %s in %s", ", ".join(changed), scope.key)
        self._timer = self._clock.call_later(SWEEP_INTERVAL_S, self._tick)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
