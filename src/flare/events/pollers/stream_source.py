"""Where a stream poller reads: the :class:`StreamSource` protocol, and Flare's own stream.

The other implementation is ``remote_kinesis.RemoteStream`` (a real Kinesis through boto3).
"""

from __future__ import annotations

from typing import Protocol

from flare.services.stream import StreamRecord, StreamService


class StreamSource(Protocol):
    """A stream as the poller needs it. Errors are FlareErrors; ExpiredIterator for an iterator
    too old to use."""

    async def shard_ids(self) -> list[str]: ...

    async def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str: ...

    async def read(self, iterator: str, limit: int) -> tuple[list[StreamRecord], str]:
        """Up to ``limit`` records from ``iterator`` on, and the iterator for what follows
        ("" once a closed shard has been read to its end)."""
        ...

    async def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` clock seconds, less if records may have come meanwhile."""
        ...


class EmbeddedStream:
    """A stream of Flare's own StreamService."""

    def __init__(self, streams: StreamService, arn: str) -> None:
        self._streams = streams
        self._name = streams.name_of(arn)

    async def shard_ids(self) -> list[str]:
        return [shard.shard_id for shard in self._streams.shards(self._name)]

    async def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        return self._streams.shard_iterator(self._name, shard_id, iterator_type, sequence_number, timestamp)

    async def read(self, iterator: str, limit: int) -> tuple[list[StreamRecord], str]:
        found = self._streams.get_records(iterator, limit)
        return list(found.records), found.next_iterator

    async def wait(self, timeout: float) -> None:
        await self._streams.wait_for_records(self._name, timeout)
