"""What ``StreamService`` needs from where its streams and records are kept.

Two implementations: ``store.services.ServiceStore`` (one node's SQLite database; the service
caches the streams and numbers records itself) and ``cluster.redis_stream_store.RedisStreamStore``
(the cluster's Redis, a Redis stream per shard, shared by every node: nothing is cached and
``append_numbered`` numbers records atomically with writing them, so two nodes putting to one
shard never give out the same sequence number nor let a reader skip one). Every change is
durable when it returns. Times are epoch seconds of the injected clock's ``wall()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from flare.store.services import RecordRow, StreamRow

# (shard index, partition key, data, arrival) of a record to append
NewRecord = tuple[int, str, bytes, float]


class StreamBackend(Protocol):
    def insert_stream(self, row: StreamRow) -> StreamRow:
        """Store a new stream; returns it with its ``seq``. Raises StreamInUse (SQLite:
        IntegrityError) if it exists."""

    def get_stream(self, name: str) -> StreamRow | None: ...

    def all_streams(self) -> list[StreamRow]:
        """Every stream, by name."""

    def set_retention(self, name: str, hours: int) -> None: ...

    def delete_stream(self, name: str) -> None:
        """Delete a stream and all its records."""

    def append_records(self, stream: str, rows: Iterable[RecordRow]) -> None:
        """Store records numbered by the caller, all or none."""

    def append_numbered(self, stream: str, records: list[NewRecord]) -> list[int]:
        """Store records, each at the next position of its shard, all or none; their positions."""

    def last_positions(self, stream: str) -> dict[int, int]:
        """shard index => highest position written (shards without records are absent)."""

    def read_records(
        self, stream: str, shard: int, start: int, arrived_after: float, limit: int
    ) -> list[RecordRow]:
        """Up to ``limit`` records of one shard from ``start`` on, in position order, skipping
        those that arrived at or before ``arrived_after``."""

    def first_position_at(self, stream: str, shard: int, timestamp: float) -> int | None:
        """Position of the first record of the shard that arrived at or after ``timestamp``."""

    def trim(self, stream: str, arrived_by: float) -> int:
        """Delete records that arrived at or before ``arrived_by``; how many went."""
