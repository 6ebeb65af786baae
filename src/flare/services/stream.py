"""The embedded Kinesis-compatible stream service: streams of shards of ordered records.

A put appends a record to the shard its partition key hashes to and gives it the next
sequence number of that shard; records of one shard are read back in that order, from an
iterator that says where to start (``TRIM_HORIZON``, ``LATEST``, ``AT_``/``AFTER_SEQUENCE_NUMBER``,
``AT_TIMESTAMP``). Records older than the stream's retention (24 h by default, by the injected
clock's ``wall()``) are never returned and are trimmed from the store now and then. Iterators
expire five minutes after they are issued, as Kinesis's do.

Every put is committed to the store before it returns (survives ``kill -9``). Streams become
ACTIVE at once; shard count is fixed (no resharding). Use from the event loop's thread.

The store is a ``StreamBackend`` (``services/stream_backend.py``): this node's database, whose
streams and last positions the service caches and numbers records by, or in a cluster the
Redis every node shares (``shared_poll_s`` set): then nothing is cached, the store numbers each
put's records as it writes them, and ``wait_for_records`` looks again at least every
``shared_poll_s`` (a put on another node rings no bell here).

This is the API stream pollers use directly; ``api/kinesis.py`` only translates the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flare.clock import Clock
from flare.services import shard as shards
from flare.services.bell import Bell
from flare.services.errors import (
    ExpiredIterator,
    InvalidArgument,
    StreamInUse,
    StreamLimitExceeded,
    StreamNotFound,
)
from flare.services.shard import Position, Shard
from flare.services.stream_backend import StreamBackend
from flare.store.services import RecordRow, StreamRow

DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8_760
ON_DEMAND_SHARDS = 4
MAX_SHARDS = 500
MAX_RECORD_BYTES = 1_048_576
MAX_GET_LIMIT = 10_000
ITERATOR_LIFETIME_S = 300.0
TRIM_EVERY_S = 60.0
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")

_STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")


@dataclass(frozen=True)
class PutResult:
    shard_id: str
    sequence_number: str


@dataclass(frozen=True)
class StreamRecord:
    """A record as read. ``arrival`` is ApproximateArrivalTimestamp (epoch seconds)."""

    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float


@dataclass(frozen=True)
class RecordBatch:
    """What one GetRecords gives: records in shard order, where to read next, and how far
    (in milliseconds of arrival time) the last record read is behind the shard's newest."""

    shard_id: str
    records: list[StreamRecord]
    next_iterator: str
    millis_behind_latest: int


class StreamService:
    """Streams by name. Methods taking a stream name raise StreamNotFound for an unknown one."""

    def __init__(
        self,
        store: StreamBackend,
        clock: Clock,
        region: str,
        account_id: str,
        shared_poll_s: float | None = None,
    ) -> None:
        self._store = store
        self._shared_poll_s = shared_poll_s
        self._clock = clock
        self.region = region
        self.account_id = account_id
        self._bell = Bell(clock)
        # stream name => its row
        self._streams: dict[str, StreamRow] = {row.name: row for row in store.all_streams()}
        # stream name => shard index => last position written (absent: nothing written)
        self._last: dict[str, dict[int, int]] = {name: store.last_positions(name) for name in self._streams}
        # stream name => wall time of its last trim
        self._trimmed: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<StreamService streams={len(self._streams)}>"

    def close(self) -> None:
        """Wake every ``wait_for_records`` caller."""
        self._bell.ring_all()

    # -- streams --------------------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{name}"

    def name_of(self, arn: str) -> str:
        """The stream name of one of this service's stream ARNs (of its account and region);
        raises StreamNotFound."""
        parts = arn.split(":", 5)
        name = parts[5].removeprefix("stream/") if len(parts) == 6 else ""
        if parts[:5] != ["arn", "aws", "kinesis", self.region, self.account_id] or self._lookup(name) is None:
            raise StreamNotFound(f"Stream {name or arn} under account {self.account_id} not found.")
        return name

    def create_stream(
        self, name: str, shard_count: int | None = None, mode: str = "PROVISIONED"
    ) -> StreamRow:
        """Create an ACTIVE stream of ``shard_count`` shards (ON_DEMAND without a count: 4).
        Raises StreamInUse if it exists, InvalidArgument for a bad name or count,
        StreamLimitExceeded past 500 shards."""
        if not _STREAM_NAME.match(name):
            raise InvalidArgument(f"Stream name {name} is invalid.")
        if self._lookup(name) is not None:
            raise StreamInUse(f"Stream {name} under account {self.account_id} already exists.")
        if mode not in ("PROVISIONED", "ON_DEMAND"):
            raise InvalidArgument(f"StreamMode {mode} is invalid.")
        if shard_count is None:
            if mode == "PROVISIONED":
                raise InvalidArgument("ShardCount is required for a PROVISIONED stream.")
            shard_count = ON_DEMAND_SHARDS
        if shard_count < 1:
            raise InvalidArgument(f"ShardCount {shard_count} must be at least 1.")
        if shard_count > MAX_SHARDS:
            raise StreamLimitExceeded(f"This request would exceed the shard limit of {MAX_SHARDS} shards.")
        row = StreamRow(name, self._clock.wall(), shard_count, DEFAULT_RETENTION_HOURS, mode)
        row = self._store.insert_stream(row)
        self._streams[name] = row
        self._last[name] = {}
        return row

    def _lookup(self, name: str) -> StreamRow | None:
        """The stream ``name``: cached on one node; read again each time when shared."""
        if self._shared_poll_s is None:
            return self._streams.get(name)
        row = self._store.get_stream(name)
        if row is None:
            self._streams.pop(name, None)
        else:
            self._streams[name] = row
        return row

    def _last_of(self, name: str, shard: int) -> int:
        """The last position written to ``shard`` of ``name`` (0: none)."""
        if self._shared_poll_s is None:
            return self._last[name].get(shard, 0)
        return self._store.last_positions(name).get(shard, 0)

    def stream(self, name: str) -> StreamRow:
        row = self._lookup(name)
        if row is None:
            raise StreamNotFound(f"Stream {name} under account {self.account_id} not found.")
        return row

    def list_streams(self) -> list[StreamRow]:
        """Every stream, by name."""
        if self._shared_poll_s is not None:
            return self._store.all_streams()
        return sorted(self._streams.values(), key=lambda row: row.name)

    def shards(self, name: str) -> list[Shard]:
        return shards.hash_ranges(self.stream(name).shard_count)

    def starting_sequence_number(self, name: str, shard: Shard) -> str:
        return shards.sequence_number(self.stream(name).seq, shard.index, 0)

    def delete_stream(self, name: str) -> None:
        """Delete the stream and its records; its iterators stop working."""
        self.stream(name)
        self._store.delete_stream(name)
        self._streams.pop(name, None)
        self._last.pop(name, None)
        self._bell.ring(name)

    def set_retention(self, name: str, hours: int, increase: bool) -> None:
        """Raise (``increase``) or lower the retention period; raises InvalidArgument when the
        change goes the other way or leaves 24-8760 hours."""
        row = self.stream(name)
        if not DEFAULT_RETENTION_HOURS <= hours <= MAX_RETENTION_HOURS:
            raise InvalidArgument(f"Retention period {hours} hours must be between 24 and 8760.")
        if (increase and hours < row.retention_hours) or (not increase and hours > row.retention_hours):
            direction = "increase" if increase else "decrease"
            raise InvalidArgument(
                f"Requested retention period ({hours} hours) is not a valid {direction} "
                f"of the current one ({row.retention_hours} hours)."
            )
        self._store.set_retention(name, hours)
        self._streams[name] = StreamRow(row.name, row.created, row.shard_count, hours, row.mode, row.seq)

    # -- records --------------------------------------------------------------------------------

    def put_record(
        self, name: str, partition_key: str, data: bytes, explicit_hash_key: str | None = None
    ) -> PutResult:
        """Append one record to the shard its key hashes to; committed before returning."""
        return self.put_records(name, [(partition_key, data, explicit_hash_key)])[0]

    def put_records(self, name: str, entries: list[tuple[str, bytes, str | None]]) -> list[PutResult]:
        """Append (partition key, data, explicit hash key) records in one transaction, each to
        its shard in list order. Raises InvalidArgument (nothing written) for a bad entry."""
        row = self.stream(name)
        if self._shared_poll_s is not None:
            return self._put_shared(row, entries)
        ranges = shards.hash_ranges(row.shard_count)
        now = self._clock.wall()
        last = dict(self._last[name])
        rows: list[RecordRow] = []
        results: list[PutResult] = []
        for partition_key, data, explicit in entries:
            shard = _shard_of(partition_key, data, explicit, ranges)
            position = last[shard.index] = last.get(shard.index, 0) + 1
            rows.append(RecordRow(shard.index, position, partition_key, data, now))
            results.append(PutResult(shard.shard_id, shards.sequence_number(row.seq, shard.index, position)))
        self._store.append_records(name, rows)
        self._last[name] = last
        self._bell.ring(name)
        return results

    def _put_shared(self, row: StreamRow, entries: list[tuple[str, bytes, str | None]]) -> list[PutResult]:
        """``put_records`` to a stream every node shares: the store numbers the records."""
        ranges = shards.hash_ranges(row.shard_count)
        now = self._clock.wall()
        placed = [(_shard_of(key, data, explicit, ranges), key, data) for key, data, explicit in entries]
        positions = self._store.append_numbered(row.name, [(s.index, k, d, now) for s, k, d in placed])
        self._bell.ring(row.name)
        return [
            PutResult(s.shard_id, shards.sequence_number(row.seq, s.index, position))
            for (s, _, _), position in zip(placed, positions, strict=True)
        ]

    def shard_iterator(
        self,
        name: str,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        """An iterator for one shard, valid for five minutes. ``sequence_number`` goes with the
        ``*_SEQUENCE_NUMBER`` types, ``timestamp`` (epoch seconds) with ``AT_TIMESTAMP``.
        Raises StreamNotFound, InvalidArgument (unknown shard, type, or sequence number)."""
        row = self.stream(name)
        index = shards.shard_index(shard_id, row.shard_count)
        if index is None:
            raise StreamNotFound(
                f"Shard {shard_id} in stream {name} under account {self.account_id} does not exist"
            )
        if iterator_type not in ITERATOR_TYPES:
            raise InvalidArgument(f"Invalid ShardIteratorType: {iterator_type}")
        start = self._start(row, index, iterator_type, sequence_number, timestamp)
        return shards.encode_iterator(
            Position(name, row.seq, index, start, self._clock.wall() + ITERATOR_LIFETIME_S)
        )

    def _start(
        self,
        row: StreamRow,
        index: int,
        iterator_type: str,
        sequence_number: str | None,
        timestamp: float | None,
    ) -> int:
        last = self._last_of(row.name, index)
        if iterator_type == "TRIM_HORIZON":
            return 1
        if iterator_type == "LATEST":
            return last + 1
        if iterator_type == "AT_TIMESTAMP":
            if timestamp is None:
                raise InvalidArgument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP."
                )
            found = self._store.first_position_at(row.name, index, timestamp)
            return last + 1 if found is None else found
        if sequence_number is None:
            raise InvalidArgument(f"StartingSequenceNumber is required for {iterator_type}.")
        incarnation, shard, position = shards.parse_sequence_number(sequence_number)
        if incarnation != row.seq or shard != index:
            raise InvalidArgument(
                f"Invalid StartingSequenceNumber. It encodes {shards.shard_id(shard)}, "
                f"while it was used in a call to a shard with {shards.shard_id(index)}"
            )
        return position if iterator_type == "AT_SEQUENCE_NUMBER" else position + 1

    def get_records(self, iterator: str, limit: int = MAX_GET_LIMIT) -> RecordBatch:
        """Up to ``limit`` (1-10000) records from where ``iterator`` points, in shard order, and
        the iterator for what follows. Raises InvalidArgument (bad iterator or limit),
        ExpiredIterator (older than five minutes), StreamNotFound (stream deleted or re-created)."""
        if not 1 <= limit <= MAX_GET_LIMIT:
            raise InvalidArgument(f"Limit {limit} must be between 1 and {MAX_GET_LIMIT}.")
        at = shards.decode_iterator(iterator)
        now = self._clock.wall()
        row = self._lookup(at.stream)
        if row is None or row.seq != at.incarnation:
            raise StreamNotFound(f"Stream {at.stream} under account {self.account_id} not found.")
        if now > at.expires:
            raise ExpiredIterator(
                f"Iterator expired. The iterator was created at time {at.expires - ITERATOR_LIFETIME_S:.3f} "
                f"while right now it is {now:.3f} which is further in the future than the tolerated delay "
                f"of {ITERATOR_LIFETIME_S:.0f} seconds."
            )
        cutoff = now - row.retention_hours * 3600
        self._maybe_trim(row.name, cutoff, now)
        found = self._store.read_records(row.name, at.shard, at.position, cutoff, limit)
        newest = self._last_of(row.name, at.shard)
        behind = 0
        if found and found[-1].position < newest:
            behind = max(0, int((now - found[-1].arrival) * 1000))
        following = found[-1].position + 1 if found else at.position
        next_at = Position(row.name, row.seq, at.shard, following, now + ITERATOR_LIFETIME_S)
        records = [
            StreamRecord(
                shards.sequence_number(row.seq, r.shard, r.position), r.partition_key, r.data, r.arrival
            )
            for r in found
        ]
        return RecordBatch(shards.shard_id(at.shard), records, shards.encode_iterator(next_at), behind)

    def _maybe_trim(self, name: str, cutoff: float, now: float) -> None:
        if now - self._trimmed.get(name, float("-inf")) >= TRIM_EVERY_S:
            self._trimmed[name] = now
            self._store.trim(name, cutoff)

    async def wait_for_records(self, name: str, timeout: float) -> bool:
        """Wait up to ``timeout`` clock seconds for a put to ``name``; True if one came. A
        poller that read nothing may call this instead of sleeping a fixed interval."""
        self.stream(name)
        if self._shared_poll_s is not None:
            timeout = min(timeout, self._shared_poll_s)
        return await self._bell.wait(name, timeout)


def _shard_of(partition_key: str, data: bytes, explicit: str | None, ranges: list[Shard]) -> Shard:
    """The shard a record goes to; raises InvalidArgument for a bad key or a record too large."""
    if not 1 <= len(partition_key) <= 256:
        raise InvalidArgument("PartitionKey must be 1 to 256 characters long.")
    if len(data) + len(partition_key.encode()) > MAX_RECORD_BYTES:
        raise InvalidArgument(f"A record's data and partition key must be at most {MAX_RECORD_BYTES} bytes.")
    return shards.shard_for(shards.hash_key(partition_key, explicit), ranges)
