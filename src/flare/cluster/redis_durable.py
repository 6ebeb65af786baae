"""One scope's durable executions on the cluster's Redis (a ``DurableStorage``), so that every
node answers for every execution (Get, List, History, callbacks, Stop...).

Keys (all in the scope's hash tag, ``ClusterLink.scoped``: one slot; ``P`` is
``flare:{<scope>}:durable``)::

    P:x:<arn>        HASH  the ``ExecutionRow``'s fields (a None field is absent), and ``_opseq``:
                           the last operation's seq
    P:ops:<arn>      HASH  operation Id => the Operation (JSON)
    P:seq:<arn>      ZSET  operation Id by seq (order of first checkpoint)
    P:ev:<arn>       LIST  the history's events (JSON, without EventId: its place in the list + 1)
    P:names          HASH  "<function>\\n<name>" => arn: a name is unique per function
    P:fn:<function>  ZSET  the function's executions by start time
    P:st:<status>    ZSET  the executions in that status by start time
    P:queued         HASH  the Event invoke's request id => arn, until the async queue tried it
    P:ended          ZSET  ended executions by when their retention runs out (the retention the
                           execution was inserted with, as in SQLite)

Every write is one run of ``BATCH``, a Lua script given a list of writes: its guards (a name
already taken; a checkpoint token that moved) are checked before anything is written, so a
batch is kept whole or not at all, and two nodes checkpointing with one token cannot both win.
``transaction()`` gathers the writes of a block into one batch run when the block ends (each
block its own: no outer transaction joins Redis and another store). Its keys are named inside
the script from the one key it is given (``P``): all share ``P``'s hash tag, so its slot.

An update never moves an ended execution back to a live status (a stop on one node and a late
invocation's end on another race: the end stays). Calls use the node's synchronous client, as
the SQLite store's calls are synchronous; the actor (``durable/executions.py``) runs on the event
loop, off the invoke path of plain functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from flare.cluster.link import ClusterLink
from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.durable import CHANGEABLE, ExecutionRow

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

STATUSES = ("RUNNING", "PAUSING", "PAUSED", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED")
_FIELDS = tuple(field.name for field in fields(ExecutionRow))
_NUMBERS = {"started": float, "ended": float, "deadline": float, "retention": int, "failures": int}

# KEYS: P. ARGV: the writes (JSON list). Answers 'ok', 'taken' (an insert's name) or 'moved' (a token).
BATCH = """
local p = KEYS[1]
local writes = cjson.decode(ARGV[1])
local ended = {SUCCEEDED = true, FAILED = true, TIMED_OUT = true, STOPPED = true}
for _, w in ipairs(writes) do
  if w.op == 'insert' and redis.call('HEXISTS', p .. ':names', w.fn .. '\\n' .. w.name) == 1 then
    return 'taken'
  end
  if w.op == 'update' and w.expect and redis.call('HGET', p .. ':x:' .. w.arn, 'token') ~= w.expect then
    return 'moved'
  end
end
local function reindex(arn, started, retention, old_status, old_queued, w)
  if w.status and old_status ~= w.status then
    if old_status then redis.call('ZREM', p .. ':st:' .. old_status, arn) end
    redis.call('ZADD', p .. ':st:' .. w.status, started, arn)
  end
  if w.queues then
    if old_queued and old_queued ~= w.queued then redis.call('HDEL', p .. ':queued', old_queued) end
    if w.queued then redis.call('HSET', p .. ':queued', w.queued, arn) end
  end
  if w.ends then
    if w.ended then redis.call('ZADD', p .. ':ended', w.ended + 86400 * tonumber(retention), arn)
    else redis.call('ZREM', p .. ':ended', arn) end
  end
end
local function drop(arn)
  local key = p .. ':x:' .. arn
  local row = redis.call('HMGET', key, 'function', 'name', 'status', 'queued')
  if not row[1] then return end
  redis.call('DEL', key, p .. ':ops:' .. arn, p .. ':seq:' .. arn, p .. ':ev:' .. arn)
  redis.call('HDEL', p .. ':names', row[1] .. '\\n' .. row[2])
  redis.call('ZREM', p .. ':fn:' .. row[1], arn)
  redis.call('ZREM', p .. ':st:' .. row[3], arn)
  redis.call('ZREM', p .. ':ended', arn)
  if row[4] then redis.call('HDEL', p .. ':queued', row[4]) end
end
for _, w in ipairs(writes) do
  local key = p .. ':x:' .. (w.arn or '')
  if w.op == 'insert' then
    redis.call('HSET', p .. ':names', w.fn .. '\\n' .. w.name, w.arn)
    redis.call('HSET', key, unpack(w.fields))
    redis.call('ZADD', p .. ':fn:' .. w.fn, w.started, w.arn)
    reindex(w.arn, w.started, w.retention, nil, nil, w)
  elseif w.op == 'update' then
    local cur = redis.call('HMGET', key, 'status', 'queued', 'started', 'retention')
    if cur[1] and not (ended[cur[1]] and w.status and not ended[w.status]) then
      reindex(w.arn, tonumber(cur[3]), cur[4], cur[1], cur[2] or nil, w)
      if #w.unset > 0 then redis.call('HDEL', key, unpack(w.unset)) end
      if #w.fields > 0 then redis.call('HSET', key, unpack(w.fields)) end
    end
  elseif w.op == 'mark' then
    local stored = redis.call('HGET', key, 'updated')
    if stored and #w.ids > 0 then
      local kept, seen = cjson.decode(stored), {}
      for _, id in ipairs(kept) do seen[id] = true end
      for _, id in ipairs(w.ids) do
        if not seen[id] then table.insert(kept, id); seen[id] = true end
      end
      redis.call('HSET', key, 'updated', cjson.encode(kept))
    end
  elseif w.op == 'operations' then
    if redis.call('EXISTS', key) == 1 then
      for i = 1, #w.ops, 2 do
        if redis.call('HSET', p .. ':ops:' .. w.arn, w.ops[i], w.ops[i + 1]) == 1 then
          redis.call('ZADD', p .. ':seq:' .. w.arn, redis.call('HINCRBY', key, '_opseq', 1), w.ops[i])
        end
      end
    end
  elseif w.op == 'events' then
    if redis.call('EXISTS', key) == 1 and #w.events > 0 then
      redis.call('RPUSH', p .. ':ev:' .. w.arn, unpack(w.events))
    end
  elseif w.op == 'delete' then
    for _, arn in ipairs(w.arns) do drop(arn) end
  end
end
return 'ok'
"""


def register(client: redis.Redis) -> Script:
    """``BATCH`` registered on a node's client (once per node)."""
    return client.register_script(BATCH)


class RedisDurableStore:
    """The durable executions of ``scope`` on the cluster's Redis (see the module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope, batch: Script) -> None:
        self._redis = link.sync
        self._batch = batch
        self._prefix = ClusterLink.scoped(scope, "durable")
        self._open: list[list[dict[str, Any]]] = []  # the writes of each open block, innermost last

    def __repr__(self) -> str:
        return f"<RedisDurableStore {self._prefix}>"

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    # -- writing --------------------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[object]:
        return self._block()

    @contextmanager
    def _block(self) -> Iterator[object]:
        self._open.append([])
        try:
            yield self
            writes = self._open[-1]
        finally:
            self._open.pop()
        if writes:
            self._run(writes)

    def _write(self, write: dict[str, Any]) -> None:
        if self._open:
            self._open[-1].append(write)
        else:
            self._run([write])

    def _run(self, writes: list[dict[str, Any]]) -> None:
        answer = _text(self._batch(keys=[self._prefix], args=[json.dumps(writes)], client=self._redis))
        if answer == "taken":
            raise StaleRevision("a durable execution of that function already has that name")
        if answer == "moved":
            raise StaleRevision("the durable execution's checkpoint token moved")

    def insert(self, row: ExecutionRow) -> None:
        values = _stored(row, _FIELDS)
        self._write(
            {"op": "insert", "arn": row.arn, "fn": row.function, "name": row.name}
            | {"started": row.started, "retention": row.retention}
            | _indexed(row, CHANGEABLE)
            | {"fields": [item for pair in values.items() for item in pair]}
        )

    def update(
        self, row: ExecutionRow, expect_token: str | None = None, only: tuple[str, ...] = CHANGEABLE
    ) -> None:
        values = _stored(row, only)
        write = {"op": "update", "arn": row.arn} | _indexed(row, only)
        write |= {"fields": [item for pair in values.items() for item in pair]}
        write["unset"] = [name for name in only if name not in values]
        if expect_token is not None:
            write["expect"] = expect_token
        self._write(write)

    def mark_updated(self, arn: str, operation_ids: list[str]) -> None:
        self._write({"op": "mark", "arn": arn, "ids": operation_ids})

    def put_operations(self, arn: str, operations: list[dict[str, Any]]) -> None:
        pairs = [item for operation in operations for item in (operation["Id"], json.dumps(operation))]
        if pairs:
            self._write({"op": "operations", "arn": arn, "ops": pairs})

    def add_events(self, arn: str, events: list[dict[str, Any]]) -> None:
        if events:
            self._write({"op": "events", "arn": arn, "events": [json.dumps(event) for event in events]})

    def delete(self, arns: list[str]) -> None:
        if arns:
            self._write({"op": "delete", "arns": arns})

    def delete_function(self, function: str) -> int:
        arns = [_text(arn) for arn in self._redis.zrange(self._key("fn", function), 0, -1)]
        self.delete(arns)
        return len(arns)

    # -- reading --------------------------------------------------------------------------------

    def get(self, arn: str) -> ExecutionRow | None:
        return _row(self._redis.hgetall(self._key("x", arn)))

    def named(self, function: str, name: str) -> ExecutionRow | None:
        arn = self._redis.hget(self._key("names"), f"{function}\n{name}")
        return None if arn is None else self.get(_text(arn))

    def queued_as(self, request_id: str) -> ExecutionRow | None:
        arn = self._redis.hget(self._key("queued"), request_id)
        return None if arn is None else self.get(_text(arn))

    def of_function(self, function: str) -> list[ExecutionRow]:
        return self._rows([_text(arn) for arn in self._redis.zrange(self._key("fn", function), 0, -1)])

    def with_status(self, *statuses: str) -> list[ExecutionRow]:
        scored: list[tuple[float, str]] = []
        for status in statuses:
            found: list[Any] = self._redis.zrange(self._key("st", status), 0, -1, withscores=True)
            scored += [(float(score), _text(arn)) for arn, score in found]
        return self._rows([arn for _, arn in sorted(scored)])

    def counts(self) -> list[tuple[str, str, int]]:
        counted: dict[tuple[str, str], int] = {}
        for status in STATUSES:
            arns = self._redis.zrange(self._key("st", status), 0, -1)
            pipe = self._redis.pipeline(transaction=False)
            for arn in arns:
                pipe.hget(self._key("x", _text(arn)), "function")
            for function in pipe.execute() if arns else []:
                if function is not None:
                    key = (_text(function), status)
                    counted[key] = counted.get(key, 0) + 1
        return [(function, status, count) for (function, status), count in sorted(counted.items())]

    def expired(self, now: float) -> list[str]:
        return [_text(arn) for arn in self._redis.zrangebyscore(self._key("ended"), "-inf", now)]

    def operations(self, arn: str, after: int = 0, limit: int = -1) -> list[tuple[int, dict[str, Any]]]:
        page: list[Any] = self._redis.zrangebyscore(
            self._key("seq", arn), f"({after}", "+inf", start=0, num=limit, withscores=True
        )
        if not page:
            return []
        bodies = self._redis.hmget(self._key("ops", arn), [operation_id for operation_id, _ in page])
        return [
            (int(seq), dict(json.loads(body)))
            for (_, seq), body in zip(page, bodies, strict=True)
            if body is not None
        ]

    def operation(self, arn: str, operation_id: str) -> dict[str, Any] | None:
        body = self._redis.hget(self._key("ops", arn), operation_id)
        return None if body is None else dict(json.loads(body))

    def events(self, arn: str) -> list[dict[str, Any]]:
        bodies = self._redis.lrange(self._key("ev", arn), 0, -1)
        return [{**json.loads(body), "EventId": number} for number, body in enumerate(bodies, start=1)]

    def _rows(self, arns: list[str]) -> list[ExecutionRow]:
        if not arns:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for arn in arns:
            pipe.hgetall(self._key("x", arn))
        return [row for found in pipe.execute() if (row := _row(found)) is not None]


def _indexed(row: ExecutionRow, only: tuple[str, ...]) -> dict[str, Any]:
    """What the script's indexes need of ``row``'s fields ``only`` (``queues``/``ends``: the
    write sets ``queued``/``ended``; None left out: cjson would make it a userdata)."""
    indexed: dict[str, Any] = {"status": row.status} if "status" in only else {}
    if "queued" in only:
        indexed["queues"] = True
        if row.queued is not None:
            indexed["queued"] = row.queued
    if "ended" in only:
        indexed["ends"] = True
        if row.ended is not None:
            indexed["ended"] = row.ended
    return indexed


def _stored(row: ExecutionRow, names: tuple[str, ...]) -> dict[str, str]:
    """``row``'s ``names`` as hash fields (None left out; floats exactly, by ``repr``)."""
    stored: dict[str, str] = {}
    for name in names:
        value = getattr(row, name)
        if value is None:
            continue
        stored[name] = (
            str(int(value))
            if isinstance(value, bool)
            else repr(value)
            if isinstance(value, float)
            else str(value)
        )
    return stored


def _row(found: dict[Any, Any]) -> ExecutionRow | None:
    """The row a hash holds (None: no such execution)."""
    if not found:
        return None
    values: dict[str, Any] = {}
    for key, value in found.items():
        name = _text(key)
        if name in _FIELDS:
            text = _text(value)
            values[name] = _NUMBERS[name](text) if name in _NUMBERS else text
    values["synchronous"] = values.get("synchronous") == "1"
    for name in ("result", "error", "ended", "paused", "queued"):
        values.setdefault(name, None)
    return ExecutionRow(**values)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value
