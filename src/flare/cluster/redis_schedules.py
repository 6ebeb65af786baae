"""Keep-warm schedules of one scope, on the cluster's Redis (a ``ScheduleStorage``), each firing
run by one node.

``flare:{<scope>}:schedules`` (id => the row as JSON) and ``flare:{<scope>}:schedule-fired``
(id => the due time of the last firing some node claimed). Every node arms a timer for every
schedule (``rules/scheduler.py``); when one fires, the node first claims that due time
(``claim``: one Lua script, granted only when it is later than the last one claimed), so each
firing runs once in the cluster, on whichever node's timer came first. The due times come from
the rule and its creation time, so every node computes the same ones (their wall clocks agree to
well under a rule's period: NTP). What a node shows of a schedule's runs (``Runs``,
``LastResult``) is what that node ran.

Every write carries its change notice (concern ``schedules``); a node that hears it arms the
new schedules and disarms the removed ones (``Schedules.sync``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from flare.cluster.change_notice import NoticedWrites
from flare.cluster.link import ClusterLink
from flare.scope import Scope
from flare.store.schedules import ScheduleRow

if TYPE_CHECKING:
    from redis.commands.core import Script

CONCERN = "schedules"
ANY = ""  # a schedule's notice names no function the registry must read back

# KEYS: fired; ARGV: id, due: 1 (this node runs it) when due is later than the last claimed
CLAIM = """
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) <= last then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisScheduleStore:
    """``scope``'s schedules in the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, claim: Script) -> None:
        self._key = link.scoped(scope, "schedules")
        self._fired = link.scoped(scope, "schedule-fired")
        self._writes = NoticedWrites(link, scope, CONCERN)
        self._claim = claim

    def __repr__(self) -> str:
        return f"<RedisScheduleStore {self._key}>"

    def all(self) -> list[ScheduleRow]:
        """Every schedule, oldest first."""
        found: dict[Any, Any] = self._writes.client.hgetall(self._key)
        rows = [ScheduleRow(**json.loads(value)) for value in found.values()]
        return sorted(rows, key=lambda row: (row.created, row.id))

    def put(self, row: ScheduleRow) -> None:
        value = json.dumps(dataclasses.asdict(row))
        self._writes(ANY, lambda pipe: pipe.hset(self._key, row.id, value))

    def delete(self, schedule_id: str) -> bool:
        def delete(pipe: Any) -> None:
            pipe.hdel(self._key, schedule_id)
            pipe.hdel(self._fired, schedule_id)

        deleted, _ = self._writes(ANY, delete)
        return bool(deleted)

    def claim(self, schedule_id: str, due: float) -> bool:
        """Whether this node runs the firing of ``schedule_id`` due at ``due`` (no other node
        claimed it, nor a later one)."""
        return bool(int(self._claim(keys=[self._fired], args=[schedule_id, repr(due)])))
