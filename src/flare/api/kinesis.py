"""Kinesis's JSON protocol (``X-Amz-Target: Kinesis_20131202.<Operation>``) over ``StreamService``.

Wire translation only: StreamName or StreamARN to a name, base64 data, decimal hash keys,
epoch-second timestamps, shard and stream paging. Every rule lives in ``flare.services``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flare.api.scoping import Of
from flare.api.target import JsonEndpoint
from flare.errors import UnknownOperation
from flare.services.errors import InvalidArgument
from flare.services.shard import Shard
from flare.services.stream import MAX_GET_LIMIT, StreamRecord, StreamService
from flare.store.services import StreamRow

MAX_PUT_RECORDS = 500

Operation = Callable[[StreamService, dict[str, Any]], Awaitable[dict[str, Any]]]


def endpoint(streams_of: Of[StreamService], close: Callable[[], None]) -> JsonEndpoint:
    """The Kinesis endpoint, serving each request from its scope's streams (``close``: every
    scope's, at shutdown)."""

    async def call(operation: str, body: dict[str, Any], request: web.Request) -> dict[str, Any]:
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise UnknownOperation(f"Flare's stream service does not implement {operation}")
        return await handler(streams_of(request), body)

    return JsonEndpoint(
        "Kinesis_20131202",
        "application/x-amz-json-1.1",
        "",
        call,
        close,
        model="kinesis",
        signing_name="kinesis",
    )


def _name(streams: StreamService, body: dict[str, Any]) -> str:
    if body.get("StreamARN"):
        return streams.name_of(str(body["StreamARN"]))
    if not body.get("StreamName"):
        raise InvalidArgument("Either StreamName or StreamARN must be provided.")
    return streams.stream(str(body["StreamName"])).name


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer.")
    return value


def _data(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("Data must be base64-encoded.") from None


def _token(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _untoken(value: str) -> dict[str, Any]:
    try:
        token = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"NextToken {value[:32]} is invalid.") from None
    if not isinstance(token, dict):
        raise InvalidArgument(f"NextToken {value[:32]} is invalid.")
    return token


def _shard(streams: StreamService, name: str, shard: Shard) -> dict[str, Any]:
    return {
        "ShardId": shard.shard_id,
        "HashKeyRange": {"StartingHashKey": str(shard.start_hash), "EndingHashKey": str(shard.end_hash)},
        "SequenceNumberRange": {"StartingSequenceNumber": streams.starting_sequence_number(name, shard)},
    }


def _summary(streams: StreamService, row: StreamRow) -> dict[str, Any]:
    return {
        "StreamName": row.name,
        "StreamARN": streams.arn(row.name),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": row.mode},
        "RetentionPeriodHours": row.retention_hours,
        "StreamCreationTimestamp": row.created,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }


def _shards_after(shards: list[Shard], exclusive_start: str | None) -> list[Shard]:
    return [shard for shard in shards if exclusive_start is None or shard.shard_id > exclusive_start]


async def create_stream(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    mode = str((body.get("StreamModeDetails") or {}).get("StreamMode") or "")
    count = _int(body, "ShardCount")
    streams.create_stream(
        str(body.get("StreamName", "")), count, mode or ("PROVISIONED" if count else "ON_DEMAND")
    )
    return {}


async def delete_stream(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    streams.delete_stream(_name(streams, body))
    return {}


async def describe_stream(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    name = _name(streams, body)
    shards = _shards_after(streams.shards(name), body.get("ExclusiveStartShardId"))
    limit = _int(body, "Limit") or 100
    description = _summary(streams, streams.stream(name))
    description["Shards"] = [_shard(streams, name, shard) for shard in shards[:limit]]
    description["HasMoreShards"] = len(shards) > limit
    return {"StreamDescription": description}


async def describe_stream_summary(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    row = streams.stream(_name(streams, body))
    return {
        "StreamDescriptionSummary": _summary(streams, row)
        | {"OpenShardCount": row.shard_count, "ConsumerCount": 0}
    }


async def list_streams(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    start = (
        _untoken(body["NextToken"]).get("after")
        if body.get("NextToken")
        else body.get("ExclusiveStartStreamName")
    )
    rows = [row for row in streams.list_streams() if start is None or row.name > str(start)]
    limit = _int(body, "Limit") or 100
    page = rows[:limit]
    result: dict[str, Any] = {
        "StreamNames": [row.name for row in page],
        "HasMoreStreams": len(rows) > limit,
        "StreamSummaries": [
            {
                "StreamName": row.name,
                "StreamARN": streams.arn(row.name),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": row.mode},
                "StreamCreationTimestamp": row.created,
            }
            for row in page
        ],
    }
    if len(rows) > limit:
        result["NextToken"] = _token({"after": page[-1].name})
    return result


async def list_shards(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("NextToken"):
        token = _untoken(str(body["NextToken"]))
        name, exclusive_start = streams.stream(str(token.get("stream"))).name, token.get("after")
    else:
        name, exclusive_start = _name(streams, body), body.get("ExclusiveStartShardId")
    shards = _shards_after(streams.shards(name), exclusive_start)
    limit = _int(body, "MaxResults") or 1000
    page = shards[:limit]
    result: dict[str, Any] = {"Shards": [_shard(streams, name, shard) for shard in page]}
    if len(shards) > limit:
        result["NextToken"] = _token({"stream": name, "after": page[-1].shard_id})
    return result


async def put_record(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    result = streams.put_record(
        _name(streams, body),
        str(body.get("PartitionKey", "")),
        _data(body.get("Data")),
        body.get("ExplicitHashKey"),
    )
    return {"ShardId": result.shard_id, "SequenceNumber": result.sequence_number, "EncryptionType": "NONE"}


async def put_records(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    entries = list(body.get("Records") or [])
    if not 1 <= len(entries) <= MAX_PUT_RECORDS:
        raise InvalidArgument(f"Records must hold 1 to {MAX_PUT_RECORDS} records.")
    results = streams.put_records(
        _name(streams, body),
        [(str(e.get("PartitionKey", "")), _data(e.get("Data")), e.get("ExplicitHashKey")) for e in entries],
    )
    return {
        "FailedRecordCount": 0,
        "Records": [{"SequenceNumber": r.sequence_number, "ShardId": r.shard_id} for r in results],
        "EncryptionType": "NONE",
    }


async def get_shard_iterator(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    timestamp = body.get("Timestamp")
    iterator = streams.shard_iterator(
        _name(streams, body),
        str(body.get("ShardId", "")),
        str(body.get("ShardIteratorType", "")),
        sequence_number=body.get("StartingSequenceNumber"),
        timestamp=None if timestamp is None else float(timestamp),
    )
    return {"ShardIterator": iterator}


def _record(record: StreamRecord) -> dict[str, Any]:
    return {
        "SequenceNumber": record.sequence_number,
        "ApproximateArrivalTimestamp": record.arrival,
        "Data": base64.b64encode(record.data).decode(),
        "PartitionKey": record.partition_key,
    }


async def get_records(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    batch = streams.get_records(str(body.get("ShardIterator", "")), _int(body, "Limit") or MAX_GET_LIMIT)
    return {
        "Records": [_record(record) for record in batch.records],
        "NextShardIterator": batch.next_iterator,
        "MillisBehindLatest": batch.millis_behind_latest,
    }


async def increase_retention(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    streams.set_retention(_name(streams, body), _int(body, "RetentionPeriodHours") or 0, increase=True)
    return {}


async def decrease_retention(streams: StreamService, body: dict[str, Any]) -> dict[str, Any]:
    streams.set_retention(_name(streams, body), _int(body, "RetentionPeriodHours") or 0, increase=False)
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateStream": create_stream,
    "DeleteStream": delete_stream,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "ListStreams": list_streams,
    "ListShards": list_shards,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
    "IncreaseStreamRetentionPeriod": increase_retention,
    "DecreaseStreamRetentionPeriod": decrease_retention,
}
