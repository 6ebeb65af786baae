"""The homes of one scope's durable executions on the cluster's Redis (an ``ExecutionHomes``,
``durable/homes.py``): which node invokes each one and keeps its timers.

Key: ``flare:{<scope>}:durable:homes``, a HASH arn => node name. ``CLAIM`` and ``ADOPT`` are Lua
scripts given the live nodes as this node last heard them at its heartbeat
(``ClusterLink.members``, ``cluster/membership.py``): a home that is not among them is dead, and
its executions are taken by the first live node that claims them (compare-and-set in the script:
two survivors cannot both take one). The membership's TTL decides how soon: a wall-clock lease
by nature (Redis's clock judges the heartbeats). Every live node adopts the dead node's
executions when its heartbeat sees the membership change (``on_members_changed``); the
execution's waits and retries are stored (its operations), so the new home arms them again.

``call_home`` publishes ``{"node", "concern": "durable", "function": <arn>}`` on the scope's
change channel (``cluster/change_notice.py``); every node hears it (``registry_changes.py``)
and the home invokes the execution (``DurableExecutions.heard_wake``); a notice of concern
``durable-ended`` after an execution ended (``announce_end``) answers an invoke waiting for it on
another node (a node with none waiting reads nothing).
A notice lost (the home's subscription dropped) leaves the execution to its next timer or to the
node that adopts it (and a waiting invoke to its own time limit).
"""

from __future__ import annotations

from collections.abc import Callable

from flare.cluster import change_notice
from flare.cluster.link import ClusterLink
from flare.durable.homes import Claim
from flare.scope import Scope

# KEYS: homes. ARGV: arn, this node, the live nodes... Answers 1 (here), 2 (taken), 0 (elsewhere).
CLAIM = """
local home = redis.call('HGET', KEYS[1], ARGV[1])
if home == ARGV[2] then return 1 end
if home then
  for i = 3, #ARGV do if ARGV[i] == home then return 0 end end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 2
"""
# KEYS: homes. ARGV: this node, '1' to answer those at home here too, how many live nodes, the
# live nodes..., the arns... Answers the arns this node took (or had).
ADOPT = """
local me, live, count = ARGV[1], {}, tonumber(ARGV[3])
for i = 4, 3 + count do live[ARGV[i]] = true end
local taken = {}
for i = 4 + count, #ARGV do
  local home = redis.call('HGET', KEYS[1], ARGV[i])
  if home == me then
    if ARGV[2] == '1' then table.insert(taken, ARGV[i]) end
  elseif not (home and live[home]) then
    redis.call('HSET', KEYS[1], ARGV[i], me)
    table.insert(taken, ARGV[i])
  end
end
return taken
"""


class RedisExecutionHomes:
    """The homes of ``scope``'s durable executions (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._link = link
        self._redis = link.sync
        self._key = link.scoped(scope, "durable", "homes")
        self._claim = link.sync.register_script(CLAIM)
        self._adopt = link.sync.register_script(ADOPT)
        self._channel = change_notice.channel(link, scope)

    def __repr__(self) -> str:
        return f"<RedisExecutionHomes {self._key} of {self._link.node_name}>"

    def claim(self, arn: str) -> Claim:
        answer = int(self._claim(keys=[self._key], args=[arn, self._link.node_name, *self._link.members]))
        return {1: Claim.HERE, 2: Claim.TAKEN}.get(answer, Claim.ELSEWHERE)

    def seize(self, arn: str) -> None:
        self._redis.hset(self._key, arn, self._link.node_name)

    def here(self, arn: str) -> bool:
        home = self._redis.hget(self._key, arn)
        return home is not None and change_notice.text(home) == self._link.node_name

    def release(self, arn: str) -> None:
        self._redis.hdel(self._key, arn)

    def adopt(self, arns: list[str], mine_too: bool) -> list[str]:
        if not arns:
            return []
        members = self._link.members
        args = [self._link.node_name, "1" if mine_too else "0", len(members), *members, *arns]
        return [change_notice.text(arn) for arn in self._adopt(keys=[self._key], args=args)]

    def call_home(self, arn: str) -> None:
        self._redis.publish(self._channel, change_notice.notice(self._link.node_name, "durable", arn))

    def announce_end(self, arn: str) -> None:
        notice = change_notice.notice(self._link.node_name, "durable-ended", arn)
        self._redis.publish(self._channel, notice)

    def on_members_changed(self, listener: Callable[[], None]) -> None:
        self._link.members_listeners.append(listener)
