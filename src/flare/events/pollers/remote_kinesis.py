"""A Kinesis stream that is not Flare's own, read through boto3: the :class:`StreamSource` of a
mapping whose EventSourceArn names a stream the embedded service does not have, when ``flare
serve --kinesis-endpoint URL`` says where Kinesis is (real AWS, moto, LocalStack...).

ListShards (following NextToken), GetShardIterator and GetRecords, each addressed by StreamARN,
run in worker threads (``asyncio.to_thread``) so the event loop never blocks. An idle shard is
read again after ``POLL_INTERVAL_S`` (Lambda reads each shard about once a second; Kinesis
allows five reads a second per shard). ``ExpiredIteratorException`` becomes
:class:`ExpiredIterator` (the poller gets a new iterator from its checkpoint); any other boto3
failure a :class:`FlareError`, which the poller logs and backs off on. Credentials as for
``remote_sqs``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flare.clock import Clock
from flare.errors import FlareError
from flare.events.pollers.remote_sqs import boto_client
from flare.services.errors import ExpiredIterator
from flare.services.stream import StreamRecord

POLL_INTERVAL_S = 1.0


def stream_record(record: dict[str, Any]) -> StreamRecord:
    """A GetRecords result entry as a :class:`StreamRecord`."""
    arrival: Any = record.get("ApproximateArrivalTimestamp")
    return StreamRecord(
        sequence_number=str(record["SequenceNumber"]),
        partition_key=str(record["PartitionKey"]),
        data=bytes(record["Data"]),
        arrival=arrival.timestamp() if hasattr(arrival, "timestamp") else float(arrival or 0.0),
    )


class RemoteStream:
    """The stream ``arn`` at ``endpoint_url``, through boto3."""

    def __init__(self, endpoint_url: str, arn: str, clock: Clock, client: Any = None) -> None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "kinesis"] or not parts[5].startswith("stream/"):
            raise FlareError(f"not a Kinesis stream ARN: {arn}")
        self.arn = arn
        self._region = parts[3]
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._client = client

    async def shard_ids(self) -> list[str]:
        found: list[str] = []
        params: dict[str, Any] = {"StreamARN": self.arn}
        while True:
            reply = await self._call("list_shards", params)
            found += [shard["ShardId"] for shard in reply.get("Shards", [])]
            token = reply.get("NextToken")
            if not token:
                return found
            params = {"NextToken": token}

    async def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "StreamARN": self.arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            params["StartingSequenceNumber"] = sequence_number
        if timestamp is not None:
            params["Timestamp"] = timestamp
        reply = await self._call("get_shard_iterator", params)
        return str(reply["ShardIterator"])

    async def read(self, iterator: str, limit: int) -> tuple[list[StreamRecord], str]:
        reply = await self._call(
            "get_records", {"StreamARN": self.arn, "ShardIterator": iterator, "Limit": limit}
        )
        # no NextShardIterator: a closed shard read to its end; "" tells the poller so
        following = reply.get("NextShardIterator") or ""
        return [stream_record(record) for record in reply.get("Records", [])], str(following)

    async def wait(self, timeout: float) -> None:
        await self._clock.sleep(max(0.0, min(timeout, POLL_INTERVAL_S)))

    async def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(self._call_blocking, operation, params)

    def _call_blocking(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"{operation} on {self.arn} at {self._endpoint_url}"
        try:
            if self._client is None:
                self._client = boto_client("kinesis", self._endpoint_url, self._region)
            reply: dict[str, Any] = getattr(self._client, operation)(**params)
            return reply
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", "ClientError"), details.get("Message", "")
            if code == "ExpiredIteratorException":
                raise ExpiredIterator(f"{where}: {message}") from None
            raise FlareError(f"{where}: {code}: {message}") from None
        except BotoCoreError as error:
            raise FlareError(f"{where}: {error}") from None
