"""The Kinesis-compatible streams of one account and region in the cluster's Redis: every node's
``StreamService`` reads and writes the same streams and records (``services/stream_backend.py``).

Keys (one hash slot per scope, ``ClusterLink.scoped``)::

    flare:{<scope>}:kinesis:streams                hash  stream name -> the stream as JSON
    flare:{<scope>}:kinesis:stream-seq             counter of streams created (incarnations)
    flare:{<scope>}:kinesis:s:<name>:last          hash  shard index -> last position written
    flare:{<scope>}:kinesis:s:<name>:shard:<i>     a Redis stream: entry ``<position>-0`` with
                                                   fields k (partition key), d (data), a (arrival)

A put is one Lua script: for each record, the next position of its shard (``HINCRBY``) and the
``XADD`` at that position, so positions are given out and written in one step, whichever node
puts; a reader from position p (``XRANGE p-0 +``) therefore never skips a record written later
at a lower position. A Redis that does not answer is a ServiceException (500) for the caller.
Calls use the synchronous client, as the SQLite store's do (the Kinesis API is not on the Lambda
invoke path).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import redis
import redis.exceptions

from flare.cluster.link import ClusterLink
from flare.cluster.redis_queue_store import answered
from flare.scope import Scope
from flare.services.errors import StreamInUse
from flare.services.stream_backend import NewRecord
from flare.store.services import RecordRow, StreamRow

SCAN_BATCH = 1000

# KEYS last, then one shard stream per record; ARGV per record: shard, key, data, arrival
_APPEND = """
local positions = {}
for i = 2, #KEYS do
  local base = (i - 2) * 4
  local position = redis.call('HINCRBY', KEYS[1], ARGV[base + 1], 1)
  redis.call('XADD', KEYS[i], position .. '-0', 'k', ARGV[base + 2], 'd', ARGV[base + 3], 'a', ARGV[base + 4])
  positions[#positions + 1] = position
end
return positions
"""


class RedisStreamStore:
    """``scope``'s streams and records in Redis (module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._redis: redis.Redis = link.sync
        self._scope = scope
        self._streams = self._key("streams")
        self._append = self._redis.register_script(_APPEND)

    def __repr__(self) -> str:
        return f"<RedisStreamStore {self._scope.key}>"

    def _key(self, *parts: str) -> str:
        return ClusterLink.scoped(self._scope, "kinesis", *parts)

    def _shard_key(self, stream: str, shard: int) -> str:
        return self._key("s", stream, "shard", str(shard))

    def insert_stream(self, row: StreamRow) -> StreamRow:
        with answered():
            seq = int(self._redis.incr(self._key("stream-seq")))
            stored = StreamRow(row.name, row.created, row.shard_count, row.retention_hours, row.mode, seq)
            if not self._redis.hsetnx(self._streams, row.name, json.dumps(stored.__dict__)):
                raise StreamInUse(f"Stream {row.name} already exists.")
        return stored

    def get_stream(self, name: str) -> StreamRow | None:
        with answered():
            text = self._redis.hget(self._streams, name)
        return None if text is None else StreamRow(**json.loads(text))

    def all_streams(self) -> list[StreamRow]:
        with answered():
            rows = [StreamRow(**json.loads(text)) for text in self._redis.hvals(self._streams)]
        return sorted(rows, key=lambda row: row.name)

    def set_retention(self, name: str, hours: int) -> None:
        row = self.get_stream(name)
        if row is not None:
            changed = StreamRow(row.name, row.created, row.shard_count, hours, row.mode, row.seq)
            with answered():
                self._redis.hset(self._streams, name, json.dumps(changed.__dict__))

    def delete_stream(self, name: str) -> None:
        row = self.get_stream(name)
        with answered(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._streams, name)
            pipe.delete(self._key("s", name, "last"))
            for shard in range(row.shard_count if row is not None else 0):
                pipe.delete(self._shard_key(name, shard))
            pipe.execute()

    def append_records(self, stream: str, rows: Iterable[RecordRow]) -> None:
        """Records numbered elsewhere (not used in a cluster: ``append_numbered`` is)."""
        raise NotImplementedError("a cluster's streams number their records as they write them")

    def append_numbered(self, stream: str, records: list[NewRecord]) -> list[int]:
        keys = [self._key("s", stream, "last"), *(self._shard_key(stream, shard) for shard, *_ in records)]
        args: list[Any] = []
        for shard, partition_key, data, arrival in records:
            args += [shard, partition_key, data, repr(arrival)]
        with answered():
            return [int(position) for position in self._append(keys=keys, args=args)]

    def last_positions(self, stream: str) -> dict[int, int]:
        with answered():
            found = self._redis.hgetall(self._key("s", stream, "last"))
        return {int(shard): int(position) for shard, position in found.items()}

    def read_records(
        self, stream: str, shard: int, start: int, arrived_after: float, limit: int
    ) -> list[RecordRow]:
        found: list[RecordRow] = []
        position = max(1, start)
        while len(found) < limit:
            batch = self._range(stream, shard, position, limit - len(found))
            if not batch:
                break
            found += [row for row in batch if row.arrival > arrived_after]
            position = batch[-1].position + 1
        return found

    def _range(self, stream: str, shard: int, start: int, count: int) -> list[RecordRow]:
        with answered():
            entries: list[tuple[bytes, dict[bytes, bytes]]] = self._redis.xrange(  # type: ignore[assignment]
                self._shard_key(stream, shard), f"{start}-0", "+", count=count
            )
        return [_record(shard, entry_id, fields) for entry_id, fields in entries]

    def first_position_at(self, stream: str, shard: int, timestamp: float) -> int | None:
        return self._first(stream, shard, lambda row: row.arrival >= timestamp)

    def _first(self, stream: str, shard: int, wanted: Callable[[RecordRow], bool]) -> int | None:
        """The position of the shard's first record that is ``wanted`` (a scan: records are in
        arrival order, but Redis knows them by position only)."""
        position = 1
        while batch := self._range(stream, shard, position, SCAN_BATCH):
            for row in batch:
                if wanted(row):
                    return row.position
            position = batch[-1].position + 1
        return None

    def trim(self, stream: str, arrived_by: float) -> int:
        row = self.get_stream(stream)
        gone = 0
        for shard in range(row.shard_count if row is not None else 0):
            first = self._first(stream, shard, lambda row: row.arrival > arrived_by)
            with answered():
                key = self._shard_key(stream, shard)
                if first is None:
                    gone += int(self._redis.xtrim(key, maxlen=0))
                else:
                    gone += int(self._redis.xtrim(key, minid=f"{first}-0"))
        return gone


def _record(shard: int, entry_id: bytes, fields: dict[bytes, bytes]) -> RecordRow:
    position = int(entry_id.split(b"-", 1)[0])
    return RecordRow(shard, position, fields[b"k"].decode(), fields[b"d"], float(fields[b"a"]))
