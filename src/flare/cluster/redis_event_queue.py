"""The asynchronous invocation queue's events in the cluster's Redis: accepted by any node,
tried by one node at a time, taken over by another when a node dies holding one.

``RedisEventBook`` is the ``EventBook`` (``events/event_book.py``) of a node started with
``--cluster``; ``AsyncQueue`` decides everything else (retries, maximum age, destinations, DLQ)
as on one node. Four keys per account and region, in one hash slot (``ClusterLink.scoped``)::

    flare:{<scope>}:async:events   hash   event id -> the event as JSON (payload in base64)
    flare:{<scope>}:async:due      zset   event id -> when it may next be tried (epoch seconds of
                                          the node's injected clock); the events nobody holds
    flare:{<scope>}:async:leases   zset   event id -> when its holder's lease runs out (epoch ms
                                          of Redis's own clock: ``TIME``)
    flare:{<scope>}:async:holders  hash   event id -> the token of the node holding it

An event is either due (in ``due``) or held (in ``leases`` and ``holders``). ``take`` (one Lua
script) moves a due event whose time has come, or a held one whose lease has run out, to this
node with a lease of ``lease_s``; while the node tries it, a renewal every third of the lease
keeps it. ``put_back`` / ``remove`` / ``release`` act only while this node's token still holds
the event, so a node that lost its lease (it stalled, or Redis restarted) cannot undo the work
of the node that took over. Each node polls every ``poll_s`` (injected clock) for events that
are due, or whose lease ran out, and arms them: that is how an event another node accepted, or
a dead node held, reaches this one.

Leases are wall-clock by nature: Redis's ``TIME`` decides when one has run out, so nodes need
not agree on the time, and ``--test-clock`` jumps do not shorten them (``--cluster-ttl``
does). A node that stalls past its lease while a try runs lets another node try the event too:
delivery is at least once, as on Lambda. Writes are acknowledged once Redis has them; with
``appendonly yes`` and ``appendfsync always`` that is once they are on disk, so a restarted
Redis still has every event a node answered 202 for.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from dataclasses import replace
from typing import Any

import redis.exceptions

from flare.clock import Clock
from flare.cluster.cancel_guard import guarded
from flare.cluster.link import ClusterLink
from flare.errors import ServiceException
from flare.events.event_book import Arm
from flare.scope import Scope
from flare.store.events import EventRow

log = logging.getLogger("flare.cluster.events")

SCAN_LIMIT = 500

# Redis's clock in ms, for leases: TIME is allowed before writes (effects replication, Redis 5+).
_NOW_MS = (
    "local t = redis.call('TIME')\nlocal now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
)

# KEYS events due; ARGV id row-json due
_ADD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS events due leases holders; ARGV id now(injected wall) token lease-ms -> row json or false
_TAKE = (
    _NOW_MS
    + """
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if due then
  if tonumber(due) > tonumber(ARGV[2]) then return false end
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  local expiry = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if (not expiry) or tonumber(expiry) > now then return false end
end
local row = redis.call('HGET', KEYS[1], ARGV[1])
if not row then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return row
"""
)

# KEYS leases holders; ARGV id token lease-ms -> 1 if still held by token
_RENEW = (
    _NOW_MS
    + """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""
)

# KEYS events due leases holders; ARGV id token due row-json('' keeps the row) -> 1 if it was held
_PUT_BACK = """
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS events leases holders; ARGV id token -> 1 if it was held
_REMOVE = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

# KEYS due leases; ARGV until(injected wall) limit -> {id, due, id, due, ...} and lapsed ids
_SCAN = (
    _NOW_MS
    + """
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2], 'WITHSCORES')
local lapsed = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[2])
return {due, lapsed}
"""
)


def encode_row(row: EventRow) -> str:
    """``row`` as the JSON kept in the events hash."""
    fields = dict(row.__dict__, payload=base64.b64encode(row.payload).decode())
    return json.dumps(fields, separators=(",", ":"))


def decode_row(text: str | bytes) -> EventRow:
    fields = json.loads(text)
    fields["payload"] = base64.b64decode(fields["payload"])
    return EventRow(**fields)


class RedisEventBook:
    """One scope's queued async events in Redis, as seen by one node (module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, clock: Clock, lease_s: float, poll_s: float) -> None:
        self._clock = clock
        self._lease_ms = max(1, int(lease_s * 1000))
        self._poll_s = poll_s
        self._token = f"{link.node_name}:{uuid.uuid4().hex}"
        self._keys = [
            ClusterLink.scoped(scope, "async", part) for part in ("events", "due", "leases", "holders")
        ]
        self._sync_add = link.sync.register_script(_ADD)
        self._add = link.aio.register_script(_ADD)
        self._take = link.aio.register_script(_TAKE)
        self._renew = link.aio.register_script(_RENEW)
        self._put_back = link.aio.register_script(_PUT_BACK)
        self._remove = link.aio.register_script(_REMOVE)
        self._scan = link.aio.register_script(_SCAN)
        self._sync = link.sync
        # event id => (the event as taken, the task renewing its lease)
        self._held: dict[str, tuple[EventRow, asyncio.Task[None]]] = {}
        self._poller: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<RedisEventBook {self._token} holding={len(self._held)}>"

    # -- intake ---------------------------------------------------------------------------------

    def add(self, row: EventRow) -> None:
        try:
            self._sync_add(keys=self._keys[:2], args=[row.id, encode_row(row), repr(row.due)])
        except redis.exceptions.RedisError as error:
            raise _not_queued(error) from error

    async def accept(self, row: EventRow) -> None:
        try:
            await guarded(self._add(keys=self._keys[:2], args=[row.id, encode_row(row), repr(row.due)]))
        except redis.exceptions.RedisError as error:
            raise _not_queued(error) from error

    # -- one event's tries ----------------------------------------------------------------------

    async def take(self, event_id: str) -> EventRow | None:
        found = await guarded(
            self._take(
                keys=self._keys, args=[event_id, repr(self._clock.wall()), self._token, self._lease_ms]
            )
        )
        if not found:
            return None
        row = decode_row(found)
        renewal = asyncio.get_running_loop().create_task(self._keep(event_id))
        self._held[event_id] = (row, renewal)
        return row

    async def put_back(
        self,
        event_id: str,
        due: float,
        function_errors: int,
        other_failures: int,
        last: dict[str, Any] | None,
    ) -> None:
        row = self._let_go(event_id)
        if row is None:
            return
        retried = replace(
            row, due=due, function_errors=function_errors, other_failures=other_failures, last=last
        )
        args = [event_id, self._token, repr(due), encode_row(retried)]
        if not await guarded(self._put_back(keys=self._keys, args=args)):
            log.warning(
                "async event %s: its lease ran out during the try; the retry is another node's", event_id
            )

    async def remove(self, event_id: str) -> None:
        if self._let_go(event_id) is None:
            return
        keys = [self._keys[0], *self._keys[2:]]
        if not await guarded(self._remove(keys=keys, args=[event_id, self._token])):
            log.warning(
                "async event %s: its lease ran out during the try; another node may repeat it", event_id
            )

    async def release(self, event_id: str) -> None:
        if self._let_go(event_id) is not None:
            await guarded(
                self._put_back(keys=self._keys, args=[event_id, self._token, repr(self._clock.wall()), ""])
            )

    def _let_go(self, event_id: str) -> EventRow | None:
        held = self._held.pop(event_id, None)
        if held is None:
            return None
        held[1].cancel()
        return held[0]

    async def _keep(self, event_id: str) -> None:
        """Renew this node's lease on ``event_id`` every third of the lease until let go."""
        keys = self._keys[2:]
        while True:
            await self._clock.sleep(self._lease_ms / 3000)
            try:
                if not await guarded(self._renew(keys=keys, args=[event_id, self._token, self._lease_ms])):
                    log.warning("async event %s: lease lost to another node during the try", event_id)
                    return
            except redis.exceptions.RedisError as error:
                log.warning("async event %s: lease not renewed (%s)", event_id, error)

    # -- what is waiting ------------------------------------------------------------------------

    def waiting(self) -> dict[str, tuple[int, float]]:
        """Per function: events queued (due or held, by any node) and the oldest's ``enqueued``."""
        try:
            rows = self._sync.hvals(self._keys[0])
        except redis.exceptions.RedisError:
            return {}
        found: dict[str, tuple[int, float]] = {}
        for text in rows:
            fields = json.loads(text)
            count, oldest = found.get(fields["function"], (0, float(fields["enqueued"])))
            found[fields["function"]] = (count + 1, min(oldest, float(fields["enqueued"])))
        return found

    def start(self, arm: Arm) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._poll(arm))

    async def stop(self) -> None:
        """Stop polling and hand back every event this node holds (due now, for another node)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        for event_id in list(self._held):
            try:
                await self.release(event_id)
            except redis.exceptions.RedisError as error:
                log.warning("async event %s: not handed back (%s); its lease will run out", event_id, error)

    async def _poll(self, arm: Arm) -> None:
        """Every ``poll_s``: arm the events due before the next poll and those whose lease ran out."""
        while True:
            try:
                await self._arm_waiting(arm)
            except redis.exceptions.RedisError as error:
                log.warning("async events: Redis did not answer the poll (%s)", error)
            await self._clock.sleep(self._poll_s)

    async def _arm_waiting(self, arm: Arm) -> None:
        now = self._clock.wall()
        due, lapsed = await guarded(
            self._scan(keys=self._keys[1:3], args=[repr(now + self._poll_s), SCAN_LIMIT])
        )
        for index in range(0, len(due), 2):
            arm(_text(due[index]), float(due[index + 1]) - now)
        for event_id in map(_text, lapsed):
            if event_id not in self._held:  # this node's own try outlived its lease: still running
                arm(event_id, 0.0)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _not_queued(error: Exception) -> ServiceException:
    return ServiceException(f"The event was not queued: the cluster's Redis did not take it ({error}).")
