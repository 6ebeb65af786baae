"""The JSON a Kinesis mapping sends: one record of an event's ``Records``, and the OnFailure
destination's record of a discarded batch."""

from __future__ import annotations

import base64
from typing import Any

from flare.events.destinations import iso_timestamp, response_context
from flare.services.stream import StreamRecord


def kinesis_record(record: StreamRecord, shard_id: str, source_arn: str, role: str) -> dict[str, Any]:
    """One entry of the ``Records`` of a Kinesis event."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode(),
            "approximateArrivalTimestamp": round(record.arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record.sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": source_arn.split(":")[3],
        "eventSourceARN": source_arn,
    }


def batch_info_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invokes: int,
    response: dict[str, Any],
    records: list[StreamRecord],
    shard_id: str,
    source_arn: str,
    now: float,
) -> dict[str, Any]:
    """The OnFailure record of a discarded batch: metadata, no records (spec §4.2)."""
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "responseContext": response_context(response),
        "version": "1.0",
        "timestamp": iso_timestamp(now),
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso_timestamp(records[0].arrival),
            "approximateArrivalOfLastRecord": iso_timestamp(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": source_arn,
        },
    }
