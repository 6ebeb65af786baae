"""Which nodes are in the cluster: each registers itself with a heartbeat, and stops counting
when it stops beating.

Two keys, in one hash slot (``{nodes}``)::

    flare:cluster:{nodes}        sorted set: node name => its last beat (Redis's clock, ms)
    flare:cluster:{nodes}:info   hash: node name => what it said of itself at that beat (JSON)

A beat is one Lua script (``BEAT``): it stamps the node with Redis's ``TIME``, stores its
``NodeInfo``, drops every node whose last beat is older than the TTL, and answers the live ones,
so each node keeps the cluster's membership in memory (``Membership.live``) at no cost to an
invoke. Redis's clock, not the nodes': hosts' clocks may drift, and a TTL that Redis judges is
the same for all of them (a wall-clock TTL by nature; the beat's *period* is a timer on the
injected clock). A node that stops (SIGKILL, a host gone, a network cut) is dropped by the next
beat or ``live_nodes`` of any other node after ``ttl_s``; its concurrency leases expire on
their own TTL (``cluster/shared_ledger.py``). A node that stops cleanly leaves at once
(``leave``).

The beat also carries the cluster's token (``flare:cluster:{nodes}:token``, made by the first
node's first beat, and put back by the next beat if Redis lost it): node-to-node calls present
it (``cluster/forwarding.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flare.clock import Clock, TimerHandle
from flare.cluster.cancel_guard import guarded
from flare.cluster.link import ClusterLink

log = logging.getLogger("flare.cluster.membership")

NODES = ClusterLink.cluster_key("{nodes}")
INFO = ClusterLink.cluster_key("{nodes}", "info")
TOKEN = ClusterLink.cluster_key("{nodes}", "token")
DEFAULT_TTL_S = 10.0
BEATS_PER_TTL = 3

# KEYS: nodes, info, token. ARGV: ttl_ms, [name, info json, token] (no name: only prune and
# read). The token is set when missing (a Redis that lost its data gets this node's back).
# Answers {now_ms, token, name1, beat1, info1, name2, ...} for the live nodes.
BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('SET', KEYS[3], ARGV[4], 'NX')
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[1])))
for _, name in ipairs(dead) do
  redis.call('ZREM', KEYS[1], name)
  redis.call('HDEL', KEYS[2], name)
end
local answer = {now, redis.call('GET', KEYS[3]) or ''}
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  table.insert(answer, live[i])
  table.insert(answer, live[i + 1])
  table.insert(answer, redis.call('HGET', KEYS[2], live[i]) or '{}')
end
return answer
"""


@dataclass(frozen=True)
class NodeInfo:
    """What a node says of itself at each beat. ``url``: where other nodes call it;
    ``account_share``: its share of the account limit (the limit over the live nodes);
    ``memory_mb`` and ``max_environments``: its capacity; ``environments`` and ``busy``: its
    load (live environments, and those running an invocation now)."""

    name: str
    url: str
    account_share: int
    memory_mb: int
    max_environments: int
    environments: int
    busy: int

    @property
    def free(self) -> int:
        """Environments it could still start or hand out."""
        return max(0, self.max_environments - self.busy)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, name: str, text: str) -> NodeInfo:
        """``text`` as a beat stored it; what is missing or malformed counts as 0 / empty."""
        try:
            raw: dict[str, Any] = json.loads(text)
        except ValueError:
            raw = {}

        def number(key: str) -> int:
            value = raw.get(key)
            return value if isinstance(value, int) else 0

        url = raw.get("url")
        return cls(
            name,
            url if isinstance(url, str) else "",
            number("account_share"),
            number("memory_mb"),
            number("max_environments"),
            number("environments"),
            number("busy"),
        )


@dataclass(frozen=True)
class LiveNode:
    """A node that beat within the TTL: what it said, and how long ago (Redis's clock)."""

    info: NodeInfo
    beat_age_s: float


def parse_beat(answer: list[Any]) -> list[LiveNode]:
    """``BEAT``'s answer as live nodes, by name."""
    now = int(answer[0])
    nodes = []
    for i in range(2, len(answer), 3):
        name = _text(answer[i])
        beat = float(answer[i + 1])
        nodes.append(LiveNode(NodeInfo.from_json(name, _text(answer[i + 2])), (now - beat) / 1000))
    return sorted(nodes, key=lambda node: node.info.name)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def memory_mb() -> int:
    """This host's memory (``MemTotal``), in MiB; 0 when /proc/meminfo says nothing."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


class Membership:
    """This node's heartbeat, and the cluster's live nodes as of the last one.

    ``describe()`` says what the node reports at each beat (its load changes). ``start`` beats
    once (so the node is listed before it serves) and then every ``ttl_s / 3`` on ``clock``;
    ``stop`` leaves. A beat that fails (Redis unreachable) is logged and retried at the next
    period: the node keeps serving what does not need Redis.
    """

    def __init__(
        self, link: ClusterLink, clock: Clock, describe: Callable[[], NodeInfo], ttl_s: float = DEFAULT_TTL_S
    ) -> None:
        self._link = link
        self._clock = clock
        self._describe = describe
        self.ttl_s = ttl_s
        self._beat = link.aio.register_script(BEAT)
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.live: list[LiveNode] = []
        self.token = ""

    def __repr__(self) -> str:
        return f"<Membership {self._link.node_name} live={[node.info.name for node in self.live]}>"

    async def start(self) -> None:
        """Beat once (making the cluster's token if there is none yet) and keep beating."""
        self.token = secrets.token_urlsafe(32)  # this node's offer; the beat answers the cluster's
        await self.beat()
        self._schedule()

    async def beat(self) -> None:
        """Stamp this node now and refresh ``live``."""
        info = self._describe()
        args: list[str | int] = [int(self.ttl_s * 1000), info.name, info.to_json(), self.token]
        answer = await self._beat(keys=[NODES, INFO, TOKEN], args=args)
        self.token = _text(answer[1])
        self.live = parse_beat(answer)
        self._link.set_members(tuple(node.info.name for node in self.live))

    async def live_nodes(self) -> list[LiveNode]:
        """The live nodes, read now (dead ones pruned on the way)."""
        answer = await self._beat(keys=[NODES, INFO, TOKEN], args=[int(self.ttl_s * 1000)])
        return parse_beat(answer)

    def _schedule(self) -> None:
        self._timer = self._clock.call_later(self.ttl_s / BEATS_PER_TTL, self._tick)

    def _tick(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat_and_schedule())

    async def _beat_and_schedule(self) -> None:
        try:
            await guarded(self.beat())  # a cancel (stop) must end it, not re-arm the timer
        except Exception as error:  # Redis away: keep serving, try again next period
            log.warning("heartbeat to %s failed: %s", self._link.url, error)
        self._schedule()

    async def stop(self) -> None:
        """Stop beating and leave the cluster (others stop listing this node at once)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            async with self._link.aio.pipeline(transaction=True) as pipe:
                pipe.zrem(NODES, self._link.node_name)
                pipe.hdel(INFO, self._link.node_name)
                await pipe.execute()
        except Exception as error:
            log.warning("could not leave the cluster cleanly: %s", error)
