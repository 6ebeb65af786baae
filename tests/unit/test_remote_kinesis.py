"""The boto3-backed stream source of mappings whose stream is not Flare's own (no server
needed): a fake Kinesis client, and the stream poller reading through it."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.clock import SystemClock
from flare.errors import FlareError
from flare.events.counters import Counters
from flare.events.esm import KINESIS, Mapping
from flare.events.invoker import Attempt
from flare.events.pollers.remote_kinesis import RemoteStream, stream_record
from flare.events.pollers.stream import StreamPoller
from flare.events.retry import Outcome
from flare.scope import Scope
from flare.store.database import Database
from flare.store.events import EventStore

SCOPE = Scope("000000000000", "us-east-1")

ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
ARRIVAL = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class FakeKinesis:
    """Two shards of records; iterators are ``shard/position``; ListShards pages one at a time."""

    def __init__(self, records: dict[str, list[bytes]]) -> None:
        self.records = records
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.expire_next = False

    def list_shards(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("list_shards", params))
        shards = sorted(self.records)
        index = int(params.get("NextToken", "0"))
        reply: dict[str, Any] = {"Shards": [{"ShardId": shards[index]}]}
        if index + 1 < len(shards):
            reply["NextToken"] = str(index + 1)
        return reply

    def get_shard_iterator(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_shard_iterator", params))
        shard = params["ShardId"]
        if params["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":
            start = int(params["StartingSequenceNumber"].rsplit("-", 1)[1]) + 1
        else:
            start = 0
        return {"ShardIterator": f"{shard}/{start}"}

    def get_records(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("get_records", params))
        if self.expire_next:
            self.expire_next = False
            raise ClientError(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "too old"}}, "GetRecords"
            )
        shard, at = params["ShardIterator"].rsplit("/", 1)
        if shard not in self.records:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no shard"}}, "GetRecords"
            )
        start = int(at)
        chosen = self.records[shard][start : start + params["Limit"]]
        records = [
            {
                "SequenceNumber": f"{100 + int(shard[-1])}{start + i:05d}-{start + i}",
                "PartitionKey": "k",
                "Data": data,
                "ApproximateArrivalTimestamp": ARRIVAL,
            }
            for i, data in enumerate(chosen)
        ]
        return {"Records": records, "NextShardIterator": f"{shard}/{start + len(chosen)}"}


def test_a_get_records_entry_becomes_a_stream_record() -> None:
    record = stream_record(
        {"SequenceNumber": "49", "PartitionKey": "p", "Data": b"x", "ApproximateArrivalTimestamp": ARRIVAL}
    )
    assert (record.sequence_number, record.partition_key, record.data) == ("49", "p", b"x")
    assert record.arrival == ARRIVAL.timestamp()


def test_shards_are_listed_through_every_page_and_read_by_arn() -> None:
    client = FakeKinesis({"shardId-000000000000": [b"a", b"b"], "shardId-000000000001": [b"c"]})
    stream = RemoteStream("http://remote", ARN, SystemClock(), client)

    async def go() -> tuple[list[str], list[bytes], str]:
        shard_ids = await stream.shard_ids()
        iterator = await stream.iterator(shard_ids[0], "TRIM_HORIZON")
        records, following = await stream.read(iterator, 10)
        return shard_ids, [r.data for r in records], following

    shard_ids, data, following = asyncio.run(go())
    assert shard_ids == ["shardId-000000000000", "shardId-000000000001"]
    assert data == [b"a", b"b"] and following == "shardId-000000000000/2"
    assert client.calls[0] == ("list_shards", {"StreamARN": ARN})
    assert client.calls[1] == ("list_shards", {"NextToken": "1"})
    assert client.calls[2][1] == {
        "StreamARN": ARN,
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "TRIM_HORIZON",
    }
    assert client.calls[3][1]["StreamARN"] == ARN and client.calls[3][1]["Limit"] == 10


def test_an_expired_iterator_and_other_failures_become_flare_errors() -> None:
    from flare.services.errors import ExpiredIterator

    client = FakeKinesis({"shardId-000000000000": []})
    client.expire_next = True
    stream = RemoteStream("http://remote", ARN, SystemClock(), client)
    with pytest.raises(ExpiredIterator):
        asyncio.run(stream.read("shardId-000000000000/0", 10))
    with pytest.raises(FlareError, match=r"get_records .*ResourceNotFoundException: no shard"):
        asyncio.run(stream.read("no-such-shard/0", 10))


def test_not_a_stream_arn_is_refused() -> None:
    with pytest.raises(FlareError):
        RemoteStream("http://remote", "arn:aws:sqs:us-east-1:0:q", SystemClock())


class FakeInvoker:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def role(self, function_name: str) -> str:
        return "arn:aws:iam::000000000000:role/r"

    def function_arn(self, function_name: str, qualifier: str | None) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes) -> Attempt:
        self.events.append(json.loads(payload))
        return Attempt(Outcome.SUCCESS, {"statusCode": 200, "payload": "null"}, "req")


def mapping(**fields: Any) -> Mapping:
    base: dict[str, Any] = {
        "uuid": "m-1",
        "source_arn": ARN,
        "kind": KINESIS,
        "function_name": "fn",
        "qualifier": None,
        "batch_size": 2,
        "window_s": 0,
        "report_item_failures": False,
        "starting_position": "TRIM_HORIZON",
    }
    return Mapping(**(base | fields))


def run_poller(
    tmp_path: Path, client: FakeKinesis, found: int, **fields: Any
) -> tuple[FakeInvoker, Counters]:
    invoker, counters = FakeInvoker(), Counters()
    store = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
    poller = StreamPoller(
        mapping(**fields),
        RemoteStream("http://remote", ARN, SystemClock(), client),
        invoker,  # type: ignore[arg-type]  # a fake of the concrete SyncInvoker
        None,  # type: ignore[arg-type]  # no Destinations: the mapping has none
        store,
        SystemClock(),
        counters,
    )

    async def go() -> None:
        poller.start()
        for _ in range(500):
            if counters.succeeded + counters.filtered >= found:
                break
            await asyncio.sleep(0.01)
        await poller.stop()

    asyncio.run(go())
    checkpoints = store.checkpoints("m-1")
    store.close()
    assert len(checkpoints) == len(client.records)
    return invoker, counters


def test_the_poller_reads_each_shard_in_order_through_the_remote_source(tmp_path: Path) -> None:
    client = FakeKinesis(
        {
            "shardId-000000000000": [f"a{i}".encode() for i in range(5)],
            "shardId-000000000001": [f"b{i}".encode() for i in range(3)],
        }
    )
    invoker, counters = run_poller(tmp_path, client, 8)
    by_shard: dict[str, list[str]] = {}
    for event in invoker.events:
        assert len(event["Records"]) <= 2
        for record in event["Records"]:
            shard_id = record["eventID"].split(":")[0]
            by_shard.setdefault(shard_id, []).append(base64.b64decode(record["kinesis"]["data"]).decode())
    assert by_shard == {
        "shardId-000000000000": ["a0", "a1", "a2", "a3", "a4"],
        "shardId-000000000001": ["b0", "b1", "b2"],
    }
    assert (counters.received, counters.succeeded, counters.failed) == (8, 8, 0)


def test_filter_criteria_skip_records_and_the_checkpoint_moves_past_them(tmp_path: Path) -> None:
    data = [json.dumps({"n": i}).encode() for i in range(6)]
    client = FakeKinesis({"shardId-000000000000": data})
    pattern = json.dumps({"data": {"n": [{"numeric": [">=", 4]}]}})
    invoker, counters = run_poller(tmp_path, client, 6, filters=(pattern,))
    delivered = [
        json.loads(base64.b64decode(r["kinesis"]["data"])) for e in invoker.events for r in e["Records"]
    ]
    assert delivered == [{"n": 4}, {"n": 5}]
    assert (counters.received, counters.succeeded, counters.filtered) == (6, 2, 4)
